"""A return becomes *picked* from tracking: the return parcel's tracking number (an optional field of
the returns record), a ``tracking`` import row for it, and the carrier tracking poller asking the
carrier about initiated returns' parcels. On the fake storage; the carrier is a CarrierPort whose
answers the test sets (the real simulated carrier: tests/shipping/test_return_tracking_flow.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import an_order
from returns_helpers import deliver, desk_scan, pack_and_seal
from warehouse import TEE

from packstation.domain.identity import ActorKind, Session
from packstation.domain.lifecycle import OrderStatus, ReturnStatus
from packstation.domain.packing import Verdict
from packstation.services import imports
from packstation.services import returns as rs
from packstation.services.carriers import (
    CarrierError,
    CarrierPort,
    Carriers,
    CreatedLabel,
    ShipmentRequest,
    TrackingPoller,
    TrackingUpdate,
    poll_tracking,
)
from packstation.services.context import Context
from packstation.services.imports import ImportReport, import_records
from packstation.services.returns_desk import ReturnsDesk

PARCEL = "JJD0001RET1"  # the return label's tracking number
AT = "2026-11-24T09:30:00+01:00"


class AnsweringCarrier(CarrierPort):
    """A carrier account whose tracking answers are what the test put in :attr:`answers`."""

    connector = "test"
    min_poll_interval_s = 0.0

    def __init__(self, code: str) -> None:
        self.code = code
        self.answers: dict[str, OrderStatus | None] = {}
        self.asked: list[list[str]] = []

    def create_shipment(self, request: ShipmentRequest) -> CreatedLabel:
        raise AssertionError("no labels in these tests")

    def void(self, shipment_id: str) -> None:
        raise AssertionError("no labels in these tests")

    failing = False  # True: every tracking request fails as a carrier's outage does

    def track(self, tracking_numbers: list[str]) -> list[TrackingUpdate]:
        self.asked.append(list(tracking_numbers))
        if self.failing:
            raise CarrierError("DHL: 503 Service Unavailable (test)")
        at = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
        return [TrackingUpdate(n, self.answers[n], at, "Parcel handed in at a parcel shop", "PU")
                for n in tracking_numbers if n in self.answers]


@pytest.fixture
def shipped(ctx: Context, pat: Session) -> str:
    """SO-9 (4 tees) packed by Pat, sealed and delivered (DHL); returns its carton's SSCC."""
    with ctx.uow() as uow:
        uow.orders.add_many([(an_order("SO-9", {"TS-1": 4}, unit_price="20.00"), "fp-9")], ctx.clock())
        uow.commit()
    sscc = pack_and_seal(ctx, pat, "SO-9", TEE, TEE, TEE, TEE)
    deliver(ctx, "SO-9")
    return sscc


def importer(ctx: Context) -> Session:
    return ctx.auth.system(ActorKind.IMPORT, "pat")


def a_return(rma_id: str = "RMA-9", **more: Any) -> dict[str, Any]:
    return {"rma_id": rma_id, "order_id": "SO-9", "reason": "too small", "lines": [{"sku": "TS-1", "qty": 1}],
            "status": "initiated", **more}


def imported(ctx: Context, kind: str, *records: dict[str, Any]) -> ImportReport:
    return import_records(ctx, importer(ctx), kind, [(f"record {n}", r) for n, r in enumerate(records, 1)], f"{kind}.json")


def the_return(ctx: Context, rma_id: str = "RMA-9") -> Any:
    with ctx.uow(readonly=True) as uow:
        return uow.returns.get(rma_id)


def picked_events(ctx: Context) -> list[Any]:
    with ctx.uow(readonly=True) as uow:
        return [e for e in uow.events.for_order("SO-9") if e.kind == "return.picked"]


def with_carriers(ctx: Context, *accounts: CarrierPort) -> Context:
    return replace(ctx, carriers=Carriers({a.code: a for a in accounts}))


# --- the record --------------------------------------------------------------------------------


