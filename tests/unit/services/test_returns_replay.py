"""A return worked offline at a desk, then applied at the centre from its events alone, twice:
the centre ends up with the same return (items, grades, photos, dispositions, restock movement,
resolution, credit note, states) and the second time changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeDatabase, an_order, fake_context
from returns_helpers import camera_folder, deliver, desk_scan, pack_and_seal
from warehouse import BUDS, TEE

from packstation.adapters.devices.camera import FolderCamera
from packstation.domain.identity import ActorKind
from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.returns import Return, ReturnLine
from packstation.services import returns as rs
from packstation.services import returns_replay
from packstation.services.photos import Cameras
from packstation.services.returns_desk import ReturnsDesk


def centre_state(ctx, rma_id: str) -> dict:
    shown = rs.detail(ctx, ctx.auth.system(ActorKind.SYSTEM, "test"), rma_id)
    shown.pop("events")
    for item in shown["items"]:
        item.pop("received_at")  # stored from the payload: its text form at the centre
    return shown


def test_an_offline_return_applies_at_the_centre_once(db: FakeDatabase, tmp_path: Path) -> None:
    station = fake_context(db, cameras=Cameras(returns=FolderCamera(camera_folder(tmp_path / "cam"))))
    pat = station.auth.login("PACKER-001")
    with station.uow() as uow:
        uow.orders.add_many([(an_order("SO-9", {"TS-1": 2, "EL-1": 1}, unit_price="20.00"), "fp")], station.clock())
        uow.commit()
    pack_and_seal(station, pat, "SO-9", TEE, TEE, BUDS, serials={BUDS: ["SN-9"]})
    deliver(station, "SO-9")
    with station.uow() as uow:
        uow.returns.put(Return("RMA-9", "SO-9", "too small", ReturnStatus.PICKED,
                               [ReturnLine(1, "TS-1", 2), ReturnLine(2, "EL-1", 1)]), "fp", station.clock())
        uow.commit()
    # the centre had everything up to here (orders, packing, the announced return)
    centre_db = FakeDatabase()
    centre_db._committed = db.snapshot()
    already = {e.id for e in db.snapshot().events}

    rae = station.auth.login("RETURNS-001")
    desk = ReturnsDesk(station, rae, camera=station.cameras.returns)
    desk.start()
    for code in ("RET-SO-9", TEE, "RET-PHOTO", "GRADE-B", "DISP-RESTOCK", "R-01-01", TEE, "RET-PHOTO", "GRADE-D",
                 "DISP-SCRAP", BUDS, "SN-NOT-HERE", BUDS, "SN-9", "RET-NOTE", "scratched lens", "GRADE-A",
                 "DISP-RESTOCK", "RET-LATER", "RES-CREDIT"):
        assert desk_scan(desk, code).verdict.value != "storage_failed"
    buds = next(i["id"] for i in rs.detail(station, rae, "RMA-9")["items"] if i["sku"] == "EL-1")
    assert rs.restock(station, rae, "RMA-9", buds, "D-04-01")  # restocked later
    others = {"user.login", "print.queued"}  # the centre's other appliers take these
    events = [e for e in db.snapshot().events if e.id not in already and e.kind not in others]
    kinds = {e.kind for e in events}
    assert kinds <= set(returns_replay.APPLIERS), kinds - set(returns_replay.APPLIERS)
    assert {"return.item_received", "return.photo_added", "return.restocked", "credit_note.issued",
            "return.closed", "return.scan_refused"} <= kinds

    centre = fake_context(centre_db, station_id="CENTRE")
    applied = []
    for _ in range(2):  # a retry after a lost reply: every event a duplicate, nothing applied twice
        with centre.uow() as uow:
            known = {e.id for e in uow.events.since(events[0].occurred_at)}
            for event in events:
                if event.id in known:  # the push answers "duplicate" (central.md): by event id
                    continue
                returns_replay.apply(uow, event)
                uow.events.add(event, event.station_id, event.occurred_at)
                applied.append(event.id)
            uow.commit()
    assert len(applied) == len(events)
    assert centre_state(centre, "RMA-9") == centre_state(station, "RMA-9")
    with centre.uow(readonly=True) as uow:
        assert len(rs.restock_movements(uow, uow.returns.get("RMA-9"))) == 2
        assert [n.number for n in uow.returns.credit_notes("RMA-9")] == ["CN-MAIN-BENCH-01-000001"]
        assert uow.returns.get("RMA-9").status is ReturnStatus.CLOSED
        photo = uow.returns.items(["RMA-9"])[0].photos[0]
        assert uow.photos.data(photo) == db.snapshot().photos[photo][1]
    # and the data appliers hold on their own: ids, keys, numbers and movement events say "there already"
    with centre.uow() as uow:
        for event in events:
            if not event.kind.startswith("return.") or event.kind.split(".")[1] not in (
                    "received", "inspected", "processed", "closed"):
                returns_replay.apply(uow, event)
        uow.commit()
    assert centre_state(centre, "RMA-9") == centre_state(station, "RMA-9")
    with centre.uow(readonly=True) as uow:
        assert len(rs.restock_movements(uow, uow.returns.get("RMA-9"))) == 2 and len(uow.returns.items(["RMA-9"])) == 3


def test_an_event_of_a_return_the_centre_does_not_know_is_refused(db: FakeDatabase) -> None:
    from packstation.domain.events import Event

    centre = fake_context(db)
    event = Event("return.item_graded", "SO-1", "person:Rae", None, {"rma_id": "RMA-404", "item_id": "x", "grade": "A"})
    with centre.uow() as uow, pytest.raises(returns_replay.Refused, match="no received item x of RMA-404"):
        returns_replay.apply(uow, event)
