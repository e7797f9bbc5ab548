"""Packing use cases at a bench, on the fake storage: claim, scan, seal, undo, short-ship, override.

Each test is one situation at the bench told through the use cases (``services.packing``) with
real sessions from the Authenticator: what the packer or the lead does, what the bench answers,
and what was stored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fakes import NOW, FakeDatabase, an_order, fake_context
from warehouse import (
    BUDS,
    LEAD_PIN,
    MUG,
    NOT_IN_CATALOG,
    SERUM,
    TEE,
    claim_with_items,
    event_kinds,
    scan,
)

from packstation.domain.barcodes import lookup_key, sscc18
from packstation.domain.identity import ActorKind, Permission, Role, Session
from packstation.domain.lifecycle import OrderStatus, TransitionRefused
from packstation.domain.packing import CartonStatus, Verdict
from packstation.services import packing
from packstation.services.auth import LoginRefused, NotAllowed, PinRequired
from packstation.services.context import Context, PackingSettings
from packstation.services.lifecycle import change_status
from packstation.services.packing import OrderRefused
from packstation.services.ports import Claim, Conflict

FIRST_SSCC = sscc18(0, "0614141", 1)


def stored_order(ctx: Context, order_id: str) -> tuple[Any, Any]:
    """The order and its claim as stored."""
    with ctx.uow(readonly=True) as uow:
        return uow.orders.get(order_id), uow.orders.claim_of(order_id)


# --- claiming -----------------------------------------------------------------------------------


def test_a_packer_claims_an_order_by_its_number(ctx: Context, pat: Session) -> None:
    pack = packing.claim_order(ctx, pat, "SO-1")

    assert pack.order.order_id == "SO-1" and pack.order.status is OrderStatus.PACKING
    order, claim = stored_order(ctx, "SO-1")
    assert claim == Claim("SO-1", OrderStatus.PACKING, "BENCH-01", "Pat Packer", NOW)
    with ctx.uow(readonly=True) as uow:
        events = [(e.kind, e.actor, e.payload) for e in uow.events.for_order("SO-1")]
    assert events == [("order.packing", "person:Pat Packer", {"from": "released", "to": "packing"}),
                      ("order.claimed", "person:Pat Packer", {"station": "BENCH-01"})]


def test_a_tote_barcode_claims_its_order(ctx: Context, pat: Session) -> None:
    assert packing.claim_order(ctx, pat, "TOTE-001").order.order_id == "SO-1"


def test_an_order_another_bench_holds_is_refused_with_that_benchs_name(ctx: Context, bench2: Context,
                                                                       pat: Session) -> None:
    packing.claim_order(bench2, bench2.auth.login("PACKER-002", "2468"), "SO-1")

    with pytest.raises(OrderRefused, match="being packed at BENCH-02 by Olu Other"):
        packing.claim_order(ctx, pat, "SO-1")


@pytest.mark.parametrize("code, why", [
    ("SO-HOLD", "is on hold \\(payment not received\\): it cannot be packed"),
    ("SO-DONE", "is already packed"),
    ("SO-404", "No order or tote 'SO-404'"),
])
def test_an_order_that_cannot_be_packed_is_refused_saying_why(ctx: Context, pat: Session, code: str, why: str) -> None:
    with pytest.raises(OrderRefused, match=why):
        packing.claim_order(ctx, pat, code)
    assert event_kinds(ctx, code) == []


def test_claim_next_takes_the_oldest_order_no_bench_holds(ctx: Context, bench2: Context, pat: Session) -> None:
    packing.claim_order(bench2, bench2.auth.login("PACKER-002", "2468"), "SO-1")

    pack = packing.claim_next_order(ctx, pat)

    assert pack is not None and pack.order.order_id == "SO-2"


def test_a_dispatch_user_cannot_pack(ctx: Context) -> None:
    dee = ctx.auth.login("DISPATCH-001")
    with pytest.raises(NotAllowed, match="Packing needs a packer or lead; Dee Dispatch is dispatch"):
        packing.claim_order(ctx, dee, "SO-1")


def test_a_made_up_session_cannot_pack(ctx: Context) -> None:
    forged = Session(id="x", kind=ActorKind.PERSON, name="Lee Lead", role=Role.LEAD, station_id="BENCH-01",
                     started_at=NOW, user_id=3)
    with pytest.raises(NotAllowed, match="not .*issued at this station"):
        packing.claim_order(ctx, forged, "SO-1")
    assert stored_order(ctx, "SO-1")[1] == Claim("SO-1", OrderStatus.RELEASED)


def test_after_a_logout_the_bench_resumes_the_order_it_holds(ctx: Context, pat: Session) -> None:
    claim_with_items(ctx, pat, "SO-1", TEE)

    again = packing.resume_session(ctx, ctx.auth.login("PACKER-001"))

    assert again is not None and again.order.lines[0].packed == 1
    assert [i.sku for i in again.items] == ["TS-1"]


# --- the lifecycle --------------------------------------------------------------------------------


def test_a_status_change_the_lifecycle_forbids_is_refused_and_not_stored(ctx: Context) -> None:
    cli = ctx.auth.system(ActorKind.CLI, "root")
    with pytest.raises(TransitionRefused, match="Order SO-1 is released: it cannot become delivered"), ctx.uow() as uow:
        change_status(uow, ctx, cli, "SO-1", OrderStatus.RELEASED, OrderStatus.DELIVERED)
    assert stored_order(ctx, "SO-1")[0].status is OrderStatus.RELEASED
    assert event_kinds(ctx, "SO-1") == []


def test_a_status_that_changed_meanwhile_is_a_conflict(ctx: Context) -> None:
    cli = ctx.auth.system(ActorKind.CLI, "root")
    with pytest.raises(Conflict, match="no longer on_hold"), ctx.uow() as uow:
        change_status(uow, ctx, cli, "SO-1", OrderStatus.ON_HOLD, OrderStatus.RELEASED)  # it is released already


def test_a_packed_order_cannot_be_packed_again(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    assert packing.close_carton(ctx, pat, pack, 550).verdict is Verdict.ORDER_COMPLETE

    with pytest.raises(OrderRefused, match="SO-1 is already packed"):
        packing.claim_order(ctx, pat, "SO-1")


# --- item scans -----------------------------------------------------------------------------------


def test_an_item_scan_is_stored_and_then_counted(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1")

    outcome = scan(ctx, pat, pack, TEE)

    assert outcome.verdict is Verdict.ACCEPTED and outcome.message == "Cotton tee: 1 of 2"
    assert pack.order.lines[0].packed == 1
    assert stored_order(ctx, "SO-1")[0].lines[0].packed == 1
    with ctx.uow(readonly=True) as uow:
        (record,) = uow.shipments.scans("SO-1")
        (event,) = [e for e in uow.events.for_order("SO-1") if e.kind == "scan.recorded"]
    assert (record.item.sku, record.item.carton_seq, record.item.source, record.station_id) == ("TS-1", 1, "wedge", "BENCH-01")
    assert (event.actor, event.payload["sku"], event.payload["source"]) == ("person:Pat Packer", "TS-1", "wedge")


def test_an_item_before_any_carton_asks_for_a_carton(ctx: Context, pat: Session) -> None:
    pack = packing.claim_order(ctx, pat, "SO-1")
    assert scan(ctx, pat, pack, TEE).verdict is Verdict.NEEDS_CARTON
    assert pack.order.lines[0].packed == 0


@pytest.mark.parametrize("code, verdict, says", [
    (MUG, Verdict.WRONG_ITEM, "Ceramic mug (HW-1) is not on this order"),
    (NOT_IN_CATALOG, Verdict.UNKNOWN_BARCODE, "no product of the catalog"),
])
def test_an_item_not_on_the_order_is_refused_counted_as_an_error_and_not_packed(
        ctx: Context, pat: Session, code: str, verdict: Verdict, says: str) -> None:
    pack = claim_with_items(ctx, pat, "SO-1")

    outcome = scan(ctx, pat, pack, code)

    assert outcome.verdict is verdict and says in outcome.message
    assert pack.order.lines[0].packed == 0
    with ctx.uow(readonly=True) as uow:
        assert uow.shipments.scans("SO-1") == []
        refused = [e.payload for e in uow.events.for_order("SO-1") if e.kind == "scan.refused"]
    assert refused == [{"verdict": verdict.value, "sku": outcome.sku, "barcode": lookup_key(code), "source": "wedge"}]


def test_one_more_than_ordered_is_an_over_scan(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    assert scan(ctx, pat, pack, TEE).verdict is Verdict.OVER_SCAN
    assert stored_order(ctx, "SO-1")[0].lines[0].packed == 2


def test_a_typed_sku_does_not_count_unless_the_station_allows_it(db: FakeDatabase, ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1")

    refused = scan(ctx, pat, pack, "TS-1", source="typed")

    assert refused.verdict is Verdict.NOT_ALLOWED and "typed SKU does not count" in refused.message
    assert pack.order.lines[0].packed == 0
    lenient = fake_context(db, packing=PackingSettings(accept_typed_sku=True))
    assert scan(lenient, pat, pack, "TS-1", source="typed").verdict is Verdict.ACCEPTED
    with ctx.uow(readonly=True) as uow:
        assert [r.item.source for r in uow.shipments.scans("SO-1")] == ["typed"]


def test_a_scan_the_database_refuses_is_not_counted(db: FakeDatabase, ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1")
    db.refuse_commit()

    outcome = scan(ctx, pat, pack, TEE)

    assert outcome.verdict is Verdict.STORAGE_FAILED and outcome.message.startswith("NOT SAVED — scan again.")
    assert pack.order.lines[0].packed == 0 and pack.items == []
    assert stored_order(ctx, "SO-1")[0].lines[0].packed == 0
    assert scan(ctx, pat, pack, TEE).message == "Cotton tee: 1 of 2"  # scanning again works


def test_a_lot_tracked_item_takes_its_lot_and_the_stocks_expiry(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-3")

    assert scan(ctx, pat, pack, SERUM).verdict is Verdict.NEEDS_LOT
    outcome = packing.record_detail(ctx, pat, pack, "l-good")

    assert outcome.verdict is Verdict.ACCEPTED
    (item,) = pack.items
    assert (item.lot, item.expiry.isoformat()) == ("L-GOOD", "2027-01-31")


def test_an_expired_lot_is_refused(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-3")
    scan(ctx, pat, pack, SERUM)

    outcome = packing.record_detail(ctx, pat, pack, "L-OLD")

    assert outcome.verdict is Verdict.EXPIRED_LOT and "expired on 2026-01-31" in outcome.message
    assert pack.items == []


def test_a_lot_of_a_product_with_no_stock_lots_is_taken_as_scanned_and_recorded_unverified(
        ctx: Context, pat: Session) -> None:
    """Issue 9, item 1: the warehouse knows no lot of HW-1 (the default ``unknown_lot = refuse``
    does not apply): the lot is taken as scanned, the bench says so, the scan's event records it."""
    with ctx.uow(readonly=True) as uow:
        assert uow.catalog.lots("HW-1") == []
    with ctx.uow() as uow:
        uow.orders.add_many([(an_order("SO-MUG", {"HW-1": 1}), "fp-SO-MUG")], NOW)
        uow.commit()
    pack = claim_with_items(ctx, pat, "SO-MUG")

    assert scan(ctx, pat, pack, MUG).verdict is Verdict.NEEDS_LOT
    outcome = packing.record_detail(ctx, pat, pack, "MUG-LOT-7")

    assert outcome.verdict is Verdict.ACCEPTED
    assert "lot MUG-LOT-7 not in the stock records: taken as scanned" in outcome.message
    assert outcome.data["lot_unverified"] is True
    (item,) = pack.items
    assert (item.sku, item.lot) == ("HW-1", "MUG-LOT-7")
    with ctx.uow(readonly=True) as uow:
        [event] = [e for e in uow.events.for_order("SO-MUG") if e.kind == "scan.recorded"]
        assert [r.item.lot for r in uow.shipments.scans("SO-MUG")] == ["MUG-LOT-7"]
    assert event.payload["lot"] == "MUG-LOT-7" and event.payload["lot_unverified"] is True


