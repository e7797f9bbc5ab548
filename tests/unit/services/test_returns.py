"""The returns desk on the fake storage: find, receive (matched to what shipped), inspect, decide,
restock, resolve; each refusal with its own verdict, every change an event naming its actor."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from fakes import FakeDatabase, an_order, fake_context
from returns_helpers import camera_folder, deliver, desk_scan, pack_and_seal, png
from warehouse import BUDS, MUG, PUZZLE, TEE

from packstation.adapters.devices.camera import FolderCamera
from packstation.domain.identity import Desk, Session
from packstation.domain.lifecycle import OrderStatus, ReturnStatus
from packstation.domain.packing import Verdict
from packstation.domain.returns import Return, ReturnLine, ReturnsPolicy
from packstation.services import packing
from packstation.services import returns as rs
from packstation.services.auth import NotAllowed
from packstation.services.context import Context
from packstation.services.photos import Cameras, Picture
from packstation.services.ports import StorageError
from packstation.services.returns_desk import ReturnsDesk


@pytest.fixture
def shipped(ctx: Context, pat: Session) -> dict[str, str]:
    """SO-9 (2 tees, 2 earbuds SN-1/SN-2, 1 mug lot L-7) packed by Pat and delivered; SO-4 (earbud
    SN-OTHER) packed and delivered too. Returns the SSCCs."""
    with ctx.uow() as uow:
        uow.orders.add_many([(an_order("SO-9", {"TS-1": 2, "EL-1": 2, "HW-1": 1}, unit_price="20.00"), "fp-9")],
                            ctx.clock())
        uow.commit()
    ssccs = {"SO-9": pack_and_seal(ctx, pat, "SO-9", TEE, TEE, BUDS, BUDS, MUG, serials={BUDS: ["SN-1", "SN-2"]},
                                   lots={MUG: "L-7"}),
             "SO-4": pack_and_seal(ctx, pat, "SO-4", BUDS, serials={BUDS: ["SN-OTHER"]})}
    deliver(ctx, "SO-9")
    deliver(ctx, "SO-4")
    return ssccs


@pytest.fixture
def rae(ctx: Context) -> Session:
    return ctx.auth.login("RETURNS-001")


def announce(ctx: Context, rma_id: str, order_id: str, lines: dict[str, int], reason: str = "too small") -> None:
    """A return as the shop's import announces it (status picked: the carrier has it)."""
    with ctx.uow() as uow:
        uow.returns.put(Return(rma_id, order_id, reason, ReturnStatus.PICKED,
                               [ReturnLine(n, sku, qty) for n, (sku, qty) in enumerate(lines.items(), 1)]), "fp", ctx.clock())
        uow.commit()


@pytest.fixture
def with_camera(db: FakeDatabase, tmp_path: Path) -> Context:
    return fake_context(db, cameras=Cameras(returns=FolderCamera(camera_folder(tmp_path / "camera"))))


def desk_for(ctx: Context, session: Session) -> ReturnsDesk:
    desk = ReturnsDesk(ctx, session, camera=ctx.cameras.returns if ctx.cameras else None)
    assert desk.start().verdict is Verdict.LOGGED_IN
    return desk


def events(ctx: Context, order_id: str, kind: str) -> list:
    with ctx.uow(readonly=True) as uow:
        return [e for e in uow.events.for_order(order_id) if e.kind == kind]


# --- finding the return ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["RET-SO-9", "RMA-9", "SO-9", "sscc"])
def test_the_return_is_found_by_slip_code_rma_order_or_carton(ctx, rae, shipped, code) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    outcome = desk_scan(desk, shipped["SO-9"] if code == "sscc" else code)
    assert outcome.verdict is Verdict.RETURN_OPENED, outcome.message
    assert desk.receipt is not None and desk.receipt.rma_ids == ("RMA-9",)


