"""The centre's side of the push (``CentralOutbox`` in ``services/ports.py``) with the algorithm that
drives it (``services.sync.push.receive``) and the appliers, on three centres:

- ``fake``: tests/fakes.py's FakeCentre;
- ``pg-batched``: the central PostgreSQL, a batch's writes collected and stored together;
- ``pg-one-by-one``: the central PostgreSQL, each event in its own SAVEPOINT on the repositories.

On PostgreSQL the centre is set up by ``central init`` and the pushes run as its *station role*
(no UPDATE, DELETE or TRUNCATE on history). The station's events are real: a fake station packs
through the packing use cases and its outbox is read through the event log port.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakes import NOW, FakeCentralOutbox, FakeCentre, fake_context
from sqlalchemy import Engine, text

from packstation.adapters.central.outbox import SqlCentralOutbox
from packstation.adapters.central.schema import init_central
from packstation.adapters.db import tables
from packstation.adapters.db.engine import make_engine
from packstation.adapters.db.numbers import LocalBlocks
from packstation.adapters.db.staging import StagingFolder
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.domain.identity import ActorKind, Permission, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import CartonStatus
from packstation.services import packing
from packstation.services.auth import Authenticator
from packstation.services.context import Context
from packstation.services.lifecycle import change_status
from packstation.services.ports import CentralOutbox, OutboxEvent, SyncState, UnitOfWorkFactory
from packstation.services.sync.appliers import Appliers
from packstation.services.sync.push import Receipt, receive


def _warehouse() -> Any:
    name = "warehouse"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "unit" / "services" / "warehouse.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


wh = _warehouse()
S = SyncState
STATION_PW = "station-pw"


@dataclass
class Centre:
    name: str
    uow: UnitOfWorkFactory  # read (and set up) the centre through its repositories
    outbox: CentralOutbox
    set_lease: Callable[[str, str | None, int], None]
    stored: Callable[[], list[tuple[str, str, int | None, str]]]  # (id, station, number, state) in arrival order
    movements: Callable[[], list[tuple[str, int, str, str | None]]]  # (sku, qty, kind, event id)
    lease: Callable[[str], tuple[str | None, int] | None]

    def context(self) -> tuple[Context, Session]:
        auth = Authenticator(self.uow, "CENTRE", lambda: NOW, key=b"centre-key")
        return (Context(uow=self.uow, auth=auth, station_id="CENTRE", staging=StagingFolder(None)),
                auth.system(ActorKind.CLI, "admin"))

    def cancel(self, order_id: str) -> None:
        ctx, admin = self.context()
        with self.uow() as u:
            current = u.orders.hold(order_id).status
            change_status(u, ctx, admin, order_id, current, OrderStatus.CANCELLED)
            u.commit()


def _stock(uow: UnitOfWorkFactory) -> None:
    with uow() as u:
        u.catalog.put_products([(p, f"fp-{p.sku}") for p in wh.PRODUCTS], NOW)
        u.catalog.put_cartons([(wh.BOX_S, "fp-s"), (wh.BOX_M, "fp-m")])
        u.catalog.put_lots(wh.LOTS)
        u.orders.add_many([(o, f"fp-{o.order_id}") for o in wh.ORDERS], NOW)
        u.commit()


@pytest.fixture(scope="session")
def central_pg(pg_server_instance: Any) -> Iterator[tuple[Engine, Engine]]:
    """A central database set up by ``central init``: (admin engine, station-role engine)."""
    name = pg_server_instance.create_database()
    admin = make_engine(pg_server_instance.url(name))
    init_central(admin, station_password=STATION_PW)
    station = make_engine(f"postgresql+psycopg://packstation_station:{STATION_PW}@127.0.0.1:{pg_server_instance.port}/{name}")
    try:
        yield admin, station
    finally:
        admin.dispose()
        station.dispose()
        pg_server_instance.drop_database(name)


class _OneByOne(SqlCentralOutbox):
    def begin(self, station_id: str, events: Any, *, batched: bool = True) -> Any:
        return super().begin(station_id, events, batched=False)


def _pg_centre(name: str, engines: tuple[Engine, Engine]) -> Centre:
    admin, station = engines
    table_names = ", ".join(f'"{t.name}"' for t in tables.metadata.sorted_tables)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {table_names} RESTART IDENTITY CASCADE")

    def admin_uow(*, readonly: bool = False) -> Any:
        return SqlUnitOfWork(admin, "CENTRE", LocalBlocks(), readonly=readonly)

    def station_uow(*, readonly: bool = False) -> Any:
        return SqlUnitOfWork(station, "BENCH-01", LocalBlocks(), readonly=readonly)

    def set_lease(order_id: str, station_id: str | None, token: int) -> None:
        with admin.begin() as conn:
            conn.execute(text("INSERT INTO leases (order_id, station_id, token) VALUES (:o, :s, :t) ON CONFLICT "
                              "(order_id) DO UPDATE SET station_id = :s, token = :t"),
                         {"o": order_id, "s": station_id, "t": token})

    def query(sql: str) -> Callable[[], list[Any]]:
        def run() -> list[Any]:
            with admin.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql))]
        return run

    def lease(order_id: str) -> tuple[str | None, int] | None:
        with admin.connect() as conn:
            row = conn.execute(text("SELECT station_id, token FROM leases WHERE order_id = :o"), {"o": order_id}).first()
        return (row[0], row[1]) if row else None

    outbox = SqlCentralOutbox(station_uow) if name == "pg-batched" else _OneByOne(station_uow)
    _stock(admin_uow)
    return Centre(name, admin_uow, outbox, set_lease,
                  query("SELECT id, station_id, station_seq, sync_state FROM events WHERE station_seq IS NOT NULL "
                        "ORDER BY seq"),
                  query("SELECT sku, qty, kind, event_id FROM stock_movements ORDER BY id"), lease)


def _fake_centre() -> Centre:
    centre = FakeCentre(wh.stocked_database())

    def lease(order_id: str) -> tuple[str | None, int] | None:
        found = centre.side.leases.get(order_id)
        return (found.station_id, found.token) if found else None

    return Centre("fake", centre.uow, FakeCentralOutbox(centre), centre.set_lease,
                  lambda: [(e["id"], e["station_id"], e["station_seq"], e["state"].value)
                           for e in centre.side.events.values() if e["station_seq"] is not None],
                  lambda: [(m.sku, m.qty, m.kind, m.event_id) for m in centre.side.movements], lease)


@pytest.fixture(params=["fake", pytest.param("pg-batched", marks=pytest.mark.postgres),
                        pytest.param("pg-one-by-one", marks=pytest.mark.postgres)])
def centre(request: pytest.FixtureRequest) -> Centre:
    if request.param == "fake":
        return _fake_centre()
    return _pg_centre(request.param, request.getfixturevalue("central_pg"))


# --- a station that packs ------------------------------------------------------------------------


class Bench:
    """A station on its own (fake) database, packing through the use cases; its outbox is read
    through the event log port."""

    def __init__(self, station_id: str = "BENCH-01", *, clock: Any = None):
        self.ctx = fake_context(wh.stocked_database(), station_id=station_id, clock=clock)
        self.pat = self.ctx.auth.login("PACKER-001")
        self.worker = self.ctx.auth.system(ActorKind.SYSTEM, "sync-worker")

    def pack(self, order_id: str, *codes: str, close: bool = True) -> Any:
        """Claim, open a BOX-S, scan *codes* (a lot or serial right after the item that asks for it),
        and seal the carton at its expected weight."""
        pack = packing.claim_order(self.ctx, self.pat, order_id)
        assert packing.open_carton(self.ctx, self.pat, pack, "BOX-S").accepted
        todo = list(codes)
        while todo:
            code = todo.pop(0)
            if pack.pending is not None:
                outcome = packing.record_detail(self.ctx, self.pat, pack, code)
            else:
                outcome = wh.scan(self.ctx, self.pat, pack, code)
            assert outcome.accepted, outcome.message
        assert pack.pending is None
        if close:
            carton = pack.open_carton
            assert packing.close_carton(self.ctx, self.pat, pack, pack.expected_weight(carton)).accepted
        return pack

    def reprint(self, order_id: str) -> None:
        lead = self.ctx.auth.approve("LEAD-001", wh.LEAD_PIN, Permission.APPROVE, "Reprint")
        assert packing.reprint_code(self.ctx, self.pat, lead, order_id, "label torn").accepted

    def outbox(self, limit: int = 1000) -> list[OutboxEvent]:
        with self.ctx.uow() as u:
            u.events.number_pending(self.ctx.station_id)
            events = u.events.pending(self.ctx.station_id, limit)
            u.commit()
        return events

    def send(self, centre: Centre, events: list[OutboxEvent], *, now: datetime | None = None) -> Receipt:
        return receive(centre.outbox, self.ctx.station_id, now or self.ctx.clock(), events,
                       Appliers(self.ctx, self.worker))


def states(receipt: Receipt) -> list[str]:
    return [a.state.value for a in receipt.answers]


# --- the contract --------------------------------------------------------------------------------


def test_a_packed_order_is_applied_at_the_centre(centre: Centre) -> None:
    bench = Bench()
    bench.pack("SO-1", wh.TEE, wh.TEE)
    events = bench.outbox()
    kinds = [e.event.kind for e in events]
    assert kinds == ["user.login", "order.packing", "order.claimed", "carton.opened", "scan.recorded",
                     "scan.recorded", "carton.closed", "print.queued", "print.queued", "order.packed"]

    receipt = bench.send(centre, events)

    assert states(receipt) == ["applied"] * 10 and receipt.gap is None and receipt.last_seq == 10
    with centre.uow(readonly=True) as u:
        order = u.orders.get("SO-1")
        cartons = u.shipments.cartons("SO-1", {})
        scans = u.shipments.scans("SO-1")
    assert order.status is OrderStatus.PACKED and order.lines[0].packed == 2
    assert [(c.seq, c.status, c.measured_g, c.sscc is not None) for c in cartons] == [(1, CartonStatus.CLOSED, 550, True)]
    assert [(s.item.sku, s.station_id, s.item.user) for s in scans] == [("TS-1", "BENCH-01", "Pat Packer")] * 2
    scan_events = [e.id for e in events if e.event.kind == "scan.recorded"]
    assert centre.movements() == [("TS-1", -1, "packed", scan_events[0]), ("TS-1", -1, "packed", scan_events[1])]
    assert [(s[0], s[2], s[3]) for s in centre.stored()] == [(e.id, e.station_seq, "applied") for e in events]
    progress = centre.outbox.progress("BENCH-01")
    assert progress is not None and progress.last_seq == 10 and progress.clock_offset_s is not None


def test_the_same_batch_again_is_answered_duplicate_and_changes_nothing(centre: Centre) -> None:
    """The reply was lost after the centre committed: the retry finds every event by its number and id."""
    bench = Bench()
    bench.pack("SO-1", wh.TEE, wh.TEE)
    events = bench.outbox()
    bench.send(centre, events)

    again = bench.send(centre, events)

    assert states(again) == ["duplicate"] * 10
    assert {a.stored_as for a in again.answers} == {S.APPLIED}
    with centre.uow(readonly=True) as u:
        assert u.orders.get("SO-1").lines[0].packed == 2 and len(u.shipments.scans("SO-1")) == 2
    assert len(centre.movements()) == 2 and len(centre.stored()) == 10
    # part old, part new: the old ones duplicate, the new ones applied
    bench.pack("SO-3", wh.SERUM, "L-GOOD", close=False)  # lot-tracked: the lot right after
    more = bench.outbox()
    mixed = bench.send(centre, more)
    assert states(mixed)[:10] == ["duplicate"] * 10 and set(states(mixed)[10:]) == {"applied"}


def test_a_gap_stops_the_batch_and_nothing_after_it_is_taken(centre: Centre) -> None:
    bench = Bench()
    bench.pack("SO-1", wh.TEE, wh.TEE)
    events = bench.outbox()

    receipt = bench.send(centre, events[3:])

    assert receipt.answers == [] and receipt.gap is not None
    assert (receipt.gap.expected, receipt.gap.got) == (1, 4) and receipt.last_seq == 0
    assert centre.stored() == []
    assert states(bench.send(centre, events)) == ["applied"] * 10


def test_a_refused_event_holds_the_rest_of_its_order_and_nothing_else(centre: Centre) -> None:
    """SO-1 was cancelled at the centre while the station packed it: its first change is refused
    (with both sides kept), the rest of SO-1 is held (kept, not applied); SO-2 goes through."""
    bench = Bench()
    bench.pack("SO-1", wh.TEE, wh.TEE)
    bench.pack("SO-2", wh.TEE, wh.BUDS, "SERIAL-1", close=False)
    centre.cancel("SO-1")
    events = bench.outbox()

    receipt = bench.send(centre, events)

    by_order: dict[str | None, list[str]] = {}
    for e, a in zip(events, receipt.answers, strict=True):
        by_order.setdefault(e.event.order_id, []).append(a.state.value)
    assert by_order["SO-1"] == ["refused"] + ["held"] * 8
    assert set(by_order["SO-2"]) == {"applied"}
    refused = next(a for a in receipt.answers if a.state is S.REFUSED)
    assert "cancelled" in (refused.reason or "")
    held = next(a for a in receipt.answers if a.state is S.HELD)
    assert refused.event_id in (held.reason or "")
    with centre.uow(readonly=True) as u:
        assert u.orders.get("SO-1").status is OrderStatus.CANCELLED and u.shipments.scans("SO-1") == []
        assert u.orders.get("SO-2").status is OrderStatus.PACKING and len(u.shipments.scans("SO-2")) == 2
    assert [s[3] for s in centre.stored()].count("held") == 8  # history is complete
    (conflict,) = centre.outbox.conflicts(station_id="BENCH-01")
    assert conflict.event_id == refused.event_id and conflict.order_id == "SO-1" and conflict.open
    assert conflict.station_side["kind"] == "order.packing" and conflict.station_side["station_seq"] == 2
    assert conflict.central_side["order"]["status"] == "cancelled"

    # later events of SO-1 are held too, in the next batch; once a lead resolved it, they are not
    bench.reprint("SO-1")
    later = bench.send(centre, bench.outbox())
    assert set(states(later)[-3:]) == {"held"}  # label.reprinted and its print jobs
    done = centre.outbox.resolve(conflict.id, actor="person:Lee Lead", user="Lee Lead", station_id="BENCH-09",
                                 note="cancelled by the shop: items back to stock", at=NOW)
    assert done is not None and done.id == conflict.id
    (resolved,) = centre.outbox.conflicts(station_id="BENCH-01", open_only=False)
    assert not resolved.open and resolved.resolved_by == "person:Lee Lead"
    assert resolved.note == "cancelled by the shop: items back to stock"
    assert centre.outbox.conflicts(station_id="BENCH-01") == []
    bench.reprint("SO-1")
    after = bench.send(centre, bench.outbox())
    assert set(states(after)[-3:]) == {"applied"}


def test_work_under_a_lease_that_was_taken_over_is_refused(centre: Centre) -> None:
    centre.set_lease("SO-1", "BENCH-01", 5)
    centre.set_lease("SO-2", "BENCH-01", 6)
    bench = Bench()
    set_token(bench, "SO-1", 5)
    set_token(bench, "SO-2", 6)
    bench.pack("SO-1", wh.TEE, wh.TEE)
    bench.pack("SO-2", wh.TEE, wh.BUDS, "SERIAL-1", close=False)
    centre.set_lease("SO-2", "BENCH-02", 7)  # expired and taken over by BENCH-02 meanwhile
    events = bench.outbox()
    assert {e.fence for e in events if e.event.order_id == "SO-1"} == {5}

    receipt = bench.send(centre, events)

    answers = {e.id: a for e, a in zip(events, receipt.answers, strict=True)}
    so1 = [answers[e.id].state for e in events if e.event.order_id == "SO-1"]
    so2 = [answers[e.id] for e in events if e.event.order_id == "SO-2"]
    assert set(so1) == {S.APPLIED}
    assert centre.lease("SO-1") == (None, 5)  # packed: the lease is free again
    # its first change (order.packing) is refused naming the new holder; the rest of SO-2 is held
    assert so2[0].state is S.REFUSED and "taken over" in (so2[0].reason or "")
    assert "token 7" in (so2[0].reason or "") and "BENCH-02" in (so2[0].reason or "")
    assert {a.state for a in so2[1:]} == {S.HELD}
    (conflict,) = centre.outbox.conflicts()
    assert conflict.central_side["lease"] == {"station_id": "BENCH-02", "token": 7, "expires_at": None}
    assert conflict.station_side["fence"] == 6


def test_an_event_without_a_token_on_a_leased_order_is_refused(centre: Centre) -> None:
    centre.set_lease("SO-1", "BENCH-02", 3)
    bench = Bench()
    bench.pack("SO-1", wh.TEE, wh.TEE)
    receipt = bench.send(centre, bench.outbox())
    refused = [a for a in receipt.answers if a.state is S.REFUSED]
    assert len(refused) == 1 and "without a lease" in (refused[0].reason or "")


def test_a_serial_packed_elsewhere_is_refused(centre: Centre) -> None:
    one, two = Bench("BENCH-01"), Bench("BENCH-02")
    one.pack("SO-4", wh.BUDS, "SERIAL-7", close=False)
    two.pack("SO-2", wh.TEE, wh.BUDS, "SERIAL-7", close=False)  # the same unit, at another bench offline
    assert set(states(one.send(centre, one.outbox()))) == {"applied"}

    receipt = two.send(centre, two.outbox())

    refused = [a for a in receipt.answers if a.state is S.REFUSED]
    assert len(refused) == 1 and "SERIAL-7" in (refused[0].reason or "")
    with centre.uow(readonly=True) as u:
        assert [s.item.sku for s in u.shipments.scans("SO-2")] == ["TS-1"]


def test_a_number_used_by_another_event_is_refused_not_stored(centre: Centre) -> None:
    """The station was restored from a backup and numbered new events from where the backup stood."""
    bench = Bench()
    bench.pack("SO-1", wh.TEE, wh.TEE)
    first = bench.outbox()
    bench.send(centre, first)
    restored = [replace(ev, event=replace(ev.event, id=f"00000000-0000-4000-8000-{n:012d}"))
                for n, ev in enumerate(first[-2:])]

    receipt = bench.send(centre, restored)

    assert states(receipt) == ["refused", "refused"]
    assert "was used by another event" in (receipt.answers[0].reason or "")
    assert len(centre.stored()) == 10
    conflicts = centre.outbox.conflicts()
    assert {c.event_id for c in conflicts} == {e.id for e in restored}
    assert {c.central_side["event_there"]["id"] for c in conflicts} == {e.id for e in first[-2:]}


def test_the_stations_clock_offset_is_kept_and_order_follows_the_numbers(centre: Centre) -> None:
    """A station clock a day ahead, set back in the middle: the centre keeps the station's order."""
    from fakes import FakeClock

    clock = FakeClock(datetime.now(UTC) + timedelta(hours=24))
    bench = Bench(clock=clock)
    bench.pack("SO-1", wh.TEE, wh.TEE)
    clock.advance(hours=-30)
    bench.pack("SO-2", wh.TEE, wh.BUDS, "SERIAL-1", close=False)
    events = bench.outbox()
    assert events[-1].event.occurred_at < events[0].event.occurred_at

    receipt = bench.send(centre, events, now=datetime.now(UTC) + timedelta(hours=24))

    assert set(states(receipt)) == {"applied"}
    assert [s[2] for s in centre.stored()] == list(range(1, len(events) + 1))
    progress = centre.outbox.progress("BENCH-01")
    assert progress is not None and progress.clock_offset_s is not None
    if centre.name != "fake":  # the fake centre's clock stands still at NOW
        assert abs(progress.clock_offset_s - 86_400) < 120 and abs(receipt.clock_offset_s - 86_400) < 120


