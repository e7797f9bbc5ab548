"""The lease contract (``LeaseRepository``) and a station's copy of its leases (``OrderRepository``),
on the in-memory fake, SQLite and PostgreSQL.

Expiry is the database's own clock (``now()`` on PostgreSQL, this machine's on SQLite, the
fake's clock), so these tests let short leases run out for real (tens of milliseconds) instead
of moving a station clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from fakes import NOW, an_order
from test_repositories import add_orders, stock_catalog

from packstation.domain.lifecycle import OrderStatus
from packstation.services.ports import HeldLease, Lease, UnitOfWorkFactory

S = OrderStatus
TTL = timedelta(minutes=2)
BRIEF = timedelta(milliseconds=40)


def take(uow: UnitOfWorkFactory, order_id: str, station: str, holder: str = "Pat Packer",
         ttl: timedelta = TTL) -> Lease:
    with uow() as u:
        lease = u.leases.take(order_id, station, holder, ttl)
        u.commit()
    return lease


def holder(uow: UnitOfWorkFactory, order_id: str) -> Lease | None:
    with uow(readonly=True) as u:
        return u.leases.holder(order_id)


def run_out() -> None:
    time.sleep(BRIEF.total_seconds() * 3)


class TestLeases:
    def test_a_first_take_gets_the_lease_until_the_databases_now_plus_ttl(self, uow: UnitOfWorkFactory) -> None:
        before = datetime.now(UTC)
        lease = take(uow, "SO-1", "BENCH-01")
        assert (lease.order_id, lease.station_id, lease.holder) == ("SO-1", "BENCH-01", "Pat Packer")
        assert lease.taken_at is not None and lease.expires_at is not None
        assert lease.expires_at - lease.taken_at == TTL
        assert abs(lease.taken_at - before) < timedelta(seconds=30)  # the database's clock is a real one
        assert holder(uow, "SO-1") == lease
        assert holder(uow, "SO-404") is None

    def test_a_lease_held_by_another_station_is_not_taken_and_the_holder_is_named(
            self, uow: UnitOfWorkFactory) -> None:
        mine = take(uow, "SO-1", "BENCH-01")
        theirs = take(uow, "SO-1", "BENCH-02", "Olu Other")
        assert theirs == mine  # unchanged: BENCH-01's, its token and expiry
        assert holder(uow, "SO-1") == mine

    def test_taking_ones_own_lease_again_keeps_the_token_and_extends_it(self, uow: UnitOfWorkFactory) -> None:
        first = take(uow, "SO-1", "BENCH-01", ttl=BRIEF)
        run_out()  # even expired: nobody took it meanwhile, so what was written under it stays valid
        again = take(uow, "SO-1", "BENCH-01", "Lee Lead")
        assert (again.token, again.taken_at, again.holder) == (first.token, first.taken_at, "Lee Lead")
        assert again.expires_at is not None and first.expires_at is not None and again.expires_at > first.expires_at

    def test_an_expired_lease_is_taken_over_with_a_greater_token(self, uow: UnitOfWorkFactory) -> None:
        old = take(uow, "SO-1", "BENCH-01", ttl=BRIEF)
        run_out()
        new = take(uow, "SO-1", "BENCH-02", "Olu Other")
        assert new.station_id == "BENCH-02" and new.holder == "Olu Other"
        assert new.token > old.token  # the late station's fence is stale from now on
        assert new.taken_at is not None and old.taken_at is not None and new.taken_at > old.taken_at
        assert take(uow, "SO-1", "BENCH-01").station_id == "BENCH-02"  # and it cannot take it back

    def test_tokens_grow_across_orders(self, uow: UnitOfWorkFactory) -> None:
        tokens = [take(uow, f"SO-{i}", "BENCH-01").token for i in range(5)]
        assert tokens == sorted(tokens) and len(set(tokens)) == 5

    def test_release_with_the_token_frees_it_and_the_next_take_gets_a_new_token(
            self, uow: UnitOfWorkFactory) -> None:
        lease = take(uow, "SO-1", "BENCH-01")
        with uow() as u:
            assert not u.leases.release("SO-1", lease.token + 1000)  # not its token: nothing happens
            assert u.leases.release("SO-1", lease.token)
            assert not u.leases.release("SO-1", lease.token)  # already free
            assert not u.leases.release("SO-404", 1)
            u.commit()
        freed = holder(uow, "SO-1")
        assert freed is not None and (freed.station_id, freed.holder, freed.token, freed.expires_at) == (
            None, "", lease.token, None)
        again = take(uow, "SO-1", "BENCH-01")  # even by the station that had it: a new tenure
        assert again.station_id == "BENCH-01" and again.token > lease.token

    def test_release_refuses_after_a_take_over(self, uow: UnitOfWorkFactory) -> None:
        old = take(uow, "SO-1", "BENCH-01", ttl=BRIEF)
        run_out()
        new = take(uow, "SO-1", "BENCH-02")
        with uow() as u:
            assert not u.leases.release("SO-1", old.token)  # the late station cannot free the new holder's lease
            u.commit()
        assert holder(uow, "SO-1") == new

    def test_renew_extends_only_this_stations_leases_and_keeps_their_tokens(self, uow: UnitOfWorkFactory) -> None:
        a = take(uow, "SO-1", "BENCH-01", ttl=BRIEF)
        b = take(uow, "SO-2", "BENCH-01", ttl=BRIEF)
        take(uow, "SO-3", "BENCH-02")
        c = take(uow, "SO-4", "BENCH-01")
        with uow() as u:
            u.leases.release("SO-4", c.token)
            u.commit()
        run_out()  # SO-1 and SO-2 expired, nobody took them: still ours to renew
        with uow() as u:
            renewed = u.leases.renew(["SO-1", "SO-2", "SO-3", "SO-4", "SO-404"], "BENCH-01", TTL)
            u.commit()
        assert sorted(renewed) == ["SO-1", "SO-2"]
        for old in (a, b):
            now = holder(uow, old.order_id)
            assert now is not None and now.token == old.token and now.expires_at == renewed[old.order_id]
            assert old.expires_at is not None and renewed[old.order_id] - old.expires_at > TTL - BRIEF * 2
        assert holder(uow, "SO-3").station_id == "BENCH-02"  # type: ignore[union-attr]
        with uow() as u:
            assert u.leases.renew([], "BENCH-01", TTL) == {}

    def test_a_take_not_committed_leaves_no_lease(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.leases.take("SO-1", "BENCH-01", "Pat Packer", TTL)
        assert holder(uow, "SO-1") is None
        assert take(uow, "SO-1", "BENCH-02").station_id == "BENCH-02"

    def test_stations_taking_one_lease_at_once_get_one_winner(self, backend) -> None:
        stations = [f"BENCH-{i:02d}" for i in range(8)]
        factories = {s: backend.factory(s) for s in stations}
        start = threading.Barrier(len(stations))
        got: dict[str, Lease] = {}

        def race(station: str) -> None:
            start.wait(10)
            got[station] = take(factories[station], "SO-1", station)

        threads = [threading.Thread(target=race, args=(s,)) for s in stations]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(got) == len(stations)
        winners = {lease.station_id for lease in got.values()}
        assert len(winners) == 1  # every station was told the same holder
        assert len({lease.token for lease in got.values()}) == 1
        assert holder(factories[stations[0]], "SO-1") == next(iter(got.values()))


class TestStationLeaseCopy:
    @pytest.fixture
    def orders(self, uow: UnitOfWorkFactory) -> UnitOfWorkFactory:
        stock_catalog(uow)
        add_orders(uow,
                   an_order("SO-1", {"TS-1": 1}, placed_at=NOW - timedelta(hours=3)),
                   an_order("SO-2", {"TS-1": 1}, placed_at=NOW - timedelta(hours=2), carrier="UPS"),
                   an_order("SO-3", {"TS-1": 1}, placed_at=NOW - timedelta(hours=1)),
                   an_order("SO-4", {"TS-1": 1}, placed_at=NOW - timedelta(hours=4), status=S.ON_HOLD),
                   an_order("SO-5", {"TS-1": 1}, placed_at=NOW - timedelta(hours=5), status=S.PACKING))
        return uow

    def test_leased_lists_the_orders_this_station_holds_with_a_token(self, orders: UnitOfWorkFactory) -> None:
        until = NOW + TTL
        with orders() as u:
            for order_id, station in (("SO-1", "BENCH-01"), ("SO-2", "BENCH-01"), ("SO-3", "BENCH-02")):
                assert u.orders.try_claim(order_id, station, "Pat Packer", NOW)
            u.orders.set_lease("SO-1", 7, until)
            u.orders.set_lease("SO-3", 8, until)  # another station's
            # SO-2 is claimed without a lease (claimed before the station had a central database)
            u.commit()
        with orders(readonly=True) as u:
            assert u.orders.leased("BENCH-01") == [HeldLease("SO-1", 7, until)]
            assert u.orders.leased("BENCH-02") == [HeldLease("SO-3", 8, until)]
            assert u.orders.leased("BENCH-01", ["SO-1", "SO-3", "SO-404"]) == [HeldLease("SO-1", 7, until)]
            assert u.orders.leased("BENCH-01", ["SO-2", "SO-3"]) == []
            assert u.orders.leased("BENCH-01", []) == []
        with orders() as u:
            u.orders.set_lease("SO-1", 9, until + TTL)
            u.orders.release("SO-3")  # released: its token stays on the row, but it is not held
            u.commit()
        with orders(readonly=True) as u:
            assert u.orders.leased("BENCH-01") == [HeldLease("SO-1", 9, until + TTL)]
            assert u.orders.leased("BENCH-02") == []
        with orders() as u:
            u.orders.set_lease("SO-1", None, None)
            u.commit()
        with orders(readonly=True) as u:
            assert u.orders.leased("BENCH-01") == []

    def test_claimable_lists_free_packable_orders_oldest_first_without_claiming(
            self, orders: UnitOfWorkFactory) -> None:
        with orders() as u:
            assert u.orders.try_claim("SO-3", "BENCH-02", "Olu Other", NOW)
            u.commit()
        with orders(readonly=True) as u:
            assert u.orders.claimable(10) == ["SO-5", "SO-1", "SO-2"]  # put back half-packed counts; held does not
            assert u.orders.claimable(2) == ["SO-5", "SO-1"]
            assert u.orders.claimable(10, exclude=["SO-5", "SO-404"]) == ["SO-1", "SO-2"]
            assert u.orders.claimable(10, carrier="UPS") == ["SO-2"]
            assert u.orders.claims() == [u.orders.claim_of("SO-3")]  # nothing was claimed
