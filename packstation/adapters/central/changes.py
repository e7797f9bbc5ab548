"""The centre's change log, read by stations (``ChangeLog``); its triggers are in ``schema.py``.

Every insert or update of an order (or its lines), a product (or its barcodes), a carton type, a
user or a stock lot at the centre appends ``(seq, entity, key)`` to ``changes``, ``seq`` from one
sequence. Sequence numbers are taken when the row is written but become visible when its
transaction commits, so a reader can see seq 11 before seq 10 (a longer transaction) or never see
seq 10 (rolled back). :meth:`SqlChangeLog.finished_below` (the snapshot's ``xmin``) and
:meth:`SqlChangeLog.started_below` (a transaction id of the reader's own) let the pull tell a gap
that may still fill from one that cannot (services/sync/pull.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, or_, select, text

from packstation.adapters.db import tables as t
from packstation.services.ports import Change, ChangeLog

c = t.changes.c
# SQLite (a station's own database, or tests): one writer at a time and a seq never below a
# committed one, so there are no transactions to wait for
_NONE_RUNNING = 2**62


class SqlChangeLog(ChangeLog):
    def __init__(self, conn: Connection):
        self.conn = conn

    def since(self, after: int, limit: int, *, only: Sequence[tuple[int, int | None]] | None = None) -> list[Change]:
        q = select(c.seq, c.entity, c.key).where(c.seq > after)
        if only is not None:
            if not only:
                return []
            q = q.where(or_(*[c.seq >= first if last is None else and_(c.seq >= first, c.seq <= last)
                              for first, last in only]))
        rows = self.conn.execute(q.order_by(c.seq).limit(limit))
        return [Change(int(r[0]), r[1], r[2]) for r in rows]

    def finished_below(self) -> int:
        if self.conn.dialect.name != "postgresql":
            return _NONE_RUNNING
        # the snapshot's xmin: the oldest transaction still running (all below it have ended)
        return int(self.conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar_one())

    def started_below(self) -> int:
        if self.conn.dialect.name != "postgresql":
            return 0
        # a transaction id of our own: every one assigned before it is lower (the snapshot's xmax
        # would not do: it is one past the newest *finished* transaction)
        return int(self.conn.execute(text("SELECT pg_current_xact_id()::text")).scalar_one())
