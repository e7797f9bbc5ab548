"""The order API against a real server and a real database.

``packstation serve`` runs as its own process (``python -m packstation --config ... serve``) on a
free port, on a fresh PostgreSQL database set up the way a warehouse sets up its centre
(``packstation central init``: migrations, change log, roles), or on a temp SQLite file. Tests talk
to it over real HTTP with httpx, can SIGKILL it and start it again, and read the database through
the same composition root (``bootstrap.build_api``) to check what was stored.

Receivers of status pushes and the Shopify Admin API stub are real HTTP servers too
(:class:`Receiver`, in a thread of the test process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from packstation.domain.barcodes import with_check_digit

REPO = Path(__file__).resolve().parents[2]
# Test modules import the helpers below as ``packstation_tests_api`` (tests/ has no __init__.py).
sys.modules.setdefault("packstation_tests_api", sys.modules[__name__])
SHOPIFY_SECRET = "shpss_the-apps-client-secret"
WOO_SECRET = "wc-webhook-secret"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ean13(n: int) -> str:
    return with_check_digit(f"590{n:09d}")


# SKUs of our tests and of the shops' documented sample orders (Shopify's test notification has
# IPOD2008PINK; WooCommerce's REST docs order has Bar3 and a line without SKU).
CATALOG = [
    {"sku": "TS-1", "name": "Cotton tee", "barcodes": [ean13(11)], "weight_g": 200, "location": "A-01-01"},
    {"sku": "TY-1", "name": "Wooden puzzle", "barcodes": [ean13(15)], "weight_g": 300, "location": "E-05-01"},
    {"sku": "IPOD2008PINK", "name": "IPod Nano - 8GB", "barcodes": [ean13(21)], "weight_g": 567, "location": "B-01-01"},
    {"sku": "Bar3", "name": "Ship Your Idea", "barcodes": [ean13(22)], "weight_g": 250, "location": "B-01-02"},
]
CARTONS = [{"code": "BOX-L", "name": "Large box", "tare_g": 400, "inner_mm": {"l": 500, "w": 400, "h": 300},
            "max_weight_g": 20000}]


def an_order(order_id: str, lines: dict[str, int] | None = None, **changes: Any) -> dict[str, Any]:
    """An order in the README's import record format."""
    rec: dict[str, Any] = {
        "order_id": order_id, "channel": "shop-web", "placed_at": "2026-03-10T08:00:00+01:00",
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234567"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL", "service": "Paket",
        "lines": [{"sku": sku, "qty": qty, "unit_price": "9.95"} for sku, qty in (lines or {"TS-1": 2}).items()],
    }
    rec.update(changes)
    return rec


# --- signing like the shops do -------------------------------------------------------------------


def shopify_hmac(body: bytes, secret: str = SHOPIFY_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(body: bytes, *, topic: str = "orders/create", delivery: str = "d-1", secret: str = SHOPIFY_SECRET,
                    shop: str = "acme.myshopify.com") -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Hmac-SHA256": shopify_hmac(body, secret),
            "X-Shopify-Shop-Domain": shop, "X-Shopify-Webhook-Id": delivery, "X-Shopify-API-Version": "2024-01"}


def woo_headers(body: bytes, *, topic: str = "order.created", delivery: str = "w-1", secret: str = WOO_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": topic.split(".")[1], "X-WC-Webhook-Signature": shopify_hmac(body, secret),
            "X-WC-Webhook-ID": "7", "X-WC-Webhook-Delivery-ID": delivery, "X-WC-Webhook-Source": "https://shop.example/"}


def shopify_order(n: int, *, updated: datetime = NOW, qty: int = 1, sku: str = "TS-1", cancelled: bool = False,
                  gateway: str = "bogus", financial: str = "paid") -> dict[str, Any]:
    """A Shopify order webhook body in the shape of Shopify's REST order resource."""
    return {
        "id": 4500000000 + n, "name": f"#{1000 + n}", "order_number": 1000 + n, "email": "jon@example.com",
        "created_at": "2026-03-10T08:00:00-04:00", "updated_at": updated.isoformat(),
        "cancelled_at": updated.isoformat() if cancelled else None, "cancel_reason": "customer" if cancelled else None,
        "currency": "EUR", "financial_status": financial, "payment_gateway_names": [gateway],
        "customer": {"first_name": "Jon", "last_name": "Doe", "email": "jon@example.com"},
        "shipping_address": {"name": "Jon Doe", "address1": "Keizersgracht 101", "address2": None, "city": "Amsterdam",
                             "zip": "1015 CJ", "province": None, "country": "Netherlands", "country_code": "NL",
                             "phone": None},
        "shipping_lines": [{"title": "Standard", "source": "shopify", "price": "4.95"}],
        "line_items": [{"id": 1, "sku": sku, "quantity": qty, "price": "19.99", "requires_shipping": True,
                        "gift_card": False}],
    }


