"""Shops' order JSON read as our import records, on the shops' own documented sample payloads
(tests/fixtures/shops/README.md says where each comes from), and their webhook signatures.

Expected values are read off those documents: the Shopify test notification's ``#9999`` with two
``IPOD2008PINK`` line items at 199.00, shipped to Steve Shipper in Shippington KY 40003;
WooCommerce's order 727 of its REST API docs, shipped to 969 Market, San Francisco CA 94103.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from packstation.adapters.shops import shopify, woocommerce
from packstation.api.signatures import base64_hmac, valid
from packstation.services.imports import RecordError, validate_order_record

SHOPS = Path(__file__).parents[1] / "fixtures" / "shops"
SHOPIFY_SAMPLE = (SHOPS / "shopify_orders_create_sample.json").read_bytes()
WOO_SAMPLE = (SHOPS / "woocommerce_order_sample.json").read_bytes()


def test_shopifys_test_notification_reads_as_an_order_record() -> None:
    got = shopify.read_order("orders/create", SHOPIFY_SAMPLE, prefix="SH-", channel="shopify", carrier="UPS")
    assert got is not None
    assert (got.source, got.external_id, got.order_id) == ("shopify", "820982911946154508", "SH-9999")
    assert got.updated_at == datetime(2019, 6, 4, 17, 53, 6, tzinfo=UTC)  # 13:53:06-04:00
    rec = got.record
    assert rec is not None
    assert rec["ship_to"] == {"name": "Steve Shipper", "line1": "123 Shipping Street", "line2": "",
                              "city": "Shippington", "region": "KY", "postcode": "40003", "country": "US"}
    assert rec["customer"] == {"name": "John Smith", "email": "jon@doe.ca", "phone": "555-555-SHIP"}
    # the same SKU on two line items becomes one line (the import refuses a SKU twice)
    assert rec["lines"] == [{"sku": "IPOD2008PINK", "qty": 2, "unit_price": "199.00"}]
    assert (rec["currency"], rec["carrier"], rec["service"]) == ("USD", "UPS", "Generic Shipping")
    assert rec["payment"] == {"method": "prepaid", "status": "pending"}  # financial_status "voided"
    assert got.cancelled and "customer" in got.cancel_reason  # cancelled_at is set in the sample
    order_id, row, lines = validate_order_record(rec)  # and the import takes it as it is
    assert order_id == "SH-9999" and row["status"] == "on_hold" and len(lines) == 1
    assert row["placed_at"] == datetime(2019, 6, 4, 17, 53, 6, tzinfo=UTC)


def test_shopify_topics_cod_and_payment() -> None:
    order = json.loads(SHOPIFY_SAMPLE)
    order.update(cancelled_at=None, financial_status="pending", payment_gateway_names=["Cash on Delivery (COD)"])
    got = shopify.read_order("orders/updated", json.dumps(order).encode())
    assert got is not None and not got.cancelled
    assert got.record is not None and got.record["payment"] == {"method": "cod", "status": "pending"}
    order.update(financial_status="paid", payment_gateway_names=["shopify_payments"])
    paid = shopify.read_order("orders/paid", json.dumps(order).encode())
    assert paid is None  # a topic we do not act on
    got = shopify.read_order("orders/updated", json.dumps(order).encode())
    assert got is not None and got.record is not None and got.record["payment"] == {"method": "prepaid", "status": "paid"}
    assert shopify.read_order("orders/cancelled", json.dumps(order).encode()).cancelled  # type: ignore[union-attr]


def test_shopify_line_items_that_ship_nothing_are_left_out_and_edited_ones_count_as_they_are_now() -> None:
    order = json.loads(SHOPIFY_SAMPLE)
    order["line_items"][0]["gift_card"] = True
    order["line_items"][1]["current_quantity"] = 3
    order["line_items"].append({"sku": "SERVICE-1", "quantity": 1, "price": "5.00", "requires_shipping": False})
    got = shopify.read_order("orders/updated", json.dumps(order).encode())
    assert got is not None and got.record is not None
    assert got.record["lines"] == [{"sku": "IPOD2008PINK", "qty": 3, "unit_price": "199.00"}]


def test_shopify_payloads_that_are_not_orders_are_refused_with_a_reason() -> None:
    for body, why in ((b"[1, 2]", "not an order object"), (b"{nope", "not JSON"), (b'{"name": "#1"}', "no id"),
                      (b'{"id": 5, "updated_at": "yesterday"}', "updated_at")):
        with pytest.raises(RecordError, match=why):
            shopify.read_order("orders/create", body)


def test_woocommerces_documented_order_reads_as_an_order_record() -> None:
    got = woocommerce.read_order("order.created", WOO_SAMPLE, prefix="WC-", channel="woo", carrier="DHL")
    assert got is not None
    assert (got.external_id, got.order_id, got.updated_at) == ("727", "WC-727", datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC))
    rec = got.record
    assert rec is not None
    assert rec["ship_to"] == {"name": "John Doe", "line1": "969 Market", "line2": "", "city": "San Francisco",
                              "region": "CA", "postcode": "94103", "country": "US"}
    assert rec["customer"] == {"name": "John Doe", "email": "john.doe@example.com", "phone": "(555) 555-5555"}
    assert rec["payment"] == {"method": "prepaid", "status": "paid"}  # "processing", date_paid set
    assert rec["placed_at"] == "2017-03-22T19:28:02+00:00" and rec["service"] == "Flat Rate"
    # subtotal / quantity: 6.00 / 2 and 12.00 / 1; the documented order's first line has no SKU
    assert rec["lines"] == [{"sku": "", "qty": 2, "unit_price": "3.00"}, {"sku": "Bar3", "qty": 1, "unit_price": "12.00"}]
    with pytest.raises(RecordError, match=r"^lines\[1\]\.sku is missing$"):
        validate_order_record(rec)  # the import refuses it, with its own reason
    assert not got.cancelled


def test_woocommerce_statuses_cod_and_deletions() -> None:
    order = json.loads(WOO_SAMPLE)
    order.update(status="on-hold", date_paid=None, date_paid_gmt=None)
    held = woocommerce.read_order("order.updated", json.dumps(order).encode())
    assert held is not None and held.record is not None and held.record["payment"]["status"] == "pending"
    order.update(status="processing", payment_method="cod")
    cod = woocommerce.read_order("order.updated", json.dumps(order).encode())
    assert cod is not None and cod.record is not None and cod.record["payment"] == {"method": "cod", "status": "pending"}
    for status in ("cancelled", "refunded", "failed"):
        order["status"] = status
        assert woocommerce.read_order("order.updated", json.dumps(order).encode()).cancelled  # type: ignore[union-attr]
    deleted = woocommerce.read_order("order.deleted", b'{"id": 727}')
    assert deleted is not None and deleted.cancelled and deleted.record is None and deleted.updated_at is None
    order["status"] = "checkout-draft"
    assert woocommerce.read_order("order.created", json.dumps(order).encode()) is None
    assert woocommerce.read_order("product.updated", WOO_SAMPLE) is None


def test_a_shopify_hmac_as_another_project_computed_it() -> None:
    # sqlpage/SQLPage tests/sql_test_files/data/hmac_shopify_webhook.sql: Shopify's base64 HMAC-SHA256
    body = b'{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}'
    expected = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
    assert base64_hmac("test-webhook-secret", body) == expected
    assert valid(body, expected, ["test-webhook-secret"])
    assert valid(body, expected, ["the-new-secret", "test-webhook-secret"])  # during a rotation
    assert not valid(body, expected, ["the-new-secret"])
    assert not valid(body + b" ", expected, ["test-webhook-secret"])
    reserialised = json.dumps(json.loads(body)).encode()  # same JSON, other bytes (spaces after : and ,)
    assert reserialised != body and not valid(reserialised, expected, ["test-webhook-secret"])
    assert not valid(body, None, ["test-webhook-secret"]) and not valid(body, expected, [])


def test_a_woocommerce_signature_on_the_rfc_4231_vector() -> None:
    # RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?") =
    # 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843; WooCommerce sends its base64
    # (WC_Webhook::generate_signature: base64_encode(hash_hmac('sha256', $payload, $secret, true)))
    digest = bytes.fromhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    header = base64.b64encode(digest).decode()
    assert valid(b"what do ya want for nothing?", header, ["Jefe"])
    assert not valid(b"what do ya want for nothing?", header.lower(), ["Jefe"])
