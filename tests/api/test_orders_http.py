"""Orders in over HTTP (``POST /api/v1/orders``), an order's status, cancelling: a real
``packstation serve`` process on PostgreSQL (set up by ``central init``) and on SQLite.

The reasons checked here are the file import's own (``services/imports.py``: the same messages a
``packstation import orders`` run prints), each with the code and field path the API adds.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from packstation_tests_api import ApiServer, ApiSite, an_order, hand_over, pack, rows


def post(server: ApiServer, token: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/orders", content=json.dumps(body),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
                      timeout=20)


@pytest.fixture(scope="module")
def token(site: ApiSite) -> str:
    return site.token("acme-shop")


def test_an_order_is_created_then_unchanged_then_updated_as_a_file_import_would(
        site: ApiSite, server: ApiServer, token: str) -> None:
    order = an_order("API-1", {"TS-1": 2, "TY-1": 1})
    first = post(server, token, order)
    assert (first.status_code, first.json()) == (201, {"order_id": "API-1", "result": "created"})
    again = post(server, token, order)
    assert (again.status_code, again.json()) == (200, {"order_id": "API-1", "result": "unchanged"})
    changed = post(server, token, an_order("API-1", {"TS-1": 3, "TY-1": 1}))
    assert (changed.status_code, changed.json()) == (200, {"order_id": "API-1", "result": "updated"})
    host = site.host()
    lines = {r["sku"]: r["qty"] for r in rows(host, "order_lines", order_id="API-1")}
    assert lines == {"TS-1": 3, "TY-1": 1}
    events = rows(host, "events", order_id="API-1")
    assert [e["kind"] for e in events] == ["order.received", "order.updated"]
    assert {e["actor"] for e in events} == {"api:acme-shop"}  # the client is the actor of its events
    assert {e["station_id"] for e in events} == {"API"}


def test_a_list_is_stored_whole_with_one_answer_per_order(server: ApiServer, token: str) -> None:
    r = post(server, token, [an_order("API-L1"), an_order("API-L2", {"TY-1": 1})])
    assert r.status_code == 201
    assert r.json() == {"orders": [{"order_id": "API-L1", "result": "created"}, {"order_id": "API-L2", "result": "created"}],
                        "created": 2, "updated": 0, "unchanged": 0}
    r = post(server, token, [an_order("API-L1"), an_order("API-L3")])
    assert r.status_code == 201 and r.json()["unchanged"] == 1 and r.json()["created"] == 1


def test_invalid_orders_are_refused_with_the_imports_reasons_as_codes_and_paths(site: ApiSite, server: ApiServer,
                                                                                  token: str) -> None:
    bad_country = an_order("API-BAD-1")
    bad_country["ship_to"]["country"] = "Germany"
    bad_qty = an_order("API-BAD-2")
    bad_qty["lines"][0]["qty"] = 0
    cod_paid = an_order("API-BAD-3", payment={"method": "cod", "status": "paid"})
    fine = an_order("API-BAD-4")
    r = post(server, token, [bad_country, bad_qty, cod_paid, fine])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_order" and "nothing was stored" in err["message"]
    assert [(d["index"], d["order_id"], d["path"], d["code"], d["message"]) for d in err["details"]] == [
        (0, "API-BAD-1", "ship_to.country", "too_long", "ship_to.country is longer than 2 characters"),
        (1, "API-BAD-2", "lines[1].qty", "too_small", "lines[1].qty must be at least 1, got 0"),
        (2, "API-BAD-3", "payment", "cod_already_paid", "payment: cash on delivery cannot already be paid"),
    ]
    one = an_order("API-BAD-5", currency="euro")
    r = post(server, token, one)
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [{"index": None, "order_id": "API-BAD-5", "path": "currency",
                                             "code": "too_long", "message": "currency is longer than 3 characters"}]
    email = an_order("API-BAD-6")
    email["customer"]["email"] = "anna-at-example"
    detail = post(server, token, email).json()["error"]["details"][0]
    assert (detail["path"], detail["code"]) == ("customer.email", "invalid_email")
    unknown = an_order("API-BAD-7", {"TS-1": 1, "NOPE-9": 2})
    r = post(server, token, unknown)
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [{"index": None, "order_id": "API-BAD-7", "path": "lines[2].sku",
                                             "code": "unknown_sku", "message": "unknown sku NOPE-9: import the catalog first"}]
    assert rows(site.host(), "orders", order_id="API-BAD-4") == []  # the good one of the refused list too


def test_a_changed_order_that_is_being_packed_is_refused_with_409(site: ApiSite, server: ApiServer, token: str) -> None:
    from packstation.services.packing import claim_order

    assert post(server, token, an_order("API-PK-1")).status_code == 201
    station = site.station("BENCH-PK")
    packer = station.ctx.auth.login("PACKER-001")
    claim_order(station.ctx, packer, "API-PK-1")
    assert post(server, token, an_order("API-PK-1")).status_code == 200  # unchanged: fine
    r = post(server, token, an_order("API-PK-1", {"TS-1": 5}))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "order_in_progress"
    assert r.json()["error"]["details"][0]["order_id"] == "API-PK-1"
    assert {x["sku"]: x["qty"] for x in rows(site.host(), "order_lines", order_id="API-PK-1")} == {"TS-1": 2}


def test_an_idempotency_key_returns_the_first_answer(site: ApiSite, server: ApiServer, token: str) -> None:
    first = post(server, token, an_order("API-IK-1"), **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # the order changes meanwhile (another key); the repeated request still gets its first answer
    assert post(server, token, an_order("API-IK-1", {"TS-1": 4})).json()["result"] == "updated"
    again = post(server, token, an_order("API-IK-1"), **{"Idempotency-Key": "k-1"})
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert {x["sku"]: x["qty"] for x in rows(site.host(), "order_lines", order_id="API-IK-1")} == {"TS-1": 4}
    other = post(server, token, an_order("API-IK-2"), **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert rows(site.host(), "orders", order_id="API-IK-2") == []
    refused = an_order("API-IK-3", currency="??")
    assert post(server, token, refused, **{"Idempotency-Key": "k-2"}).status_code == 422
    assert post(server, token, refused, **{"Idempotency-Key": "k-2"}).headers.get("Idempotent-Replayed") == "true"


def test_concurrent_requests_with_one_idempotency_key_store_one_order_and_agree(site: ApiSite, server: ApiServer,
                                                                                   token: str) -> None:
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def one() -> None:
        barrier.wait()
        r = post(server, token, an_order("API-IK-RACE"), **{"Idempotency-Key": "race-1"})
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert {(r.status_code, r.text) for r in answers} == {(201, answers[0].text)}
    assert len(rows(site.host(), "orders", order_id="API-IK-RACE")) == 1
    assert len([e for e in rows(site.host(), "events", order_id="API-IK-RACE") if e["kind"] == "order.received"]) == 1


def test_an_orders_stages_cartons_tracking_and_carrier(site: ApiSite, server: ApiServer, token: str) -> None:
    assert post(server, token, an_order("API-ST-1", {"TS-1": 1})).status_code == 201
    station = site.station("BENCH-ST")
    pack(station, "API-ST-1")
    hand_over(station, "API-ST-1", {1: "JJD0099887766"})
    r = httpx.get(f"{server.url}/api/v1/orders/API-ST-1", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    view = r.json()
    assert view["status"] == "handed_over" and view["carrier"] == "DHL"
    assert [s["stage"] for s in view["stages"]] == ["received", "released", "packing", "packed", "handed_over"]
    assert all(s["at"] for s in view["stages"])
    assert view["tracking_numbers"] == ["JJD0099887766"]
    (carton,) = view["cartons"]
    assert carton["tracking_number"] == "JJD0099887766" and carton["carrier"] == "DHL" and len(carton["sscc"]) == 18
    missing = httpx.get(f"{server.url}/api/v1/orders/NOPE-1", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "order_not_found"


def test_cancel_until_handed_over_then_refused_with_the_reason(site: ApiSite, server: ApiServer, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    assert post(server, token, an_order("API-CX-1")).status_code == 201
    r = httpx.post(f"{server.url}/api/v1/orders/API-CX-1/cancel", json={"reason": "customer changed their mind"},
                   headers=auth)
    assert r.status_code == 200 and r.json() == {"order_id": "API-CX-1", "status": "cancelled", "result": "cancelled"}
    again = httpx.post(f"{server.url}/api/v1/orders/API-CX-1/cancel", headers=auth)
    assert again.json()["result"] == "unchanged"
    (event,) = [e for e in rows(site.host(), "events", order_id="API-CX-1") if e["kind"] == "order.cancelled"]
    assert event["actor"] == "api:acme-shop"
    assert json.loads(event["payload"])["reason"] == "customer changed their mind"

    assert post(server, token, an_order("API-CX-2", {"TS-1": 1})).status_code == 201
    station = site.station("BENCH-CX")
    pack(station, "API-CX-2")
    hand_over(station, "API-CX-2", {})
    refused = httpx.post(f"{server.url}/api/v1/orders/API-CX-2/cancel", headers=auth)
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "cannot_cancel", "details": [],
        "message": "Order API-CX-2 has been handed over to the carrier: it can no longer be cancelled."}
    assert httpx.post(f"{server.url}/api/v1/orders/NOPE-2/cancel", headers=auth).status_code == 404


def test_only_json_is_taken_and_every_answer_is_json(server: ApiServer, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{server.url}/api/v1/orders", content=b"order_id=1", headers={**auth, "Content-Type": "text/plain"})
    assert (r.status_code, r.json()["error"]["code"]) == (415, "unsupported_media_type")
    r = httpx.post(f"{server.url}/api/v1/orders", content=b'{"order_id": ', headers={**auth, "Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_json")
    r = httpx.post(f"{server.url}/api/v1/orders", content=b'{"qty": NaN}', headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400
    for method, path in (("GET", "/nothing-here"), ("DELETE", "/api/v1/orders"), ("GET", "/api/v2/orders")):
        r = httpx.request(method, f"{server.url}{path}", headers=auth)
        assert r.headers["content-type"] == "application/json" and r.json()["error"]["code"] in ("not_found",
                                                                                              "method_not_allowed")


def test_no_endpoint_without_a_token(server: ApiServer) -> None:
    for method, path in (("POST", "/api/v1/orders"), ("GET", "/api/v1/orders/API-1"),
                         ("POST", "/api/v1/orders/API-1/cancel")):
        for headers in ({}, {"Authorization": "Bearer ps_not-a-token"}, {"Authorization": "Basic YTpi"}):
            r = httpx.request(method, f"{server.url}{path}", headers={**headers, "Content-Type": "application/json"},
                              content=b"{}")
            assert r.status_code == 401, (method, path, headers)
            assert r.json()["error"]["code"] == "unauthorized" and r.headers["www-authenticate"].startswith("Bearer")
    health = httpx.get(f"{server.url}/healthz")
    assert health.json() == {"status": "ok"}  # says nothing else
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/api/v1/orders", "/api/v1/orders/{order_id}", "/webhooks/shopify", "/healthz"} <= set(spec["paths"])


def test_the_rate_limit_is_per_client_and_says_when_to_come_back(site: ApiSite, server: ApiServer) -> None:
    slow = site.token("slow-client", rate_per_s=0.5, burst=3)
    other = site.token("other-client")
    codes = [post(server, slow, an_order(f"API-RL-{i}")).status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    limited = post(server, slow, an_order("API-RL-9"))
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 2
    assert post(server, other, an_order("API-RL-OTHER")).status_code == 201  # another client is not held up
    assert rows(site.host(), "orders", order_id="API-RL-3") == []


def test_a_token_revoked_mid_run_is_refused_from_the_next_request(site: ApiSite, server: ApiServer) -> None:
    import subprocess
    import sys

    from packstation_tests_api import REPO

    token = site.token("revoked-client")
    assert post(server, token, an_order("API-RV-1")).status_code == 201
    cli = subprocess.run([sys.executable, "-m", "packstation", "--config", str(site.config()), "api-tokens", "revoke",
                          "revoked-client"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "revoked 1 token(s) of revoked-client" in cli.stdout
    r = post(server, token, an_order("API-RV-2"))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert rows(site.host(), "orders", order_id="API-RV-2") == []


def test_a_token_revoked_while_the_server_holds_a_lease_of_its_tokens_is_refused(site: ApiSite, server: ApiServer) -> None:
    import subprocess
    import sys

    from packstation_tests_api import REPO

    token = site.token("leased-client")  # 1,000/s: after its first request the server takes 64 tokens at a time
    assert [post(server, token, an_order(f"API-LS-{i}")).status_code for i in (1, 2)] == [201, 201]
    cli = subprocess.run([sys.executable, "-m", "packstation", "--config", str(site.config()), "api-tokens", "revoke",
                          "leased-client"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    r = post(server, token, an_order("API-LS-3"))  # admitted from the lease, refused by the storing transaction
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert rows(site.host(), "orders", order_id="API-LS-3") == []


def test_a_body_of_10_mb_is_refused_and_the_server_carries_on(site: ApiSite, server: ApiServer, token: str) -> None:
    big = json.dumps([an_order(f"API-BIG-{i}", customer={"name": "x" * 5000}) for i in range(2000)]).encode()
    assert len(big) > 10_000_000
    r = httpx.post(f"{server.url}/api/v1/orders", content=big,
                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    def chunks() -> Any:  # the same without a Content-Length (chunked): counted as it arrives
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    r = httpx.post(f"{server.url}/webhooks/shopify", content=chunks(), headers={"Content-Type": "application/json"},
                   timeout=60)
    assert r.status_code == 413
    assert rows(site.host(), "orders", order_id="API-BIG-0") == []
    assert post(server, token, an_order("API-AFTER-BIG")).status_code == 201
