"""The returns desk as a station of its own, synced to a central PostgreSQL (issue 12): a bench
packs and photographs SO-1, the shop's return is imported at the centre, and desks with SQLite
databases of their own find it, receive against it, see the bench's carton photo and make a
replacement order that another bench packs. Everything goes through the real sync (push, pull)
between real databases."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pull_support import STATION_PW, TEE, Centre, centre_on

from packstation.bootstrap import Station, build_station
from packstation.config import BenchConfig, Config, DatabaseConfig, NumbersConfig, StationConfig
from packstation.domain.barcodes import RawScan
from packstation.domain.identity import ActorKind
from packstation.domain.lifecycle import OrderStatus, ReturnStatus
from packstation.domain.packing import Verdict
from packstation.services import returns, users
from packstation.services.imports import import_records
from packstation.services.photos import photo_data
from packstation.services.sync.pull import pull_once

pytestmark = pytest.mark.postgres


def _png() -> bytes:
    """A 10 x 8 RGB PNG (the format as in the PNG specification, ISO/IEC 15948: signature, IHDR, IDAT, IEND)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x30\x60\x90" * 10 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PHOTO = _png()


@pytest.fixture
def centre(pg_server_instance: Any, tmp_path: Path) -> Iterator[Centre]:
    yield from centre_on(pg_server_instance, tmp_path)


def _bench_with_camera(centre: Centre, station_id: str = "BENCH-01") -> Station:
    """A synced bench whose camera (a folder of images) photographs each sealed carton."""
    cam = centre.tmp / f"{station_id}-camera"
    cam.mkdir()
    (cam / "carton.png").write_bytes(PHOTO)
    data = centre.tmp / station_id
    bench = build_station(Config(station=StationConfig(id=station_id, name=station_id),
                                 database=DatabaseConfig(local=f"sqlite:///{data / 'station.db'}",
                                                         central=centre.station_url()),
                                 numbers=NumbersConfig(block_size=100), data_dir=data,
                                 bench=BenchConfig(camera=f"folder:{cam}")), seed_demo=False)
    centre.stations.append(bench)
    return bench


def _pack(bench: Station, order_id: str, units: int) -> None:
    t = bench.terminal()
    assert t.scan("PACKER-001").verdict is Verdict.LOGGED_IN
    assert t.scan(order_id).verdict is Verdict.ORDER_OPENED
    assert t.scan("BOX-S").verdict is Verdict.CARTON_OPENED
    for _ in range(units):
        assert t.scan(RawScan.from_wire(TEE)).verdict is Verdict.ACCEPTED
    assert t.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    assert t.handler.close_with_weight(150 + units * 200).verdict is Verdict.ORDER_COMPLETE


@pytest.fixture
def shipped(centre: Centre) -> Station:
    """SO-1 (2 x TS-1) packed and photographed at BENCH-01, pushed; then the shop announces RMA-C1
    (1 x TS-1, picked up) by a file imported at the centre, as `packstation import returns` does
    on a synced station."""
    centre.seed()
    users.add_user(centre.admin.ctx, centre.session(), "Pat Packer", "packer", "PACKER-001")
    users.add_user(centre.admin.ctx, centre.session(), "Rita Returns", "returns", "RETURNS-001")
    bench = _bench_with_camera(centre)
    bench.sync_now()
    _pack(bench, "SO-1", 2)
    assert bench.sync_now().drained
    report = import_records(centre.admin.ctx, centre.admin.system_session(ActorKind.IMPORT, "shop"), "returns",
                            [("1", {"rma_id": "RMA-C1", "order_id": "SO-1", "reason": "too small", "status": "picked",
                                    "lines": [{"sku": "TS-1", "qty": 2}]})], "returns.json")
    assert report.ok, report.rejected
    return bench


def _desk(centre: Centre, station_id: str = "RET-01") -> tuple[Station, Any]:
    station = centre.station(station_id)
    assert station.sync_now().error == ""
    t = station.terminal()
    assert t.scan("RETURNS-001").verdict is Verdict.LOGGED_IN
    return station, t


def _scans(t: Any, *codes: str) -> Any:
    """Scan each code in turn (TEE as the scanner sends it); the last outcome."""
    out = None
    for code in codes:
        out = t.scan(RawScan.from_wire(code) if code == TEE else code)
    return out


def _central_returns(centre: Centre) -> list[tuple[str, str, list[tuple[str, int, str]]]]:
    with centre.admin.uow(readonly=True) as uow:
        rets = uow.returns.for_order("SO-1")
        return [(r.rma_id, r.status.value, [(i.sku, i.qty, i.station_id) for i in uow.returns.items([r.rma_id])])
                for r in rets]