def test_a_constraint_the_batch_cannot_see_refuses_only_its_event(centre: Centre) -> None:
    """Two benches sealed cartons with the same SSCC (one restored from an old backup): the centre's
    unique key refuses the second seal; everything else of the batch is applied."""
    one, two = Bench("BENCH-01"), Bench("BENCH-02")
    one.pack("SO-1", wh.TEE, wh.TEE)  # both draw SSCC serial 1 from their own fake ranges
    two.pack("SO-3", wh.SERUM, "L-GOOD", close=False)
    two.pack("SO-4", wh.BUDS, "SERIAL-3")
    one.send(centre, one.outbox())

    receipt = two.send(centre, two.outbox())

    refused = [(a.station_seq, a.reason) for a in receipt.answers if a.state is S.REFUSED]
    assert len(refused) == 1 and "refused this change" in (refused[0][1] or "")
    with centre.uow(readonly=True) as u:
        assert len(u.shipments.scans("SO-3")) == 1  # applied, although in the same batch
        assert u.orders.get("SO-4").status is not OrderStatus.PACKED
    assert centre.outbox.conflicts()[0].order_id == "SO-4"
    if centre.name == "pg-batched":  # the batch could not see the other bench's SSCC: received again
        assert not receipt.batched


def set_token(bench: Bench, order_id: str, token: int) -> None:
    """The lease work stores the token on the local order; its events carry it."""
    with bench.ctx.uow() as u:
        u.state.orders[order_id].lease_token = token  # type: ignore[attr-defined]
        u.commit()


