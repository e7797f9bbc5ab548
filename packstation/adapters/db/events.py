"""The event outbox on SQLite or PostgreSQL: one row per change, in the change's transaction.

Each row also carries what the central sync needs: ``fence`` (the lease token the event's order
held here when it was written, stamped by the INSERT itself), ``station_seq`` (the station's own
numbering, given at push time so the scan path stays one INSERT) and the centre's answer
(``sync_state``, ``sync_reason``, ``pushed_at``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from packstation.adapters.db import tables as t
from packstation.adapters.db.bulk import insert_columns, insert_rows
from packstation.adapters.db.chunks import chunks
from packstation.domain.events import Event
from packstation.services.ports import Answer, EventLog, OutboxEvent, SyncState

e = t.events.c
_PENDING = SyncState.PENDING.value
_OPEN = (SyncState.PENDING, SyncState.REFUSED, SyncState.HELD)  # what counts() counts (the rest is history)

# the answers of a run of consecutive numbers with the same outcome: one UPDATE over the number index
_ANSWER = (update(t.events)
           .where(and_(e.station_id == bindparam("b_station"), e.station_seq >= bindparam("b_first"),
                       e.station_seq <= bindparam("b_last"), e.sync_state == _PENDING))
           .values(sync_state=bindparam("b_state"), sync_reason=bindparam("b_reason"), pushed_at=bindparam("b_at")))
_OUTBOX_COLUMNS = (e.seq, e.id, e.kind, e.order_id, e.station_id, e.user_name, e.actor, e.occurred_at, e.payload,
                   e.station_seq, e.fence, e.sync_state, e.sync_reason, e.pushed_at)
_PAYLOAD = json.JSONEncoder(default=str, sort_keys=True)  # as add() writes it, the encoder made once
# one event: a prebuilt INSERT (built once, not per scan) whose fence is read by the INSERT itself
# (a scalar subquery: NULL for an event of no order, or of an order this station holds no lease on)
_ADD = insert(t.events).values(
    id=bindparam("id"), kind=bindparam("kind"), order_id=bindparam("order_id"), station_id=bindparam("station_id"),
    user_name=bindparam("user_name"), actor=bindparam("actor"), occurred_at=bindparam("occurred_at"),
    payload=bindparam("payload"),
    fence=select(t.orders.c.lease_token).where(t.orders.c.order_id == bindparam("order_id")).scalar_subquery())
_COLUMNS = ("id", "kind", "order_id", "station_id", "user_name", "actor", "occurred_at", "payload")


class SqlEventLog(EventLog):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, event: Event, station_id: str, at: datetime) -> str:
        self.conn.execute(_ADD, {"id": event.id, "kind": event.kind, "order_id": event.order_id,
                                 "station_id": station_id, "user_name": event.user, "actor": event.actor,
                                 "occurred_at": event.occurred_at or at, "payload": _PAYLOAD.encode(event.payload)})
        return event.id

    def add_many(self, events: Sequence[Event], station_id: str, at: datetime) -> None:
        # the same columns as add(): on SQLite one prebuilt statement executed for every row
        # (imports), on PostgreSQL one statement for them all (an array per column). The fence is
        # left NULL: these are events of orders stored in the same transaction, which no lease holds.
        if self.conn.dialect.name == "postgresql":
            insert_columns(self.conn, t.events, _COLUMNS, [
                (ev.id, ev.kind, ev.order_id, station_id, ev.user, ev.actor, ev.occurred_at or at,
                 _PAYLOAD.encode(ev.payload)) for ev in events])
            return
        insert_rows(self.conn, t.events, [{
            "id": ev.id, "kind": ev.kind, "order_id": ev.order_id, "station_id": station_id, "user_name": ev.user,
            "actor": ev.actor, "occurred_at": ev.occurred_at or at,
            "payload": _PAYLOAD.encode(ev.payload)} for ev in events], _COLUMNS)

    def for_order(self, order_id: str) -> list[Event]:
        rows = self.conn.execute(select(t.events).where(e.order_id == order_id).order_by(e.seq)).mappings()
        return [_event(r) for r in rows]

    def since(self, at: datetime) -> list[Event]:
        rows = self.conn.execute(select(t.events).where(e.occurred_at >= at).order_by(e.seq)).mappings()
        return [_event(r) for r in rows]

    def unpushed_orders(self, order_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(sorted(set(order_ids))):
            found.update(r[0] for r in self.conn.execute(
                select(e.order_id).where(e.order_id.in_(part), e.sync_state == "pending").distinct()))
        return found

    # --- the push ------------------------------------------------------------------------------
    def number_pending(self, station_id: str, *, after: int = 0) -> int:
        base = max(self.last_numbered(station_id), after)
        fresh = (select(e.seq, func.row_number().over(order_by=e.seq).label("n"))
                 .where(and_(e.station_id == station_id, e.station_seq.is_(None))).subquery())
        res = self.conn.execute(update(t.events).where(e.seq == fresh.c.seq).values(station_seq=fresh.c.n + base))
        return int(res.rowcount or 0)

    def last_numbered(self, station_id: str) -> int:
        return int(self.conn.execute(
            select(func.coalesce(func.max(e.station_seq), 0)).where(e.station_id == station_id)).scalar_one())

    def waiting(self, station_id: str, *, centre_has: int) -> int:
        # two counts on the (station_id, station_seq) index alone: cheap however big the backlog
        numbered = self.conn.execute(select(func.count()).where(
            and_(e.station_id == station_id, e.station_seq > centre_has))).scalar_one()
        fresh = self.conn.execute(select(func.count()).where(
            and_(e.station_id == station_id, e.station_seq.is_(None)))).scalar_one()
        return int(numbered) + int(fresh)

    def pending(self, station_id: str, limit: int) -> list[OutboxEvent]:
        # by seq, which is the station's number order too (numbers are given in seq order): so the
        # (sync_state, seq) index walks the pending events only, never the station's whole history
        rows = self.conn.execute(
            select(*_OUTBOX_COLUMNS).where(and_(e.sync_state == _PENDING, e.station_id == station_id,
                                                e.station_seq.is_not(None)))
            .order_by(e.seq).limit(limit))
        return [_outbox(r) for r in rows]

    def answer(self, station_id: str, answers: Sequence[Answer], at: datetime) -> None:
        runs: list[dict[str, Any]] = []
        for a in sorted(answers, key=lambda a: a.station_seq):
            state = a.settled_as.value
            last = runs[-1] if runs else None
            if (last is not None and last["b_last"] + 1 == a.station_seq and last["b_state"] == state
                    and last["b_reason"] == a.reason):
                last["b_last"] = a.station_seq
            else:
                runs.append({"b_station": station_id, "b_first": a.station_seq, "b_last": a.station_seq,
                             "b_state": state, "b_reason": a.reason, "b_at": at})
        if runs:
            self.conn.execute(_ANSWER, runs)

    def outbox(self, station_id: str, states: Iterable[SyncState], limit: int = 200) -> list[OutboxEvent]:
        wanted = [s.value for s in states]
        rows = self.conn.execute(
            select(*_OUTBOX_COLUMNS).where(and_(e.station_id == station_id, e.sync_state.in_(wanted),
                                                e.station_seq.is_not(None)))
            .order_by(e.station_seq).limit(limit))
        return [_outbox(r) for r in rows]

    def counts(self, station_id: str) -> dict[SyncState, int]:
        rows = self.conn.execute(select(e.sync_state, func.count())
                                 .where(and_(e.sync_state.in_([s.value for s in _OPEN]), e.station_id == station_id))
                                 .group_by(e.sync_state))
        out = dict.fromkeys(_OPEN, 0)
        for state, n in rows:
            out[SyncState(state)] += n
        return out

    def reopen(self, station_id: str, from_seq: int) -> int:
        res = self.conn.execute(
            update(t.events).where(and_(e.station_id == station_id, e.station_seq >= from_seq,
                                        e.sync_state != _PENDING))
            .values(sync_state=_PENDING, sync_reason=None, pushed_at=None))
        return int(res.rowcount or 0)


def _event(r: Any) -> Event:
    return Event(kind=r["kind"], order_id=r["order_id"], actor=r["actor"], user=r["user_name"],
                 payload=json.loads(r["payload"] or "{}"), id=r["id"], occurred_at=r["occurred_at"],
                 station_id=r["station_id"], seq=r["seq"])


_STATES = {s.value: s for s in SyncState}


_new = object.__new__


def _outbox(r: Any) -> OutboxEvent:
    """A row of _OUTBOX_COLUMNS (a tuple: the outbox reads them by the batch).

    Both dataclasses are frozen, and their generated ``__init__`` sets each field through
    ``object.__setattr__``: for a backlog's 50,000 events that took half the time of reading
    them. The instances are filled in directly instead (every field, as ``__init__`` would)."""
    seq, id_, kind, order_id, station_id, user, actor, occurred_at, payload, station_seq, fence, state, reason, at = r
    event = _new(Event)
    event.__dict__.update(kind=kind, order_id=order_id, actor=actor, user=user, payload=json.loads(payload or "{}"),
                          id=id_, occurred_at=occurred_at, station_id=station_id, seq=seq)
    out = _new(OutboxEvent)
    out.__dict__.update(event=event, station_seq=station_seq, fence=fence, state=_STATES[state], reason=reason,
                        pushed_at=at, payload_json=payload)
    return out
