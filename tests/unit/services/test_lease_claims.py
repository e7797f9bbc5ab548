"""Claims as leases at the centre, on the fakes: two synced benches, each with its own local
database, sharing one central database whose clock a test moves.

What a bench does is told through the use cases (``packing.claim_order``, scans, seals) and
``services.leases`` (heartbeat, a lead's release); what the centre and the benches stored is read
back through the repositories.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fakes import NOW, FakeClock, FakeDatabase, FakeUnitOfWorkFactory, fake_context
from warehouse import LEAD_PIN, TEE, event_kinds, scan, stocked_database

from packstation.domain.identity import Desk, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import Verdict
from packstation.services import leases, packing
from packstation.services.auth import NotAllowed
from packstation.services.context import Context
from packstation.services.packing import OrderRefused
from packstation.services.ports import HeldLease, Lease, StorageError, UnitOfWork

UNREACHABLE = "The database server cannot be reached. Check the network, then scan again. (fake: cable pulled)"


class Centre:
    """``ctx.central`` of one bench: units of work on the shared central fake, or, cut off, a
    StorageError as the SQL unit of work raises it when the server cannot be reached."""

    def __init__(self, db: FakeDatabase, station_id: str) -> None:
        self.factory = FakeUnitOfWorkFactory(db, station_id)
        self.online = True
        self.calls = 0

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        self.calls += 1
        if not self.online:
            raise StorageError(UNREACHABLE)
        return self.factory(readonly=readonly)


@pytest.fixture
def central_clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def centre(central_clock: FakeClock) -> FakeDatabase:
    return FakeDatabase(clock=central_clock)


def synced(centre: FakeDatabase, station_id: str) -> Context:
    """A bench with its own stocked local database and the shared centre."""
    ctx = fake_context(stocked_database(), station_id=station_id)
    return replace(ctx, central=Centre(centre, station_id))


@pytest.fixture
def one(centre: FakeDatabase) -> Context:
    return synced(centre, "BENCH-01")


@pytest.fixture
def two(centre: FakeDatabase) -> Context:
    return synced(centre, "BENCH-02")


def cut(ctx: Context) -> Centre:
    centre = ctx.central
    assert isinstance(centre, Centre)
    centre.online = False
    return centre


def lease_at_centre(centre: FakeDatabase, order_id: str) -> Lease | None:
    with FakeUnitOfWorkFactory(centre)(readonly=True) as uow:
        return uow.leases.holder(order_id)


def held_here(ctx: Context) -> list[HeldLease]:
    with ctx.uow(readonly=True) as uow:
        return uow.orders.leased(ctx.station_id)


def claim_of(ctx: Context, order_id: str) -> Any:
    with ctx.uow(readonly=True) as uow:
        return uow.orders.claim_of(order_id)


def system(ctx: Context) -> Session:
    from packstation.domain.identity import ActorKind

    return ctx.auth.system(ActorKind.SYSTEM, "lease-heartbeat")


# --- claiming -----------------------------------------------------------------------------------


def test_a_synced_bench_takes_the_lease_at_the_centre_then_claims_locally(one: Context, centre: FakeDatabase) -> None:
    pat = one.auth.login("PACKER-001")
    pack = packing.claim_order(one, pat, "SO-1")

    lease = lease_at_centre(centre, "SO-1")
    assert lease is not None and (lease.station_id, lease.holder) == ("BENCH-01", "Pat Packer")
    assert lease.expires_at == NOW + leases.LEASE_TTL  # the centre's clock, not the bench's
    assert held_here(one) == [HeldLease("SO-1", lease.token, lease.expires_at)]
    assert pack.order.status is OrderStatus.PACKING and claim_of(one, "SO-1").station_id == "BENCH-01"
    with one.uow(readonly=True) as uow:
        claimed = [e for e in uow.events.for_order("SO-1") if e.kind == "order.claimed"]
    assert claimed[0].payload == {"station": "BENCH-01", "lease_token": lease.token}


def test_an_order_leased_to_another_bench_is_refused_with_its_bench_and_packer(
        one: Context, two: Context, centre: FakeDatabase) -> None:
    packing.claim_order(one, one.auth.login("PACKER-001"), "SO-1")
    olu = two.auth.login("PACKER-002", "2468")

    with pytest.raises(OrderRefused, match="SO-1 is being packed at BENCH-01 by Pat Packer"):
        packing.claim_order(two, olu, "TOTE-001")  # by its tote, as at the bench

    assert claim_of(two, "SO-1").station_id is None  # nothing claimed at BENCH-02
    assert event_kinds(two, "SO-1") == []
    assert lease_at_centre(centre, "SO-1").station_id == "BENCH-01"  # type: ignore[union-attr]


def test_claiming_ones_own_order_again_continues_it_without_asking_the_centre(
        one: Context, centre: FakeDatabase) -> None:
    pat = one.auth.login("PACKER-001")
    packing.claim_order(one, pat, "SO-1")
    first = lease_at_centre(centre, "SO-1")
    calls = one.central.calls  # type: ignore[union-attr]
    pack = packing.claim_order(one, pat, "SO-1")  # the packer scans the order again (after a logout)
    assert pack.order.order_id == "SO-1" and one.central.calls == calls  # type: ignore[union-attr]
    assert lease_at_centre(centre, "SO-1") == first and held_here(one)[0].token == first.token  # type: ignore[union-attr]


def test_an_order_held_here_without_a_lease_gets_one_when_claimed_again(one: Context, centre: FakeDatabase) -> None:
    """Claimed before the station had a central database: the next claim takes its lease."""
    pat = one.auth.login("PACKER-001")
    packing.claim_order(replace(one, central=None), pat, "SO-1")
    assert held_here(one) == [] and lease_at_centre(centre, "SO-1") is None
    packing.claim_order(one, pat, "SO-1")
    lease = lease_at_centre(centre, "SO-1")
    assert lease is not None and held_here(one) == [HeldLease("SO-1", lease.token, lease.expires_at)]


def test_a_claim_that_fails_locally_gives_the_lease_back(one: Context, centre: FakeDatabase) -> None:
    pat = one.auth.login("PACKER-001")
    one.uow.db.refuse_commit()  # type: ignore[attr-defined] - the bench's disk is full
    with pytest.raises(StorageError):
        packing.claim_order(one, pat, "SO-1")
    lease = lease_at_centre(centre, "SO-1")
    assert lease is not None and lease.station_id is None  # another bench may take it at once


def test_an_order_this_bench_cannot_pack_is_refused_without_asking_the_centre(one: Context) -> None:
    pat = one.auth.login("PACKER-001")
    with pytest.raises(OrderRefused, match="on hold|cannot be packed"):
        packing.claim_order(one, pat, "SO-HOLD")
    with pytest.raises(OrderRefused, match="No order or tote"):
        packing.claim_order(one, pat, "SO-404")
    assert one.central.calls == 0  # type: ignore[union-attr]


def test_claim_next_passes_over_orders_leased_elsewhere(one: Context, two: Context) -> None:
    packing.claim_order(one, one.auth.login("PACKER-001"), "SO-1")  # the oldest
    pack = packing.claim_next_order(two, two.auth.login("PACKER-002", "2468"))
    assert pack is not None and pack.order.order_id == "SO-2"
    assert [h.order_id for h in held_here(two)] == ["SO-2"]
    with two.uow(readonly=True) as uow:
        claimed = [e.payload for e in uow.events.for_order("SO-2") if e.kind == "order.claimed"]
    assert claimed[0]["next"] is True


# --- offline ------------------------------------------------------------------------------------


def test_offline_a_new_claim_is_refused(one: Context) -> None:
    pat = one.auth.login("PACKER-001")
    cut(one)
    with pytest.raises(OrderRefused) as refused:
        packing.claim_order(one, pat, "SO-1")
    assert leases.OFFLINE in str(refused.value) and "cannot be reached" in str(refused.value)
    assert claim_of(one, "SO-1").station_id is None and event_kinds(one, "SO-1") == []
    with pytest.raises(OrderRefused, match=leases.OFFLINE):
        packing.claim_next_order(one, pat)


def test_offline_the_orders_this_bench_holds_resume_and_keep_packing(one: Context) -> None:
    pat = one.auth.login("PACKER-001")
    packing.claim_order(one, pat, "SO-1")
    centre = cut(one)
    calls = centre.calls

    pack = packing.resume_session(one, pat)  # after a restart
    assert pack is not None and pack.order.order_id == "SO-1"
    pack = packing.claim_order(one, pat, "SO-1")  # or scanned again: continued, not refused
    assert packing.open_carton(one, pat, pack, "BOX-S").accepted
    assert scan(one, pat, pack, TEE).verdict is Verdict.ACCEPTED
    assert scan(one, pat, pack, TEE).verdict is Verdict.ACCEPTED
    assert packing.close_carton(one, pat, pack, 150 + 2 * 200).verdict is Verdict.ORDER_COMPLETE

    assert centre.calls == calls  # neither the claim of an order held here nor any scan or seal asked it


def test_the_scan_path_never_touches_the_centre(one: Context) -> None:
    pat = one.auth.login("PACKER-001")
    pack = packing.claim_order(one, pat, "SO-1")
    calls = one.central.calls  # type: ignore[union-attr]
    packing.open_carton(one, pat, pack, "BOX-S")
    scan(one, pat, pack, TEE)
    packing.undo_last_scan(one, pat, pack)
    scan(one, pat, pack, TEE)
    scan(one, pat, pack, TEE)
    packing.close_carton(one, pat, pack, 550)
    assert one.central.calls == calls  # type: ignore[union-attr]


# --- heartbeat, expiry, take-over ---------------------------------------------------------------


def test_the_heartbeat_renews_this_benchs_leases_by_the_centres_clock(
        one: Context, centre: FakeDatabase, central_clock: FakeClock) -> None:
    pat = one.auth.login("PACKER-001")
    packing.claim_order(one, pat, "SO-1")
    packing.release_order(one, pat, packing.claim_order(one, pat, "SO-2"))  # put back: not renewed
    central_clock.advance(minutes=1)

    beat = leases.renew_leases(one, system(one))

    until = NOW + timedelta(minutes=1) + leases.LEASE_TTL
    assert beat.online is True and beat.renewed == {"SO-1": until} and beat.lost == {}
    assert lease_at_centre(centre, "SO-1").expires_at == until  # type: ignore[union-attr]
    assert held_here(one)[0].expires_at == until


def test_the_heartbeat_offline_changes_nothing(one: Context) -> None:
    packing.claim_order(one, one.auth.login("PACKER-001"), "SO-1")
    before = held_here(one)
    cut(one)
    beat = leases.renew_leases(one, system(one))
    assert beat.online is False and "cannot be reached" in beat.error
    assert held_here(one) == before and claim_of(one, "SO-1").station_id == "BENCH-01"


def test_a_bench_holding_nothing_does_not_ask_the_centre(one: Context) -> None:
    assert leases.renew_leases(one, system(one)).online is None
    assert one.central.calls == 0  # type: ignore[union-attr]


def test_a_packer_may_not_run_the_heartbeat(one: Context) -> None:
    with pytest.raises(NotAllowed):
        leases.renew_leases(one, one.auth.login("PACKER-001"))


def test_an_expired_lease_is_taken_over_and_the_late_bench_learns_it(
        one: Context, two: Context, centre: FakeDatabase, central_clock: FakeClock) -> None:
    pat, olu = one.auth.login("PACKER-001"), two.auth.login("PACKER-002", "2468")
    late = packing.claim_order(one, pat, "SO-1")
    packing.open_carton(one, pat, late, "BOX-S")
    cut(one)  # BENCH-01 loses the network and keeps packing what it holds
    assert scan(one, pat, late, TEE).verdict is Verdict.ACCEPTED
    old_token = held_here(one)[0].token
    central_clock.advance(seconds=leases.LEASE_TTL.total_seconds() + 1)

    packing.claim_order(two, olu, "SO-1")  # the tote was walked to BENCH-02

    new = lease_at_centre(centre, "SO-1")
    assert new is not None and new.station_id == "BENCH-02" and new.token > old_token
    assert held_here(two) == [HeldLease("SO-1", new.token, new.expires_at)]
    # what BENCH-01 wrote meanwhile carries the old token: the centre will refuse it at push
    assert held_here(one) == [HeldLease("SO-1", old_token, NOW + leases.LEASE_TTL)]

    one.central.online = True  # type: ignore[union-attr]
    beat = leases.renew_leases(one, system(one))
    assert beat.renewed == {} and list(beat.lost) == ["SO-1"] and beat.lost["SO-1"].station_id == "BENCH-02"  # type: ignore[union-attr]
    assert held_here(one) == [] and claim_of(one, "SO-1").station_id is None
    with one.uow(readonly=True) as uow:
        lost = [e for e in uow.events.for_order("SO-1") if e.kind == "order.lease_lost"]
    assert lost[0].payload == {"station": "BENCH-01", "token": old_token, "why": "taken over by another bench",
                               "held_by": "BENCH-02", "holder": "Olu Other"}
    outcome = scan(one, pat, late, TEE)  # the packer at BENCH-01 is stopped at the next scan
    assert outcome.verdict is Verdict.ORDER_REFUSED and outcome.data["claim_lost"]
    with pytest.raises(OrderRefused, match="being packed at BENCH-02 by Olu Other"):
        packing.claim_order(one, pat, "SO-1")  # and scanning the order again is refused, naming the holder


def test_claiming_an_order_taken_over_while_held_here_without_a_lease_drops_the_local_claim(
        one: Context, two: Context) -> None:
    pat = one.auth.login("PACKER-001")
    packing.claim_order(replace(one, central=None), pat, "SO-1")  # before the centre was set up
    packing.claim_order(two, two.auth.login("PACKER-002", "2468"), "SO-1")
    with pytest.raises(OrderRefused, match="BENCH-02"):
        packing.claim_order(one, pat, "SO-1")
    assert claim_of(one, "SO-1").station_id is None and held_here(one) == []
    assert event_kinds(one, "SO-1")[-1] == "order.lease_lost"


def test_offline_an_order_held_here_without_a_lease_continues(one: Context) -> None:
    pat = one.auth.login("PACKER-001")
    packing.claim_order(replace(one, central=None), pat, "SO-1")
    cut(one)
    assert packing.claim_order(one, pat, "SO-1").order.order_id == "SO-1"


# --- a lead's release ---------------------------------------------------------------------------


def test_a_lead_releases_a_lease_at_the_centre_so_another_bench_can_take_it(
        one: Context, two: Context, centre: FakeDatabase) -> None:
    packing.claim_order(one, one.auth.login("PACKER-001"), "SO-1")
    old = lease_at_centre(centre, "SO-1")
    lee = two.auth.login("LEAD-001", LEAD_PIN, desk=Desk.BENCH)

    outcome = leases.release_lease(two, lee, "so-1", "bench 1 crashed")

    assert outcome.verdict is Verdict.ORDER_RELEASED and "BENCH-01" in outcome.message
    freed = lease_at_centre(centre, "SO-1")
    assert freed is not None and freed.station_id is None
    with FakeUnitOfWorkFactory(centre)(readonly=True) as uow:
        events = [(e.kind, e.actor, e.station_id, e.payload) for e in uow.events.for_order("SO-1")]
    assert events == [("order.lease_released", "person:Lee Lead", "BENCH-02",
                       {"from_station": "BENCH-01", "from_user": "Pat Packer", "token": old.token,  # type: ignore[union-attr]
                        "reason": "bench 1 crashed"})]
    packing.claim_order(two, lee, "SO-1")
    taken = lease_at_centre(centre, "SO-1")
    assert taken is not None and taken.station_id == "BENCH-02" and taken.token > old.token  # type: ignore[union-attr]
    beat = leases.renew_leases(one, system(one))  # BENCH-01 drops its claim at its next heartbeat
    assert list(beat.lost) == ["SO-1"] and claim_of(one, "SO-1").station_id is None


def test_releasing_needs_a_lead_and_a_reason(one: Context, two: Context) -> None:
    packing.claim_order(one, one.auth.login("PACKER-001"), "SO-1")
    with pytest.raises(NotAllowed):
        leases.release_lease(two, two.auth.login("PACKER-002", "2468"), "SO-1", "no")
    lee = two.auth.login("LEAD-001", LEAD_PIN, desk=Desk.BENCH)
    assert leases.release_lease(two, lee, "SO-1", "  ").verdict is Verdict.NOT_ALLOWED
    assert leases.release_lease(two, lee, "SO-2", "why not").message == "Order SO-2 is not held by any bench."
    cut(two)
    assert leases.release_lease(two, lee, "SO-1", "crashed").verdict is Verdict.STORAGE_FAILED


def test_a_lead_releasing_this_benchs_own_order_drops_the_claim_at_once(one: Context, centre: FakeDatabase) -> None:
    pat = one.auth.login("PACKER-001")
    packing.claim_order(one, pat, "SO-1")
    lee = one.auth.login("LEAD-001", LEAD_PIN, desk=Desk.BENCH)
    assert leases.release_lease(one, lee, "SO-1", "packer went home").verdict is Verdict.ORDER_RELEASED
    assert claim_of(one, "SO-1").station_id is None and held_here(one) == []
    with one.uow(readonly=True) as uow:
        lost = [e for e in uow.events.for_order("SO-1") if e.kind == "order.lease_lost"]
    assert lost[0].actor == "person:Lee Lead" and lost[0].payload["why"] == "released by a lead: packer went home"
