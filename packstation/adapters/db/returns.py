"""Returns (RMAs) and their lines, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from packstation.adapters.db import tables as t
from packstation.adapters.db.chunks import chunks
from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.returns import Return, ReturnLine
from packstation.services.ports import ImportedState, ReturnRepository

r = t.returns.c
rl = t.return_lines.c


class SqlReturns(ReturnRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, rma_id: str) -> Return | None:
        row = self.conn.execute(select(t.returns).where(r.rma_id == rma_id)).mappings().first()
        return self._build(row) if row else None

    def for_order(self, order_id: str) -> list[Return]:
        rows = self.conn.execute(select(t.returns).where(r.order_id == order_id).order_by(r.rma_id)).mappings().all()
        return [self._build(row) for row in rows]

    def _build(self, row: Any) -> Return:
        lines = [ReturnLine(line_no=x["line_no"], sku=x["sku"], qty=x["qty"], grade=x["grade"], disposition=x["disposition"])
                 for x in self.conn.execute(select(t.return_lines).where(rl.rma_id == row["rma_id"])
                                            .order_by(rl.line_no)).mappings()]
        return Return(rma_id=row["rma_id"], order_id=row["order_id"], reason=row["reason"],
                      status=ReturnStatus(row["status"]), lines=lines)

    def imported(self, rma_ids: Sequence[str]) -> dict[str, ImportedState]:
        out: dict[str, ImportedState] = {}
        for part in chunks(rma_ids):
            for x in self.conn.execute(select(r.rma_id, r.content_hash, r.status, r.order_id).where(r.rma_id.in_(part))):
                out[x[0]] = ImportedState(fingerprint=x[1], status=x[2], order_id=x[3])
        return out

    def put(self, ret: Return, fingerprint: str, at: datetime) -> None:
        values = {"order_id": ret.order_id, "reason": ret.reason, "status": ret.status.value, "content_hash": fingerprint,
                  "updated_at": at}
        res = self.conn.execute(update(t.returns).where(r.rma_id == ret.rma_id).values(**values))
        if res.rowcount == 0:
            self.conn.execute(insert(t.returns).values(rma_id=ret.rma_id, created_at=at, **values))
        self.conn.execute(delete(t.return_lines).where(rl.rma_id == ret.rma_id))
        if ret.lines:
            self.conn.execute(insert(t.return_lines), [
                {"rma_id": ret.rma_id, "line_no": ln.line_no, "sku": ln.sku, "qty": ln.qty, "grade": ln.grade,
                 "disposition": ln.disposition} for ln in ret.lines])
