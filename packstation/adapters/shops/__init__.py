"""Shops the warehouse takes orders from: their order JSON read as import records, and what goes back.

``shopify`` and ``woocommerce`` each read their webhook payloads into a ``ShopOrder`` (the README's
order record plus the shop's order id, version and cancellation); :class:`ShopReaders` picks the
reader by the delivery's source. ``shopify.ShopifyAdmin`` creates fulfillments with tracking
through Shopify's Admin API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packstation.adapters.shops import shopify, woocommerce
from packstation.domain.integration import InboxItem, ShopOrder
from packstation.services.intake import ShopReader


@dataclass(frozen=True)
class ShopSettings:
    """How a shop's orders become ours: the id prefix, the channel name, the carrier when the shop names none."""

    order_prefix: str
    channel: str
    carrier: str = "DHL"
    cod_gateways: tuple[str, ...] = field(default_factory=tuple)


class ShopReaders(ShopReader):
    def __init__(self, shopify_settings: ShopSettings, woocommerce_settings: ShopSettings) -> None:
        self.shopify = shopify_settings
        self.woocommerce = woocommerce_settings

    def read(self, item: InboxItem) -> ShopOrder | None:
        if item.source == "shopify":
            s = self.shopify
            return shopify.read_order(item.topic, item.body, prefix=s.order_prefix, channel=s.channel,
                                      carrier=s.carrier, cod_gateways=s.cod_gateways)
        if item.source == "woocommerce":
            s = self.woocommerce
            return woocommerce.read_order(item.topic, item.body, prefix=s.order_prefix, channel=s.channel,
                                          carrier=s.carrier)
        return None


__all__ = ["ShopReaders", "ShopSettings"]