def test_an_announced_return_reaches_the_synced_desk_and_is_received_there_once(centre: Centre,
                                                                               shipped: Station) -> None:
    desk_station, desk = _desk(centre)
    session = desk.session
    for code, via in (("RMA-C1", "RMA"), ("RET-SO-1", "return code")):  # by either code on the parcel
        found = returns.find(desk_station.ctx, session, code)
        assert (found.order.order_id, [r.rma_id for r in found.returns], found.via) == ("SO-1", ["RMA-C1"], via)
    assert [(r["rma_id"], r["status"], r["expected"]) for r in returns.list_returns(desk_station.ctx, session)] == [
        ("RMA-C1", "picked", 2)]
    opened = desk.scan("RMA-C1")
    assert opened.verdict is Verdict.RETURN_OPENED and "RMA-C1" in opened.message
    for _ in range(2):
        assert _scans(desk, TEE, "GRADE-A", "DISP-BSTOCK").verdict is Verdict.DISPOSITION_SET
    assert desk.scan(RawScan.from_wire(TEE)).verdict is Verdict.MORE_THAN_SHIPPED  # 2 shipped, 2 back
    assert desk.scan("RES-REFUND").verdict is Verdict.RETURN_RESOLVED
    for _ in range(2):  # the second round finds everything there already
        result = desk_station.sync_now()
        assert result.error == "" and result.drained
    assert _central_returns(centre) == [("RMA-C1", "closed", [("TS-1", 1, "RET-01"), ("TS-1", 1, "RET-01")])]
    shown = returns.detail(desk_station.ctx, session, "RMA-C1")  # the desk's copy, the centre's again after the pull
    assert shown["status"] == "closed" and [ln["received"] for ln in shown["lines"]] == [2]


def test_what_came_back_at_one_desk_counts_at_another(centre: Centre, shipped: Station) -> None:
    """Two units left in SO-1; one came back at RET-01: at RET-02 one more is received, a third is
    more than shipped (the 'already returned' count is the centre's, through the pull)."""
    first_station, first = _desk(centre, "RET-01")
    assert first.scan("RMA-C1").verdict is Verdict.RETURN_OPENED
    assert first.scan(RawScan.from_wire(TEE)).verdict is Verdict.ITEM_RECEIVED
    assert first_station.sync_now().drained
    second_station, second = _desk(centre, "RET-02")
    assert second.scan("RET-SO-1").verdict is Verdict.RETURN_OPENED
    assert second.scan(RawScan.from_wire(TEE)).verdict is Verdict.ITEM_RECEIVED
    assert second.scan(RawScan.from_wire(TEE)).verdict is Verdict.MORE_THAN_SHIPPED
    assert second_station.sync_now().drained
    assert _central_returns(centre) == [("RMA-C1", "received", [("TS-1", 1, "RET-01"), ("TS-1", 1, "RET-02")])]


def test_a_pull_keeps_the_desk_work_the_centre_does_not_have_yet(centre: Centre, shipped: Station) -> None:
    """An item received at the desk, not pushed yet: a pull (the centre still has the return as
    picked, nothing received) leaves the desk's copy alone; after the push the centre's state, the
    same, comes back."""
    desk_station, desk = _desk(centre)
    assert desk.scan("RMA-C1").verdict is Verdict.RETURN_OPENED
    assert desk.scan(RawScan.from_wire(TEE)).verdict is Verdict.ITEM_RECEIVED
    with centre.admin.uow() as uow:  # the centre changes the return meanwhile: a change for the pull
        ret = uow.returns.get("RMA-C1")
        assert ret is not None
        uow.returns.put(ret, "fp-again", centre.admin.ctx.clock())
        uow.commit()
    session = desk_station.system_session(ActorKind.SYSTEM, "sync-worker")
    report = pull_once(desk_station.ctx, session)
    assert report.returns_kept == ["RMA-C1"]
    with desk_station.uow(readonly=True) as uow:
        here = uow.returns.get("RMA-C1")
        assert here is not None and here.status is ReturnStatus.RECEIVED and here.lines[0].received == 1
    result = desk_station.sync_now()
    assert result.error == "" and result.drained
    with desk_station.uow(readonly=True) as uow:
        here = uow.returns.get("RMA-C1")
        assert here is not None and here.status is ReturnStatus.RECEIVED and here.lines[0].received == 1
        assert uow.sync_state.get("pull_returns_kept") == "[]"
    assert _central_returns(centre) == [("RMA-C1", "received", [("TS-1", 1, "RET-01")])]