def test_the_return_is_found_by_the_cartons_tracking_number(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    with ctx.uow() as uow:
        (carton,) = uow.shipments.cartons("SO-9", {})
        carton.tracking_number = "JJD0001"
        uow.shipments.save_carton("SO-9", carton, ctx.clock())
        uow.commit()
    desk = desk_for(ctx, rae)
    assert desk_scan(desk, "JJD0001").verdict is Verdict.RETURN_OPENED


def test_an_order_that_never_shipped_cannot_come_back(ctx, rae) -> None:
    desk = desk_for(ctx, rae)
    outcome = desk_scan(desk, "SO-1")
    assert outcome.verdict is Verdict.RETURN_REFUSED and "has not shipped" in outcome.message


def test_without_a_return_the_desk_opens_one_asking_the_reason_by_number(ctx, rae, shipped) -> None:
    desk = desk_for(ctx, rae)
    asked = desk_scan(desk, "RET-SO-9")
    assert asked.verdict is Verdict.NEEDS_REASON and "1 damaged in transit" in asked.message
    opened = desk_scan(desk, "4")
    assert opened.verdict is Verdict.RETURN_OPENED
    (rma_id,) = opened.data["rma_ids"]
    with ctx.uow(readonly=True) as uow:
        ret = uow.returns.get(rma_id)
    assert ret is not None and ret.origin == "desk" and ret.reason == "no longer needed" and ret.lines == []
    (event,) = events(ctx, "SO-9", "return.opened")
    assert event.actor == "person:Rae Returns"
    assert event.payload == {"rma_id": rma_id, "order_id": "SO-9", "reason": "no longer needed", "status": "initiated",
                             "origin": "desk", "lines": []}
    # a desk-opened return takes what arrives (checked against what shipped)
    assert desk_scan(desk, TEE).verdict is Verdict.ITEM_RECEIVED
    assert desk_scan(desk, TEE).verdict is Verdict.ITEM_RECEIVED
    with ctx.uow(readonly=True) as uow:
        (line,) = uow.returns.get(rma_id).lines
    assert (line.sku, line.qty, line.received, line.unit_price) == ("TS-1", 2, 2, Decimal("20.00"))


def test_one_parcel_holds_returns_of_one_customer_only(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    announce(ctx, "RMA-4", "SO-4", {"EL-1": 1})
    with ctx.uow() as uow:
        other = replace(an_order("SO-X", {"TS-1": 1}, status=OrderStatus.DELIVERED), customer_name="Jan de Vries",
                        customer_email="jan@example.com")
        uow.orders.add_many([(other, "fp-x")], ctx.clock())
        uow.commit()
    announce(ctx, "RMA-X", "SO-X", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RMA-9")
    joined = desk_scan(desk, "RMA-4")  # the same customer's second order
    assert joined.verdict is Verdict.RETURN_OPENED and desk.receipt.rma_ids == ("RMA-9", "RMA-4")
    refused = desk_scan(desk, "RMA-X")
    assert refused.verdict is Verdict.RETURN_REFUSED and "another customer" in refused.message
    assert desk.receipt.rma_ids == ("RMA-9", "RMA-4")
    # an item of either order goes onto its own return
    assert desk_scan(desk, BUDS).verdict is Verdict.NEEDS_SERIAL
    received = desk_scan(desk, "SN-OTHER")
    assert received.verdict is Verdict.ITEM_RECEIVED and received.data["rma_id"] == "RMA-4"


# --- receiving ------------------------------------------------------------------------------------


def test_a_received_item_is_matched_to_the_scan_and_carton_it_left_in(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 2, "EL-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    assert desk_scan(desk, BUDS).verdict is Verdict.NEEDS_SERIAL
    outcome = desk_scan(desk, "SN-2")
    assert outcome.verdict is Verdict.ITEM_RECEIVED, outcome.message
    item = desk.current_item
    assert item is not None and (item.sku, item.serial, item.carton_seq, item.sscc, item.packer) == \
        ("EL-1", "SN-2", 1, shipped["SO-9"], "Pat Packer")
    evidence = desk.evidence(item)
    assert evidence is not None and evidence.serial == "SN-2" and evidence.packer == "Pat Packer"
    assert evidence.weight_g is not None and evidence.sealed_at is not None
    (event,) = events(ctx, "SO-9", "return.item_received")
    assert event.actor == "person:Rae Returns"
    assert event.payload["serial"] == "SN-2" and event.payload["matched_scan"] == evidence.scan_id
    assert event.payload["line"] == {"sku": "EL-1", "qty": 1, "unexpected": False, "unit_price": None, "new": False,
                                     "grown": False}
    assert [e.payload["to"] for e in events(ctx, "SO-9", "return.received")] == ["received"]


def test_a_serial_that_never_shipped_in_the_order_is_refused_and_recorded(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"EL-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, BUDS)
    outcome = desk_scan(desk, "SN-OTHER")  # it left in SO-4
    assert outcome.verdict is Verdict.SERIAL_NOT_SHIPPED
    assert "SN-OTHER never shipped in order SO-9" in outcome.message and "left in order SO-4" in outcome.message
    assert desk.items == []
    with ctx.uow(readonly=True) as uow:
        refused = [e for e in uow.events.since(ctx.clock()) if e.kind == "return.scan_refused"]
    assert [(e.payload["verdict"], e.payload["serial"], e.actor) for e in refused] == \
        [("serial_not_shipped", "SN-OTHER", "person:Rae Returns")]
    # ... and the return's detail (returns show) lists it, with the reason the desk gave
    shown = rs.detail(ctx, rae, "RMA-9")
    assert [(r["verdict"], r["serial"], r["by"]) for r in shown["refused"]] == \
        [("serial_not_shipped", "SN-OTHER", "person:Rae Returns")]
    assert "never shipped in order SO-9" in shown["refused"][0]["reason"]


def test_a_serial_returned_twice_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"EL-1": 2})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, BUDS)
    assert desk_scan(desk, "SN-1").verdict is Verdict.ITEM_RECEIVED
    desk_scan(desk, BUDS)
    again = desk_scan(desk, "SN-1")
    assert again.verdict is Verdict.MORE_THAN_SHIPPED and "already returned" in again.message


def test_a_lot_that_never_left_in_the_order_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"HW-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    assert desk_scan(desk, MUG).verdict is Verdict.NEEDS_LOT
    outcome = desk_scan(desk, "L-8")
    assert outcome.verdict is Verdict.LOT_NOT_SHIPPED and "it shipped lot L-7" in outcome.message
    desk_scan(desk, MUG)
    assert desk_scan(desk, "L-7").verdict is Verdict.ITEM_RECEIVED


def test_more_than_shipped_minus_already_returned_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    announce(ctx, "RMA-9B", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")  # both returns of the order are in the parcel
    assert desk_scan(desk, TEE).verdict is Verdict.ITEM_RECEIVED
    assert desk_scan(desk, TEE).verdict is Verdict.ITEM_RECEIVED
    third = desk_scan(desk, TEE)
    assert third.verdict is Verdict.MORE_THAN_SHIPPED
    assert "shipped 2 of it and 2 already came back" in third.message
    assert sum(i.qty for i in desk.items) == 2


def test_a_product_that_never_left_in_the_order_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    outcome = desk_scan(desk, PUZZLE)
    assert outcome.verdict is Verdict.NOT_IN_ORDER and desk.items == []


def test_an_item_on_no_announced_line_is_recorded_as_unexpected(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    assert desk_scan(desk, TEE).verdict is Verdict.ITEM_RECEIVED
    extra = desk_scan(desk, TEE)  # shipped 2, announced 1
    assert extra.verdict is Verdict.UNEXPECTED_ITEM
    with ctx.uow(readonly=True) as uow:
        lines = uow.returns.get("RMA-9").lines
    assert [(ln.sku, ln.qty, ln.received, ln.unexpected, ln.unit_price) for ln in lines] == [
        ("TS-1", 1, 1, False, None), ("TS-1", 0, 1, True, Decimal("20.00"))]


def test_a_packer_cannot_work_the_returns_desk(ctx, pat, shipped) -> None:
    with pytest.raises(NotAllowed):
        rs.find(ctx, pat, "RET-SO-9")


# --- inspecting -----------------------------------------------------------------------------------


def test_grade_b_without_a_photo_is_refused_with_a_photo_it_is_kept(with_camera, shipped) -> None:
    ctx = with_camera
    rae = ctx.auth.login("RETURNS-001")
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    refused = desk_scan(desk, "GRADE-B")
    assert refused.verdict is Verdict.PHOTO_REQUIRED and desk.current_item.grade is None
    photo = desk_scan(desk, "RET-PHOTO")
    assert photo.verdict is Verdict.PHOTO_TAKEN
    graded = desk_scan(desk, "GRADE-B")
    assert graded.verdict is Verdict.GRADED and desk.current_item.grade == "B"
    (event,) = events(ctx, "SO-9", "return.photo_added")
    data = base64.b64decode(event.payload["data_b64"])
    assert data.startswith(b"\x89PNG") and hashlib.sha256(data).hexdigest() == event.payload["sha256"]
    with ctx.uow(readonly=True) as uow:
        assert uow.photos.data(photo.data["photo_id"]) == data


def test_grade_a_needs_no_photo_and_the_bar_is_configurable(db, shipped) -> None:
    ctx = fake_context(db, returns=ReturnsPolicy(photo_required_below="C"))
    rae = ctx.auth.login("RETURNS-001")
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 2})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    assert desk_scan(desk, "GRADE-B").verdict is Verdict.GRADED  # B is not below C
    desk_scan(desk, "DISP-BSTOCK")
    desk_scan(desk, TEE)
    assert desk_scan(desk, "GRADE-D").verdict is Verdict.PHOTO_REQUIRED
    assert desk_scan(desk, "RET-PHOTO").data["headline"] == "NO CAMERA"


def test_an_unknown_grade_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    outcome = desk_scan(desk, "GRADE-Z")
    assert outcome.verdict is Verdict.RETURN_REFUSED and "A, B, C, D, MISSING, WRONG" in outcome.message


def test_a_note_is_typed_after_ret_note(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    assert desk_scan(desk, "RET-NOTE").verdict is Verdict.NEEDS_NOTE
    noted = desk_scan(desk, "tag missing, box dented", source="typed")
    assert noted.verdict is Verdict.NOTE_ADDED and desk.current_item.notes == "tag missing, box dented"


# --- deciding and restocking ----------------------------------------------------------------------


def test_restock_to_a_bin_writes_one_stock_movement(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    desk_scan(desk, "GRADE-A")
    asked = desk_scan(desk, "DISP-RESTOCK")
    assert asked.verdict is Verdict.NEEDS_LOCATION and asked.data["home"] == "A-01-01"
    done = desk_scan(desk, "DISP-RESTOCK")  # again: its home bin
    assert done.verdict is Verdict.DISPOSITION_SET and "restocked into A-01-01" in done.message
    item = desk.items[0]
    assert rs.restock(ctx, rae, "RMA-9", item.id, "X-99") is False  # a second restock changes nothing
    with ctx.uow(readonly=True) as uow:
        moves = rs.restock_movements(uow, uow.returns.get("RMA-9"))
        ret = uow.returns.get("RMA-9")
    assert [(m.sku, m.location, m.qty, m.kind, m.actor) for m in moves] == [
        ("TS-1", "A-01-01", 1, "returned", "person:Rae Returns")]
    (event,) = events(ctx, "SO-9", "return.restocked")
    assert moves[0].event_id == event.id
    assert ret.status is ReturnStatus.INSPECTED
    again = desk_scan(desk, "GRADE-B")
    assert again.verdict is Verdict.RETURN_REFUSED and "restocked already" in again.message


def test_process_first_and_restock_later(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    desk_scan(desk, "GRADE-A")
    desk_scan(desk, "DISP-RESTOCK")
    later = desk_scan(desk, "RET-LATER")
    assert later.verdict is Verdict.DISPOSITION_SET and "restock later" in later.message
    resolved = desk_scan(desk, "RES-REFUND")
    assert resolved.verdict is Verdict.RETURN_RESOLVED and "return closed" in resolved.message
    item_id = rs.detail(ctx, rae, "RMA-9")["items"][0]["id"]
    with ctx.uow(readonly=True) as uow:
        assert rs.restock_movements(uow, uow.returns.get("RMA-9")) == []
    assert rs.restock(ctx, rae, "RMA-9", item_id, "R-05-01") is True
    assert rs.restock(ctx, rae, "RMA-9", item_id, "R-05-01") is False
    with ctx.uow(readonly=True) as uow:
        assert [(m.location, m.qty) for m in rs.restock_movements(uow, uow.returns.get("RMA-9"))] == [("R-05-01", 1)]


def test_deciding_before_grading_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    assert desk_scan(desk, "DISP-SCRAP").verdict is Verdict.RETURN_REFUSED
    assert desk_scan(desk, "DISP-RESTOCK").verdict is Verdict.NOT_ALLOWED


# --- resolving ------------------------------------------------------------------------------------


def inspect_all(desk: ReturnsDesk, *steps: tuple[str, ...]) -> None:
    for step in steps:
        for code in step:
            outcome = desk_scan(desk, code)
            assert outcome.accepted, (code, outcome.message)


def test_credit_note_numbered_in_series_and_a_double_submit_resolves_once(with_camera, shipped) -> None:
    ctx = with_camera
    rae = ctx.auth.login("RETURNS-001")
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 2})
    desk = desk_for(ctx, rae)
    inspect_all(desk, ("RET-SO-9",), (TEE, "RET-PHOTO", "GRADE-B", "DISP-RESTOCK", "R-01-01"),
                (TEE, "RET-PHOTO", "GRADE-D", "DISP-SCRAP"))
    first = desk_scan(desk, "RES-CREDIT")
    assert first.verdict is Verdict.RETURN_RESOLVED, first.message
    assert first.data["credit_notes"] == ["CN-MAIN-BENCH-01-000001"]
    second = desk_scan(desk, "RES-CREDIT")
    assert second.data["headline"] == "ALREADY RESOLVED" and second.data["created"] == 0
    again = rs.resolve(ctx, rae, "RMA-9", "credit_note")
    assert again.created is False and again.resolution.credit_note == "CN-MAIN-BENCH-01-000001"
    with ctx.uow(readonly=True) as uow:
        notes = uow.returns.credit_notes("RMA-9")
        jobs = [j for j in uow.print_jobs.waiting("BENCH-01") if j.kind == "credit_note"]
        moves = rs.restock_movements(uow, uow.returns.get("RMA-9"))
        ret = uow.returns.get("RMA-9")
    assert [n.number for n in notes] == ["CN-MAIN-BENCH-01-000001"] and len(jobs) == 1 and len(moves) == 1
    assert ret.status is ReturnStatus.CLOSED
    # B and D both came back: both are credited (only units graded missing or wrong are not)
    assert b"CREDIT NOTE CN-MAIN-BENCH-01-000001 SO-9 RMA-9: TS-1 2 x 20.00 total 40.00 EUR" in jobs[0].payload
    # the next credit note is the next number of the series
    announce(ctx, "RMA-4", "SO-4", {"EL-1": 1})
    inspect_all(desk, ("RMA-4",), (BUDS, "SN-OTHER", "GRADE-A", "DISP-QUARANTINE"))
    assert desk_scan(desk, "RES-CREDIT").data["credit_notes"] == ["CN-MAIN-BENCH-01-000002"]
    kinds = [e.kind for e in events(ctx, "SO-9", "return.processed") + events(ctx, "SO-9", "return.closed")]
    assert kinds == ["return.processed", "return.closed"]


def test_a_credit_note_rolled_back_gives_its_number_back(ctx, rae, shipped, db) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    inspect_all(desk, ("RET-SO-9",), (TEE, "GRADE-A", "DISP-RESTOCK", "R-01-01"))
    db.refuse_commit(1)  # the disk is full as the credit note is stored
    with pytest.raises(StorageError):
        rs.resolve(ctx, rae, "RMA-9", "credit_note")
    done = rs.resolve(ctx, rae, "RMA-9", "credit_note")
    assert done.resolution.credit_note == "CN-MAIN-BENCH-01-000001"  # no gap


def test_a_refund_is_only_for_received_lines_and_the_rest_closes_with_nothing_due(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1, "HW-1": 1})
    desk = desk_for(ctx, rae)
    inspect_all(desk, ("RET-SO-9",), (TEE, "GRADE-A", "DISP-BSTOCK"))
    with pytest.raises(rs.ReturnRefused, match="only for received items"):
        rs.resolve(ctx, rae, "RMA-9", "refund", line_nos=[2])
    refund = rs.resolve(ctx, rae, "RMA-9", "refund")
    assert [(ln.line_no, ln.qty, ln.amount) for ln in refund.resolution.lines] == [(1, 1, Decimal("20.00"))]
    assert refund.closed is False
    with ctx.uow(readonly=True) as uow:
        assert uow.returns.get("RMA-9").status is ReturnStatus.PROCESSED
    rest = rs.resolve(ctx, rae, "RMA-9", "none")
    assert rest.closed is True and [ln.line_no for ln in rest.resolution.lines] == [2]


def test_missing_or_wrong_graded_units_get_no_money_back(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 2})
    ctx2 = replace(ctx, returns=ReturnsPolicy(photo_required_below=""))
    desk = desk_for(ctx2, rae)
    inspect_all(desk, ("RET-SO-9",), (TEE, "GRADE-A", "DISP-BSTOCK"), (TEE, "GRADE-WRONG", "DISP-QUARANTINE"))
    refund = rs.resolve(ctx2, rae, "RMA-9", "refund")
    assert [(ln.qty, ln.amount) for ln in refund.resolution.lines] == [(1, Decimal("20.00"))]


def test_the_restocking_fee_is_taken_off_each_line_half_up(db, shipped) -> None:
    ctx = fake_context(db, returns=ReturnsPolicy(restocking_fee_pct=Decimal("12.5"), photo_required_below=""))
    rae = ctx.auth.login("RETURNS-001")
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    inspect_all(desk, ("RET-SO-9",), (TEE, "GRADE-B", "DISP-BSTOCK"))
    refund = rs.resolve(ctx, rae, "RMA-9", "refund")
    (line,) = refund.resolution.lines
    assert (line.amount, line.fee) == (Decimal("17.50"), Decimal("2.50"))
    with pytest.raises(rs.ReturnRefused, match="resolved already"):
        rs.resolve(ctx, rae, "RMA-9", "credit_note", line_nos=[1])


def test_a_resolution_before_inspection_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    with pytest.raises(rs.ReturnRefused, match="nothing has been received"):
        rs.resolve(ctx, rae, "RMA-9", "refund")
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    refused = desk_scan(desk, "RES-REFUND")
    assert refused.verdict is Verdict.RETURN_REFUSED and "still need a grade" in refused.message


def test_a_replacement_is_a_new_order_a_bench_packs(ctx, rae, pat, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"EL-1": 1})
    desk = desk_for(ctx, rae)
    inspect_all(desk, ("RET-SO-9",), (BUDS, "SN-1", "GRADE-A", "DISP-QUARANTINE"))
    resolved = desk_scan(desk, "RES-REPLACE")
    (order_id,) = resolved.data["replacement_orders"]
    assert order_id == "RMA-9-R1"
    with ctx.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
        (received,) = [e for e in uow.events.for_order(order_id) if e.kind == "order.received"]
    assert order is not None and order.status is OrderStatus.RELEASED and order.customer_name == "Anna Schmidt"
    assert [(ln.sku, ln.qty, ln.unit_price) for ln in order.lines] == [("EL-1", 1, Decimal("0.00"))]
    assert received.actor == "person:Rae Returns" and received.payload["replacement_for"] == "RMA-9"
    # it flows to a bench like any other order (a new serial leaves)
    pack_and_seal(ctx, pat, order_id, BUDS, serials={BUDS: ["SN-NEW"]})


