"""The stock ledger on real databases, through the command line: ``packstation import stock FILE``
turns counts into movements, sealed cartons pack stock out, ``packstation stock SKU [--json]``
sums it (SQLite and PostgreSQL); with a central database the centre's ledger is the truth and a
station appends to it as the station role, which cannot rewrite it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pull_support import SERUM, Centre, centre_on
from sqlalchemy import text

from packstation.bootstrap import Station, build_station
from packstation.cli import main
from packstation.config import load_config
from packstation.domain.barcodes import interpret
from packstation.domain.identity import Role
from packstation.domain.packing import PackedItem, Verdict
from packstation.services import packing, users
from packstation.services.ports import StorageError
from packstation.services.stock import packed_out, scan_movement_id

CATALOG = [{"sku": "CO-1", "name": "Vitamin C serum", "barcodes": [SERUM], "weight_g": 100, "location": "B-02-01",
            "tracking": "lot_expiry"},
           {"sku": "TS-1", "name": "Cotton tee", "barcodes": ["5900000000114"], "weight_g": 200, "location": "A-01-01",
            "tracking": "none"}]
CARTONS = [{"code": "BOX-S", "name": "Small box", "tare_g": 150, "inner_mm": {"l": 250, "w": 180, "h": 100},
            "max_weight_g": 5000}]
ORDERS = [{"order_id": "SO-1", "channel": "shop-web", "placed_at": "2026-03-10T08:00:00+00:00",
           "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234"},
           "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                       "country": "DE"},
           "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL", "service": "Paket",
           "lines": [{"sku": "CO-1", "qty": 2, "unit_price": "19.90"}]}]
STOCK_CSV = "sku,location,lot,expiry,qty\nCO-1,B-02-01,L-GOOD,2027-01-31,40\nCO-1,B-02-02,L-NEXT,2027-06-30,12\n"


def write_config(path: Path, data_dir: Path, local: str, central: str = "") -> Path:
    central_line = f'central = "{central}"\n' if central else ""
    path.write_text(f'data_dir = "{data_dir}"\n\n[station]\nid = "BENCH-01"\n\n[database]\nlocal = "{local}"\n'
                    f"{central_line}")
    return path


def cli(config: Path, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", str(config), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def stock_json(config: Path, sku: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = cli(config, "stock", sku, "--json", capsys=capsys)
    assert code == 0, err
    return dict(json.loads(out))


def load_master_data(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind, records in (("catalog", CATALOG), ("cartons", CARTONS), ("orders", ORDERS)):
        file = tmp_path / f"{kind}.json"
        file.write_text(json.dumps(records))
        code, _, err = cli(config, "import", kind, str(file), capsys=capsys)
        assert code == 0, err


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def local_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    return str(request.getfixturevalue("fresh_pg_database"))


def test_stock_counts_packing_and_stock_on_hand_through_the_command_line(local_url: str, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "station.toml", tmp_path / "data", local_url)
    load_master_data(config, tmp_path, capsys)
    counts = tmp_path / "stock.csv"
    counts.write_text(STOCK_CSV)
    code, out, err = cli(config, "import", "stock", str(counts), capsys=capsys)
    assert code == 0, err
    assert stock_json(config, "CO-1", capsys) == {
        "sku": "CO-1", "name": "Vitamin C serum", "source": "local", "on_hand": 52,
        "locations": [{"location": "B-02-01", "lot": "L-GOOD", "expiry": "2027-01-31", "qty": 40},
                      {"location": "B-02-02", "lot": "L-NEXT", "expiry": "2027-06-30", "qty": 12}]}

    with build_station(load_config(config), seed_demo=False) as station:  # a bench packs two of L-GOOD
        pack_two_serums(station)
    assert stock_json(config, "CO-1", capsys)["locations"][0]["qty"] == 38

    cli(config, "import", "stock", str(counts), capsys=capsys)  # the same file again: nothing moves
    assert stock_json(config, "CO-1", capsys)["on_hand"] == 50
    counts.write_text("sku,location,lot,expiry,qty\nCO-1,B-02-01,L-GOOD,2027-01-31,35\n")  # a new count
    cli(config, "import", "stock", str(counts), capsys=capsys)
    report = stock_json(config, "CO-1", capsys)
    assert [(x["lot"], x["qty"]) for x in report["locations"]] == [("L-GOOD", 35), ("L-NEXT", 12)]

    code, out, _ = cli(config, "stock", "CO-1", capsys=capsys)
    assert code == 0 and "CO-1 Vitamin C serum: 47 on hand (this station's database)" in out
    assert "L-GOOD" in out and "expires 2027-01-31" in out
    code, _, err = cli(config, "stock", "NOPE-9", capsys=capsys)
    assert code == 1 and "No product 'NOPE-9'" in err
    with build_station(load_config(config), seed_demo=False) as station, station.uow(readonly=True) as uow:
        kinds = [(m.kind.value, m.qty) for m in uow.stock.movements("CO-1")]
    assert kinds == [("received", 40), ("received", 12), ("packed", -1), ("packed", -1), ("adjusted", -3)]


def pack_two_serums(station: Station) -> None:
    users.add_user(station.ctx, station.system_session(), "Pat Packer", Role.PACKER, "PACKER-001")
    pat = station.ctx.auth.login("PACKER-001")
    pack = packing.claim_order(station.ctx, pat, "SO-1")
    assert packing.open_carton(station.ctx, pat, pack, "BOX-S").accepted
    for _ in range(2):
        assert packing.record_item_scan(station.ctx, pat, pack, interpret(SERUM)).verdict is Verdict.NEEDS_LOT
        assert packing.record_detail(station.ctx, pat, pack, "L-GOOD").accepted
    assert packing.close_carton(station.ctx, pat, pack, 350).verdict is Verdict.ORDER_COMPLETE


# --- with a central database ---------------------------------------------------------------------


@pytest.fixture
def centre(pg_server_instance: Any, tmp_path: Path) -> Iterator[Centre]:
    yield from centre_on(pg_server_instance, tmp_path)


@pytest.mark.postgres
def test_a_synced_station_shows_the_centres_ledger_and_appends_to_it_once(centre: Centre, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    at_centre = write_config(tmp_path / "centre.toml", tmp_path / "centre-cli", centre.admin_url)
    load_master_data(at_centre, tmp_path, capsys)  # imports at the centre
    counts = tmp_path / "stock.csv"
    counts.write_text(STOCK_CSV)
    assert cli(at_centre, "import", "stock", str(counts), capsys=capsys)[0] == 0

    bench = write_config(tmp_path / "bench.toml", tmp_path / "bench", f"sqlite:///{tmp_path / 'bench.db'}",
                         centre.station_url())
    shown = stock_json(bench, "CO-1", capsys)
    assert (shown["source"], shown["on_hand"]) == ("central", 52)  # the station's own database has none of it

    station = centre.station()  # the centre's applier of scan.recorded runs as the station role
    sync = station.system_session()
    scan = PackedItem(scan_id="scan-1", line_no=1, sku="CO-1", qty=2, carton_seq=1, barcode=SERUM, user="Pat",
                      lot="L-NEXT")
    for _ in range(2):  # the event pushed twice: the stock moves once
        assert station.ctx.central is not None
        with station.ctx.central() as uow:
            packed_out(uow, station.ctx, sync, "SO-1", [scan])
            uow.commit()
    shown = stock_json(bench, "CO-1", capsys)
    assert [(x["lot"], x["qty"]) for x in shown["locations"]] == [("L-GOOD", 40), ("L-NEXT", 10)]

    with pytest.raises(StorageError, match="refused|permission"), station.ctx.central() as uow:  # history stays
        uow.conn.execute(text("UPDATE stock_movements SET qty = 0 WHERE event_id = :e"),  # type: ignore[attr-defined]
                         {"e": scan_movement_id("scan-1")})
