"""Packing and hand-over of a Shopify order create its fulfillment with tracking through the Admin API.

The shop is a local stub of the documented REST Admin API 2024-01 requests and responses (the
shapes, ids and fields of Shopify's own examples as the generated tests of Shopify/shopify-api-ruby
``test/rest/2024_01/fulfillment_order_test.rb`` and ``fulfillment_test.rb`` replay them):

- ``GET /admin/api/2024-01/orders/{order_id}/fulfillment_orders.json`` -> ``{"fulfillment_orders": [...]}``
- ``POST /admin/api/2024-01/fulfillments.json`` with ``{"fulfillment": {"line_items_by_fulfillment_order":
  [{"fulfillment_order_id": ...}], "tracking_info": {"number", "company", ...}, "notify_customer"}}``
  -> ``{"fulfillment": {"id": 1069019884, ...}}``
- ``POST /admin/api/2024-01/fulfillments/{id}/update_tracking.json`` with ``{"fulfillment":
  {"notify_customer", "tracking_info": {"company", "number"}}}``
- ``GET /admin/api/2024-01/orders/{order_id}/fulfillments.json`` -> ``{"fulfillments": [...]}``

(the fulfillment order is the documented one made merchant-managed: ``status`` open,
``supported_actions`` including ``create_fulfillment``.) Every request must carry
``X-Shopify-Access-Token``.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx
import pytest
from packstation_tests_api import (
    ApiSite,
    Heard,
    Receiver,
    hand_over,
    pack,
    rows,
    shopify_headers,
    shopify_order,
    wait_for,
)

TOKEN = "shpat_test_access_token"


class ShopifyStub:
    """The Admin API of one shop, with the state the documented calls change."""

    def __init__(self, *, lose_first_create_answer: bool = False) -> None:
        self.lock = threading.Lock()
        self.orders: dict[int, dict[str, Any]] = {}  # shopify order id -> {"open": bool, "fulfillments": [...]}
        self.lose_first = lose_first_create_answer
        self.receiver = Receiver(self.reply)

    def reply(self, heard: Heard) -> tuple[int, dict[str, Any] | None]:
        if heard.headers.get("x-shopify-access-token") != TOKEN:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
        with self.lock:
            m = re.fullmatch(r"/admin/api/2024-01/orders/(\d+)/fulfillment_orders\.json", heard.path)
            if heard.method == "GET" and m:
                oid = int(m.group(1))
                state = self.orders.setdefault(oid, {"open": True, "fulfillments": []})
                return 200, {"fulfillment_orders": [{
                    "id": 1046000823, "shop_id": 548380009, "order_id": oid, "assigned_location_id": 24826418,
                    "request_status": "unsubmitted", "status": "open" if state["open"] else "closed",
                    "supported_actions": ["create_fulfillment", "move"] if state["open"] else [],
                    "destination": {"id": 1046000807, "address1": "Chestnut Street 92", "city": "Louisville",
                                    "country": "United States", "zip": "40202"},
                    "line_items": [{"id": 1058737564, "shop_id": 548380009, "fulfillment_order_id": 1046000823,
                                    "quantity": 1, "line_item_id": 518995019, "inventory_item_id": 49148385,
                                    "fulfillable_quantity": 1, "variant_id": 49148385}],
                    "fulfill_at": None, "fulfill_by": None, "fulfillment_holds": [], "merchant_requests": []}]}
            m = re.fullmatch(r"/admin/api/2024-01/orders/(\d+)/fulfillments\.json", heard.path)
            if heard.method == "GET" and m:
                return 200, {"fulfillments": self.orders.get(int(m.group(1)), {"fulfillments": []})["fulfillments"]}
            if heard.method == "POST" and heard.path == "/admin/api/2024-01/fulfillments.json":
                f = heard.json()["fulfillment"]
                (fo,) = f["line_items_by_fulfillment_order"]
                oid = next(o for o, s in self.orders.items() if s["open"])
                number = f.get("tracking_info", {}).get("number")
                made = {"id": 1069019884, "order_id": oid, "status": "success", "service": "manual",
                        "tracking_company": f.get("tracking_info", {}).get("company"), "tracking_number": number,
                        "tracking_numbers": [number] if number else [], "name": "#1001.2",
                        "admin_graphql_api_id": "gid://shopify/Fulfillment/1069019884"}
                assert fo == {"fulfillment_order_id": 1046000823}
                self.orders[oid]["open"] = False
                self.orders[oid]["fulfillments"].append(made)
                if self.lose_first:
                    self.lose_first = False
                    return 502, {"errors": "Bad gateway"}  # made, but the answer never reaches the caller
                return 201, {"fulfillment": made}
            m = re.fullmatch(r"/admin/api/2024-01/fulfillments/(\d+)/update_tracking\.json", heard.path)
            if heard.method == "POST" and m:
                info = heard.json()["fulfillment"]["tracking_info"]
                for state in self.orders.values():
                    for made in state["fulfillments"]:
                        if made["id"] == int(m.group(1)):
                            made.update(tracking_company=info.get("company"), tracking_number=info.get("number"),
                                        tracking_numbers=[info.get("number")])
                            return 200, {"fulfillment": made}
                return 404, {"errors": "Not Found"}
        return 404, {"errors": "Not Found"}


def _config(stub: ShopifyStub) -> dict[str, Any]:
    return {"access_token": TOKEN, "shop": "acme.myshopify.com",
            "admin_url": f"{stub.receiver.url}/admin/api/2024-01", "notify_customer": True}


def _calls(stub: ShopifyStub) -> list[tuple[str, str]]:
    return [(h.method, h.path) for h in stub.receiver.requests()]


@pytest.mark.slow
@pytest.mark.parametrize("lose_answer", [False, True], ids=["answered", "first-answer-lost"])
def test_packing_and_hand_over_create_the_fulfillment_with_tracking(fresh_pg_site: ApiSite, lose_answer: bool) -> None:
    site = fresh_pg_site
    stub = ShopifyStub(lose_first_create_answer=lose_answer)
    with stub.receiver:
        server = site.server(shopify=_config(stub))
        body = json.dumps(shopify_order(50, qty=1)).encode()
        r = httpx.post(f"{server.url}/webhooks/shopify", content=body, headers=shopify_headers(body, delivery="ful-50"))
        assert r.status_code == 200
        wait_for(lambda: rows(site.host(), "orders", order_id="SH-1050"), what="the Shopify order imported")
        station = site.station("BENCH-SH")
        pack(station, "SH-1050")
        wait_for(lambda: [x for x in rows(site.host(), "shop_orders", order_id="SH-1050") if x["fulfillment_id"]],
                 what="the fulfillment made", timeout_s=30)
        creates = [h for h in stub.receiver.requests() if h.path.endswith("/fulfillments.json") and h.method == "POST"]
        assert len(creates) == 1  # also when its answer was lost: the retry finds it instead of making another
        sent = creates[0].json()["fulfillment"]
        assert sent["line_items_by_fulfillment_order"] == [{"fulfillment_order_id": 1046000823}]
        assert sent["tracking_info"] == {"company": "DHL"} and sent["notify_customer"] is True
        assert creates[0].headers["content-type"] == "application/json"
        order_path = "/admin/api/2024-01/orders/4500000050"
        expected = [("GET", f"{order_path}/fulfillment_orders.json"), ("POST", "/admin/api/2024-01/fulfillments.json")]
        if lose_answer:
            expected += [("GET", f"{order_path}/fulfillment_orders.json"), ("GET", f"{order_path}/fulfillments.json")]
        assert _calls(stub) == expected

        hand_over(station, "SH-1050", {1: "JJD0012345678901"})
        wait_for(lambda: any(h.path.endswith("/update_tracking.json") for h in stub.receiver.requests()),
                 what="the tracking update", timeout_s=30)
        (update,) = [h for h in stub.receiver.requests() if h.path.endswith("/update_tracking.json")]
        assert update.path == "/admin/api/2024-01/fulfillments/1069019884/update_tracking.json"
        assert update.json() == {"fulfillment": {"notify_customer": True,
                                                 "tracking_info": {"company": "DHL", "number": "JJD0012345678901"}}}
        wait_for(lambda: all(d["state"] == "delivered" for d in rows(site.host(), "push_deliveries")),
                 what="both deliveries done")
        (ref,) = rows(site.host(), "shop_orders", order_id="SH-1050")
        assert ref["fulfillment_id"] == "1069019884"
        assert stub.orders[4500000050]["fulfillments"][0]["tracking_number"] == "JJD0012345678901"