def test_an_event_refused_half_way_leaves_nothing_of_itself(centre: Centre) -> None:
    """A short-ship whose second line does not add up at the centre: the first line's change is
    taken back with the rest of the event (on the batched centre: the batch is received again event
    by event, each in a real savepoint)."""
    bench = Bench()
    bench.pack("SO-2", wh.TEE, close=False)
    events = bench.outbox()
    last = events[-1]
    short = OutboxEvent(replace(last.event, id="11111111-2222-4333-8444-555555555555", kind="order.short_shipped",
                                payload={"reason": "not in stock", "lines": [{"sku": "EL-1", "short": 1},
                                                                             {"sku": "TS-1", "short": 1}]}),
                        station_seq=last.station_seq + 1)

    receipt = bench.send(centre, [*events, short])

    assert states(receipt)[:-1] == ["applied"] * len(events)
    assert receipt.answers[-1].state is S.REFUSED and "short-shipped" in (receipt.answers[-1].reason or "")
    with centre.uow(readonly=True) as u:
        lines = {ln.sku: (ln.packed, ln.short) for ln in u.orders.get("SO-2").lines}
    assert lines == {"TS-1": (1, 0), "EL-1": (0, 0)}  # EL-1's short of 1 did not stay
    if centre.name == "pg-batched":
        assert not receipt.batched


