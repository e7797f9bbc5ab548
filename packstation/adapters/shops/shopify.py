"""Shopify: its order webhooks read as our orders, and fulfillments with tracking through its Admin API.

Webhooks (``orders/create``, ``orders/updated``, ``orders/cancelled``) carry the whole order
(Shopify's REST order resource). Its ``id`` is the shop's order id, ``updated_at`` its version,
``name`` (``#1001``) what the merchant sees: our order id is ``[shopify] order_prefix`` + the name
without ``#``. Line items that need no shipping (gift cards, services) are left out; the same SKU on
two line items (Shopify's own sample order has that) becomes one line. Cash on delivery is the
payment gateway named so (``Cash on Delivery (COD)``); otherwise the order is prepaid, paid once its
``financial_status`` is ``paid`` (or refunded, partly), else held until it is.

Fulfillments (REST Admin API, fulfillment orders): ``GET orders/{id}/fulfillment_orders.json``,
then ``POST fulfillments.json`` with every open fulfillment order and ``tracking_info``; a later
hand-over with (new) tracking numbers calls ``fulfillments/{id}/update_tracking.json``. If the
order's fulfillment orders are all closed already (a retry after an answer that got lost), the
existing fulfillment is found with ``GET orders/{id}/fulfillments.json`` instead of making a second.
Shopify takes one tracking number per fulfillment: the first carton's; the others are in its message.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from packstation.adapters.shops.common import decimal, load_object, merge_lines, text, when
from packstation.domain.integration import Attempt, ShopOrder
from packstation.services.imports import RecordError
from packstation.services.status_push import Outgoing

TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
DEFAULT_COD_GATEWAYS = ("cash on delivery (cod)", "cash on delivery", "cod", "cash_on_delivery")
_PAID = ("paid", "partially_refunded", "refunded")


def read_order(topic: str, body: bytes, *, prefix: str = "SHOPIFY-", channel: str = "shopify", carrier: str = "DHL",
               cod_gateways: tuple[str, ...] = ()) -> ShopOrder | None:
    if topic not in TOPICS:
        return None
    o = load_object(body)
    external = text(o.get("id"))
    if not external:
        raise RecordError("the order has no id")
    updated = when(o.get("updated_at"), naive_is_utc=False)
    if updated is None:
        raise RecordError(f"updated_at {o.get('updated_at')!r} is not an ISO 8601 time with an offset")
    name = text(o.get("name")).lstrip("#").strip() or text(o.get("order_number")) or external
    ship = o.get("shipping_address") if isinstance(o.get("shipping_address"), dict) else None
    customer = o.get("customer") if isinstance(o.get("customer"), dict) else {}
    billing = o.get("billing_address") if isinstance(o.get("billing_address"), dict) else {}
    cust_name = " ".join(p for p in (text(customer.get("first_name")), text(customer.get("last_name"))) if p)
    gateways = [text(g).lower() for g in (o.get("payment_gateway_names") or []) if text(g)]
    cod_names = {g.lower() for g in (cod_gateways or DEFAULT_COD_GATEWAYS)}
    is_cod = any(g in cod_names for g in gateways)
    paid = text(o.get("financial_status")) in _PAID
    if is_cod and paid:
        is_cod = False  # collected already (the merchant marked it paid): nothing to collect at the door
    shipping_lines = [s for s in (o.get("shipping_lines") or []) if isinstance(s, dict)]
    first_line = shipping_lines[0] if shipping_lines else {}
    source = text(first_line.get("source")).lower()
    record: dict[str, Any] = {
        "order_id": f"{prefix}{name}",
        "channel": channel,
        "placed_at": text(o.get("created_at")) or text(o.get("processed_at")),
        "customer": {
            "name": cust_name or (text(ship.get("name")) if ship else "") or text(billing.get("name")),
            "email": text(o.get("email")) or text(o.get("contact_email")) or text(customer.get("email")),
            "phone": (text(ship.get("phone")) if ship else "") or text(o.get("phone")) or text(customer.get("phone")),
        },
        "currency": text(o.get("currency")),
        "payment": {"method": "cod" if is_cod else "prepaid", "status": "paid" if paid else "pending"},
        "carrier": source.upper() if source and source not in ("shopify", "") else carrier,
        "service": text(first_line.get("title")),
        "lines": _lines(o.get("line_items")),
    }
    if ship is not None:
        record["ship_to"] = {
            "name": text(ship.get("name")) or " ".join(
                p for p in (text(ship.get("first_name")), text(ship.get("last_name"))) if p),
            "line1": text(ship.get("address1")),
            "line2": text(ship.get("address2")),
            "city": text(ship.get("city")),
            "region": text(ship.get("province_code")) or text(ship.get("province")),
            "postcode": text(ship.get("zip")),
            "country": text(ship.get("country_code")),
        }
    cancelled = topic == "orders/cancelled" or bool(o.get("cancelled_at"))
    return ShopOrder(source="shopify", external_id=external, order_id=record["order_id"], updated_at=updated,
                     record=record, cancelled=cancelled,
                     cancel_reason=f"cancelled at Shopify ({text(o.get('cancel_reason')) or 'no reason given'})"
                     if cancelled else "")


def _lines(raw: Any) -> list[dict[str, Any]]:
    items = []
    for li in raw if isinstance(raw, list) else []:
        if not isinstance(li, dict) or li.get("requires_shipping") is False or li.get("gift_card") is True:
            continue
        qty_raw = li.get("current_quantity", li.get("quantity"))
        qty = int(qty_raw) if isinstance(qty_raw, int | Decimal) and not isinstance(qty_raw, bool) else 0
        items.append((text(li.get("sku")), qty, decimal(li.get("price"))))
    return merge_lines(items)


# --- fulfillments through the Admin API ---------------------------------------------------------


class ShopifyAdmin:
    """Creates (or updates) an order's fulfillment with tracking numbers.

    *base_url* is the shop's Admin API root with its version: ``https://SHOP.myshopify.com/admin/api/2024-01``
    (a local stub in the tests)."""

    def __init__(self, base_url: str, access_token: str, *, notify_customer: bool = True,
                 client: httpx.Client | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.notify_customer = notify_customer
        self._client = client or httpx.Client(timeout=timeout_s)
        self._headers = {"X-Shopify-Access-Token": access_token, "Accept": "application/json",
                         "Content-Type": "application/json"}

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> httpx.Response:
        return self._client.request(method, f"{self.base_url}/{path}", headers=self._headers,
                                    content=json.dumps(payload) if payload is not None else None)

    def fulfil(self, out: Outgoing) -> Attempt:
        d = out.delivery
        job = json.loads(d.body)
        shop_order = job["shop_order_id"]
        numbers: list[str] = list(job.get("tracking_numbers") or [])
        tracking: dict[str, Any] = {"company": job.get("carrier") or ""}
        if numbers:
            tracking["number"] = numbers[0]
        message = f"Packed by the warehouse (order {job['order_id']})"
        if len(numbers) > 1:
            message += f"; cartons: {', '.join(numbers)}"
        try:
            known = out.shop_order.fulfillment_id if out.shop_order else None
            if known:
                return self._update(d.id, known, tracking) if numbers else Attempt(d.id, ok=True, status=200,
                                                                                   result={"fulfillment_id": known})
            r = self._call("GET", f"orders/{shop_order}/fulfillment_orders.json")
            if r.status_code != 200:
                return _refused(d.id, r, "listing the order's fulfillment orders")
            open_ones = [fo["id"] for fo in r.json().get("fulfillment_orders", [])
                         if fo.get("status") in ("open", "in_progress")
                         and "create_fulfillment" in fo.get("supported_actions", ["create_fulfillment"])]
            if not open_ones:  # fulfilled already: our earlier try went through, its answer did not reach us
                r = self._call("GET", f"orders/{shop_order}/fulfillments.json")
                if r.status_code != 200:
                    return _refused(d.id, r, "listing the order's fulfillments")
                existing = [f for f in r.json().get("fulfillments", []) if f.get("status") in ("success", "open", None)]
                if not existing:
                    return Attempt(d.id, ok=False, status=r.status_code,
                                   error="Shopify lists no open fulfillment order and no fulfillment for this order")
                fid = str(existing[-1]["id"])
                if numbers and existing[-1].get("tracking_number") != numbers[0]:
                    return self._update(d.id, fid, tracking)
                return Attempt(d.id, ok=True, status=200, result={"fulfillment_id": fid})
            payload = {"fulfillment": {
                "line_items_by_fulfillment_order": [{"fulfillment_order_id": i} for i in open_ones],
                "tracking_info": tracking, "notify_customer": self.notify_customer, "message": message}}
            r = self._call("POST", "fulfillments.json", payload)
            if r.status_code not in (200, 201):
                return _refused(d.id, r, "creating the fulfillment")
            return Attempt(d.id, ok=True, status=r.status_code,
                           result={"fulfillment_id": str(r.json()["fulfillment"]["id"])})
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            return Attempt(d.id, ok=False, error=f"Shopify Admin API: {exc.__class__.__name__}: {exc}"[:500])

    def _update(self, delivery_id: str, fulfillment_id: str, tracking: dict[str, Any]) -> Attempt:
        r = self._call("POST", f"fulfillments/{fulfillment_id}/update_tracking.json",
                       {"fulfillment": {"notify_customer": self.notify_customer, "tracking_info": tracking}})
        if r.status_code != 200:
            return _refused(delivery_id, r, "updating the fulfillment's tracking")
        return Attempt(delivery_id, ok=True, status=200, result={"fulfillment_id": fulfillment_id})


def _refused(delivery_id: str, r: httpx.Response, doing: str) -> Attempt:
    retry_after = None
    if r.headers.get("Retry-After"):
        try:
            retry_after = float(r.headers["Retry-After"])
        except ValueError:
            retry_after = None
    return Attempt(delivery_id, ok=False, status=r.status_code, retry_after_s=retry_after,
                   error=f"Shopify answered {r.status_code} {doing}: {r.text[:300]}")


__all__ = ["DEFAULT_COD_GATEWAYS", "TOPICS", "ShopifyAdmin", "read_order"]