# --- the server process ---------------------------------------------------------------------------


@dataclass
class ApiServer:
    """``packstation serve`` in its own process."""

    config_path: Path
    log_path: Path
    port: int = 0
    workers: bool = True
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 30.0) -> ApiServer:
        self.port = free_port()
        cmd = [sys.executable, "-m", "packstation", "--config", str(self.config_path), "serve", "--port", str(self.port),
               "--log-level", "warning"]
        if not self.workers:
            cmd.append("--no-workers")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"packstation serve exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"packstation serve did not answer in {timeout_s} s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, as a power cut or the OOM killer does it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def write_config(path: Path, data_dir: Path, database: dict[str, str], *, shopify: dict[str, Any] | None = None,
                 woocommerce: dict[str, Any] | None = None, webhooks: dict[str, Any] | None = None,
                 api: dict[str, Any] | None = None) -> Path:
    import tomli_w

    doc: dict[str, Any] = {"data_dir": str(data_dir), "station": {"id": "BENCH-01"}, "database": database,
                           "shopify": {"secrets": [SHOPIFY_SECRET], "order_prefix": "SH-", **(shopify or {})},
                           "woocommerce": {"secrets": [WOO_SECRET], **(woocommerce or {})},
                           "webhooks": {"retry_base_s": 0.2, "retry_max_s": 1.0, "timeout_s": 3.0, **(webhooks or {})},
                           "api": {"inbox_poll_s": 0.1, "push_poll_s": 0.1, **(api or {})}}
    path.write_text(tomli_w.dumps(doc))
    return path


@dataclass
class ApiSite:
    """A database with the test catalog, its config, and a way to start servers on it."""

    tmp: Path
    database: dict[str, str]
    servers: list[ApiServer] = field(default_factory=list)
    _hosts: list[Any] = field(default_factory=list)
    counter: int = 0

    def config(self, **sections: Any) -> Path:
        self.counter += 1
        return write_config(self.tmp / f"serve-{self.counter}.toml", self.tmp / "data", self.database, **sections)

    def load(self, path: Path | None = None) -> Any:
        from packstation.config import load_config

        return load_config(path or self.config())

    def host(self, **sections: Any) -> Any:
        """The API's composition root in this process (reading and stocking the database)."""
        from packstation.bootstrap import build_api

        host = build_api(self.load(self.config(**sections)))
        self._hosts.append(host)
        return host

    def server(self, *, workers: bool = True, **sections: Any) -> ApiServer:
        srv = ApiServer(self.config(**sections), self.tmp / f"serve-{self.counter}.log", workers=workers)
        self.servers.append(srv)
        return srv.start()

    def token(self, name: str = "acme", *, rate_per_s: float = 1000.0, burst: int = 1000) -> str:
        from packstation.domain.identity import ActorKind
        from packstation.services.intake import add_api_token

        host = self.host()
        return add_api_token(host.ctx, host.system_session(ActorKind.CLI, "tests"), name, rate_per_s=rate_per_s,
                             burst=burst)[1]

    def station(self, station_id: str = "BENCH-01") -> Any:
        """A packing station working directly on this database (as benches sharing one database do)."""
        from packstation.bootstrap import build_station
        from packstation.config import Config, DatabaseConfig, StationConfig

        url = self.database.get("central") or self.database["local"]
        station = build_station(Config(station=StationConfig(id=station_id, name=station_id),
                                       database=DatabaseConfig(local=url), data_dir=self.tmp / f"{station_id}-data"),
                                seed_demo=False)
        self._hosts.append(station)
        if not any(u.name == "Pat Packer" for u in _users(station)):
            helpers.add_user(station, "Pat Packer", "packer", "PACKER-001")
        return station

    def close(self) -> None:
        for srv in self.servers:
            srv.stop()
        for host in self._hosts:
            host.close()


def _users(station: Any) -> list[Any]:
    with station.uow(readonly=True) as uow:
        return uow.users.list()


def _load_helpers() -> Any:
    """tests/integration/helpers_faults.py (terminal logins, packing through scans), whatever the import mode."""
    import importlib.util

    name = "helpers_faults"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "integration" / "helpers_faults.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = _load_helpers()


