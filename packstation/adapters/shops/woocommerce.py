"""WooCommerce: its order webhooks (REST API v3 order resource) read as our orders.

Topics ``order.created`` and ``order.updated`` carry the whole order; ``order.deleted`` only
``{"id": ...}`` (the order went to the bin: cancel ours if we have it). The version is
``date_modified_gmt`` (UTC without an offset); our order id is ``[woocommerce] order_prefix`` +
the order ``number``. WooCommerce statuses: ``processing`` and ``completed`` are paid, ``pending``
(awaiting payment) and ``on-hold`` (awaiting a bank transfer, say) are held until paid;
``cancelled``, ``refunded``, ``failed`` and ``trash`` cancel ours. ``payment_method`` ``cod`` is cash
on delivery. A line's unit price is its ``subtotal`` (before coupons) divided by its quantity.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from packstation.adapters.shops.common import decimal, load_object, merge_lines, text, when
from packstation.domain.integration import ShopOrder
from packstation.services.imports import RecordError

TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
_PAID = ("processing", "completed")
_CANCELLED = ("cancelled", "refunded", "failed", "trash")
_DRAFTS = ("checkout-draft", "draft", "auto-draft")


def read_order(topic: str, body: bytes, *, prefix: str = "WC-", channel: str = "woocommerce",
               carrier: str = "DHL") -> ShopOrder | None:
    if topic not in TOPICS:
        return None
    o = load_object(body)
    external = text(o.get("id"))
    if not external:
        raise RecordError("the order has no id")
    if topic == "order.deleted":
        return ShopOrder(source="woocommerce", external_id=external, order_id=f"{prefix}{external}", updated_at=None,
                         record=None, cancelled=True, cancel_reason="deleted at WooCommerce")
    status = text(o.get("status"))
    if status in _DRAFTS:
        return None
    updated = when(o.get("date_modified_gmt")) or when(o.get("date_modified"))
    if updated is None:
        raise RecordError(f"date_modified_gmt {o.get('date_modified_gmt')!r} is not an ISO 8601 time")
    number = text(o.get("number")) or external
    billing = o.get("billing") if isinstance(o.get("billing"), dict) else {}
    ship = o.get("shipping") if isinstance(o.get("shipping"), dict) else {}
    if not text(ship.get("address_1")):
        ship = billing  # no separate shipping address: it goes to the billing address
    is_cod = text(o.get("payment_method")) == "cod"
    paid = (status in _PAID or bool(o.get("date_paid_gmt") or o.get("date_paid"))) and not is_cod
    shipping_lines = [s for s in (o.get("shipping_lines") or []) if isinstance(s, dict)]
    placed = when(o.get("date_created_gmt"))
    record: dict[str, Any] = {
        "order_id": f"{prefix}{number}",
        "channel": channel,
        "placed_at": placed.isoformat() if placed else text(o.get("date_created")),
        "customer": {
            "name": " ".join(p for p in (text(billing.get("first_name")), text(billing.get("last_name"))) if p),
            "email": text(billing.get("email")),
            "phone": text(billing.get("phone")) or text(ship.get("phone")),
        },
        "ship_to": {
            "name": " ".join(p for p in (text(ship.get("first_name")), text(ship.get("last_name"))) if p),
            "line1": text(ship.get("address_1")),
            "line2": text(ship.get("address_2")),
            "city": text(ship.get("city")),
            "region": text(ship.get("state")),
            "postcode": text(ship.get("postcode")),
            "country": text(ship.get("country")),
        },
        "currency": text(o.get("currency")),
        "payment": {"method": "cod" if is_cod else "prepaid", "status": "paid" if paid else "pending"},
        "carrier": carrier,
        "service": text(shipping_lines[0].get("method_title")) if shipping_lines else "",
        "lines": _lines(o.get("line_items")),
    }
    cancelled = status in _CANCELLED
    return ShopOrder(source="woocommerce", external_id=external, order_id=record["order_id"], updated_at=updated,
                     record=record, cancelled=cancelled,
                     cancel_reason=f"{status} at WooCommerce" if cancelled else "")


def _lines(raw: Any) -> list[dict[str, Any]]:
    items = []
    for li in raw if isinstance(raw, list) else []:
        if not isinstance(li, dict):
            continue
        qty_raw = li.get("quantity")
        qty = int(qty_raw) if isinstance(qty_raw, int | Decimal) and not isinstance(qty_raw, bool) else 0
        subtotal = decimal(li.get("subtotal"))
        price = subtotal / qty if subtotal is not None and qty > 0 else decimal(li.get("price"))
        items.append((text(li.get("sku")), qty, price))
    return merge_lines(items)


__all__ = ["TOPICS", "read_order"]