def test_a_scan_goes_into_the_carton_it_names_and_one_the_centre_lacks_is_refused(centre: Centre) -> None:
    """The appliers look up the one carton a scan names (``ShipmentRepository.carton``)."""
    bench = Bench()
    bench.pack("SO-1", wh.TEE, close=False)
    events = bench.outbox()
    assert set(states(bench.send(centre, events))) == {"applied"}
    scan = next(e for e in events if e.event.kind == "scan.recorded")

    def another_scan(n: int, carton: int) -> OutboxEvent:
        payload = {**scan.event.payload, "scan_id": str(uuid.uuid4()), "carton": carton}
        return replace(scan, event=replace(scan.event, id=str(uuid.uuid4()), payload=payload),
                       station_seq=events[-1].station_seq + n)

    assert states(bench.send(centre, [another_scan(1, 1)])) == ["applied"]
    with centre.uow(readonly=True) as u:
        assert [len(c.items) for c in u.shipments.cartons("SO-1", {})] == [2]
        assert u.shipments.carton("SO-1", 1) is not None and u.shipments.carton("SO-1", 7) is None

    refused = bench.send(centre, [another_scan(2, 7)])

    assert states(refused) == ["refused"]
    assert "Carton 7 of order SO-1 is not at the central database" in (refused.answers[0].reason or "")
    with centre.uow(readonly=True) as u:
        assert [len(c.items) for c in u.shipments.cartons("SO-1", {})] == [2]