def test_a_serial_that_left_in_another_order_is_refused(ctx: Context, pat: Session) -> None:
    first = claim_with_items(ctx, pat, "SO-2")
    scan(ctx, pat, first, BUDS)
    assert packing.record_detail(ctx, pat, first, "SN-0001").verdict is Verdict.ACCEPTED
    packing.release_order(ctx, pat, first)

    second = claim_with_items(ctx, pat, "SO-4")
    assert scan(ctx, pat, second, BUDS).verdict is Verdict.NEEDS_SERIAL
    outcome = packing.record_detail(ctx, pat, second, "SN-0001")

    assert outcome.verdict is Verdict.SERIAL_ALREADY_SHIPPED
    assert second.items == []


# --- sealing ----------------------------------------------------------------------------------------


def test_sealing_the_last_carton_packs_the_order(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)  # 150 g box + 2 x 200 g

    outcome = packing.close_carton(ctx, pat, pack, 562)

    assert outcome.verdict is Verdict.ORDER_COMPLETE and outcome.data["sscc"] == FIRST_SSCC
    order, claim = stored_order(ctx, "SO-1")
    assert order.status is OrderStatus.PACKED and claim.station_id is None  # the bench lets go
    with ctx.uow(readonly=True) as uow:
        (carton,) = uow.shipments.cartons("SO-1", {})
    assert (carton.status, carton.measured_g, carton.expected_g, carton.sscc) == (CartonStatus.CLOSED, 562, 550, FIRST_SSCC)
    assert carton.closed_at == NOW
    assert event_kinds(ctx, "SO-1")[-1] == "order.packed"


