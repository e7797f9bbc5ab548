"""The import journal and the orders of big imports, on SQLite or PostgreSQL.

SQLite stores a big file in short chunks (``BEGIN IMMEDIATE`` each), its orders held by the
batch (``orders.import_batch``, while the batch is publishing) until the file is committed, so
benches keep scanning between chunks. PostgreSQL takes a whole file in one transaction (MVCC: nobody waits for it), its orders
through ``COPY`` into a temporary staging table and ``INSERT ... SELECT`` from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from packstation.adapters.db import tables as t
from packstation.adapters.db.bulk import insert_values
from packstation.adapters.db.chunks import chunks
from packstation.adapters.db.orders import _FREE
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import Order
from packstation.services.ports import BatchState, Conflict, ImportBatch, ImportBatchRepository

b = t.import_batches.c
p = t.import_pending.c
o = t.orders.c
_OPEN = [s.value for s in OrderStatus if s.open]
# the columns a new order is stored with, in the order _order_values gives them
_ORDER_COLUMNS = ("order_id", "channel", "placed_at", "customer_name", "customer_email", "customer_phone", "ship_name",
                  "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postcode", "ship_country", "currency",
                  "payment_method", "payment_status", "carrier", "service", "tracking_number", "tote", "status",
                  "wave_id", "content_hash", "created_at", "updated_at", "import_batch", "label_zpl", "label_url")
_LINE_COLUMNS = ("order_id", "line_no", "sku", "qty", "unit_price", "packed_qty", "short_qty", "short_reason")


def _order_values(order: Order, fingerprint: str, at: datetime, batch_id: str | None) -> tuple[Any, ...]:
    a = order.ship_to
    return (order.order_id, order.channel, order.placed_at, order.customer_name, order.customer_email,
            order.customer_phone, a.name, a.line1, a.line2, a.city, a.region, a.postcode, a.country, order.currency,
            order.payment_method, order.payment_status, order.carrier, order.service, order.tracking_number, order.tote,
            order.status.value, order.wave_id, fingerprint, at, at, batch_id, order.label_zpl, order.label_url)


class SqlImports(ImportBatchRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    @property
    def one_transaction(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    # --- the journal -----------------------------------------------------------------------
    def open(self, batch: ImportBatch) -> None:
        self.conn.execute(insert(t.import_batches).values(**_batch_row(batch)))

    def get(self, batch_id: str) -> ImportBatch | None:
        row = self.conn.execute(select(t.import_batches).where(b.id == batch_id)).mappings().first()
        return _batch(row) if row else None

    def unfinished(self) -> list[ImportBatch]:
        rows = self.conn.execute(select(t.import_batches).where(
            b.state.in_([BatchState.PUBLISHING.value, BatchState.RELEASING.value])).order_by(b.started_at, b.id))
        return [_batch(r) for r in rows.mappings()]

    def save(self, batch: ImportBatch) -> None:
        values = _batch_row(batch)
        del values["id"]
        self.conn.execute(update(t.import_batches).where(b.id == batch.id).values(**values))

    def take_over(self, batch_id: str, holder_was: str, holder: str, expires_at: datetime) -> bool:
        res = self.conn.execute(update(t.import_batches).where(and_(b.id == batch_id, b.holder == holder_was))
                                .values(holder=holder, expires_at=expires_at))
        return res.rowcount == 1

    # --- orders ------------------------------------------------------------------------------
    def add_orders(self, batch_id: str | None, orders: Sequence[tuple[Order, str]], at: datetime) -> None:
        if not orders:
            return
        rows = [_order_values(order, fp, at, batch_id) for order, fp in orders]
        lines = [(order.order_id, ln.line_no, ln.sku, ln.qty, str(ln.unit_price), ln.packed, ln.short, ln.short_reason)
                 for order, _ in orders for ln in order.lines]
        if self.conn.dialect.name == "postgresql":
            self._copy_orders(rows, lines)
            return
        try:
            with self.conn.begin_nested():
                insert_values(self.conn, t.orders, _ORDER_COLUMNS, rows)
        except IntegrityError:
            raise self._exists([r[0] for r in rows]) from None
        insert_values(self.conn, t.order_lines, _LINE_COLUMNS, lines)

    def _exists(self, order_ids: Sequence[str]) -> Conflict:
        found: list[str] = []
        for part in chunks(list(order_ids)):
            found += [r[0] for r in self.conn.execute(select(o.order_id).where(o.order_id.in_(part)))]
        return Conflict(f"order {', '.join(sorted(found)[:5]) or '?'} was stored meanwhile (by another import or "
                        "the order API); import the file again.")

    def _copy_orders(self, rows: list[tuple[Any, ...]], lines: list[tuple[Any, ...]]) -> None:
        """COPY into a temporary table, then INSERT ... SELECT (orders that exist already are
        left out and reported), then COPY the lines (they belong to orders just inserted)."""
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        # no statement may run into the engine's statement timeout halfway through a big file
        self.conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        self.conn.exec_driver_sql("CREATE TEMPORARY TABLE IF NOT EXISTS import_orders_staged "
                                  "(LIKE orders INCLUDING DEFAULTS) ON COMMIT DROP")
        self.conn.exec_driver_sql("TRUNCATE import_orders_staged")
        columns = ", ".join(_ORDER_COLUMNS)
        with raw.cursor() as cur:
            with cur.copy(f"COPY import_orders_staged ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(f"INSERT INTO orders ({columns}) SELECT {columns} FROM import_orders_staged "
                        "ON CONFLICT (order_id) DO NOTHING RETURNING order_id")
            inserted = {r[0] for r in cur.fetchall()}
            if len(inserted) != len(rows):
                raise self._exists([r[0] for r in rows if r[0] not in inserted])
            if lines:
                with cur.copy(f"COPY order_lines ({', '.join(_LINE_COLUMNS)}) FROM STDIN") as copy:
                    for line in lines:
                        copy.write_row(line)

    def reserve(self, batch_id: str, updates: Sequence[tuple[str, str]]) -> None:
        if not updates:
            return
        ids = [k for k, _ in updates]
        held = 0
        for part in chunks(ids):
            held += self.conn.execute(update(t.orders).where(and_(
                o.order_id.in_(part), _FREE, o.claimed_by.is_(None))).values(import_batch=batch_id)
            ).rowcount
        if held != len(ids):
            raise Conflict("an order the file updates was claimed or taken by another import meanwhile; "
                           "import the file again.")
        self.conn.execute(insert(t.import_pending), [{"batch_id": batch_id, "key": k, "payload": v} for k, v in updates])

    def totes_in_use(self, totes: Sequence[str]) -> dict[str, list[tuple[str, OrderStatus]]]:
        out: dict[str, list[tuple[str, OrderStatus]]] = {}
        for part in chunks(sorted(set(totes))):
            rows = self.conn.execute(select(o.tote, o.order_id, o.status)
                                     .where(and_(o.tote.in_(part), o.status.in_(_OPEN))).order_by(o.order_id))
            for tote, order_id, status in rows:
                out.setdefault(tote, []).append((order_id, OrderStatus(status)))
        return out

    def _new(self, batch_id: str, limit: int) -> list[str]:
        kept = select(p.key).where(p.batch_id == batch_id)
        return [r[0] for r in self.conn.execute(
            select(o.order_id).where(and_(o.import_batch == batch_id, o.order_id.not_in(kept))).limit(limit))]

    def pending(self, batch_id: str, limit: int) -> list[tuple[str, str]]:
        rows = self.conn.execute(select(p.key, p.payload).where(p.batch_id == batch_id).order_by(p.key).limit(limit))
        return [(r[0], r[1]) for r in rows]

    def settle(self, batch_id: str, order_ids: Sequence[str]) -> None:
        for part in chunks(list(order_ids)):
            self.conn.execute(update(t.orders).where(and_(o.order_id.in_(part), o.import_batch == batch_id))
                              .values(import_batch=None))
            self.conn.execute(delete(t.import_pending).where(and_(p.batch_id == batch_id, p.key.in_(part))))

    def tidy(self) -> None:
        # A chunk writes megabytes to the WAL; whoever commits next past wal_autocheckpoint pages
        # copies them into the database file, fsync included: a bench's scan, often, took seconds.
        # The import copies them itself, right after its commit, outside any transaction.
        if self.conn.dialect.name == "sqlite" and not self.conn.in_transaction():
            driver = self.conn.connection.dbapi_connection
            assert driver is not None
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def discard(self, batch_id: str, limit: int) -> int:
        new = self._new(batch_id, limit)
        if new:
            for part in chunks(new):
                self.conn.execute(delete(t.events).where(t.events.c.order_id.in_(part)))
                self.conn.execute(delete(t.order_lines).where(t.order_lines.c.order_id.in_(part)))
                self.conn.execute(delete(t.orders).where(and_(o.order_id.in_(part), o.import_batch == batch_id)))
            return len(new)
        kept = [k for k, _ in self.pending(batch_id, limit)]
        self.settle(batch_id, kept)
        return len(kept)


def _batch_row(batch: ImportBatch) -> dict[str, Any]:
    return {"id": batch.id, "kind": batch.kind, "file": batch.file[:200], "actor": batch.actor,
            "station_id": batch.station_id, "state": batch.state.value, "holder": batch.holder,
            "expires_at": batch.expires_at, "started_at": batch.started_at, "records": batch.records,
            "stored": batch.stored, "created": batch.created, "updated": batch.updated, "unchanged": batch.unchanged,
            "reason": batch.reason}


def _batch(r: Any) -> ImportBatch:
    return ImportBatch(id=r["id"], kind=r["kind"], file=r["file"], actor=r["actor"], station_id=r["station_id"],
                       state=BatchState(r["state"]), holder=r["holder"], expires_at=r["expires_at"],
                       started_at=r["started_at"], records=r["records"], stored=r["stored"], created=r["created"],
                       updated=r["updated"], unchanged=r["unchanged"], reason=r["reason"])