def test_a_carriers_label_reaches_the_centre_and_a_missing_one_waits_there(centre: Centre) -> None:
    """carton.label_failed leaves the centre a waiting label request (the centre's dock refuses the
    carton); the label worker's carton.label_created later gives the carton its tracking number,
    label carrier and shipment id, and the request is done."""
    from packstation.adapters.carriers.simulated import SimulatedCarrier
    from packstation.config import CarrierConfig
    from packstation.domain.packing import Verdict
    from packstation.domain.shipping import LabelRequestStatus as L
    from packstation.services import carriers

    bench = Bench()
    dhl = SimulatedCarrier(CarrierConfig(code="DHL", connector="simulated", simulate="error", label_format="ZPL",
                                         tracking_prefix="00340434"))
    bench.ctx = replace(bench.ctx, carriers=carriers.Carriers({"DHL": dhl}))
    pack = bench.pack("SO-1", wh.TEE, wh.TEE, close=False)
    sealed = packing.close_carton(bench.ctx, bench.pat, pack, pack.expected_weight(pack.open_carton))
    assert sealed.verdict is Verdict.LABEL_NOT_CREATED, sealed.message
    first = bench.outbox()
    assert [e.event.kind for e in first if e.event.kind.startswith("carton.")] == ["carton.opened", "carton.closed",
                                                                                   "carton.label_failed"]
    receipt = bench.send(centre, first)
    assert set(states(receipt)) == {"applied"} and receipt.batched  # batched: not received again one by one
    with centre.uow(readonly=True) as u:
        [carton] = u.shipments.cartons("SO-1", {})
        waiting = u.label_requests.for_carton("SO-1", 1)
    assert (carton.label_carrier, carton.tracking_number, carton.shipment_id) == ("DHL", None, None)
    assert waiting is not None and waiting.status is L.FAILED and waiting.station_id == "BENCH-01"
    assert waiting.attempts == 1 and "could not be verified" in waiting.error and waiting.next_try_at is not None

    dhl.cfg = replace(dhl.cfg, simulate="ok")
    with bench.ctx.uow(readonly=True) as u:
        [request] = u.label_requests.waiting()
    result = carriers.retry_label(bench.ctx, bench.worker, request.id)
    assert result is not None and result.ok
    later = bench.outbox()[len(first):]
    assert "carton.label_created" in [e.event.kind for e in later]
    receipt = bench.send(centre, later)
    assert set(states(receipt)) == {"applied"} and receipt.batched
    with centre.uow(readonly=True) as u:
        [carton] = u.shipments.cartons("SO-1", {})
        done = u.label_requests.for_carton("SO-1", 1)
        order = u.orders.get("SO-1")
    assert carton.tracking_number == result.tracking_number and carton.label_carrier == "DHL"
    assert carton.shipment_id == f"DHL-{result.tracking_number}" and carton.status is CartonStatus.CLOSED
    assert carton.closed_at is not None and order.status is OrderStatus.PACKED
    assert done is not None and done.status is L.DONE and done.attempts == 2