def test_a_returns_record_carries_its_parcels_tracking_number_and_carrier(ctx, shipped) -> None:
    report = imported(ctx, "returns", a_return(tracking_number=PARCEL), a_return("RMA-10", tracking_number="1Z-RET",
                                                                                   carrier="UPS"))
    assert report.ok and report.created == 2, report
    first, second = the_return(ctx), the_return(ctx, "RMA-10")
    assert (first.tracking_number, first.carrier) == (PARCEL, "DHL")  # the order's carrier unless the record says
    assert (second.tracking_number, second.carrier) == ("1Z-RET", "UPS")
    shown = rs.detail(ctx, ctx.auth.login("RETURNS-001"), "RMA-9")
    assert (shown["tracking_number"], shown["carrier"]) == (PARCEL, "DHL")
    with ctx.uow(readonly=True) as uow:  # the import's event carries them (the centre replays it)
        [event] = [e for e in uow.events.for_order("SO-9")
                   if e.kind == "return.initiated" and e.payload["rma_id"] == "RMA-9"]
    assert (event.payload["tracking_number"], event.payload["carrier"]) == (PARCEL, "DHL")
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL)).unchanged == 1  # the same file again


def test_a_record_without_a_parcel_keeps_its_fingerprint(ctx, shipped) -> None:
    assert imported(ctx, "returns", a_return()).created == 1
    with ctx.uow(readonly=True) as uow:
        before = uow.returns.imported(["RMA-9"])["RMA-9"].fingerprint
    # a record without tracking_number has the fingerprint it had before the field existed (the
    # record's four fields and its lines), so a database's returns import again as unchanged
    old = {"rma_id": "RMA-9", "order_id": "SO-9", "reason": "too small", "status": "initiated"}
    assert before == imports._hash([old, [("TS-1", 1)]])
    assert imported(ctx, "returns", a_return()).unchanged == 1
    changed = imported(ctx, "returns", a_return(tracking_number=PARCEL))
    assert changed.updated == 1 and the_return(ctx).tracking_number == PARCEL
    with ctx.uow(readonly=True) as uow:
        assert uow.returns.imported(["RMA-9"])["RMA-9"].fingerprint != before


@pytest.mark.parametrize(("fields", "reason"), [
    ({"carrier": "DHL"}, "carrier is the return parcel's carrier: give the parcel's tracking_number too"),
    ({"tracking_number": "X" * 65}, "tracking_number"),
])
def test_a_bad_parcel_in_a_returns_record_is_refused(ctx, shipped, fields, reason) -> None:
    report = imported(ctx, "returns", a_return(**fields))
    assert not report.ok and reason in report.rejected[0].reason
    assert the_return(ctx) is None


def test_the_outbound_parcels_tracking_number_is_no_return_parcel(ctx, shipped) -> None:
    with ctx.uow() as uow:
        uow.orders.add_many([(an_order("SO-7", {"TS-1": 1}, tracking_number="AWB-OUT-7", status=OrderStatus.PACKED),
                              "fp-7")], ctx.clock())
        uow.commit()
    report = imported(ctx, "returns", a_return(tracking_number="AWB-OUT-7"))
    assert [r.reason for r in report.rejected] == ["tracking_number AWB-OUT-7 is the parcel order SO-7 went out in, "
                                                   "not a return parcel"]


# --- a tracking import ---------------------------------------------------------------------------


def test_a_tracking_row_of_the_return_parcel_moves_the_return_to_picked_once(ctx, shipped) -> None:
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL)).ok
    report = imported(ctx, "tracking", {"tracking_number": PARCEL, "status": "in_transit", "at": AT},
                      {"tracking_number": PARCEL, "status": "delivered", "at": "2026-11-25T11:00:00+01:00"})
    assert report.ok and (report.updated, report.unchanged) == (1, 1), report
    assert the_return(ctx).status is ReturnStatus.PICKED  # delivered to the warehouse: still only picked
    [event] = picked_events(ctx)
    assert event.actor == "import:pat"
    assert event.payload["from"] == "initiated" and event.payload["to"] == "picked"
    assert event.payload["tracking_number"] == PARCEL and event.payload["source"] == "import"
    again = imported(ctx, "tracking", {"tracking_number": PARCEL, "status": "in_transit", "at": AT})
    assert (again.updated, again.unchanged) == (0, 1) and len(picked_events(ctx)) == 1
    with ctx.uow(readonly=True) as uow:  # the order it came from is not touched
        assert uow.orders.get("SO-9").status is OrderStatus.DELIVERED


