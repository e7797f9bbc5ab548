"""The stock ledger (``stock_movements``) on SQLite or PostgreSQL: append-only, summed for stock on hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from packstation.adapters.db import tables as t
from packstation.adapters.db.chunks import chunks
from packstation.domain.stock import MovementKind, StockLevel, StockMovement
from packstation.services.ports import StockLedger

sm = t.stock_movements.c


class SqlStockLedger(StockLedger):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, movements: Sequence[StockMovement]) -> list[StockMovement]:
        now = datetime.now(UTC)
        fresh: list[StockMovement] = []
        seen: set[str] = set()
        keyed = [m.event_id for m in movements if m.event_id]
        stored: set[str] = set()
        for part in chunks(keyed):
            stored.update(r[0] for r in self.conn.execute(select(sm.event_id).where(sm.event_id.in_(part))))
        for m in movements:
            if m.event_id:
                if m.event_id in stored or m.event_id in seen:
                    continue
                seen.add(m.event_id)
            fresh.append(m if m.at is not None else replace(m, at=now))
        stored_now: list[StockMovement] = []
        for m in fresh:
            # ON CONFLICT DO NOTHING: another writer that stored the same event meanwhile (two
            # pushes of one event at the centre) wins without failing this transaction; it needs
            # INSERT only, which the station role has on the ledger
            row = _row(m)
            if self.conn.execute(_insert_ignoring_event(self.conn, row), row).rowcount != 0:
                stored_now.append(m)
        return stored_now

    def on_hand(self, sku: str) -> list[StockLevel]:
        total = func.sum(sm.qty)
        q = (select(sm.location, sm.lot, total).where(sm.sku == sku).group_by(sm.location, sm.lot)
             .having(total != 0).order_by(sm.location, sm.lot))
        return [StockLevel(sku, r[0], r[1], int(r[2])) for r in self.conn.execute(q)]

    def movements(self, sku: str) -> list[StockMovement]:
        q = select(t.stock_movements).where(sm.sku == sku).order_by(sm.id)
        return [_movement(r) for r in self.conn.execute(q).mappings()]

    def find(self, event_id: str) -> StockMovement | None:
        r = self.conn.execute(select(t.stock_movements).where(sm.event_id == event_id)).mappings().first()
        return _movement(r) if r else None


def _movement(r: Any) -> StockMovement:
    return StockMovement(sku=r["sku"], location=r["location"], lot=r["lot"], qty=r["qty"], kind=MovementKind(r["kind"]),
                         ref=r["ref"], event_id=r["event_id"], actor=r["actor"], at=r["at"])


def _row(m: StockMovement) -> dict[str, Any]:
    return {"sku": m.sku, "location": m.location, "lot": m.lot, "qty": m.qty, "kind": m.kind.value, "ref": m.ref[:120],
            "event_id": m.event_id, "actor": m.actor[:160], "at": m.at}


# Built once (a ledger movement is written per scan and per stock record): executed with a row.
_INSERT = insert(t.stock_movements)
_INSERT_IGNORING_EVENT = {
    "postgresql": pg_insert(t.stock_movements).on_conflict_do_nothing(index_elements=["event_id"]),
    "sqlite": sqlite_insert(t.stock_movements).on_conflict_do_nothing(index_elements=["event_id"]),
}


def _insert_ignoring_event(conn: Connection, row: dict[str, Any]) -> Any:
    if row["event_id"] is None:
        return _INSERT
    return _INSERT_IGNORING_EVENT.get(conn.dialect.name, _INSERT)