def test_the_desk_resumes_the_open_parcel_after_a_logout(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    desk.leave()
    again = ReturnsDesk(ctx, ctx.auth.login("RETURNS-001"))
    start = again.start()
    assert start.data.get("resumed") and again.current_item is not None and again.current_item.sku == "TS-1"


def test_a_lead_works_the_desk_too(ctx, shipped) -> None:
    lee = ctx.auth.login("LEAD-001", "1234", desk=Desk.RETURNS)
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, lee)
    assert desk_scan(desk, "RET-SO-9").verdict is Verdict.RETURN_OPENED


def test_figures_by_reason_grade_sku_and_packer(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 2}, reason="too small")
    ctx2 = replace(ctx, returns=ReturnsPolicy(photo_required_below=""))
    desk = desk_for(ctx2, rae)
    inspect_all(desk, ("RET-SO-9",), (TEE, "GRADE-A", "DISP-BSTOCK"), (TEE, "GRADE-C", "DISP-REFURBISH"))
    lee = ctx.auth.login("LEAD-001", "1234", desk=Desk.RETURNS)
    figures = rs.figures(ctx, lee)
    assert (figures.returns, figures.units) == (1, 2)
    assert figures.by_reason == {"too small": 2} and figures.by_grade == {"A": 1, "C": 1}
    assert figures.by_sku == {"TS-1": 2} and figures.by_packer == {"Pat Packer": 2}
    with pytest.raises(NotAllowed):
        rs.figures(ctx, rae)


