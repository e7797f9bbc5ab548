"""Errors never leak the server's insides: a database that goes away, and a bug, answered as JSON
with a code and a message a person can act on (no SQL, no address, no traceback)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from packstation_tests_api import ApiSite, an_order, free_port, rows, shopify_headers, shopify_order

LEAKS = ("127.0.0.1", "postgres", "psycopg", "sqlalchemy", "Traceback", "SELECT", "INSERT", "test_")


def assert_no_leak(r: httpx.Response, *secrets: str) -> None:
    for needle in (*LEAKS, *secrets):
        assert needle not in r.text, (needle, r.text)


@pytest.mark.slow
def test_a_database_that_goes_away_is_a_503_that_says_nothing_of_it(fresh_pg_site: ApiSite,
                                                                     pg_server_instance: Any) -> None:
    site = fresh_pg_site
    server = site.server()
    token = site.token()
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{server.url}/api/v1/orders", json=an_order("ERR-1"), headers=auth).status_code == 201
    name = site.database["central"].rsplit("/", 1)[1]
    pg_server_instance._admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    pg_server_instance._admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    try:
        r = httpx.post(f"{server.url}/api/v1/orders", json=an_order("ERR-2"), headers=auth, timeout=30)
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert r.json()["error"]["code"] == "database_unavailable"
        assert_no_leak(r, name, site.database["central"])
        body = json.dumps(shopify_order(99)).encode()
        hook = httpx.post(f"{server.url}/webhooks/shopify", content=body, headers=shopify_headers(body, delivery="e-1"),
                          timeout=30)
        assert hook.status_code == 503  # not 200: the shop retries it later, nothing is lost
        assert_no_leak(hook, name)
        health = httpx.get(f"{server.url}/healthz", timeout=30)
        assert (health.status_code, health.json()) == (503, {"status": "unavailable"})
    finally:
        pg_server_instance._admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    deadline = time.monotonic() + 20
    while httpx.get(f"{server.url}/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the API did not come back with its database"
        time.sleep(0.2)
    assert httpx.post(f"{server.url}/api/v1/orders", json=an_order("ERR-2"), headers=auth).status_code == 201
    assert len(rows(site.host(), "orders", order_id="ERR-2")) == 1


class _Broken:
    """A unit of work factory that fails like a bug would (not a database refusal)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.broken = False

    def __call__(self, *, readonly: bool = False) -> Any:
        if self.broken:
            raise RuntimeError("KeyError in /srv/packstation/secret_module.py line 42: token table ps_")
        return self.real(readonly=readonly)


def test_a_bug_is_a_500_with_a_reference_and_nothing_else(tmp_path: Path) -> None:
    from dataclasses import replace

    from packstation.api.app import create_app
    from packstation.bootstrap import build_api
    from packstation.config import Config, DatabaseConfig
    from packstation.domain.identity import ActorKind
    from packstation.services.intake import add_api_token

    host = build_api(Config(database=DatabaseConfig(local=f"sqlite:///{tmp_path / 'api.db'}"), data_dir=tmp_path))
    broken = _Broken(host.ctx.uow)
    host.ctx = replace(host.ctx, uow=broken)
    token = add_api_token(host.ctx, host.system_session(ActorKind.CLI, "tests"), "acme")[1]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(host), host="127.0.0.1", port=port, log_level="critical",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        broken.broken = True
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/orders", json=an_order("BUG-1"),
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 500
        err = r.json()["error"]
        assert err["code"] == "internal_error" and "logged as" in err["message"] and err["details"] == []
        assert_no_leak(r, "secret_module", "KeyError", "/srv")
    finally:
        server.should_exit = True
        thread.join(10)
        host.close()
