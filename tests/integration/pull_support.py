"""What the central pull, number and stock tests share: a centre set up by ``central init`` on the
test PostgreSQL server, synced stations on SQLite files of their own, and a TCP path between them
that a test can cut (the network going down) and mend.

Imported by ``test_sync_pull*.py`` and ``test_stock*.py`` (tests/ has no packages: by path).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from packstation.bootstrap import Station, build_station
from packstation.config import Config, DatabaseConfig, NumbersConfig, StationConfig
from packstation.domain.barcodes import with_check_digit
from packstation.domain.identity import ActorKind, Role, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import (
    Address,
    CartonType,
    Order,
    OrderLine,
    Product,
    StockLot,
    Tracking,
)

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
STATION_PW = "station-secret"


def ean13(n: int) -> str:
    return with_check_digit(f"590{n:09d}")


TEE, SERUM, MUG = ean13(11), ean13(12), ean13(13)
PRODUCTS = [
    Product("TS-1", "Cotton tee", 200, "A-01-01", Tracking.NONE, (TEE,)),
    Product("CO-1", "Vitamin C serum", 100, "B-02-01", Tracking.LOT_EXPIRY, (SERUM,)),
    Product("HW-1", "Ceramic mug", 350, "C-03-01", Tracking.LOT, (MUG,)),
]
BOX_S = CartonType("BOX-S", "Small box", 150, 250, 180, 100, 5000)


def an_order(order_id: str, lines: dict[str, int], *, status: OrderStatus = OrderStatus.RELEASED,
             service: str = "Paket") -> Order:
    return Order(order_id=order_id, channel="shop-web", placed_at=NOW - timedelta(hours=1), customer_name="Anna Schmidt",
                 customer_email="anna@example.com", customer_phone="+49 30 1234",
                 ship_to=Address("Anna Schmidt", "Hauptstraße 12", city="Berlin", postcode="10115", country="DE"),
                 currency="EUR", payment_method="prepaid", payment_status="paid", carrier="DHL", service=service,
                 tracking_number=None, status=status,
                 lines=[OrderLine(i, sku, qty, Decimal("9.95")) for i, (sku, qty) in enumerate(lines.items(), 1)])


# --- a TCP path that can be cut ----------------------------------------------------------------


class NetPath:
    """Forwards 127.0.0.1:<port> to the PostgreSQL server. ``cut()`` drops every connection and
    resets new ones (the network is down); ``mend()`` lets them through again."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="netpath").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:  # cut() meanwhile? Then this one is cut too (it was not in its list)
                if not self._up:
                    client.close()
                    upstream.close()
                    continue
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> None:
        with self._lock:
            self._up = False
            open_now = list(self._open)
        for s in open_now:
            self._drop(s)

    def mend(self) -> None:
        self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


# --- the centre and its stations ---------------------------------------------------------------


@dataclass
class Centre:
    """A central database set up by ``central init``; ``admin`` writes to it through the same
    repositories (a station built on it as its own database: what an import at the centre does)."""

    server: Any
    name: str
    tmp: Path
    admin: Station
    path: NetPath
    stations: list[Station] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        return str(self.server.url(self.name))

    def station_url(self, *, via_path: bool = True) -> str:
        port = self.path.port if via_path else self.server.port
        return f"postgresql+psycopg://packstation_station:{STATION_PW}@127.0.0.1:{port}/{self.name}"

    def session(self) -> Session:
        return self.admin.system_session(ActorKind.IMPORT, "root", Role.ADMIN)

    def station(self, station_id: str = "BENCH-01", *, block_size: int = 100, via_path: bool = True,
                clock: Callable[[], datetime] | None = None) -> Station:
        """A synced station with a SQLite database of its own (in its own data folder)."""
        data = self.tmp / station_id
        config = Config(station=StationConfig(id=station_id, name=station_id),
                        database=DatabaseConfig(local=f"sqlite:///{data / 'station.db'}",
                                                central=self.station_url(via_path=via_path)),
                        numbers=NumbersConfig(block_size=block_size), data_dir=data)
        built = build_station(config, seed_demo=False, clock=clock)
        self.stations.append(built)
        return built

    def seed(self) -> None:
        """Three products, a carton type, two lots and two orders, written at the centre."""
        with self.admin.uow() as uow:
            uow.catalog.put_products([(p, f"fp-{p.sku}") for p in PRODUCTS], NOW)
            uow.catalog.put_cartons([(BOX_S, "fp-s")])
            uow.catalog.put_lots([StockLot("CO-1", "L-GOOD", None, "B-02-01", 40), StockLot("HW-1", "M-1", None, "C-03-01", 9)])
            uow.orders.add_many([(an_order("SO-1", {"TS-1": 2}), "fp-1"), (an_order("SO-2", {"CO-1": 1, "HW-1": 1}), "fp-2")],
                                NOW)
            uow.commit()


def sync_session(station: Station) -> Session:
    return station.system_session(ActorKind.SYSTEM, "sync-worker", Role.ADMIN)


def centre_on(pg_server_instance: Any, tmp_path: Path) -> Iterator[Centre]:
    """A fresh centre on the test server (for a test module's ``centre`` fixture: ``yield from``)."""
    from packstation.bootstrap import init_central_database

    name = pg_server_instance.create_database()
    url = pg_server_instance.url(name)
    init_central_database(url, station_password=STATION_PW)
    admin = build_station(Config(station=StationConfig(id="CENTRE", name="centre"), database=DatabaseConfig(local=url),
                                 data_dir=tmp_path / "centre"), seed_demo=False)
    path = NetPath(pg_server_instance.port)
    made = Centre(pg_server_instance, name, tmp_path, admin, path)
    try:
        yield made
    finally:
        for st in made.stations:
            st.close()
        admin.close()
        path.close()
        pg_server_instance.drop_database(name)
