"""The outbox push: this station's events to the central database, each applied there exactly once.

One push (:func:`push_once`):

1. Local transaction: number the station's events that have no station sequence yet, in the order
   they were stored, right after its highest number (or after the centre's, if the centre has more:
   a station restored from a backup must not reuse numbers). Take the first *batch* pending ones.
2. Central transaction, one per batch (:func:`receive`), with the station's ``station_sync`` row
   locked so two senders of one station take turns. For each event, in order:

   - its id already at the centre → ``duplicate`` (with what the centre decided the first time);
     a number the centre has under another id → ``refused`` (sequence reused), not stored;
   - a number beyond the centre's last + 1 → a **gap**: stop, answer nothing more;
   - an earlier event of its order from this station was refused and is not resolved → ``held``:
     stored, not applied;
   - else applied by :class:`~packstation.services.sync.appliers.Appliers` inside a savepoint; a
     refusal rolls the savepoint back, stores the event as refused with a conflict record (both
     sides as JSON) and blocks the order for this station's later events;
   - the station's last number advances, its clock offset (its clock minus the centre's) is stored.

   Commit. If the connection dies before the commit, nothing happened; if the reply is lost after
   it, the retry finds every event already there (by number and by id) and answers ``duplicate``.
3. Local transaction: each answer on its event (state, reason, when). A gap makes the station send
   again from the number the centre expects (it lost events: restored from a backup) if it still has
   them; when nothing is pending it checks the same against the centre's last number.

The batch path (``batched=True``) lets the adapter collect a batch's writes and store them
together; if the database refuses them (a constraint), the batch is received again event by event,
each in its own savepoint, so only the event at fault is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from packstation.domain.identity import Permission, Session
from packstation.services.collections_gc import fewer_collections
from packstation.services.context import Context
from packstation.services.ports import (
    Answer,
    BatchRejected,
    Blocker,
    CentralInbox,
    CentralOutbox,
    ConflictRecord,
    EventApplier,
    Gap,
    OutboxEvent,
    Refused,
    SyncState,
)
from packstation.services.sync.appliers import Appliers, lease_json

log = logging.getLogger(__name__)


class SyncError(Exception):
    """A sync request that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Receipt:
    """The centre's answer to one batch."""

    answers: list[Answer]
    last_seq: int  # the station's last number the centre has, after the batch
    centre_now: datetime
    clock_offset_s: float  # the station's clock minus the centre's
    gap: Gap | None = None
    batched: bool = True  # False: received again event by event (the batch's writes were refused)


@dataclass
class PushReport:
    """What one or more pushes did; ``drained``: the centre has every event of this station."""

    sent: int = 0
    applied: int = 0
    duplicate: int = 0
    refused: int = 0
    held: int = 0
    batches: int = 0
    gap: Gap | None = None
    reopened: int = 0  # answered events sent again (the centre had lost them)
    clock_offset_s: float | None = None
    centre_now: datetime | None = None
    last_seq: int | None = None  # the centre's last number of this station
    # this station's events the centre does not have yet, after the push; None after a full batch
    # (more are waiting: counting them would cost more than sending them)
    remaining: int | None = 0
    problem: str | None = None  # why the centre cannot get everything (for the lead / `sync now`)
    refusals: list[Answer] = field(default_factory=list)

    @property
    def drained(self) -> bool:
        return self.remaining == 0 and self.problem is None

    def count(self, answers: Sequence[Answer]) -> None:
        for a in answers:
            self.sent += 1
            if a.state is SyncState.APPLIED:
                self.applied += 1
            elif a.state is SyncState.DUPLICATE:
                self.duplicate += 1
            elif a.state is SyncState.HELD:
                self.held += 1
            else:
                self.refused += 1
            if a.state in (SyncState.REFUSED, SyncState.HELD):
                self.refusals.append(a)

    def merge(self, later: PushReport) -> None:
        for name in ("sent", "applied", "duplicate", "refused", "held", "batches", "reopened"):
            setattr(self, name, getattr(self, name) + getattr(later, name))
        self.refusals.extend(later.refusals)
        self.gap, self.remaining, self.problem = later.gap, later.remaining, later.problem
        for name in ("clock_offset_s", "centre_now", "last_seq"):
            if getattr(later, name) is not None:
                setattr(self, name, getattr(later, name))


# --- the station's side ------------------------------------------------------------------------


