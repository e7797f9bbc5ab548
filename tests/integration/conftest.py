"""A built station on a real database: a temp SQLite file, or a fresh PostgreSQL database.

The station is built by the composition root (``build_station``) from a Config, then stocked
through the same import and user use cases a warehouse uses (as an import and as the command
line: sessions the station's Authenticator issued): a small catalog whose products cover every
tracking kind, two carton types, a handful of orders and three users. The lead has the PIN
``LEAD_PIN``: leads log in and approve with badge + PIN.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest

from packstation.bootstrap import Station, build_station
from packstation.config import Config, DatabaseConfig, StationConfig
from packstation.domain.barcodes import with_check_digit

# Test modules import the shared data below as ``packstation_tests_station`` (tests/ has no
# __init__.py, so "from .conftest import" does not work and "import conftest" is ambiguous).
sys.modules.setdefault("packstation_tests_station", sys.modules[__name__])

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


class TickingClock:
    """A fixed start time that moves one second per reading: dates are known, order is kept."""

    def __init__(self, start: datetime = NOW) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=1)
            return self._now


def ean13(n: int) -> str:
    payload = f"590{n:09d}"
    return with_check_digit(payload)


def gtin14(indicator: int, ean: str) -> str:
    payload = f"{indicator}{ean[:-1]}"
    return with_check_digit(payload)


TEE_EAN, SERUM_EAN, MUG_EAN, BUDS_EAN, TOY_EAN = (ean13(n) for n in (11, 12, 13, 14, 15))
TEE_SIX = gtin14(1, TEE_EAN)
NOT_IN_CATALOG_EAN = ean13(99)

CATALOG = [
    {"sku": "TS-1", "name": "Cotton tee", "barcodes": [TEE_EAN], "pack_barcodes": [{"barcode": TEE_SIX, "qty": 6}],
     "weight_g": 200, "location": "A-01-01", "tracking": "none"},
    {"sku": "CO-1", "name": "Vitamin C serum", "barcodes": [SERUM_EAN], "weight_g": 100, "location": "B-02-01",
     "tracking": "lot_expiry"},
    {"sku": "HW-1", "name": "Ceramic mug", "barcodes": [MUG_EAN], "weight_g": 350, "location": "C-03-01",
     "tracking": "lot"},
    {"sku": "EL-1", "name": "Wireless earbuds", "barcodes": [BUDS_EAN], "weight_g": 80, "location": "D-04-01",
     "tracking": "serial"},
    {"sku": "TY-1", "name": "Wooden puzzle", "barcodes": [TOY_EAN], "weight_g": 300, "location": "E-05-01",
     "tracking": "none"},
]

CARTONS = [
    {"code": "BOX-S", "name": "Small box", "tare_g": 150, "inner_mm": {"l": 250, "w": 180, "h": 100}, "max_weight_g": 5000},
    {"code": "BOX-M", "name": "Medium box", "tare_g": 280, "inner_mm": {"l": 350, "w": 250, "h": 150}, "max_weight_g": 10000},
]

LEAD_PIN = hf.LEAD_PIN
USERS = (("Pat Packer", "packer", "PACKER-001"), ("Olu Other", "packer", "PACKER-002"), ("Lee Lead", "lead", "LEAD-001"))


def order(order_id: str, lines: dict[str, int], *, tote: str | None = None, hours_ago: int = 1,
          payment: tuple[str, str] = ("prepaid", "paid")) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "channel": "shop-web",
        "placed_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234"},
        "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "currency": "EUR",
        "payment": {"method": payment[0], "status": payment[1]},
        "carrier": "DHL",
        "service": "Paket",
        "tote": tote,
        "lines": [{"sku": sku, "qty": qty, "unit_price": "9.95"} for sku, qty in lines.items()],
    }


ORDERS = [
    order("SO-1", {"TS-1": 2}, tote="TOTE-001", hours_ago=9),
    order("SO-2", {"TS-1": 8, "CO-1": 1, "HW-1": 1, "EL-1": 2}, tote="TOTE-002", hours_ago=8),
    order("SO-3", {"TS-1": 1, "HW-1": 2}, hours_ago=7),
    order("SO-4", {"EL-1": 1}, hours_ago=6),
    order("SO-5", {"TS-1": 3}, hours_ago=5),
    order("SO-HOLD", {"TS-1": 1}, payment=("prepaid", "pending"), hours_ago=4),
]


def stock(station: Station, orders: list[dict[str, Any]] | None = None) -> None:
    """Catalog, cartons, orders and users through the import and user use cases (the lead with LEAD_PIN)."""
    for kind, records in (("catalog", CATALOG), ("cartons", CARTONS), ("orders", ORDERS if orders is None else orders)):
        report = hf.import_recs(station, kind, records)
        assert report.ok, report.rejected
    for name, role, badge in USERS:
        hf.add_user(station, name, role, badge)


def config_for(url: str, data_dir: Path, station_id: str = "BENCH-01", **sections: Any) -> Config:
    return Config(station=StationConfig(id=station_id, name=station_id), database=DatabaseConfig(local=url),
                  data_dir=data_dir, **sections)


StationFactory = Callable[..., Station]


def _factory(url: str, data_dir: Path) -> Iterator[StationFactory]:
    built: list[Station] = []

    def make(station_id: str = "BENCH-01", *, clock: Callable[[], datetime] | None = None, **sections: Any) -> Station:
        station = build_station(config_for(url, data_dir, station_id, **sections), seed_demo=False,
                                clock=clock or TickingClock())
        built.append(station)
        return station

    yield make
    for station in built:
        station.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'station.db'}"


@pytest.fixture
def make_station(sqlite_url: str, tmp_path: Path) -> Iterator[StationFactory]:
    """Build (another) station on the same temp SQLite file: ``make_station("BENCH-02")``."""
    yield from _factory(sqlite_url, tmp_path / "data")


@pytest.fixture
def station(make_station: StationFactory) -> Station:
    """A stocked station BENCH-01 on a temp SQLite file."""
    built = make_station()
    stock(built)
    return built


@pytest.fixture
def make_pg_station(fresh_pg_database: str, tmp_path: Path) -> Iterator[StationFactory]:
    """Build stations (own engine each) on this test's fresh PostgreSQL database."""
    yield from _factory(fresh_pg_database, tmp_path / "data")


@pytest.fixture
def pg_station(make_pg_station: StationFactory) -> Station:
    """A stocked station BENCH-01 on a fresh PostgreSQL database."""
    built = make_pg_station()
    stock(built)
    return built