def test_a_tracking_row_never_moves_a_return_backwards(ctx, shipped) -> None:
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL)).ok
    desk = ReturnsDesk(ctx, ctx.auth.login("RETURNS-001"))
    desk.start()
    assert desk_scan(desk, "RMA-9").verdict is Verdict.RETURN_OPENED
    assert desk_scan(desk, TEE).verdict is Verdict.ITEM_RECEIVED  # the parcel came before its tracking
    report = imported(ctx, "tracking", {"tracking_number": PARCEL, "status": "in_transit", "at": AT})
    assert report.ok and report.unchanged == 1
    assert the_return(ctx).status is ReturnStatus.RECEIVED and picked_events(ctx) == []


def test_one_return_parcel_may_carry_several_returns(ctx, shipped) -> None:
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL), a_return("RMA-10", tracking_number=PARCEL)).ok
    assert imported(ctx, "tracking", {"order_id": "SO-9", "tracking_number": PARCEL, "status": "in_transit",
                                      "at": AT}).updated == 1
    assert [the_return(ctx, i).status for i in ("RMA-9", "RMA-10")] == [ReturnStatus.PICKED] * 2


def test_the_desk_finds_the_return_by_its_parcels_tracking_number(ctx, shipped) -> None:
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL), a_return("RMA-10", tracking_number=PARCEL)).ok
    found = rs.find(ctx, ctx.auth.login("RETURNS-001"), PARCEL)
    assert found.via == "return parcel" and [r.rma_id for r in found.returns] == ["RMA-10", "RMA-9"]  # by RMA id
    desk = ReturnsDesk(ctx, ctx.auth.login("RETURNS-001"))
    desk.start()
    opened = desk_scan(desk, PARCEL)
    assert opened.verdict is Verdict.RETURN_OPENED and opened.data["rma_ids"] == ["RMA-10", "RMA-9"]


# --- the carrier tracking poller -------------------------------------------------------------------


def test_the_poller_asks_about_initiated_returns_parcels_and_moves_them_to_picked(ctx, shipped) -> None:
    dhl, ups = AnsweringCarrier("DHL"), AnsweringCarrier("UPS")
    ctx = with_carriers(ctx, dhl, ups)
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL), a_return("RMA-10", tracking_number="JJD-LATER"),
                    a_return("RMA-11", tracking_number="1Z-RET", carrier="UPS"), a_return("RMA-12")).ok
    poller = TrackingPoller(clock=lambda: 0.0)
    assert poll_tracking(ctx, poller) == []  # the carriers know nothing yet
    assert dhl.asked == [["JJD-LATER", PARCEL]] and ups.asked == [["1Z-RET"]]  # each its own parcels, nothing else

    dhl.answers = {PARCEL: OrderStatus.IN_TRANSIT, "JJD-LATER": None}  # one handed in; one label printed only
    ups.answers = {"1Z-RET": OrderStatus.DELIVERED}  # already at the warehouse's door: picked, not received
    poller.last_asked.clear()
    written = poll_tracking(ctx, poller)
    assert len(written) == 2
    assert [the_return(ctx, i).status for i in ("RMA-9", "RMA-10", "RMA-11", "RMA-12")] == [
        ReturnStatus.PICKED, ReturnStatus.INITIATED, ReturnStatus.PICKED, ReturnStatus.INITIATED]
    by_rma = {e.payload["rma_id"]: e for e in picked_events(ctx)}
    assert by_rma["RMA-9"].actor == "carrier:DHL" and by_rma["RMA-11"].actor == "carrier:UPS"
    assert by_rma["RMA-9"].payload["source"] == "carrier" and by_rma["RMA-9"].payload["tracking_number"] == PARCEL
    assert by_rma["RMA-11"].payload["tracking_status"] == "delivered"

    poller.last_asked.clear()
    dhl.asked.clear()
    assert poll_tracking(ctx, poller) == []  # a repeat changes nothing
    assert dhl.asked == [["JJD-LATER"]]  # a picked return's parcel is not asked about again
    with ctx.uow(readonly=True) as uow:
        assert uow.orders.get("SO-9").status is OrderStatus.DELIVERED  # the order stays as it was


