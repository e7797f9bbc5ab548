"""Shops' webhooks over real HTTP: signatures on the raw body, duplicates, out-of-order versions, a
secret rotation, SIGKILL right after answering; ``packstation serve`` processes on PostgreSQL
(``central init``) and SQLite.

Signatures are made as the shops document them (Shopify: base64 HMAC-SHA256 of the body in
``X-Shopify-Hmac-SHA256``; WooCommerce: the same in ``X-WC-Webhook-Signature``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from packstation_tests_api import (
    NOW,
    REPO,
    ApiServer,
    ApiSite,
    an_order,
    hand_over,
    later,
    pack,
    rows,
    shopify_headers,
    shopify_order,
    wait_for,
    woo_headers,
)

SHOPS = Path(__file__).parents[1] / "fixtures" / "shops"


def deliver(server: ApiServer, body: bytes, **kw: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/webhooks/shopify", content=body, headers=shopify_headers(body, **kw), timeout=20)


def order_rows(site: ApiSite, order_id: str) -> list[dict[str, Any]]:
    return rows(site.host(), "orders", order_id=order_id)


def inbox(site: ApiSite, **where: Any) -> list[dict[str, Any]]:
    return rows(site.host(), "webhook_inbox", **where)


def settled(site: ApiSite, delivery_ids: list[str]) -> bool:
    states = {r["delivery_id"]: r["state"] for r in inbox(site)}
    return all(states.get(d) not in (None, "pending") for d in delivery_ids)


def body_of(order: dict[str, Any]) -> bytes:
    return json.dumps(order, separators=(",", ":")).encode()


def test_a_bad_signature_is_refused_with_401_and_nothing_is_stored(site: ApiSite, server: ApiServer) -> None:
    body = body_of(shopify_order(1))
    wrong = deliver(server, body, delivery="bad-1", secret="not-the-secret")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "bad_signature")
    tampered = body.replace(b'"quantity":1', b'"quantity":9')
    headers = shopify_headers(body, delivery="bad-2")
    assert httpx.post(f"{server.url}/webhooks/shopify", content=tampered, headers=headers).status_code == 401
    unsigned = {k: v for k, v in shopify_headers(body, delivery="bad-3").items() if k != "X-Shopify-Hmac-SHA256"}
    assert httpx.post(f"{server.url}/webhooks/shopify", content=body, headers=unsigned).status_code == 401
    woo = woo_headers(body, delivery="bad-4", secret="nope")
    assert httpx.post(f"{server.url}/webhooks/woocommerce", content=body, headers=woo).status_code == 401
    assert [r for r in inbox(site) if r["delivery_id"].startswith("bad-")] == []


def test_a_reserialised_body_fails_verification(site: ApiSite, server: ApiServer) -> None:
    body = body_of(shopify_order(2))
    headers = shopify_headers(body, delivery="reser-1")
    reserialised = json.dumps(json.loads(body), indent=None).encode()  # the same JSON: ", " and ": " now
    assert reserialised != body and json.loads(reserialised) == json.loads(body)
    r = httpx.post(f"{server.url}/webhooks/shopify", content=reserialised, headers=headers)
    assert r.status_code == 401
    assert httpx.post(f"{server.url}/webhooks/shopify", content=body, headers=headers).status_code == 200


def test_10_concurrent_duplicate_deliveries_make_one_order(site: ApiSite, server: ApiServer) -> None:
    body = body_of(shopify_order(3, qty=2))
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def one() -> None:
        barrier.wait()
        r = deliver(server, body, delivery="dup-3")
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [r.status_code for r in answers] == [200] * 10
    assert sorted(r.json()["duplicate"] for r in answers) == [False] + [True] * 9
    wait_for(lambda: settled(site, ["dup-3"]), what="the delivery applied")
    assert len(inbox(site, delivery_id="dup-3")) == 1
    assert len(order_rows(site, "SH-1003")) == 1
    events = [e["kind"] for e in rows(site.host(), "events", order_id="SH-1003")]
    assert events == ["order.received"]


def test_the_same_shop_order_under_new_delivery_ids_is_one_order(site: ApiSite, server: ApiServer) -> None:
    body = body_of(shopify_order(4))
    for n, topic in enumerate(("orders/create", "orders/updated", "orders/create"), 1):
        assert deliver(server, body, topic=topic, delivery=f"same-4-{n}").status_code == 200
    wait_for(lambda: settled(site, ["same-4-1", "same-4-2", "same-4-3"]), what="three deliveries applied")
    assert len(order_rows(site, "SH-1004")) == 1
    states = [r["state"] for r in inbox(site) if r["delivery_id"].startswith("same-4-")]
    assert states == ["done", "stale", "stale"]  # the same updated_at: the same version, applied once
    (ref,) = rows(site.host(), "shop_orders", external_id="4500000004")
    assert (ref["order_id"], ref["shop"]) == ("SH-1004", "acme.myshopify.com")


def test_the_same_order_by_webhook_and_by_api_makes_one_order(site: ApiSite, server: ApiServer) -> None:
    token = site.token("integrator")
    mine = an_order("SH-1005", {"TS-1": 1})
    r = httpx.post(f"{server.url}/api/v1/orders", json=mine, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    assert deliver(server, body_of(shopify_order(5)), delivery="both-5").status_code == 200
    wait_for(lambda: settled(site, ["both-5"]), what="the webhook applied")
    (order,) = order_rows(site, "SH-1005")
    assert order["ship_city"] == "Amsterdam"  # the shop's newer version of the same order
    kinds = [(e["kind"], e["actor"]) for e in rows(site.host(), "events", order_id="SH-1005")]
    assert kinds == [("order.received", "api:integrator"), ("order.updated", "api:shopify:acme.myshopify.com")]
    again = httpx.post(f"{server.url}/api/v1/orders", json=mine, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 200 and len(order_rows(site, "SH-1005")) == 1


def test_an_update_that_arrives_before_its_create_converges(site: ApiSite, server: ApiServer) -> None:
    create = body_of(shopify_order(6, updated=NOW, qty=1))
    update = body_of(shopify_order(6, updated=later(60), qty=3))
    assert deliver(server, update, topic="orders/updated", delivery="ooo-6-upd").status_code == 200
    wait_for(lambda: settled(site, ["ooo-6-upd"]), what="the update applied")
    assert deliver(server, create, topic="orders/create", delivery="ooo-6-new").status_code == 200
    wait_for(lambda: settled(site, ["ooo-6-new"]), what="the late create handled")
    (line,) = rows(site.host(), "order_lines", order_id="SH-1006")
    assert line["qty"] == 3  # the newest version, whatever arrived last
    states = {r["delivery_id"]: (r["state"], r["reason"]) for r in inbox(site) if r["delivery_id"].startswith("ooo-6")}
    assert states["ooo-6-upd"][0] == "done"
    assert states["ooo-6-new"][0] == "stale" and "applied already" in states["ooo-6-new"][1]
    newer = body_of(shopify_order(6, updated=later(120), qty=2))
    assert deliver(server, newer, topic="orders/updated", delivery="ooo-6-upd2").status_code == 200
    wait_for(lambda: settled(site, ["ooo-6-upd2"]), what="the next update applied")
    assert rows(site.host(), "order_lines", order_id="SH-1006")[0]["qty"] == 2


def test_a_shop_cancellation_cancels_and_one_after_hand_over_is_refused_with_the_reason(site: ApiSite,
                                                                                          server: ApiServer) -> None:
    assert deliver(server, body_of(shopify_order(7)), delivery="cx-7-new").status_code == 200
    cancel = body_of(shopify_order(7, updated=later(30), cancelled=True))
    assert deliver(server, cancel, topic="orders/cancelled", delivery="cx-7-cx").status_code == 200
    wait_for(lambda: settled(site, ["cx-7-new", "cx-7-cx"]), what="both applied")
    assert order_rows(site, "SH-1007")[0]["status"] == "cancelled"

    assert deliver(server, body_of(shopify_order(8, qty=1)), delivery="cx-8-new").status_code == 200
    wait_for(lambda: settled(site, ["cx-8-new"]), what="the order imported")
    station = site.station("BENCH-WH")
    pack(station, "SH-1008")
    hand_over(station, "SH-1008", {1: "00340434161094042557"})
    late = body_of(shopify_order(8, updated=later(300), cancelled=True))
    assert deliver(server, late, topic="orders/cancelled", delivery="cx-8-cx").status_code == 200
    wait_for(lambda: settled(site, ["cx-8-cx"]), what="the cancellation handled")
    (item,) = inbox(site, delivery_id="cx-8-cx")
    assert item["state"] == "refused"
    assert item["reason"] == "Order SH-1008 has been handed over to the carrier: it can no longer be cancelled."
    assert order_rows(site, "SH-1008")[0]["status"] == "handed_over"


def test_woocommerce_ping_documented_order_unknown_skus_and_a_replay(site: ApiSite, server: ApiServer) -> None:
    ping = httpx.post(f"{server.url}/webhooks/woocommerce", content=b"webhook_id=7",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert ping.status_code == 200 and ping.json()["ping"] is True
    sample = (SHOPS / "woocommerce_order_sample.json").read_bytes()
    r = httpx.post(f"{server.url}/webhooks/woocommerce", content=sample, headers=woo_headers(sample, delivery="wc-doc"))
    assert r.status_code == 200
    order = json.loads(sample)
    order.update(id=9001, number="9001")
    order["line_items"][0]["sku"] = "NEW-SKU-1"
    body = json.dumps(order).encode()
    r = httpx.post(f"{server.url}/webhooks/woocommerce", content=body, headers=woo_headers(body, delivery="wc-new"))
    assert r.status_code == 200
    wait_for(lambda: settled(site, ["wc-doc", "wc-new"]), what="both handled")
    doc, new = inbox(site, delivery_id="wc-doc")[0], inbox(site, delivery_id="wc-new")[0]
    assert (doc["state"], doc["reason"]) == ("rejected", "lines[1].sku is missing")
    assert (new["state"], new["reason"]) == ("rejected", "unknown sku NEW-SKU-1: import the catalog first")
    cfg = site.config()
    status = subprocess.run([sys.executable, "-m", "packstation", "--config", str(cfg), "webhooks", "status"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "unknown sku NEW-SKU-1: import the catalog first" in status.stdout
    assert "lines[1].sku is missing" in status.stdout

    from packstation.domain.identity import ActorKind
    from packstation.services.imports import import_records

    host = site.host()
    report = import_records(host.ctx, host.system_session(ActorKind.IMPORT, "tests"), "catalog",
                            [("record 1", {"sku": "NEW-SKU-1", "name": "New thing", "weight_g": 100})], "fix")
    assert report.ok
    replay = subprocess.run([sys.executable, "-m", "packstation", "--config", str(cfg), "webhooks", "replay"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0 and "2 webhook deliveries are pending again" in replay.stdout
    wait_for(lambda: settled(site, ["wc-doc", "wc-new"]), what="the replay applied")
    assert inbox(site, delivery_id="wc-new")[0]["state"] == "done"
    assert inbox(site, delivery_id="wc-doc")[0]["state"] == "rejected"  # its payload still has no SKU
    (wc,) = order_rows(site, "WC-9001")
    assert (wc["ship_postcode"], wc["payment_status"]) == ("94103", "paid")
    deleted = json.dumps({"id": 9001}).encode()
    r = httpx.post(f"{server.url}/webhooks/woocommerce", content=deleted,
                   headers=woo_headers(deleted, topic="order.deleted", delivery="wc-del"))
    assert r.status_code == 200
    wait_for(lambda: settled(site, ["wc-del"]), what="the deletion handled")
    assert order_rows(site, "WC-9001")[0]["status"] == "cancelled"


def test_topics_we_do_not_act_on_are_answered_and_not_stored(site: ApiSite, server: ApiServer) -> None:
    body = body_of(shopify_order(10))
    r = deliver(server, body, topic="orders/paid", delivery="paid-10")
    assert r.status_code == 200 and "ignored" in r.json()
    assert inbox(site, delivery_id="paid-10") == []
    nodelivery = {k: v for k, v in shopify_headers(body).items() if k != "X-Shopify-Webhook-Id"}
    r = httpx.post(f"{server.url}/webhooks/shopify", content=body, headers=nodelivery)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "missing_delivery_id")


@pytest.mark.slow
def test_a_rotated_secret_loses_nothing(fresh_pg_site: ApiSite) -> None:
    site = fresh_pg_site
    old_only = site.server(shopify={"secrets": ["old-secret"]})
    assert deliver(old_only, body_of(shopify_order(21)), delivery="rot-1", secret="old-secret").status_code == 200
    both = site.server(shopify={"secrets": ["new-secret", "old-secret"]})  # rotation begins: deploy with both
    old_only.stop()
    # in flight during the rotation: Shopify's retries of earlier deliveries (old secret), new ones (new)
    assert deliver(both, body_of(shopify_order(22)), delivery="rot-2", secret="old-secret").status_code == 200
    assert deliver(both, body_of(shopify_order(23)), delivery="rot-3", secret="new-secret").status_code == 200
    new_only = site.server(shopify={"secrets": ["new-secret"]})  # rotation done
    both.stop()
    refused = deliver(new_only, body_of(shopify_order(24)), delivery="rot-4", secret="old-secret")
    assert refused.status_code == 401  # not stored: Shopify retries it, signed with the new secret
    assert deliver(new_only, body_of(shopify_order(24)), delivery="rot-4", secret="new-secret").status_code == 200
    wait_for(lambda: settled(site, ["rot-1", "rot-2", "rot-3", "rot-4"]), what="every delivery applied")
    for n in (21, 22, 23, 24):
        assert len(order_rows(site, f"SH-{1000 + n}")) == 1


@pytest.mark.slow
def test_the_process_killed_right_after_answering_a_webhook_still_imports_the_order(fresh_pg_site: ApiSite) -> None:
    site = fresh_pg_site
    answering = site.server(workers=False)  # answers, applies nothing: the kill lands before any work
    assert deliver(answering, body_of(shopify_order(31)), delivery="kill-31").status_code == 200
    answering.kill()
    assert [r["state"] for r in inbox(site, delivery_id="kill-31")] == ["pending"]
    assert order_rows(site, "SH-1031") == []
    # and a server with its workers, killed the moment it has answered (before, during or after applying)
    busy = site.server()
    assert deliver(busy, body_of(shopify_order(32)), delivery="kill-32").status_code == 200
    busy.kill()
    site.server()  # the next start applies what is left
    # killed while applying, the busy server held kill-32's inbox lease (60 s, process_inbox): the
    # next server takes it when the lease has run out, so wait longer than the lease
    wait_for(lambda: settled(site, ["kill-31", "kill-32"]), timeout_s=90, what="both applied after the restart")
    for order_id in ("SH-1031", "SH-1032"):
        assert len(order_rows(site, order_id)) == 1
        received = [e for e in rows(site.host(), "events", order_id=order_id) if e["kind"] == "order.received"]
        assert len(received) == 1


def test_a_webhook_is_stored_raw_before_it_is_answered(site: ApiSite) -> None:
    answering = site.server(workers=False)
    body = body_of(shopify_order(40))
    assert deliver(answering, body, delivery="raw-40").status_code == 200
    (item,) = inbox(site, delivery_id="raw-40")  # committed before the 200 (the ack latency: bench/bench_api.py)
    assert (item["body"], item["topic"], item["shop"]) == (body, "orders/create", "acme.myshopify.com")
    answering.stop()
