"""Status push from a real ``packstation serve`` to real HTTP receivers: signed, with a delivery id,
retried until delivered, in order per order, never dropped, shown by ``packstation webhooks status``.

The receivers check the signature as the README tells subscribers to (HMAC-SHA256 of
``<t>.<raw body>`` with the subscription's secret, constant-time compare).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from packstation_tests_api import (
    REPO,
    ApiSite,
    Heard,
    Receiver,
    an_order,
    hand_over,
    pack,
    rows,
    wait_for,
)

from packstation.adapters.push import verify_signature


def cli(site: ApiSite, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packstation", "--config", str(site.config()), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def subscribe(site: ApiSite, url: str, events: str) -> str:
    out = cli(site, "webhooks", "add", url, "--events", events)
    assert out.returncode == 0, out.stderr
    secret = out.stdout.strip()
    assert secret.startswith("whsec_")
    return secret


def post_order(url: str, token: str, order: dict[str, Any]) -> None:
    r = httpx.post(f"{url}/api/v1/orders", json=order, headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert r.status_code == 201, r.text


@pytest.mark.slow
def test_a_tracking_push_answered_500_three_times_is_delivered_once(fresh_pg_site: ApiSite) -> None:
    site = fresh_pg_site
    tries: list[Heard] = []

    def reply(heard: Heard) -> tuple[int, dict[str, Any] | None]:
        tries.append(heard)
        return (500, {"error": "we are down"}) if len(tries) <= 3 else (200, {"ok": True})

    with Receiver(reply) as endpoint:
        secret = subscribe(site, f"{endpoint.url}/hooks/packstation", "order.handed_over")
        server = site.server()
        post_order(server.url, site.token(), an_order("PUSH-1", {"TS-1": 1}))
        station = site.station("BENCH-P1")
        pack(station, "PUSH-1")
        hand_over(station, "PUSH-1", {1: "JJD000390007123456"})
        wait_for(lambda: len(endpoint.requests()) >= 4, what="a fourth try")
        time.sleep(1.5)  # retries would come within fractions of a second here ([webhooks] retry_base_s 0.2)
        heard = endpoint.requests()
    assert len(heard) == 4  # three refused, the fourth taken, no more
    ids = {h.headers["x-packstation-delivery"] for h in heard}
    assert len(ids) == 1  # the same delivery each time: the receiver de-duplicates on it
    assert len({h.body for h in heard}) == 1  # the same bytes, signed the same way
    for h in heard:
        assert verify_signature(secret, h.body, h.headers["x-packstation-signature"])
        assert h.headers["x-packstation-event"] == "order.handed_over"
        assert h.headers["content-type"] == "application/json"
    body = heard[-1].json()
    assert body["id"] in ids and body["event"] == "order.handed_over"
    assert body["order"]["order_id"] == "PUSH-1" and body["order"]["status"] == "handed_over"
    assert body["order"]["tracking_numbers"] == ["JJD000390007123456"] and body["order"]["carrier"] == "DHL"
    (delivery,) = rows(site.host(), "push_deliveries")
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("delivered", 4, 200)
    status = cli(site, "webhooks", "status", "--json")
    assert status.returncode == 0
    (sub,) = json.loads(status.stdout)["subscriptions"]
    assert (sub["delivered"], sub["pending"], sub["failing"]) == (1, 0, False)


@pytest.mark.slow
def test_every_stage_arrives_in_order_and_a_failing_endpoint_is_shown_not_dropped(fresh_pg_site: ApiSite) -> None:
    site = fresh_pg_site
    down = threading.Event()
    down.set()

    def reply(heard: Heard) -> tuple[int, dict[str, Any] | None]:
        return (503, {"error": "maintenance"}) if down.is_set() else (204, None)

    with Receiver(reply) as endpoint:
        secret = subscribe(site, f"{endpoint.url}/erp", "order.released,order.packed,order.handed_over,"
                                                        "order.delivered,order.cancelled")
        server = site.server()
        token = site.token()
        post_order(server.url, token, an_order("PUSH-2", {"TS-1": 1}))
        post_order(server.url, token, an_order("PUSH-3", {"TS-1": 1}))
        station = site.station("BENCH-P2")
        pack(station, "PUSH-2")
        hand_over(station, "PUSH-2", {1: "1Z999AA10123456784"})
        from packstation.domain.identity import ActorKind
        from packstation.services.imports import import_records

        report = import_records(station.ctx, station.system_session(ActorKind.IMPORT, "tests"), "tracking",
                                [("line 2", {"tracking_number": "1Z999AA10123456784", "status": "delivered",
                                             "at": "2026-03-11T10:00:00Z"})], "tracking.csv")
        assert report.ok, report.rejected
        r = httpx.post(f"{server.url}/api/v1/orders/PUSH-3/cancel", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        wait_for(lambda: len(endpoint.requests()) >= 3, what="tries while the endpoint is down")
        status = cli(site, "webhooks", "status")
        assert status.returncode == 1  # a failing endpoint is a non-zero status for monitoring
        assert "FAILING" in status.stdout and "HTTP 503" in status.stdout
        down.clear()  # the endpoint is back: everything comes, nothing was dropped
        wait_for(lambda: sum(1 for r in rows(site.host(), "push_deliveries") if r["state"] == "delivered") == 6,
                 what="six stages delivered", timeout_s=30)
        ok = [h for h in endpoint.requests() if h.headers.get("x-packstation-delivery")]
    delivered_ids = {r["id"] for r in rows(site.host(), "push_deliveries")}
    by_order: dict[str, list[str]] = {}
    seen: set[str] = set()
    for h in ok:
        assert verify_signature(secret, h.body, h.headers["x-packstation-signature"])
        body = h.json()
        if body["id"] in seen:
            continue
        seen.add(body["id"])
        by_order.setdefault(body["order"]["order_id"], []).append(body["event"])
    assert seen == delivered_ids
    assert by_order == {"PUSH-2": ["order.released", "order.packed", "order.handed_over", "order.delivered"],
                        "PUSH-3": ["order.released", "order.cancelled"]}
    assert cli(site, "webhooks", "status").returncode == 0


@pytest.mark.slow
def test_two_servers_collect_and_send_every_stage_once(fresh_pg_site: ApiSite) -> None:
    site = fresh_pg_site
    with Receiver() as endpoint:
        subscribe(site, f"{endpoint.url}/h", "order.released,order.cancelled")
        one, two = site.server(), site.server()  # two servers behind a load balancer, both running workers
        token = site.token()
        for n in range(30):
            post_order(one.url if n % 2 else two.url, token, an_order(f"PUSH-M{n}", {"TS-1": 1}))
        for n in range(0, 30, 3):
            r = httpx.post(f"{two.url}/api/v1/orders/PUSH-M{n}/cancel", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
        wait_for(lambda: len(rows(site.host(), "push_deliveries")) == 40
                 and all(r["state"] == "delivered" for r in rows(site.host(), "push_deliveries")),
                 what="40 deliveries delivered", timeout_s=40)
        time.sleep(1)
        heard = endpoint.requests()
    ids = [h.headers["x-packstation-delivery"] for h in heard]
    assert len(ids) == 40 and len(set(ids)) == 40  # each stage once, though two readers and two senders ran


def test_subscriptions_are_checked_when_made(site: ApiSite) -> None:
    bad = cli(site, "webhooks", "add", "ftp://example.com/x")
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr
    unknown = cli(site, "webhooks", "add", "https://example.com/x", "--events", "order.exploded")
    assert unknown.returncode == 2 and "unknown event order.exploded" in unknown.stderr
    listed = cli(site, "webhooks", "list")
    assert "example.com" not in listed.stdout