def test_the_poller_never_moves_a_return_the_desk_received_meanwhile(ctx, shipped) -> None:
    dhl = AnsweringCarrier("DHL")
    ctx = with_carriers(ctx, dhl)
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL)).ok
    desk = ReturnsDesk(ctx, ctx.auth.login("RETURNS-001"))
    desk.start()
    assert desk_scan(desk, PARCEL).verdict is Verdict.RETURN_OPENED
    assert desk_scan(desk, TEE).verdict is Verdict.ITEM_RECEIVED
    dhl.answers = {PARCEL: OrderStatus.DELIVERED}
    assert poll_tracking(ctx, TrackingPoller(clock=lambda: 0.0)) == []
    assert the_return(ctx).status is ReturnStatus.RECEIVED and dhl.asked == []  # not initiated: not asked


def test_the_poller_makes_one_request_per_round_and_asks_about_every_parcel_in_turn(ctx, shipped) -> None:
    """The README's promise: at most one request per account per ``track_every_s``, ``track_batch``
    numbers at a time. Four parcels in batches of three: a request per round, all four asked
    about by the second round (which wraps round to the first parcels)."""
    dhl = AnsweringCarrier("DHL")
    dhl.track_batch = 3  # type: ignore[attr-defined]
    dhl.min_poll_interval_s = 900.0
    ctx = with_carriers(ctx, dhl)
    parcels = [f"JJD{n:04d}" for n in range(4)]  # SO-9 shipped four tees: four returns of one
    assert imported(ctx, "returns", *(a_return(f"RMA-{n}", tracking_number=p) for n, p in enumerate(parcels))).ok
    now = [0.0]
    poller = TrackingPoller(clock=lambda: now[0])
    poll_tracking(ctx, poller)
    assert dhl.asked == [parcels[:3]]
    now[0] = 899.0
    poll_tracking(ctx, poller)
    assert len(dhl.asked) == 1  # not due yet: no request
    now[0] = 900.0
    poll_tracking(ctx, poller)
    assert dhl.asked == [parcels[:3], [parcels[3], *parcels[:2]]]
    # a request that fails: the same batch is the next round's (not skipped until the turn comes round)
    dhl.failing = True  # type: ignore[attr-defined]
    now[0] = 1800.0
    poll_tracking(ctx, poller)
    dhl.failing = False  # type: ignore[attr-defined]
    now[0] = 2700.0
    poll_tracking(ctx, poller)
    assert dhl.asked[-2] == dhl.asked[-1] == [parcels[2], parcels[3], parcels[0]]


def test_the_poller_never_moves_an_order_backwards(ctx, shipped) -> None:
    """SO-9 was delivered (by an import): a carrier feed still saying "in transit" changes nothing."""
    dhl = AnsweringCarrier("DHL")
    ctx = with_carriers(ctx, dhl)
    with ctx.uow(readonly=True) as uow:
        (carton,) = uow.shipments.cartons("SO-9", {ct.code: ct for ct in uow.catalog.carton_types()})
    poller = TrackingPoller(clock=lambda: 0.0)
    poller.seen[carton.tracking_number or carton.sscc or ""] = OrderStatus.IN_TRANSIT
    dhl.answers = {n: OrderStatus.IN_TRANSIT for n in (carton.tracking_number, carton.sscc) if n}
    assert poll_tracking(ctx, poller) == []
    with ctx.uow(readonly=True) as uow:
        assert uow.orders.get("SO-9").status is OrderStatus.DELIVERED


# --- at the centre -------------------------------------------------------------------------------


def test_the_return_parcel_and_its_pickup_replay_at_the_centre_from_the_events_once(db, ctx, shipped) -> None:
    from fakes import FakeDatabase, fake_context

    from packstation.services import returns_replay

    centre_db = FakeDatabase()
    centre_db._committed = db.snapshot()  # the centre had the order, its packing and delivery
    already = {e.id for e in db.snapshot().events}
    assert imported(ctx, "returns", a_return(tracking_number=PARCEL)).ok
    assert imported(ctx, "tracking", {"tracking_number": PARCEL, "status": "in_transit", "at": AT}).updated == 1
    events = [e for e in db.snapshot().events if e.id not in already and e.kind.startswith("return.")]
    assert [e.kind for e in events] == ["return.initiated", "return.picked"]
    centre = fake_context(centre_db, station_id="CENTRE")
    for _ in range(2):  # applied again (a lost reply): nothing changes the second time
        with centre.uow() as uow:
            for event in events:
                returns_replay.apply(uow, event)
            uow.commit()
        ret = the_return(centre)
        assert (ret.status, ret.tracking_number, ret.carrier) == (ReturnStatus.PICKED, PARCEL, "DHL")
