"""A whole return on a real station database (SQLite and PostgreSQL), driven by scans.

A multi-line order is imported, packed at the bench (serials, a lot), sealed, shipped and
delivered (the carrier's tracking file); the shop's return file announces what comes back. At the
returns desk the parcel is found by the slip's return code, each item received against what left
in the order (a serial that never shipped in it and one unit too many are refused), graded (B with
a photo from the desk's camera, D), restocked and scrapped; a credit note is printed (read back
with ``pdftotext``: its number, the next one in the series on the next return); a replacement
becomes an order a bench packs. A second submit of a resolution resolves once. The command line
shows it all.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from packstation.bootstrap import Station, build_station
from packstation.cli import main as cli_main
from packstation.config import load_config
from packstation.domain.barcodes import with_check_digit
from packstation.domain.identity import ActorKind
from packstation.domain.packing import Verdict
from packstation.services import returns as rs
from packstation.services import users
from packstation.services.imports import import_file, import_records
from packstation.services.outcome import Outcome
from packstation.services.terminal import Terminal

TEE, BUDS, MUG = (with_check_digit(f"590{n:09d}") for n in (21, 22, 23))
CATALOG = [
    {"sku": "TS-1", "name": "Cotton tee", "barcodes": [TEE], "weight_g": 200, "location": "A-01-01", "tracking": "none"},
    {"sku": "EL-1", "name": "Wireless earbuds", "barcodes": [BUDS], "weight_g": 80, "location": "D-04-01",
     "tracking": "serial"},
    {"sku": "HW-1", "name": "Ceramic mug", "barcodes": [MUG], "weight_g": 350, "location": "C-03-01", "tracking": "lot"},
]
CARTONS = [{"code": "BOX-M", "name": "Medium box", "tare_g": 280, "inner_mm": {"l": 350, "w": 250, "h": 150},
            "max_weight_g": 10000}]


def order(order_id: str, lines: dict[str, tuple[int, str]]) -> dict[str, object]:
    return {"order_id": order_id, "channel": "shop-web", "placed_at": "2026-11-20T09:00:00+01:00",
            "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234"},
            "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                        "country": "DE"},
            "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL", "service": "Paket",
            "lines": [{"sku": sku, "qty": qty, "unit_price": price} for sku, (qty, price) in lines.items()]}


def png(seed: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes((seed * 40 % 256, 90, 160)) * 8 for _ in range(6))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 6, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def config_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    url = (f"sqlite:///{tmp_path / 'station.db'}" if request.param == "sqlite"
           else request.getfixturevalue("fresh_pg_database"))
    camera = tmp_path / "camera"
    camera.mkdir()
    for n in range(3):
        (camera / f"photo-{n}.png").write_bytes(png(n))
    path = tmp_path / "station.toml"
    path.write_text(textwrap.dedent(f"""\
        data_dir = "{tmp_path / 'data'}"
        [station]
        id = "BENCH-01"
        [database]
        local = "{url}"
        [returns]
        camera = "folder:{camera}"
        legal_entity = "ACME"
    """), encoding="utf-8")
    return path


@pytest.fixture
def station(config_file: Path) -> Station:
    built = build_station(load_config(config_file), seed_demo=False)
    importer = built.system_session(ActorKind.IMPORT, "test")
    orders = [order("SO-7", {"TS-1": (2, "9.95"), "EL-1": (2, "49.00"), "HW-1": (1, "12.50")}),
              order("SO-8", {"TS-1": (1, "9.95"), "EL-1": (1, "49.00")})]
    stock = [{"sku": "HW-1", "location": "C-03-01", "lot": "L-7", "qty": 10}]
    for kind, records in (("catalog", CATALOG), ("cartons", CARTONS), ("orders", orders), ("stock", stock)):
        report = import_records(built.ctx, importer, kind, [(f"record {i}", r) for i, r in enumerate(records, 1)], kind)
        assert report.ok, report.rejected
    admin = built.system_session()
    users.add_user(built.ctx, admin, "Pat Packer", "packer", "PACKER-001")
    users.add_user(built.ctx, admin, "Rita Returns", "returns", "RETURNS-001")
    users.add_user(built.ctx, admin, "Dan Dispatch", "dispatch", "DISPATCH-001")
    yield built
    built.close()


def scans(terminal: Terminal, *codes: str) -> Outcome:
    outcome: Outcome | None = None
    for code in codes:
        outcome = terminal.scan(code)
        assert outcome.verdict is not Verdict.STORAGE_FAILED, outcome.message
    assert outcome is not None
    return outcome


def pack(station: Station, order_id: str, *codes: str) -> None:
    """The packer scans the order, a carton, every item (and serial / lot), seals it."""
    bench = station.terminal()
    scans(bench, "PACKER-001", order_id, "BOX-M", *codes)
    asked = bench.scan("CMD-CLOSE-CARTON")
    assert asked.verdict is Verdict.NEEDS_WEIGHT, asked.message
    sealed = bench.handler.close_with_weight(int(asked.data["expected_g"]))  # type: ignore[union-attr]
    assert sealed.verdict is Verdict.ORDER_COMPLETE, sealed.message
    bench.scan("CMD-LOGOUT")


def dispatch(station: Station, *order_ids: str) -> None:
    """The dock: every carton of the orders onto today's DHL manifest, closed; the orders are handed over."""
    dock = station.terminal()
    scans(dock, "DISPATCH-001", "CARRIER-DHL")
    with station.uow(readonly=True) as uow:
        types = {ct.code: ct for ct in uow.catalog.carton_types()}
        ssccs = [c.sscc for o in order_ids for c in uow.shipments.cartons(o, types)]
    for sscc in ssccs:
        assert scans(dock, str(sscc)).verdict is Verdict.CARTON_LOADED
    closed = scans(dock, "CMD-CLOSE-MANIFEST")
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    dock.scan("CMD-LOGOUT")
    with station.uow(readonly=True) as uow:
        assert {uow.orders.get(o).status.value for o in order_ids} == {"handed_over"}  # type: ignore[union-attr]