def test_a_replacement_made_at_a_synced_desk_is_packed_at_another_bench(centre: Centre, shipped: Station) -> None:
    desk_station, desk = _desk(centre)
    assert desk.scan("RMA-C1").verdict is Verdict.RETURN_OPENED
    for _ in range(2):
        assert _scans(desk, TEE, "GRADE-A", "DISP-BSTOCK").verdict is Verdict.DISPOSITION_SET
    resolved = desk.scan("RES-REPLACE")
    assert resolved.verdict is Verdict.RETURN_RESOLVED, resolved
    (new,) = resolved.data["replacement_orders"]
    assert new == "RMA-C1-R1"
    for _ in range(2):
        assert desk_station.sync_now().drained
    with centre.admin.uow(readonly=True) as uow:
        order = uow.orders.get(new)
        assert order is not None and order.status is OrderStatus.RELEASED
        assert [(ln.sku, ln.qty, str(ln.unit_price)) for ln in order.lines] == [("TS-1", 2, "0.00")]
        assert [e.kind for e in uow.events.for_order(new)] == ["order.received"]  # the desk's, once
        assert [r.status.value for r in uow.returns.for_order("SO-1")] == ["closed"]
    other = centre.station("BENCH-02")  # another synced bench: it pulls the order, claims and packs it
    users.add_user(centre.admin.ctx, centre.session(), "Paul Packer", "packer", "PACKER-002")
    other.sync_now()
    t = other.terminal()
    assert t.scan("PACKER-002").verdict is Verdict.LOGGED_IN
    assert t.scan(new).verdict is Verdict.ORDER_OPENED
    assert t.scan("BOX-S").verdict is Verdict.CARTON_OPENED
    for _ in range(2):
        assert t.scan(RawScan.from_wire(TEE)).verdict is Verdict.ACCEPTED
    assert t.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    assert t.handler.close_with_weight(150 + 2 * 200).verdict is Verdict.ORDER_COMPLETE
    assert other.sync_now().drained
    with centre.admin.uow(readonly=True) as uow:
        order = uow.orders.get(new)
        assert order is not None and order.status is OrderStatus.PACKED
        assert [(ln.sku, ln.packed) for ln in order.lines] == [("TS-1", 2)]


def test_the_bench_carton_photo_shows_at_a_desk_on_another_station(centre: Centre, shipped: Station) -> None:
    """Read from the centre (the bench's event carried it there); the desk that opened the parcel
    keeps it, so the evidence shows it with the network down too."""
    desk_station, desk = _desk(centre)
    assert desk.scan("RMA-C1").verdict is Verdict.RETURN_OPENED
    assert desk.scan(RawScan.from_wire(TEE)).verdict is Verdict.ITEM_RECEIVED
    item = desk.handler.current_item
    evidence = desk.handler.evidence(item)
    assert evidence is not None and evidence.packer == "Pat Packer" and evidence.carton_photo
    other_station, other = _desk(centre, "RET-02")  # no parcel open there: asked of the centre
    found = photo_data(other_station.ctx, other.session, evidence.carton_photo)
    assert found is not None
    photo, data = found
    assert data == PHOTO and photo.mime == "image/png" and photo.station_id == "BENCH-01"
    centre.path.cut()
    try:
        here = photo_data(desk_station.ctx, desk.session, evidence.carton_photo)  # kept when the parcel opened
        again = photo_data(other_station.ctx, other.session, evidence.carton_photo)  # kept when first read
    finally:
        centre.path.mend()
    assert here is not None and here[1] == PHOTO
    assert again is not None and again[1] == PHOTO


def test_returns_a_centre_had_before_their_triggers_reach_the_desks_after_central_init(centre: Centre,
                                                                                      shipped: Station) -> None:
    """A centre from before returns were in its change log: `central init` (run after an upgrade)
    logs its returns once, so the desks pull them; run again, it logs nothing more."""
    from sqlalchemy import text

    from packstation.adapters.db.engine import make_engine
    from packstation.bootstrap import init_central_database

    engine = make_engine(centre.admin_url)
    try:
        with engine.begin() as conn:  # as an older centre has it: the return, no change for it
            conn.execute(text("DELETE FROM changes WHERE entity = 'return'"))
        done = init_central_database(centre.admin_url, station_password=STATION_PW)
        assert any("1 return(s) from before their triggers" in line for line in done), done
        init_central_database(centre.admin_url, station_password=STATION_PW)
        with engine.connect() as conn:
            logged = conn.execute(text("SELECT key FROM changes WHERE entity = 'return'")).scalars().all()
    finally:
        engine.dispose()
    assert logged == ["RMA-C1"]
    desk_station, desk = _desk(centre)
    assert [r.rma_id for r in returns.find(desk_station.ctx, desk.session, "RET-SO-1").returns] == ["RMA-C1"]