def push_once(ctx: Context, session: Session, outbox: CentralOutbox, *, batch: int = 500,
              centre_has: int | None = None) -> PushReport:
    """Send one batch of this station's pending events to the centre and store its answers.

    *centre_has*: the centre's last number of this station if the caller just heard it (the
    previous push's ``last_seq``); otherwise it is asked first. Raises StorageError when either
    database cannot be reached (nothing is lost: what the centre committed is answered
    ``duplicate`` next time)."""
    ctx.auth.require(session, Permission.SYNC, "Sending this station's events to the central database")
    sid = ctx.station_id
    report = PushReport()
    progress = outbox.progress(sid) if centre_has is None else None
    if centre_has is None:
        centre_has = progress.last_seq if progress is not None else 0
    with ctx.uow() as uow:
        uow.events.number_pending(sid, after=centre_has)
        events = uow.events.pending(sid, batch)
        top = 0
        if not events:
            top = uow.events.last_numbered(sid)
            if top > centre_has:  # the centre lost events this station had sent it: send them again
                report.reopened = uow.events.reopen(sid, centre_has + 1)
                events = uow.events.pending(sid, batch)
        uow.commit()
    if not events:
        report.last_seq = centre_has
        report.clock_offset_s = progress.clock_offset_s if progress is not None else None
        if progress is None and top > centre_has:  # what the caller heard may be old: ask
            return push_once(ctx, session, outbox, batch=batch)
        if top > centre_has:
            report.problem = (f"The central database has this station's events up to number {centre_has}, this "
                              f"station numbered them up to {top} and no longer has the ones after {centre_has} "
                              "to send again.")
        return report
    receipt = receive(outbox, sid, ctx.clock(), events, Appliers(ctx, session))
    report.batches = 1
    report.count(receipt.answers)
    report.gap, report.last_seq = receipt.gap, receipt.last_seq
    report.clock_offset_s, report.centre_now = receipt.clock_offset_s, receipt.centre_now
    with ctx.uow() as uow:
        uow.events.answer(sid, receipt.answers, ctx.clock())
        if receipt.gap is not None:
            report.reopened += uow.events.reopen(sid, receipt.gap.expected)
            first = uow.events.pending(sid, 1)
            if not first or first[0].station_seq != receipt.gap.expected:
                report.problem = (f"The central database expects event number {receipt.gap.expected} of this "
                                  f"station next, but this station's next event is number {receipt.gap.got}: the "
                                  "ones in between are missing here (restored from an older backup?). Ask IT.")
        if len(events) < batch or receipt.gap is not None:
            report.remaining = uow.events.waiting(sid, centre_has=receipt.last_seq)
        else:
            report.remaining = None
        uow.commit()
    if report.refused or report.held:
        log.warning("central database refused %d and held %d event(s) of %s", report.refused, report.held, sid)
    return report


def push_all(ctx: Context, session: Session, outbox: CentralOutbox, *, batch: int = 500, max_batch: int = 8000,
             max_batches: int | None = None) -> PushReport:
    """Push until the centre has every event of this station, or it cannot (``problem``).

    While full batches keep coming (a backlog after a time offline) the batch doubles, up to
    *max_batch*: a central transaction costs about the same few dozen round trips however many
    events it carries, and each batch two durable commits at the station (50,000 events drained
    in batches up to 2,000 took 27 batches; up to 8,000, 10, and a quarter less time). A batch of
    8,000 holds its orders' rows at the centre for well under a second."""
    total = PushReport()
    centre_has: int | None = None
    size = batch
    with fewer_collections():  # a backlog's batches make many short-lived objects
        while True:
            report = push_once(ctx, session, outbox, batch=size, centre_has=centre_has)
            total.merge(report)
            if report.drained or report.problem is not None or (report.sent == 0 and report.reopened == 0):
                return total
            if max_batches is not None and total.batches >= max_batches:
                return total
            centre_has = report.last_seq if report.gap is None and report.reopened == 0 else None
            size = min(size * 2, max(max_batch, batch)) if report.sent == size else batch


# --- the centre's side -------------------------------------------------------------------------


def receive(outbox: CentralOutbox, station_id: str, station_now: datetime, events: Sequence[OutboxEvent],
            apply: EventApplier) -> Receipt:
    """One batch of *station_id*'s events (in number order) at the centre: one central transaction,
    one answer per event up to a gap."""
    try:
        return _receive(outbox, station_id, station_now, events, apply, batched=True)
    except BatchRejected as exc:
        log.info("batch of %d event(s) of %s refused as a whole (%s): received again one by one",
                 len(events), station_id, exc)
        return _receive(outbox, station_id, station_now, events, apply, batched=False)


