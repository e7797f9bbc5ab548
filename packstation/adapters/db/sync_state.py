"""A station's sync bookkeeping (``sync_state``: key -> text), on SQLite or PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from packstation.adapters.db import tables as t
from packstation.services.ports import SyncBookkeeping

ss = t.sync_state.c


class SqlSyncBookkeeping(SyncBookkeeping):
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, key: str) -> str | None:
        row = self.conn.execute(select(ss.value).where(ss.key == key)).first()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str) -> None:
        if self.conn.execute(update(t.sync_state).where(ss.key == key).values(value=value)).rowcount == 0:
            self.conn.execute(insert(t.sync_state).values(key=key, value=value))

    def all(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute(select(ss.key, ss.value).order_by(ss.key))}