def test_detail_lists_lines_with_expected_received_grades_and_resolution(with_camera, shipped) -> None:
    ctx = with_camera
    rae = ctx.auth.login("RETURNS-001")
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 2})
    desk = desk_for(ctx, rae)
    inspect_all(desk, ("RET-SO-9",), (TEE, "RET-PHOTO", "GRADE-B", "DISP-RESTOCK", "R-01-01"),
                (TEE, "RET-PHOTO", "GRADE-D", "DISP-SCRAP"), ("RES-CREDIT",))
    shown = rs.detail(ctx, rae, "RMA-9")
    (line,) = shown["lines"]
    assert (line["expected"], line["received"], line["grades"], line["dispositions"]) == (2, 2, ["B", "D"],
                                                                                       ["restock", "scrap"])
    assert line["grade"] == "mixed" and len(line["photos"]) == 2
    assert line["resolution"]["kind"] == "credit_note" and line["resolution"]["amount"] == "40.00"
    assert shown["credit_note"] == "CN-MAIN-BENCH-01-000001" and shown["status"] == "closed"
    assert shown["items"][0]["shipped"]["packer"] == "Pat Packer"


def test_the_bench_photographs_each_sealed_carton_when_it_has_a_camera(db, tmp_path, pat) -> None:
    from packstation.services.bench import Bench

    ctx = fake_context(db, cameras=Cameras(bench=FolderCamera(camera_folder(tmp_path / "bench-cam", 1))))
    packer = ctx.auth.login("PACKER-001")
    bench = Bench(ctx, packer)
    bench.start()
    from packstation.domain.barcodes import RawScan, interpret

    for code in ("SO-1", "BOX-S", TEE, TEE, "CMD-CLOSE-CARTON"):
        bench.handle(interpret(code), RawScan.from_wire(code))
    carton = bench.pack.open_carton
    sealed = bench.close_with_weight(bench.pack.expected_weight(carton))
    assert sealed.verdict is Verdict.ORDER_COMPLETE and sealed.data["carton_photo"]
    with ctx.uow(readonly=True) as uow:
        (photo,) = uow.photos.of("carton", "SO-1/1")
        (unit, _) = uow.returns.shipped("SO-1")
    assert photo.id == sealed.data["carton_photo"] and unit.carton_photo == photo.id