def test_a_carton_sealed_with_items_left_says_how_many(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)

    outcome = packing.close_carton(ctx, pat, pack, 350)

    assert outcome.verdict is Verdict.CARTON_CLOSED and "1 item(s) left: open the next carton" in outcome.message
    assert stored_order(ctx, "SO-1")[0].status is OrderStatus.PACKING


def test_every_carton_gets_its_own_sscc(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)
    first = packing.close_carton(ctx, pat, pack, 350).data["sscc"]
    packing.open_carton(ctx, pat, pack, "BOX-S")
    scan(ctx, pat, pack, TEE)
    second = packing.close_carton(ctx, pat, pack, 350).data["sscc"]
    assert (first, second) == (FIRST_SSCC, sscc18(0, "0614141", 2))


def test_a_carton_out_of_tolerance_is_blocked(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)

    outcome = packing.close_carton(ctx, pat, pack, 700)

    assert outcome.verdict is Verdict.CARTON_BLOCKED and "expected 550 g ± 27 g (150 g heavier)" in outcome.message
    with ctx.uow(readonly=True) as uow:
        (carton,) = uow.shipments.cartons("SO-1", {})
    assert (carton.status, carton.measured_g, carton.sscc) == (CartonStatus.BLOCKED, 700, None)
    assert stored_order(ctx, "SO-1")[0].status is OrderStatus.PACKING