def track(station: Station, tmp_path: Path, order_id: str) -> None:
    """The carrier's tracking file: on the way, then delivered."""
    path = tmp_path / f"tracking-{order_id}.json"
    path.write_text(json.dumps([{"order_id": order_id, "status": "in_transit", "at": "2026-11-21T08:00:00Z"},
                                {"order_id": order_id, "status": "delivered", "at": "2026-11-22T12:00:00Z"}]))
    report = import_file(station.ctx, station.system_session(ActorKind.IMPORT, "carrier"), "tracking", path)
    assert report.ok, report.rejected


def announce(station: Station, tmp_path: Path, rma_id: str, order_id: str, lines: dict[str, int]) -> None:
    path = tmp_path / f"{rma_id}.json"
    path.write_text(json.dumps([{"rma_id": rma_id, "order_id": order_id, "reason": "not as described",
                                 "status": "picked", "lines": [{"sku": s, "qty": q} for s, q in lines.items()]}]))
    report = import_file(station.ctx, station.system_session(ActorKind.IMPORT, "shop"), "returns", path)
    assert report.ok, report.rejected


def cli_json(config_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert cli_main(["--config", str(config_file), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_a_return_from_import_to_credit_note_restock_and_replacement(station: Station, config_file: Path,
                                                                    tmp_path: Path, capsys) -> None:
    pack(station, "SO-7", TEE, TEE, BUDS, "SN-701", BUDS, "SN-702", MUG, "L-7")
    pack(station, "SO-8", TEE, BUDS, "SN-801")
    dispatch(station, "SO-7", "SO-8")
    for order_id in ("SO-7", "SO-8"):
        track(station, tmp_path, order_id)
    for order_id in ("SO-7", "SO-8"):
        stages = [s["stage"] for s in cli_json(config_file, capsys, "status", order_id)["stages"]]  # type: ignore[index]
        assert stages[-4:] == ["packed", "handed_over", "in_transit", "delivered"], stages
    announce(station, tmp_path, "RMA-7", "SO-7", {"TS-1": 2, "EL-1": 1})

    desk = station.terminal()
    assert scans(desk, "RETURNS-001").verdict is Verdict.LOGGED_IN
    assert scans(desk, "RET-SO-7").verdict is Verdict.RETURN_OPENED
    # first tee: a grade B needs its photo first
    assert scans(desk, TEE).verdict is Verdict.ITEM_RECEIVED
    assert scans(desk, "GRADE-B").verdict is Verdict.PHOTO_REQUIRED
    assert scans(desk, "RET-PHOTO", "GRADE-B").verdict is Verdict.GRADED
    assert scans(desk, "DISP-RESTOCK").verdict is Verdict.NEEDS_LOCATION
    restocked = scans(desk, "R-09-01")
    assert restocked.verdict is Verdict.DISPOSITION_SET and "restocked into R-09-01" in restocked.message
    # second tee: unusable, scrapped
    assert scans(desk, TEE, "RET-PHOTO", "GRADE-D", "DISP-SCRAP").verdict is Verdict.DISPOSITION_SET
    # a third tee: the order shipped two
    assert scans(desk, TEE).verdict is Verdict.MORE_THAN_SHIPPED
    # an earbud whose serial left in SO-8, not SO-7: refused
    refused = scans(desk, BUDS, "SN-801")
    assert refused.verdict is Verdict.SERIAL_NOT_SHIPPED and "left in order SO-8" in refused.message
    assert scans(desk, BUDS, "SN-702", "GRADE-A", "DISP-RESTOCK", "DISP-RESTOCK").verdict is Verdict.DISPOSITION_SET
    credited = scans(desk, "RES-CREDIT")
    assert credited.verdict is Verdict.RETURN_RESOLVED, credited.message
    assert credited.data["credit_notes"] == ["CN-ACME-BENCH-01-000001"]
    again = scans(desk, "RES-CREDIT")  # the same resolution submitted twice
    assert again.data["headline"] == "ALREADY RESOLVED" and again.data["created"] == 0

    shown = cli_json(config_file, capsys, "returns", "show", "RMA-7")
    assert shown["status"] == "closed" and shown["credit_note"] == "CN-ACME-BENCH-01-000001"  # type: ignore[index]
    lines = {ln["sku"]: ln for ln in shown["lines"]}  # type: ignore[index]
    assert (lines["TS-1"]["expected"], lines["TS-1"]["received"], lines["TS-1"]["grades"]) == (2, 2, ["B", "D"])
    assert lines["TS-1"]["dispositions"] == ["restock", "scrap"] and len(lines["TS-1"]["photos"]) == 2
    assert lines["TS-1"]["resolution"]["kind"] == "credit_note" and lines["TS-1"]["resolution"]["amount"] == "19.90"
    assert (lines["EL-1"]["received"], lines["EL-1"]["grade"], lines["EL-1"]["resolution"]["amount"]) == (1, "A", "49.00")
    assert [(m["sku"], m["location"], m["qty"]) for m in shown["movements"]] == [  # type: ignore[index]
        ("TS-1", "R-09-01", 1), ("EL-1", "D-04-01", 1)]
    # the refused scans of the parcel are listed with the return (a third tee; SO-8's earbud)
    assert [(r["verdict"], r["serial"]) for r in shown["refused"]] == [  # type: ignore[index]
        ("more_than_shipped", None), ("serial_not_shipped", "SN-801")]
    capsys.readouterr()
    assert cli_main(["--config", str(config_file), "returns", "show", "RMA-7"]) == 0
    assert "refused" in capsys.readouterr().out and "left in order SO-8" in shown["refused"][1]["reason"]  # type: ignore[index]
    evidence = shown["items"][0]["shipped"]  # type: ignore[index]
    assert evidence["packer"] == "Pat Packer" and evidence["sscc"] and evidence["weight_g"]
    assert cli_main(["--config", str(config_file), "returns", "restock", "RMA-7"]) == 0  # nothing left to restock
    assert len(cli_json(config_file, capsys, "returns", "show", "RMA-7")["movements"]) == 2  # type: ignore[index]

    station.print_worker.drain()
    (note,) = sorted((station.info.documents_dir / "credit-notes").glob("*.pdf"))
    text = pdf_text(note)
    assert "CN-ACME-BENCH-01-000001" in text and "RMA-7" in text and "SO-7" in text
    assert "68.90" in text  # 2 x 9.95 + 49.00

    # the next return: the next credit note of the series; the other one is replaced
    announce(station, tmp_path, "RMA-8", "SO-8", {"TS-1": 1, "EL-1": 1})
    scans(desk, "RMA-8", TEE, "GRADE-A", "DISP-RESTOCK", "DISP-RESTOCK")
    scans(desk, BUDS, "SN-801", "GRADE-A", "DISP-QUARANTINE")
    first = rs.resolve(station.ctx, desk.session, "RMA-8", "credit_note", line_nos=[1])  # type: ignore[arg-type]
    assert first.resolution.credit_note == "CN-ACME-BENCH-01-000002"
    replaced = scans(desk, "RES-REPLACE")
    (new_order,) = replaced.data["replacement_orders"]
    station.print_worker.drain()
    notes = sorted(p.name for p in (station.info.documents_dir / "credit-notes").glob("*.pdf"))
    assert notes == ["CN-ACME-BENCH-01-000001.pdf", "CN-ACME-BENCH-01-000002.pdf"]
    assert "CN-ACME-BENCH-01-000002" in pdf_text(station.info.documents_dir / "credit-notes" / notes[1])

    # the replacement flows to a bench like any other order
    pack(station, new_order, BUDS, "SN-NEW-1")
    status = cli_json(config_file, capsys, "status", new_order)
    assert status["status"] == "packed"  # type: ignore[index]
    assert [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in status["lines"]] == [("EL-1", 1, "0.00")]  # type: ignore[index]
    received = next(e for e in status["events"] if e["kind"] == "order.received")  # type: ignore[index]
    assert received["actor"] == "person:Rita Returns" and received["data"]["replacement_for"] == "RMA-8"

    listed = cli_json(config_file, capsys, "returns", "list", "--status", "closed")
    assert [r["rma_id"] for r in listed] == ["RMA-8", "RMA-7"]  # type: ignore[union-attr]
    with station.uow(readonly=True) as uow:
        resolutions = uow.returns.resolutions("RMA-7")
        movements = rs.restock_movements(uow, uow.returns.get("RMA-7"))
        assert [n.total for n in uow.returns.credit_notes("RMA-7")] == [Decimal("68.90")]
    assert len(resolutions) == 1 and len(movements) == 2


def test_every_change_is_an_event_naming_its_actor(station: Station, tmp_path: Path) -> None:
    pack(station, "SO-8", TEE, BUDS, "SN-801")
    track(station, tmp_path, "SO-8")
    announce(station, tmp_path, "RMA-8", "SO-8", {"TS-1": 1})
    desk = station.terminal()
    scans(desk, "RETURNS-001", "RMA-8", TEE, "RET-PHOTO", "GRADE-C", "DISP-REFURBISH", "RES-REFUND")
    with station.uow(readonly=True) as uow:
        events = [e for e in uow.events.for_order("SO-8") if e.kind.startswith("return.")]
    assert [e.kind for e in events] == ["return.picked", "return.item_received", "return.received",
                                        "return.photo_added", "return.item_graded", "return.item_decided",
                                        "return.inspected", "return.resolved", "return.processed", "return.closed"]
    assert {e.actor for e in events[1:]} == {"person:Rita Returns"} and events[0].actor == "import:shop"
    resolved = next(e for e in events if e.kind == "return.resolved")
    assert resolved.payload["lines"] == [{"line_no": 1, "qty": 1, "amount": "9.95", "fee": "0.00"}]


@pytest.mark.parametrize("config_file", ["sqlite"], indirect=True)  # the centre: a copy of the station's file
def test_a_return_received_offline_syncs_once(station: Station, config_file: Path, tmp_path: Path) -> None:
    """The desk works on its own database; its events then apply at another database (here: a copy
    of the station's made before the parcel arrived, as the centre had it) from their payloads, once."""
    from packstation.adapters.db.engine import make_engine
    from packstation.services import returns_replay

    pack(station, "SO-7", TEE, TEE, BUDS, "SN-701", BUDS, "SN-702", MUG, "L-7")
    track(station, tmp_path, "SO-7")
    announce(station, tmp_path, "RMA-7", "SO-7", {"TS-1": 1, "EL-1": 1})
    import sqlite3

    source, copy = sqlite3.connect(str(station._engine.url.database)), sqlite3.connect(tmp_path / "centre.db")
    source.backup(copy)  # the centre as it was before the parcel came (SQLite's online backup)
    source.close()
    copy.close()
    with station.uow(readonly=True) as uow:
        before = {e.id for e in uow.events.since(uow.events.for_order("SO-7")[0].occurred_at)}

    desk = station.terminal()
    scans(desk, "RETURNS-001", "RET-SO-7", TEE, "RET-PHOTO", "GRADE-B", "DISP-RESTOCK", "R-09-01",
          BUDS, "SN-702", "GRADE-A", "DISP-QUARANTINE", "RES-REFUND")
    with station.uow(readonly=True) as uow:
        events = [e for e in uow.events.since(uow.events.for_order("SO-7")[0].occurred_at)
                  if e.id not in before and e.kind in returns_replay.APPLIERS]
    from packstation.adapters.db.numbers import LocalBlocks
    from packstation.adapters.db.uow import SqlUnitOfWork

    engine = make_engine(f"sqlite:///{tmp_path / 'centre.db'}")
    try:
        for _ in range(2):
            with SqlUnitOfWork(engine, "CENTRE", LocalBlocks()) as uow:
                known = {e.id for e in uow.events.since(events[0].occurred_at)}  # the push dedups by event id
                for event in events:
                    if event.id not in known:
                        returns_replay.apply(uow, event)
                        uow.events.add(event, event.station_id, event.occurred_at)
                uow.commit()
        with SqlUnitOfWork(engine, "CENTRE", LocalBlocks(), readonly=True) as uow:
            there = uow.returns.get("RMA-7")
            items = uow.returns.items(["RMA-7"])
            moves = rs.restock_movements(uow, uow.returns.get("RMA-7"))
            (resolution,) = uow.returns.resolutions("RMA-7")
    finally:
        engine.dispose()
    with station.uow(readonly=True) as uow:
        here = uow.returns.get("RMA-7")
        mine = uow.returns.items(["RMA-7"])
    assert there == here and there.status.value == "closed"
    assert [(i.id, i.grade, i.disposition, i.photos, i.restocked_at is not None) for i in items] == \
        [(i.id, i.grade, i.disposition, i.photos, i.restocked_at is not None) for i in mine]
    assert [(m.sku, m.location, m.qty) for m in moves] == [("TS-1", "R-09-01", 1)]
    assert resolution.kind.value == "refund" and resolution.total == Decimal("58.95")
