"""Status push on SQLite or PostgreSQL: subscriptions, deliveries, the outbox reader's cursor."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from packstation.adapters.db import tables as t
from packstation.adapters.db.chunks import chunks
from packstation.adapters.db.intake import insert_ignoring
from packstation.domain.events import Event
from packstation.domain.integration import Delivery, DeliveryState, Subscription, SubscriptionKind
from packstation.services.ports import (
    LoggedEvent,
    PushCursor,
    StatusPushRepository,
    SubscriptionStats,
)

s = t.push_subscriptions.c
d = t.push_deliveries.c
c = t.push_cursors.c
e = t.events.c

_EVENT_COLS = (e.seq, e.id, e.kind, e.order_id, e.station_id, e.user_name, e.actor, e.occurred_at, e.payload,
               e.sync_state)
_PENDING = DeliveryState.PENDING.value
_earlier = aliased(t.push_deliveries)
# The oldest pending delivery of each (subscription, order) that is due and nobody holds.
_DUE = (select(d.id)
        .where(and_(d.state == _PENDING, d.next_attempt_at <= bindparam("now"),
                    or_(d.lease_until.is_(None), d.lease_until < bindparam("now")),
                    ~exists().where(and_(_earlier.c.subscription_id == d.subscription_id,
                                         _earlier.c.order_id == d.order_id,
                                         _earlier.c.state == _PENDING,
                                         _earlier.c.event_seq < d.event_seq))))
        .order_by(d.next_attempt_at, d.event_seq).limit(bindparam("n")))
_RECORD = (update(t.push_deliveries).where(d.id == bindparam("did"))
           .values(state=bindparam("st"), attempts=bindparam("att"), next_attempt_at=bindparam("nxt"),
                   last_status=bindparam("ls"), last_error=bindparam("le"), delivered_at=bindparam("dat"),
                   lease_until=None))


def _subscription(r: Any) -> Subscription:
    return Subscription(id=r["id"], url=r["url"], events=tuple(x for x in r["events"].split(",") if x),
                        secret=r["secret"], kind=SubscriptionKind(r["kind"]), created_at=r["created_at"],
                        created_by=r["created_by"], shop=r["shop"])


def _delivery(r: Any) -> Delivery:
    return Delivery(id=r["id"], subscription_id=r["subscription_id"], event_id=r["event_id"], event_seq=r["event_seq"],
                    order_id=r["order_id"], event=r["event"], body=r["body"], created_at=r["created_at"],
                    state=DeliveryState(r["state"]), attempts=r["attempts"], next_attempt_at=r["next_attempt_at"],
                    last_status=r["last_status"], last_error=r["last_error"], delivered_at=r["delivered_at"])


class SqlStatusPush(StatusPushRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    # --- subscriptions ---------------------------------------------------------------------
    def add_subscription(self, url: str, events: Sequence[str], secret: str, kind: SubscriptionKind, shop: str,
                         by: str, at: datetime) -> Subscription:
        res = self.conn.execute(insert(t.push_subscriptions).values(
            kind=kind.value, url=url, shop=shop, events=",".join(events), secret=secret, created_at=at, created_by=by))
        row = self.conn.execute(select(t.push_subscriptions)
                                .where(s.id == res.inserted_primary_key[0])).mappings().one()
        return _subscription(row)

    def subscriptions(self) -> list[Subscription]:
        return [_subscription(r) for r in self.conn.execute(select(t.push_subscriptions).order_by(s.id)).mappings()]

    # --- the outbox reader -------------------------------------------------------------------
    def cursor(self, name: str, *, lock: bool = False) -> PushCursor:
        q = select(c.read_seq, c.missing).where(c.name == name)
        if lock:
            row = self.conn.execute(q.with_for_update()).first()
            if row is None:  # make the row, so the next reader waits on it
                self.conn.execute(insert_ignoring(self.conn, t.push_cursors).values(name=name, read_seq=0, missing="{}"))
                row = self.conn.execute(q.with_for_update()).first()
        else:
            row = self.conn.execute(q).first()
        if row is None:
            return PushCursor()
        missing = json.loads(row[1] or "{}")
        return PushCursor(read_seq=int(row[0]), missing=tuple(
            sorted((int(k), datetime.fromtimestamp(v, UTC)) for k, v in missing.items())))

    def set_cursor(self, name: str, cursor: PushCursor) -> None:
        values = {"read_seq": cursor.read_seq,
                  "missing": json.dumps({str(seq): at.timestamp() for seq, at in cursor.missing})}
        if self.conn.execute(update(t.push_cursors).where(c.name == name).values(**values)).rowcount == 0:
            self.conn.execute(insert(t.push_cursors).values(name=name, **values))

    def events_after(self, seq: int, limit: int) -> list[LoggedEvent]:
        return self._events(select(*_EVENT_COLS).where(e.seq > seq).order_by(e.seq).limit(limit))

    def events_numbered(self, seqs: Sequence[int]) -> list[LoggedEvent]:
        found: list[LoggedEvent] = []
        for part in chunks(list(seqs)):
            found += self._events(select(*_EVENT_COLS).where(e.seq.in_(part)))
        return sorted(found, key=lambda x: x.event.seq)

    def _events(self, q: Any) -> list[LoggedEvent]:
        return [LoggedEvent(Event(kind=r["kind"], order_id=r["order_id"], actor=r["actor"], user=r["user_name"],
                                  payload=json.loads(r["payload"] or "{}"), id=r["id"], occurred_at=r["occurred_at"],
                                  station_id=r["station_id"], seq=r["seq"]), r["sync_state"] or "")
                for r in self.conn.execute(q).mappings()]

    # --- deliveries ------------------------------------------------------------------------
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        if not deliveries:
            return 0
        res = self.conn.execute(insert_ignoring(self.conn, t.push_deliveries).returning(d.id), [
            {"id": x.id, "subscription_id": x.subscription_id, "event_id": x.event_id, "event_seq": x.event_seq,
             "order_id": x.order_id, "event": x.event, "body": x.body, "state": x.state.value, "attempts": x.attempts,
             "next_attempt_at": x.next_attempt_at or x.created_at, "last_error": x.last_error,
             "created_at": x.created_at} for x in deliveries])
        return len(res.all())

    def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        q = _DUE.with_for_update(skip_locked=True, of=t.push_deliveries) if self.conn.dialect.name == "postgresql" else _DUE
        ids = [r[0] for r in self.conn.execute(q, {"now": now, "n": limit})]
        if not ids:
            return []
        self.conn.execute(update(t.push_deliveries).where(d.id.in_(ids)).values(lease_until=lease_until))
        rows = self.conn.execute(select(t.push_deliveries).where(d.id.in_(ids))
                                 .order_by(d.next_attempt_at, d.event_seq)).mappings()
        return [_delivery(r) for r in rows]

    def record(self, outcomes: Sequence[Delivery]) -> None:
        if not outcomes:
            return
        self.conn.execute(_RECORD, [
            {"did": x.id, "st": x.state.value, "att": x.attempts, "nxt": x.next_attempt_at or x.created_at,
             "ls": x.last_status, "le": x.last_error, "dat": x.delivered_at} for x in outcomes])

    def retry_failed(self, subscription_id: int | None, at: datetime) -> int:
        cond = d.state == DeliveryState.FAILED.value
        if subscription_id is not None:
            cond = and_(cond, d.subscription_id == subscription_id)
        res = self.conn.execute(update(t.push_deliveries).where(cond)
                                .values(state=_PENDING, next_attempt_at=at, lease_until=None))
        return int(res.rowcount)

    def deliveries(self, subscription_id: int, states: Sequence[DeliveryState], limit: int) -> list[Delivery]:
        rows = self.conn.execute(select(t.push_deliveries)
                                 .where(and_(d.subscription_id == subscription_id,
                                             d.state.in_([x.value for x in states])))
                                 .order_by(d.created_at, d.event_seq).limit(limit)).mappings()
        return [_delivery(r) for r in rows]

    def stats(self) -> list[SubscriptionStats]:
        counts: dict[int, dict[str, int]] = {}
        for sub_id, state, n in self.conn.execute(select(d.subscription_id, d.state, func.count())
                                                  .group_by(d.subscription_id, d.state)):
            counts.setdefault(sub_id, {})[state] = int(n)
        out = []
        public = [col for col in t.push_subscriptions.c if col.name != "secret"]  # a station may not read secrets
        for r in self.conn.execute(select(*public).order_by(s.id)).mappings():
            sub = _subscription({**r, "secret": ""})
            n = counts.get(sub.id, {})
            oldest = self.conn.execute(select(func.min(d.created_at)).where(
                and_(d.subscription_id == sub.id, d.state == _PENDING))).scalar()
            failing = self.conn.execute(select(d.created_at, d.attempts, d.last_error, d.last_status).where(
                and_(d.subscription_id == sub.id, d.state.in_([_PENDING, DeliveryState.FAILED.value]), d.attempts > 0))
                .order_by(d.created_at, d.event_seq).limit(1)).first()
            last_ok = self.conn.execute(select(func.max(d.delivered_at)).where(
                and_(d.subscription_id == sub.id, d.state == DeliveryState.DELIVERED.value))).scalar()
            retry = self.conn.execute(select(d.next_attempt_at).where(
                and_(d.subscription_id == sub.id, d.state == _PENDING, d.attempts > 0))
                .order_by(d.created_at, d.event_seq).limit(1)).scalar()
            out.append(SubscriptionStats(
                subscription=sub, pending=n.get(_PENDING, 0), failed=n.get(DeliveryState.FAILED.value, 0),
                delivered=n.get(DeliveryState.DELIVERED.value, 0), oldest_pending_at=_aware(oldest),
                failing_since=failing[0] if failing else None, attempts=failing[1] if failing else 0,
                last_error=failing[2] if failing else "", last_status=failing[3] if failing else None,
                last_delivered_at=_aware(last_ok), next_retry_at=retry))
        return out


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates (min/max) come back without the column's type: make them UTC-aware like the rest."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands aggregates of DATETIME back as text
        value = datetime.fromisoformat(value)
    return t.UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]


__all__ = ["SqlStatusPush"]