def test_a_failing_bench_camera_costs_the_photo_never_the_seal(db, tmp_path) -> None:
    from packstation.domain.barcodes import RawScan, interpret
    from packstation.services.bench import Bench

    ctx = fake_context(db, cameras=Cameras(bench=FolderCamera(tmp_path / "empty")))
    (tmp_path / "empty").mkdir()
    bench = Bench(ctx, ctx.auth.login("PACKER-001"))
    bench.start()
    for code in ("SO-1", "BOX-S", TEE, TEE, "CMD-CLOSE-CARTON"):
        bench.handle(interpret(code), RawScan.from_wire(code))
    sealed = bench.close_with_weight(bench.pack.expected_weight(bench.pack.open_carton))
    assert sealed.verdict is Verdict.ORDER_COMPLETE and "No carton photo" in sealed.message


def test_a_picture_that_is_not_an_image_is_refused(ctx, rae, shipped) -> None:
    announce(ctx, "RMA-9", "SO-9", {"TS-1": 1})
    desk = desk_for(ctx, rae)
    desk_scan(desk, "RET-SO-9")
    desk_scan(desk, TEE)
    from packstation.services.photos import CameraError

    with pytest.raises(CameraError, match="neither a JPEG nor a PNG"):
        rs.add_photo(ctx, rae, "RMA-9", desk.current, Picture(b"GIF89a...", "image/gif"))
    assert rs.add_photo(ctx, rae, "RMA-9", desk.current, Picture(png(), "image/png"))


def test_packing_still_refuses_a_claim_of_a_delivered_order(ctx, pat, shipped) -> None:
    with pytest.raises(packing.OrderRefused):
        packing.claim_order(ctx, pat, "SO-9")