def test_a_lead_overrides_a_blocked_carton_with_badge_pin_and_a_reason(ctx: Context, pat: Session,
                                                                      lead_approval: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    packing.close_carton(ctx, pat, pack, 700)

    outcome = packing.override_carton(ctx, pat, pack, lead_approval, "catalog weight is wrong")

    assert outcome.verdict is Verdict.ORDER_COMPLETE and outcome.data["headline"] == "OVERRIDDEN"
    with ctx.uow(readonly=True) as uow:
        (carton,) = uow.shipments.cartons("SO-1", {})
        (event,) = [e for e in uow.events.for_order("SO-1") if e.kind == "carton.overridden"]
    assert (carton.status, carton.measured_g, carton.override_by) == (CartonStatus.CLOSED, 700, "Lee Lead")
    assert event.actor == "person:Lee Lead"
    assert (event.payload["reason"], event.payload["packer"]) == ("catalog weight is wrong", "person:Pat Packer")


def test_a_packer_cannot_approve_an_override(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    packing.close_carton(ctx, pat, pack, 700)

    with pytest.raises(NotAllowed, match="needs a lead"):
        packing.override_carton(ctx, pat, pack, pat, "scale reads wrong")
    with pytest.raises(NotAllowed, match="needs a lead"):
        ctx.auth.approve("PACKER-002", "2468", Permission.APPROVE, "Overriding a blocked carton")
    assert pack.open_carton is not None and pack.open_carton.status is CartonStatus.BLOCKED


def test_a_leads_approval_needs_the_right_pin(ctx: Context) -> None:
    with pytest.raises(PinRequired):
        ctx.auth.approve("LEAD-001", None, Permission.APPROVE, "Overriding a blocked carton")
    with pytest.raises(LoginRefused, match="Wrong PIN"):
        ctx.auth.approve("LEAD-001", "0000", Permission.APPROVE, "Overriding a blocked carton")


def test_an_override_needs_a_blocked_carton_and_a_reason(ctx: Context, pat: Session, lead_approval: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    assert packing.override_carton(ctx, pat, pack, lead_approval, "other").message == "No blocked carton to override."
    packing.close_carton(ctx, pat, pack, 700)
    assert "needs a reason" in packing.override_carton(ctx, pat, pack, lead_approval, "  ").message


def test_a_packer_fixing_a_blocked_carton_reopens_it(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)
    packing.close_carton(ctx, pat, pack, 900)

    scan(ctx, pat, pack, TEE)  # the missing tee was the problem

    with ctx.uow(readonly=True) as uow:
        (carton,) = uow.shipments.cartons("SO-1", {})
    assert (carton.status, carton.measured_g) == (CartonStatus.OPEN, None)
    assert packing.close_carton(ctx, pat, pack, 550).verdict is Verdict.ORDER_COMPLETE


# --- undo -------------------------------------------------------------------------------------------


def test_a_packer_undoes_their_own_last_scan(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)

    outcome = packing.undo_last_scan(ctx, pat, pack)

    assert outcome.verdict is Verdict.UNDONE and "(1 of 2)" in outcome.message
    assert pack.order.lines[0].packed == 1 and stored_order(ctx, "SO-1")[0].lines[0].packed == 1
    with ctx.uow(readonly=True) as uow:
        history = uow.shipments.scans("SO-1")
    assert [(r.undone_at, r.undone_by) for r in history] == [(None, None), (NOW, "Pat Packer")]


def test_a_packer_cannot_undo_another_packers_scan_but_a_lead_can(ctx: Context, pat: Session, lee: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)
    olu = ctx.auth.login("PACKER-002", "2468")

    assert packing.undo_last_scan(ctx, olu, pack).verdict is Verdict.NOTHING_TO_UNDO
    assert packing.undo_last_scan(ctx, lee, pack).verdict is Verdict.UNDONE
    assert pack.items == []


def test_a_scan_in_a_sealed_carton_cannot_be_undone(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)
    packing.close_carton(ctx, pat, pack, 350)
    assert packing.undo_last_scan(ctx, pat, pack).verdict is Verdict.NOTHING_TO_UNDO


def test_undoing_a_serial_lets_that_unit_leave_in_another_order(ctx: Context, pat: Session) -> None:
    first = claim_with_items(ctx, pat, "SO-2")
    scan(ctx, pat, first, BUDS)
    packing.record_detail(ctx, pat, first, "SN-0001")
    packing.undo_last_scan(ctx, pat, first)
    packing.release_order(ctx, pat, first)

    second = claim_with_items(ctx, pat, "SO-4")
    scan(ctx, pat, second, BUDS)
    assert packing.record_detail(ctx, pat, second, "SN-0001").verdict is Verdict.ACCEPTED


# --- short-ship ---------------------------------------------------------------------------------------


def test_a_lead_short_ships_what_is_missing_and_the_order_is_packed(ctx: Context, pat: Session,
                                                                     lead_approval: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-2", TEE)  # the earbuds are not on the shelf
    packing.close_carton(ctx, pat, pack, 350)

    outcome = packing.short_ship(ctx, pat, pack, lead_approval, "not available at pick")

    assert outcome.verdict is Verdict.ORDER_COMPLETE and "1 item(s) will not ship" in outcome.message
    order, claim = stored_order(ctx, "SO-2")
    assert order.status is OrderStatus.PACKED and claim.station_id is None
    assert [(ln.sku, ln.packed, ln.short, ln.short_reason) for ln in order.lines] == [
        ("TS-1", 1, 0, None), ("EL-1", 0, 1, "not available at pick")]
    with ctx.uow(readonly=True) as uow:
        (event,) = [e for e in uow.events.for_order("SO-2") if e.kind == "order.short_shipped"]
    assert event.actor == "person:Lee Lead" and event.payload["packer"] == "person:Pat Packer"
    assert event.payload["lines"] == [{"sku": "EL-1", "short": 1}]


def test_a_short_ship_with_items_in_an_open_carton_waits_for_the_seal(ctx: Context, pat: Session,
                                                                       lead_approval: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-2", TEE)

    assert packing.short_ship(ctx, pat, pack, lead_approval, "damaged in stock").verdict is Verdict.SHORT_SHIPPED
    assert stored_order(ctx, "SO-2")[0].status is OrderStatus.PACKING
    assert packing.close_carton(ctx, pat, pack, 350).verdict is Verdict.ORDER_COMPLETE


def test_a_short_ship_is_refused_without_reason_without_items_or_without_a_lead(ctx: Context, pat: Session,
                                                                                 lead_approval: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-2")
    assert "empty parcel" in packing.short_ship(ctx, pat, pack, lead_approval, "other").message
    scan(ctx, pat, pack, TEE)
    assert packing.short_ship(ctx, pat, pack, lead_approval, " ").message == "A short-ship needs a reason."
    with pytest.raises(NotAllowed, match="A short-ship needs a lead"):
        packing.short_ship(ctx, pat, pack, pat, "other")
    assert stored_order(ctx, "SO-2")[0].lines[1].short == 0


def test_a_short_ship_approved_by_an_edited_session_is_refused(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-2", TEE)
    promoted = replace(pat, role=Role.LEAD)  # keeps the proof, which no longer fits
    with pytest.raises(NotAllowed, match="not .*issued at this station"):
        packing.short_ship(ctx, pat, pack, promoted, "other")


# --- releasing --------------------------------------------------------------------------------------


def test_a_packer_puts_an_order_back_and_another_bench_carries_on(ctx: Context, bench2: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)

    assert packing.release_order(ctx, pat, pack).verdict is Verdict.ORDER_RELEASED

    elsewhere = packing.claim_order(bench2, bench2.auth.login("PACKER-002", "2468"), "SO-1")
    assert elsewhere.order.lines[0].packed == 1 and len(elsewhere.items) == 1


def test_a_lead_releases_a_stuck_claim_and_the_old_bench_stores_nothing_more(ctx: Context, bench2: Context,
                                                                             pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)
    lee_at_bench2 = bench2.auth.login("LEAD-001", LEAD_PIN)

    released = packing.release_claim(bench2, lee_at_bench2, "SO-1", "bench 1 crashed")
    outcome = scan(ctx, pat, pack, TEE)

    assert released.message == "Order SO-1 released from BENCH-01."
    assert outcome.verdict is Verdict.ORDER_REFUSED and outcome.data["claim_lost"] is True
    assert "NOT SAVED — order SO-1 was released from this bench" in outcome.message
    assert stored_order(ctx, "SO-1")[0].lines[0].packed == 1
    with ctx.uow(readonly=True) as uow:
        (event,) = [e for e in uow.events.for_order("SO-1") if e.kind == "order.claim_released"]
    assert event.actor == "person:Lee Lead" and event.payload["reason"] == "bench 1 crashed"


def test_releasing_another_benchs_claim_needs_a_lead_and_a_reason(ctx: Context, pat: Session, lee: Session) -> None:
    packing.claim_order(ctx, pat, "SO-1")
    with pytest.raises(NotAllowed):
        packing.release_claim(ctx, pat, "SO-1", "I want it")
    assert packing.release_claim(ctx, lee, "SO-1", "").verdict is Verdict.NOT_ALLOWED
    assert stored_order(ctx, "SO-1")[1].station_id == "BENCH-01"