def _receive(outbox: CentralOutbox, station_id: str, station_now: datetime, events: Sequence[OutboxEvent],
             apply: EventApplier, *, batched: bool) -> Receipt:
    with outbox.begin(station_id, events, batched=batched) as inbox:
        last = inbox.last_seq
        offset = (station_now - inbox.centre_now).total_seconds()
        known = inbox.known([ev.id for ev in events])
        blocked = inbox.blocked({ev.event.order_id for ev in events if ev.event.order_id is not None})
        answers: list[Answer] = []
        gap: Gap | None = None
        for ev in events:
            seq = ev.station_seq
            if ev.id in known:
                state, reason = known[ev.id]
                answers.append(Answer(ev.id, seq, SyncState.DUPLICATE, f"already at the central database ({state.value})"
                                      + (f": {reason}" if reason else ""), stored_as=state))
                if seq == last + 1:  # stored under another number before: this number is answered too
                    last = seq
                continue
            if seq <= last:
                reason = (f"Station sequence number {seq} was used by another event already (the central database "
                          f"has this station's events up to {last}): was the station restored from a backup?")
                inbox.add_conflict(ev, reason, event_json(ev), {"station_seq": seq, "last_seq": last,
                                                                "event_there": inbox.event_at(seq)})
                answers.append(Answer(ev.id, seq, SyncState.REFUSED, reason))
                _block(blocked, ev, reason)
                continue
            if seq > last + 1:
                gap = Gap(last + 1, seq)
                break
            last = seq
            order_id = ev.event.order_id
            if order_id is not None and order_id in blocked:
                b = blocked[order_id]
                reason = (f"Held: {b.kind} (event {b.event_id}) of order {order_id} from this station was refused "
                          f"first ({b.reason}). A lead must resolve that conflict.")
                inbox.store(ev, SyncState.HELD, reason)
                answers.append(Answer(ev.id, seq, SyncState.HELD, reason))
                continue
            try:
                with inbox.savepoint():
                    apply(inbox.uow, inbox.ledger, ev, inbox.centre_now)
                    inbox.store(ev, SyncState.APPLIED, None)
            except Refused as refusal:
                inbox.add_conflict(ev, refusal.reason, event_json(ev), {**_central_side(inbox, order_id),
                                                                        **refusal.central})
                inbox.store(ev, SyncState.REFUSED, refusal.reason)
                answers.append(Answer(ev.id, seq, SyncState.REFUSED, refusal.reason))
                _block(blocked, ev, refusal.reason)
                continue
            answers.append(Answer(ev.id, seq, SyncState.APPLIED))
        inbox.finish(last, offset)
        return Receipt(answers, last, inbox.centre_now, offset, gap, batched)


def _block(blocked: dict[str, Blocker], ev: OutboxEvent, reason: str) -> None:
    order_id = ev.event.order_id
    if order_id is not None and order_id not in blocked:
        blocked[order_id] = Blocker(order_id, ev.id, ev.event.kind, ev.station_seq, reason)


def _central_side(inbox: CentralInbox, order_id: str | None) -> dict[str, Any]:
    if order_id is None:
        return {}
    claim = inbox.uow.orders.claim_of(order_id)
    order = None if claim is None else {"order_id": order_id, "status": claim.status.value,
                                        "claimed_by": claim.station_id}
    return {"order": order, "lease": lease_json(inbox.ledger.lease(order_id))}


def event_json(ev: OutboxEvent) -> dict[str, Any]:
    """The station's side of a conflict: the event as it was sent."""
    e = ev.event
    return {"id": e.id, "kind": e.kind, "order_id": e.order_id, "station_id": e.station_id,
            "station_seq": ev.station_seq, "fence": ev.fence, "actor": e.actor, "user": e.user,
            "occurred_at": e.occurred_at.isoformat() if e.occurred_at else None, "payload": e.payload}


# --- what the lead and the command line see -------------------------------------------------------


def sync_counts(ctx: Context, session: Session) -> dict[SyncState, int]:
    """How many of this station's events are waiting, applied, refused, held (any session: the
    status bar shows it to everyone)."""
    ctx.auth.check(session, "The sync state")
    with ctx.uow(readonly=True) as uow:
        return uow.events.counts(ctx.station_id)


def refused_events(ctx: Context, session: Session, *, limit: int = 200) -> list[OutboxEvent]:
    """This station's events the centre refused or held, with the reasons, oldest first."""
    ctx.auth.require(session, Permission.VIEW_FIGURES, "The refused events")
    with ctx.uow(readonly=True) as uow:
        return uow.events.outbox(ctx.station_id, (SyncState.REFUSED, SyncState.HELD), limit)


def list_conflicts(ctx: Context, session: Session, outbox: CentralOutbox, *, station_id: str | None = None,
                   open_only: bool = True, limit: int = 200) -> list[ConflictRecord]:
    """The centre's conflicts (all stations', or one's), newest first."""
    ctx.auth.require(session, Permission.VIEW_FIGURES, "The central database's conflicts")
    return outbox.conflicts(station_id=station_id, open_only=open_only, limit=limit)


def resolve_conflict(ctx: Context, session: Session, outbox: CentralOutbox, conflict_id: int, note: str) -> ConflictRecord:
    """A lead (or admin) has decided on a conflict: mark it resolved, with what was decided. The
    station's order is no longer blocked for its later events; the refused and held events stay as
    they were (history)."""
    ctx.auth.require(session, Permission.RELEASE_CLAIM, "Resolving a conflict")
    if not note.strip():
        raise SyncError("Say what was decided: the note is kept with the resolution.")
    current = outbox.conflict(conflict_id)
    if current is None:
        raise SyncError(f"No conflict #{conflict_id} at the central database.")
    if not current.open:
        raise SyncError(f"Conflict #{conflict_id} was resolved already by {current.resolved_by} "
                        f"({current.resolved_at:%Y-%m-%d %H:%M} UTC).")
    done = outbox.resolve(conflict_id, actor=session.actor, user=session.user_name, station_id=ctx.station_id,
                          note=note.strip(), at=ctx.clock())
    if done is None:
        raise SyncError(f"No conflict #{conflict_id} at the central database.")
    return done


__all__ = ["PushReport", "Receipt", "SyncError", "event_json", "list_conflicts", "push_all", "push_once",
           "receive", "refused_events", "resolve_conflict", "sync_counts"]