def _replacement(order_id: str, qty: int = 1) -> dict[str, Any]:
    """A returns desk's replacement order record (as services.returns._replacement_record makes it)."""
    return {"order_id": order_id, "channel": "web", "placed_at": "2026-03-10T09:00:00+00:00",
            "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": ""},
            "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstr. 1", "line2": "", "city": "Berlin", "region": "",
                        "postcode": "10115", "country": "DE"},
            "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "sim", "service": "std",
            "lines": [{"sku": "TS-1", "qty": qty, "unit_price": "0.00"}]}


def test_a_replacement_order_a_desk_made_becomes_an_order_at_the_centre_once(centre: Centre) -> None:
    """``order.received`` with ``replacement_for``: the order is made at the centre from the event
    (so any bench can pull and pack it); sent again it is a duplicate; another station's replacement
    under a number the centre has for other contents is refused; an import's arrival record stays
    audit only."""
    from packstation.domain.lifecycle import ReturnStatus
    from packstation.domain.returns import Return
    from packstation.services.imports import add_order

    with centre.uow() as u:  # the return it replaces is at the centre (its events came first)
        u.returns.add(Return(rma_id="RMA-8", order_id="SO-1", reason="too small", status=ReturnStatus.PROCESSED), NOW)
        u.commit()
    desk = Bench("RET-01")
    with desk.ctx.uow() as u:
        add_order(u, desk.ctx, desk.worker, _replacement("RMA-8-R1", 2), replacement_for="RMA-8")
        add_order(u, desk.ctx, desk.worker, _replacement("SO-LOCAL"))  # a station's own import's record
        add_order(u, desk.ctx, desk.worker, _replacement("RMA-NONE-R1"), replacement_for="RMA-NONE")
        u.commit()
    events = desk.outbox()
    assert [e.event.kind for e in events] == ["user.login", "order.received", "order.received", "order.received"]
    receipt = desk.send(centre, events)
    assert states(receipt) == ["applied"] * 3 + ["refused"]  # a replacement for no return the centre has
    assert "has no return RMA-NONE" in receipt.answers[3].reason
    events = events[:3]
    assert states(desk.send(centre, events)) == ["duplicate"] * 3
    with centre.uow(readonly=True) as u:
        made = u.orders.get("RMA-8-R1")
        assert u.orders.get("SO-LOCAL") is None
    assert made is not None and made.status is OrderStatus.RELEASED
    assert [(ln.sku, ln.qty, ln.unit_price) for ln in made.lines] == [("TS-1", 2, Decimal("0.00"))]
    other = Bench("RET-02")
    with other.ctx.uow() as u:
        add_order(u, other.ctx, other.worker, _replacement("RMA-8-R1", 1), replacement_for="RMA-8")
        u.commit()
    receipt = other.send(centre, other.outbox())
    assert states(receipt) == ["applied", "refused"] and "has another order RMA-8-R1" in receipt.answers[1].reason
    with centre.uow(readonly=True) as u:
        again = u.orders.get("RMA-8-R1")
    assert again is not None and [ln.qty for ln in again.lines] == [2]
