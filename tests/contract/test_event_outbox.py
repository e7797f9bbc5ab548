"""The event log's outbox side (``EventLog`` in ``services/ports.py``), on the fake, SQLite and PostgreSQL.

What the push relies on: each event carries the lease token its order held when it was written
(``fence``); the station numbers its events without gaps in the order they were stored; the centre's
answers are kept, the first one wins; the station can count and list what is waiting or refused,
and send again what the centre lost.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakes import NOW, a_product, an_order
from sqlalchemy import update

from packstation.adapters.db import tables
from packstation.domain.events import Event
from packstation.services.ports import Answer, SyncState, UnitOfWorkFactory

S = SyncState


def an_event(kind: str, order_id: str | None = "SO-1", **payload: object) -> Event:
    return Event(kind, order_id, "person:Pat Packer", "Pat Packer", dict(payload))


@pytest.fixture
def orders(uow: UnitOfWorkFactory) -> UnitOfWorkFactory:
    with uow() as u:
        u.catalog.put_products([(a_product("TS-1", "Cotton tee", 200, "05900000000114"), "fp")], NOW)
        u.orders.add_many([(an_order("SO-1", {"TS-1": 2}), "fp-1"), (an_order("SO-2", {"TS-1": 1}), "fp-2")], NOW)
        u.commit()
    return uow


def set_lease_token(backend: Any, uow: UnitOfWorkFactory, order_id: str, token: int | None) -> None:
    """What the lease work stores on the local order when it takes a lease at the centre."""
    with uow() as u:
        if backend.is_fake:
            u.state.orders[order_id].lease_token = token  # type: ignore[attr-defined]
        else:
            u.conn.execute(update(tables.orders).where(tables.orders.c.order_id == order_id)  # type: ignore[attr-defined]
                           .values(lease_token=token))
        u.commit()


def add(uow: UnitOfWorkFactory, station: str, *events: Event) -> list[str]:
    with uow() as u:
        ids = [u.events.add(e, station, NOW) for e in events]
        u.commit()
    return ids


def number(uow: UnitOfWorkFactory, station: str = "BENCH-01", after: int = 0) -> int:
    with uow() as u:
        n = u.events.number_pending(station, after=after)
        u.commit()
    return n


def pending(uow: UnitOfWorkFactory, station: str = "BENCH-01", limit: int = 100) -> list[tuple[str, int]]:
    with uow(readonly=True) as u:
        return [(ob.event.kind, ob.station_seq) for ob in u.events.pending(station, limit)]


def answer(uow: UnitOfWorkFactory, station: str, *answers: Answer) -> None:
    with uow() as u:
        u.events.answer(station, list(answers), NOW)
        u.commit()


class TestFence:
    def test_an_event_carries_the_lease_token_its_order_holds_when_written(self, backend: Any,
                                                                          orders: UnitOfWorkFactory) -> None:
        before = add(orders, "BENCH-01", an_event("scan.recorded"))[0]
        set_lease_token(backend, orders, "SO-1", 41)
        during, other, loose = add(orders, "BENCH-01", an_event("scan.recorded"), an_event("scan.recorded", "SO-2"),
                                   an_event("user.login", None))
        set_lease_token(backend, orders, "SO-1", 42)  # taken again: later events carry the new token
        again = add(orders, "BENCH-01", an_event("carton.closed"))[0]
        number(orders)
        with orders(readonly=True) as u:
            fences = {ob.id: ob.fence for ob in u.events.pending("BENCH-01", 10)}
        assert fences == {before: None, during: 41, other: None, loose: None, again: 42}

    def test_an_event_of_an_order_this_database_does_not_have_has_no_fence(self, orders: UnitOfWorkFactory) -> None:
        add(orders, "BENCH-01", an_event("print.done", "SO-404"))
        number(orders)
        with orders(readonly=True) as u:
            assert [ob.fence for ob in u.events.pending("BENCH-01", 10)] == [None]


class TestNumbering:
    def test_events_are_numbered_in_the_order_they_were_stored_without_gaps(self, orders: UnitOfWorkFactory) -> None:
        add(orders, "BENCH-01", *(an_event(f"k.{i}") for i in range(3)))
        add(orders, "BENCH-02", an_event("other.0"))
        assert number(orders) == 3
        assert number(orders) == 0  # numbered once
        add(orders, "BENCH-01", an_event("k.3"))
        assert number(orders) == 1
        assert pending(orders) == [("k.0", 1), ("k.1", 2), ("k.2", 3), ("k.3", 4)]
        assert pending(orders, "BENCH-02") == []  # not numbered yet: each station numbers its own
        assert number(orders, "BENCH-02") == 1
        assert pending(orders, "BENCH-02") == [("other.0", 1)]
        with orders(readonly=True) as u:
            assert (u.events.last_numbered("BENCH-01"), u.events.last_numbered("BENCH-02"),
                    u.events.last_numbered("BENCH-09")) == (4, 1, 0)

    def test_numbers_continue_after_the_centres_when_it_has_more(self, orders: UnitOfWorkFactory) -> None:
        """A station restored from a backup: the centre has its numbers up to 7 already."""
        add(orders, "BENCH-01", an_event("k.0"), an_event("k.1"))
        number(orders, after=7)
        add(orders, "BENCH-01", an_event("k.2"))
        number(orders, after=3)  # the station's own highest (9) is higher now
        assert pending(orders) == [("k.0", 8), ("k.1", 9), ("k.2", 10)]

    def test_pending_gives_the_lowest_numbers_first_up_to_the_limit(self, orders: UnitOfWorkFactory) -> None:
        ids = add(orders, "BENCH-01", *(an_event(f"k.{i}") for i in range(5)))
        number(orders)
        answer(orders, "BENCH-01", Answer(ids[0], 1, S.APPLIED), Answer(ids[2], 3, S.REFUSED, "no"))
        assert pending(orders, limit=2) == [("k.1", 2), ("k.3", 4)]
        with orders(readonly=True) as u:
            got = u.events.pending("BENCH-01", 10)
        assert [ob.state for ob in got] == [S.PENDING] * 3
        assert got[0].event.payload == {} and got[0].event.station_id == "BENCH-01" and got[0].event.actor


class TestAnswers:
    def test_answers_are_stored_with_their_reason_and_time(self, orders: UnitOfWorkFactory) -> None:
        ids = add(orders, "BENCH-01", *(an_event(f"k.{i}") for i in range(6)))
        number(orders)
        answer(orders, "BENCH-01",
               Answer(ids[0], 1, S.APPLIED), Answer(ids[1], 2, S.APPLIED),
               Answer(ids[2], 3, S.REFUSED, "taken over"), Answer(ids[3], 4, S.HELD, "held: k.2 refused"),
               Answer(ids[4], 5, S.DUPLICATE, "already there (applied)", stored_as=S.APPLIED),
               Answer(ids[5], 6, S.DUPLICATE, "already there (refused)", stored_as=S.REFUSED))
        with orders(readonly=True) as u:
            problems = u.events.outbox("BENCH-01", [S.REFUSED, S.HELD])
            dup = u.events.outbox("BENCH-01", [S.DUPLICATE])
            applied = u.events.outbox("BENCH-01", [S.APPLIED])
        # a refusal that comes back as a duplicate (the first reply was lost) is still a refusal
        assert [(ob.station_seq, ob.state, ob.reason) for ob in problems] == [
            (3, S.REFUSED, "taken over"), (4, S.HELD, "held: k.2 refused"), (6, S.REFUSED, "already there (refused)")]
        assert [(ob.station_seq, ob.reason) for ob in dup] == [(5, "already there (applied)")]
        assert [ob.station_seq for ob in applied] == [1, 2]
        assert all(ob.pushed_at == NOW for ob in problems + dup + applied)

    def test_the_first_answer_stays(self, orders: UnitOfWorkFactory) -> None:
        """Two senders of one station: the second one's duplicates do not overwrite the first's answers."""
        ids = add(orders, "BENCH-01", an_event("k.0"), an_event("k.1"))
        number(orders)
        answer(orders, "BENCH-01", Answer(ids[0], 1, S.APPLIED), Answer(ids[1], 2, S.REFUSED, "no"))
        answer(orders, "BENCH-01", Answer(ids[0], 1, S.DUPLICATE, "dup", stored_as=S.APPLIED),
               Answer(ids[1], 2, S.DUPLICATE, "dup", stored_as=S.REFUSED))
        with orders(readonly=True) as u:
            got = u.events.outbox("BENCH-01", list(S))
        assert [(ob.state, ob.reason) for ob in got] == [(S.APPLIED, None), (S.REFUSED, "no")]

    def test_answers_touch_only_the_stations_own_events(self, orders: UnitOfWorkFactory) -> None:
        mine = add(orders, "BENCH-01", an_event("k.0"))[0]
        add(orders, "BENCH-02", an_event("k.0"))
        number(orders)
        number(orders, "BENCH-02")
        answer(orders, "BENCH-02", Answer(mine, 1, S.APPLIED))  # the other station's answer: not ours
        assert pending(orders) == [("k.0", 1)]


class TestCounting:
    def test_counts_give_the_states_a_person_must_see(self, orders: UnitOfWorkFactory) -> None:
        ids = add(orders, "BENCH-01", *(an_event(f"k.{i}") for i in range(5)))
        number(orders)
        add(orders, "BENCH-01", an_event("k.5"))  # not numbered yet: pending too
        add(orders, "BENCH-02", an_event("k.x"))
        answer(orders, "BENCH-01", Answer(ids[0], 1, S.APPLIED), Answer(ids[1], 2, S.REFUSED, "no"),
               Answer(ids[2], 3, S.HELD, "held"))
        with orders(readonly=True) as u:
            counts = u.events.counts("BENCH-01")
        assert counts == {S.PENDING: 3, S.REFUSED: 1, S.HELD: 1}

    def test_waiting_counts_what_the_centre_does_not_have(self, orders: UnitOfWorkFactory) -> None:
        ids = add(orders, "BENCH-01", *(an_event(f"k.{i}") for i in range(4)))
        number(orders)
        add(orders, "BENCH-01", an_event("k.4"))
        answer(orders, "BENCH-01", Answer(ids[0], 1, S.APPLIED), Answer(ids[1], 2, S.APPLIED))
        with orders(readonly=True) as u:
            assert u.events.waiting("BENCH-01", centre_has=2) == 3
            assert u.events.waiting("BENCH-01", centre_has=0) == 5  # the centre lost everything: all of them
            assert u.events.waiting("BENCH-02", centre_has=0) == 0

    def test_reopen_sends_again_what_the_centre_lost(self, orders: UnitOfWorkFactory) -> None:
        ids = add(orders, "BENCH-01", *(an_event(f"k.{i}") for i in range(4)))
        number(orders)
        answer(orders, "BENCH-01", *(Answer(i, n, S.APPLIED) for n, i in enumerate(ids, 1)))
        with orders() as u:
            assert u.events.reopen("BENCH-01", 3) == 2
            assert u.events.reopen("BENCH-02", 1) == 0
            u.commit()
        assert pending(orders) == [("k.2", 3), ("k.3", 4)]
        with orders(readonly=True) as u:
            assert all(ob.reason is None and ob.pushed_at is None for ob in u.events.pending("BENCH-01", 10))
