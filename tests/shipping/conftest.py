"""A station with carrier accounts on a real database, stocked through the import use cases, and
helpers that pack orders and work the dock by scans (as a packer and a dock hand would)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from packstation.bootstrap import Station, build_station
from packstation.config import CarrierConfig, Config, DatabaseConfig, StationConfig
from packstation.domain.barcodes import with_check_digit
from packstation.domain.identity import ActorKind
from packstation.services import users
from packstation.services.imports import import_records
from packstation.services.terminal import Terminal

sys.modules.setdefault("packstation_tests_shipping", sys.modules[__name__])

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
LEAD_PIN = "2468"


class TickingClock:
    """A known start time that moves *step_s* per reading (order is kept) and on ``advance``."""

    def __init__(self, start: datetime = NOW, step_s: float = 1.0) -> None:
        self._now = start
        self._step = timedelta(seconds=step_s)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += self._step
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def ean13(n: int) -> str:
    return with_check_digit(f"590{n:09d}")


TEE, MUG, TOY, CAP = (ean13(n) for n in (21, 22, 23, 24))
CATALOG = [
    {"sku": "TS-1", "name": "Cotton tee", "barcodes": [TEE], "weight_g": 200, "location": "A-01-01"},
    {"sku": "HW-1", "name": "Ceramic mug", "barcodes": [MUG], "weight_g": 350, "location": "B-01-01"},
    {"sku": "TY-1", "name": "Wooden puzzle", "barcodes": [TOY], "weight_g": 300, "location": "C-01-01"},
    {"sku": "CP-1", "name": "Canvas cap", "barcodes": [CAP], "weight_g": 120, "location": "D-01-01"},
]
BARCODE = {"TS-1": TEE, "HW-1": MUG, "TY-1": TOY, "CP-1": CAP}
CARTONS = [{"code": "BOX-M", "name": "Medium box", "tare_g": 280, "inner_mm": {"l": 350, "w": 250, "h": 150},
            "max_weight_g": 10000}]
# A sample ZPL label as a marketplace hands it over (Zebra ZPL II Programming Guide, ^XA ... ^XZ)
MARKET_ZPL = "^XA^FO50,50^A0N,40,40^FDAMZL marketplace label^FS^FO50,120^BCN,100,Y,N,N^FDTBA123456789000^FS^XZ"


def order(order_id: str, lines: dict[str, int], *, carrier: str = "DHL", service: str = "Paket",
          **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id, "channel": "shop-web", "placed_at": (NOW - timedelta(hours=2)).isoformat(),
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234567"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": carrier,
        "service": service, "lines": [{"sku": sku, "qty": qty, "unit_price": "9.95"} for sku, qty in lines.items()],
        **extra,
    }


ORDERS = [
    order("SO-4C", {"TS-1": 1, "HW-1": 1, "TY-1": 1, "CP-1": 1}),  # four cartons
    order("SO-2C", {"TS-1": 1, "HW-1": 1}),
    order("SO-1C", {"TY-1": 1}),
    order("SO-EXP", {"CP-1": 1}, service="Express"),
    order("SO-UPS", {"TS-1": 1}, carrier="UPS", service="Standard"),
    order("SO-DPD", {"HW-1": 1}, carrier="DPD", service="Classic"),  # no account: our own SSCC label
    order("SO-MKT", {"TY-1": 1}, tracking_number="TBA123456789000", label_zpl=MARKET_ZPL),
    order("SO-CAN", {"TS-1": 1}),
    order("SO-OPEN", {"TS-1": 1, "HW-1": 1}),
]
USERS = (("Pat Packer", "packer", "PACKER-001", None), ("Dan Dispatch", "dispatch", "DISPATCH-001", None),
         ("Lee Lead", "lead", "LEAD-001", LEAD_PIN))


def simulated(code: str, **kw: Any) -> CarrierConfig:
    return CarrierConfig(code=code, connector="simulated", tracking_prefix={"DHL": "00340434", "UPS": "1Z999AA1"}
                         .get(code, ""), **kw)


def stock(station: Station, orders: list[dict[str, Any]] | None = None) -> None:
    session = station.system_session(ActorKind.IMPORT, "test")
    for kind, records in (("catalog", CATALOG), ("cartons", CARTONS), ("orders", orders or ORDERS)):
        report = import_records(station.ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(records, 1)],
                                f"test {kind}")
        assert report.ok, report.rejected
    admin = station.system_session()
    for name, role, badge, pin in USERS:
        users.add_user(station.ctx, admin, name, role, badge, pin)


StationFactory = Callable[..., Station]


@pytest.fixture
def make_shipping_station(tmp_path: Path) -> Iterator[StationFactory]:
    built: list[Station] = []

    def make(*, url: str | None = None, carriers: tuple[CarrierConfig, ...] | None = None, station_id: str = "DOCK-01",
             clock: Callable[[], datetime] | None = None, stocked: bool = True, **config: Any) -> Station:
        cfg = Config(station=StationConfig(id=station_id, name=station_id),
                     database=DatabaseConfig(local=url or f"sqlite:///{tmp_path / 'station.db'}"),
                     data_dir=tmp_path / "data", carriers=carriers if carriers is not None
                     else (simulated("DHL"), simulated("UPS")), **config)
        station = build_station(cfg, seed_demo=False, clock=clock or TickingClock())
        built.append(station)
        if stocked:
            stock(station)
        return station

    yield make
    for station in built:
        station.close()


@pytest.fixture
def shipping_station(make_shipping_station: StationFactory) -> Station:
    return make_shipping_station()


# --- packing and the dock by scans -----------------------------------------------------------


def pack(terminal: Terminal, order_id: str, cartons: list[list[str]]) -> list[Any]:
    """Pack *order_id* at the bench (the terminal logged in as a packer): one carton per list of
    SKUs, each sealed at its expected weight. Returns the seal outcomes."""
    out = terminal.scan(order_id)
    assert out.verdict.value == "order_opened", out.message
    seals = []
    for skus in cartons:
        assert terminal.scan("BOX-M").verdict.value == "carton_opened"
        for sku in skus:
            out = terminal.scan(BARCODE[sku])
            assert out.verdict.value == "accepted", out.message
        assert terminal.scan("CMD-CLOSE-CARTON").verdict.value == "needs_weight"
        bench = terminal.handler
        seals.append(bench.close_with_weight(bench.pack.expected_weight(bench.pack.open_carton)))  # type: ignore[union-attr]
    return seals


def login(station: Station, badge: str, pin: str | None = None, desk: str | None = None) -> Terminal:
    terminal = station.terminal()
    out = terminal.scan(badge)
    if pin is not None:
        out = terminal.enter_pin(pin)
    if desk is not None:
        out = terminal.scan(desk)
    assert out.verdict.value in ("logged_in",), out.message
    return terminal


def cartons_of(station: Station, order_id: str) -> list[dict[str, Any]]:
    from packstation.services.reports import order_status

    return order_status(station.ctx, station.system_session(), order_id)["cartons"]