def pack(station: Any, order_id: str) -> None:
    """Pack *order_id* at *station* as a packer does: badge, order, carton, every item, seal."""
    terminal = helpers.login(station)
    helpers.pack_order(terminal, order_id)
    terminal.scan("CMD-LOGOUT")
    station.print_worker.drain()


def hand_over(station: Any, order_id: str, tracking: dict[int, str]) -> None:
    """The dock's hand-over (its desk is another issue): tracking numbers on the cartons, then the
    order handed over, through the lifecycle, as the dispatch use case does it."""
    from dataclasses import replace as _replace

    from packstation.domain.lifecycle import OrderStatus
    from packstation.services.lifecycle import change_status

    session = station.system_session()
    with station.uow() as uow:
        types = {ct.code: ct for ct in uow.catalog.carton_types()}
        for carton in uow.shipments.cartons(order_id, types):
            if carton.seq in tracking:
                uow.shipments.save_carton(order_id, _replace(carton, tracking_number=tracking[carton.seq]), NOW)
        change_status(uow, station.ctx, session, order_id, OrderStatus.PACKED, OrderStatus.HANDED_OVER, desk="dock")
        uow.commit()


def stock(site: ApiSite) -> None:
    from packstation.domain.identity import ActorKind
    from packstation.services.imports import import_records

    host = site.host()
    session = host.system_session(ActorKind.IMPORT, "tests")
    for kind, records in (("catalog", CATALOG), ("cartons", CARTONS)):
        report = import_records(host.ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(records, 1)], kind)
        assert report.ok, report.rejected


def _central(url: str) -> None:
    from packstation.bootstrap import init_central_database

    init_central_database(url)


def _pg_site(pg_server_instance: Any, tmp: Path) -> Iterator[ApiSite]:
    name = pg_server_instance.create_database()
    url = pg_server_instance.url(name)
    _central(url)
    site = ApiSite(tmp, {"central": url})
    stock(site)
    try:
        yield site
    finally:
        site.close()
        pg_server_instance.drop_database(name)


@pytest.fixture(scope="module")
def pg_site(pg_server_instance: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiSite]:
    """A central PostgreSQL database set up by ``packstation central init`` and stocked, shared by
    the tests of one module (each uses order ids of its own)."""
    yield from _pg_site(pg_server_instance, tmp_path_factory.mktemp("api-pg"))


@pytest.fixture
def fresh_pg_site(pg_server_instance: Any, tmp_path: Path) -> Iterator[ApiSite]:
    """The same, for one test alone (it counts rows or restarts servers)."""
    yield from _pg_site(pg_server_instance, tmp_path)


@pytest.fixture(scope="module")
def sqlite_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiSite]:
    """The API on a station's own SQLite database (no central one configured)."""
    tmp = tmp_path_factory.mktemp("api-sqlite")
    site = ApiSite(tmp, {"local": f"sqlite:///{tmp / 'station.db'}"})
    stock(site)
    try:
        yield site
    finally:
        site.close()


@pytest.fixture(scope="module", params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def site(request: pytest.FixtureRequest) -> ApiSite:
    return request.getfixturevalue("pg_site" if request.param == "postgresql" else "sqlite_site")


@pytest.fixture(scope="module")
def server(site: ApiSite) -> ApiServer:
    """``packstation serve`` (with its workers) on the module's site."""
    return site.server()


# --- reading what was stored ---------------------------------------------------------------------


def rows(host: Any, table: str, **where: Any) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from packstation.adapters.db import tables

    tbl = tables.metadata.tables[table]
    query = sa.select(tbl).where(*(tbl.c[k] == v for k, v in where.items())).order_by(*tbl.primary_key.columns)
    with host.ctx.uow(readonly=True) as uow:
        return [dict(r) for r in uow.conn.execute(query).mappings()]


def wait_for(check: Callable[[], Any], *, timeout_s: float = 20.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


# --- receivers: endpoints that hear status pushes, the Shopify Admin API stub -------------------------


@dataclass
class Heard:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


Reply = Callable[["Heard"], tuple[int, dict[str, Any] | None]]


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request and answers with *reply*."""

    def __init__(self, reply: Reply | None = None) -> None:
        self.heard: list[Heard] = []
        self.reply = reply or (lambda heard: (200, {"ok": True}))
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                heard = Heard(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                with outer._lock:
                    outer.heard.append(heard)
                status, payload = outer.reply(heard)
                data = b"" if status == 204 else json.dumps(payload if payload is not None else {}).encode()
                self.send_response(status)
                if status != 204:
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests(self) -> list[Heard]:
        with self._lock:
            return list(self.heard)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)
