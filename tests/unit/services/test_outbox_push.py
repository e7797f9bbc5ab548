"""The outbox push at a station (``services.sync.push``) on the fakes: a bench packs on its own
database, a worker session pushes to a FakeCentre, and the station keeps the centre's answers.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fakes import FakeCentralOutbox, FakeCentre, FakeClock, fake_context
from warehouse import LEAD_PIN, TEE, claim_with_items, scan, stocked_database

from packstation.domain.identity import ActorKind, Desk, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.services import packing
from packstation.services.auth import NotAllowed
from packstation.services.context import Context
from packstation.services.lifecycle import change_status
from packstation.services.ports import SyncState
from packstation.services.sync import push
from packstation.services.sync.appliers import Appliers

S = SyncState


@pytest.fixture
def centre() -> FakeCentre:
    return FakeCentre(stocked_database())


@pytest.fixture
def outbox(centre: FakeCentre) -> FakeCentralOutbox:
    return FakeCentralOutbox(centre)


@pytest.fixture
def worker(ctx: Context) -> Session:
    return ctx.auth.system(ActorKind.SYSTEM, "sync-worker")


def pack_so1(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    assert packing.close_carton(ctx, pat, pack, 550).accepted


def local(ctx: Context) -> list[tuple[int | None, str]]:
    with ctx.uow(readonly=True) as u:
        return [(ob.station_seq, ob.state.value) for ob in u.events.outbox(ctx.station_id, list(S), 10_000)]


def centre_order(centre: FakeCentre, order_id: str) -> Any:
    with centre.uow(readonly=True) as u:
        return u.orders.get(order_id)


def test_a_push_sends_the_pending_events_and_keeps_the_answers(ctx: Context, pat: Session, worker: Session,
                                                              outbox: FakeCentralOutbox, centre: FakeCentre) -> None:
    pack_so1(ctx, pat)

    report = push.push_once(ctx, worker, outbox, batch=4)

    assert (report.sent, report.applied, report.remaining, report.last_seq) == (4, 4, None, 4)
    assert not report.drained  # a full batch: more are waiting
    assert push.push_once(ctx, worker, outbox, batch=5).remaining is None
    total = push.push_all(ctx, worker, outbox, batch=4)
    assert (total.sent, total.applied, total.batches, total.remaining) == (1, 1, 1, 0) and total.drained
    assert local(ctx) == [(n, "applied") for n in range(1, 11)]
    assert centre_order(centre, "SO-1").status is OrderStatus.PACKED
    assert push.push_once(ctx, worker, outbox).sent == 0  # nothing left
    with ctx.uow(readonly=True) as u:
        assert u.events.counts(ctx.station_id) == {S.PENDING: 0, S.REFUSED: 0, S.HELD: 0}


def test_events_written_while_a_push_runs_wait_for_the_next(ctx: Context, pat: Session, worker: Session,
                                                           outbox: FakeCentralOutbox) -> None:
    claim_with_items(ctx, pat, "SO-1", TEE)
    first = push.push_all(ctx, worker, outbox)
    pack = packing.resume_session(ctx, pat)
    assert pack is not None and scan(ctx, pat, pack, TEE).accepted
    second = push.push_all(ctx, worker, outbox)
    assert second.sent == 1 and second.drained  # the second scan's event, numbered after the first push's
    assert [seq for seq, _ in local(ctx)] == list(range(1, first.sent + second.sent + 1))


def test_a_reply_lost_after_the_centre_committed_is_answered_duplicate(ctx: Context, pat: Session, worker: Session,
                                                                      outbox: FakeCentralOutbox,
                                                                      centre: FakeCentre) -> None:
    pack_so1(ctx, pat)
    with ctx.uow() as u:  # what push_once does first, then the centre commits and the reply is lost
        u.events.number_pending(ctx.station_id)
        events = u.events.pending(ctx.station_id, 500)
        u.commit()
    push.receive(outbox, ctx.station_id, ctx.clock(), events, Appliers(ctx, worker))
    assert {state for _, state in local(ctx)} == {"pending"}

    report = push.push_once(ctx, worker, outbox)

    assert (report.sent, report.duplicate, report.applied) == (10, 10, 0) and report.drained
    assert {state for _, state in local(ctx)} == {"duplicate"}
    assert centre_order(centre, "SO-1").lines[0].packed == 2  # applied once
    assert len(centre.side.movements) == 2


def test_a_refusal_is_kept_at_the_station_even_when_its_reply_was_lost(ctx: Context, pat: Session, worker: Session,
                                                                      outbox: FakeCentralOutbox,
                                                                      centre: FakeCentre) -> None:
    pack_so1(ctx, pat)
    _cancel_at_centre(centre, "SO-1")
    with ctx.uow() as u:
        u.events.number_pending(ctx.station_id)
        events = u.events.pending(ctx.station_id, 500)
        u.commit()
    push.receive(outbox, ctx.station_id, ctx.clock(), events, Appliers(ctx, worker))  # reply lost

    report = push.push_once(ctx, worker, outbox)

    assert report.duplicate == 10
    assert sorted({state for _, state in local(ctx)}) == ["duplicate", "held", "refused"]
    with ctx.uow(readonly=True) as u:
        assert u.events.counts(ctx.station_id)[S.REFUSED] == 1


def test_the_station_sends_again_what_a_restored_centre_lost(ctx: Context, pat: Session, worker: Session,
                                                            outbox: FakeCentralOutbox, centre: FakeCentre) -> None:
    claim_with_items(ctx, pat, "SO-1", TEE)
    backup = (copy.deepcopy(centre.db._committed), copy.deepcopy(centre.side))
    assert push.push_all(ctx, worker, outbox).drained
    centre.db._committed, centre.side = backup  # the centre is restored from last night's backup

    report = push.push_all(ctx, worker, outbox)

    assert report.reopened == 5 and report.applied == 5 and report.drained
    assert centre_order(centre, "SO-1").lines[0].packed == 1


def test_a_restored_centre_is_noticed_by_the_gap_when_more_is_waiting(ctx: Context, pat: Session, worker: Session,
                                                                     outbox: FakeCentralOutbox,
                                                                     centre: FakeCentre) -> None:
    claim_with_items(ctx, pat, "SO-1", TEE)
    push.push_once(ctx, worker, outbox, batch=2)
    backup = (copy.deepcopy(centre.db._committed), copy.deepcopy(centre.side))  # has events 1 and 2
    assert push.push_all(ctx, worker, outbox).drained
    centre.db._committed, centre.side = backup  # restored: events 3..5 are gone
    pack = packing.resume_session(ctx, pat)
    assert pack is not None and scan(ctx, pat, pack, TEE).accepted  # one more event at the station

    first = push.push_once(ctx, worker, outbox, centre_has=5)  # the worker still believes the centre has 5

    assert first.gap is not None and (first.gap.expected, first.gap.got) == (3, 6)
    assert first.sent == 0 and first.reopened == 3 and first.problem is None
    again = push.push_all(ctx, worker, outbox)
    assert again.applied == again.sent == 3 + 1 and again.drained
    assert centre.side.last_seq[ctx.station_id] == 6
    assert centre_order(centre, "SO-1").lines[0].packed == 2


def test_a_station_restored_from_a_backup_does_not_reuse_numbers(ctx: Context, pat: Session, worker: Session,
                                                                 outbox: FakeCentralOutbox,
                                                                 centre: FakeCentre) -> None:
    backup = copy.deepcopy(ctx.uow.db._committed)  # type: ignore[attr-defined]
    claim_with_items(ctx, pat, "SO-1", TEE)
    assert push.push_all(ctx, worker, outbox).drained
    ctx.uow.db._committed = backup  # type: ignore[attr-defined]  # the station's disk died: last night's copy
    claim_with_items(ctx, pat, "SO-2", TEE)

    report = push.push_all(ctx, worker, outbox)

    # the backup still had Pat's login, unsent: the centre has it, by id. SO-2's events are new: their
    # numbers follow the centre's last (5), none is refused as a reused number
    assert (report.duplicate, report.applied, report.refused) == (1, 4, 0) and report.drained
    assert [seq for seq, _ in local(ctx)] == list(range(6, 11))
    assert centre_order(centre, "SO-2").lines[0].packed == 1


def test_the_clock_offset_is_reported(db: Any, outbox: FakeCentralOutbox) -> None:
    clock = FakeClock()
    ctx = fake_context(db, clock=clock)
    pat = ctx.auth.login("PACKER-001")
    worker = ctx.auth.system(ActorKind.SYSTEM, "sync-worker")
    claim_with_items(ctx, pat, "SO-1", TEE)
    clock.advance(hours=24)  # the station's clock jumped a day ahead; the fake centre's did not

    report = push.push_all(ctx, worker, outbox)

    assert report.clock_offset_s == pytest.approx(86_400)
    progress = outbox.progress(ctx.station_id)
    assert progress is not None and progress.clock_offset_s == pytest.approx(86_400)


def test_only_sessions_that_may_sync_push(ctx: Context, pat: Session, outbox: FakeCentralOutbox) -> None:
    with pytest.raises(NotAllowed):
        push.push_once(ctx, pat, outbox)


# --- what the lead sees --------------------------------------------------------------------------


def _cancel_at_centre(centre: FakeCentre, order_id: str) -> None:
    central = fake_context(centre.db, station_id="CENTRE")
    admin = central.auth.system(ActorKind.CLI, "admin")
    with central.uow() as u:
        change_status(u, central, admin, order_id, u.orders.hold(order_id).status, OrderStatus.CANCELLED)
        u.commit()


def test_a_lead_sees_refused_events_and_conflicts_and_resolves_them(ctx: Context, pat: Session, worker: Session,
                                                                   outbox: FakeCentralOutbox,
                                                                   centre: FakeCentre) -> None:
    pack_so1(ctx, pat)
    _cancel_at_centre(centre, "SO-1")
    push.push_all(ctx, worker, outbox)
    lee = ctx.auth.login("LEAD-001", LEAD_PIN, desk=Desk.BENCH)

    problems = push.refused_events(ctx, lee)
    (conflict,) = push.list_conflicts(ctx, lee, outbox)

    assert [ob.state for ob in problems] == [S.REFUSED] + [S.HELD] * 8
    assert problems[0].event.kind == "order.packing" and "cancelled" in (problems[0].reason or "")
    assert conflict.event_id == problems[0].id and conflict.station_side["kind"] == "order.packing"
    with pytest.raises(NotAllowed):
        push.refused_events(ctx, pat)
    with pytest.raises(NotAllowed):
        push.resolve_conflict(ctx, pat, outbox, conflict.id, "ok")
    with pytest.raises(push.SyncError, match="Say what was decided"):
        push.resolve_conflict(ctx, lee, outbox, conflict.id, " ")
    with pytest.raises(push.SyncError, match="No conflict #99"):
        push.resolve_conflict(ctx, lee, outbox, 99, "ok")

    push.resolve_conflict(ctx, lee, outbox, conflict.id, "the shop cancelled it: items back to stock")

    assert push.list_conflicts(ctx, lee, outbox) == []
    (done,) = push.list_conflicts(ctx, lee, outbox, open_only=False)
    assert done.resolved_by == "person:Lee Lead" and done.note.startswith("the shop cancelled")
    with pytest.raises(push.SyncError, match="resolved already by person:Lee Lead"):
        push.resolve_conflict(ctx, lee, outbox, conflict.id, "again")
    assert push.sync_counts(ctx, pat)[S.REFUSED] == 1  # the station's history stays as it was


def test_draining_a_backlog_grows_the_batch(ctx: Context, pat: Session, worker: Session, outbox: FakeCentralOutbox,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pack_so1(ctx, pat)  # 10 events
    sizes: list[int] = []
    real = push.push_once

    def counting(*args: Any, **kwargs: Any) -> push.PushReport:
        sizes.append(kwargs["batch"])
        return real(*args, **kwargs)

    monkeypatch.setattr(push, "push_once", counting)
    report = push.push_all(ctx, worker, outbox, batch=1, max_batch=4)
    assert sizes == [1, 2, 4, 4] and report.applied == 10 and report.drained
