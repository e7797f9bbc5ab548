"""The event outbox on SQLite or PostgreSQL: one row per change, in the change's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from packstation.adapters.db import tables as t
from packstation.adapters.db.bulk import insert_rows
from packstation.domain.events import Event
from packstation.services.ports import EventLog

e = t.events.c
_PAYLOAD = json.JSONEncoder(default=str, sort_keys=True)  # as add() writes it, the encoder made once
_COLUMNS = ("id", "kind", "order_id", "station_id", "user_name", "actor", "occurred_at", "payload")


class SqlEventLog(EventLog):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, event: Event, station_id: str, at: datetime) -> str:
        self.conn.execute(insert(t.events).values(
            id=event.id, kind=event.kind, order_id=event.order_id, station_id=station_id, user_name=event.user,
            actor=event.actor, occurred_at=event.occurred_at or at,
            payload=json.dumps(event.payload, default=str, sort_keys=True),
        ))
        return event.id

    def add_many(self, events: Sequence[Event], station_id: str, at: datetime) -> None:
        # the same columns as add(), one prebuilt statement executed for every row (imports)
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


def _event(r: Any) -> Event:
    return Event(kind=r["kind"], order_id=r["order_id"], actor=r["actor"], user=r["user_name"],
                 payload=json.loads(r["payload"] or "{}"), id=r["id"], occurred_at=r["occurred_at"],
                 station_id=r["station_id"], seq=r["seq"])
