"""The centre's side of the outbox push, on the central PostgreSQL.

``SqlCentralOutbox(central)`` takes the central units of work (``Context.central``). Each batch
of a station's events is one central transaction (:meth:`SqlCentralOutbox.begin`) that first locks
the station's ``station_sync`` row (one INSERT ... ON CONFLICT DO UPDATE ... RETURNING: two senders
of one station take turns) and the orders and leases the batch touches (in key order, so two
stations' batches cannot deadlock on them). The algorithm itself (duplicates, gaps, held events,
refusals) is ``services.sync.push.receive``; the appliers are ``services.sync.appliers``.

Two ways to store a batch:

- **event by event** (``batched=False``): the appliers run on the central ``SqlUnitOfWork``'s own
  repositories, each event in a SAVEPOINT; a write the database refuses (a constraint) becomes a
  refusal of that event only. About a dozen round trips per event.
- **batched** (the default): the batch's orders, lines, cartons, scans, serials, leases and the
  products and lots it names are read once (about ten queries), the appliers run on repositories
  that work on that copy, and everything the batch changed is written at the end: one COPY per
  table for the new rows (events, scans, stock movements, cartons, ...), one executemany per kind
  of update. The appliers check before they write, so a refused event has changed
  nothing and its "savepoint" has nothing to undo. If the database refuses the batch's writes (an
  SSCC or serial another station stored meanwhile), or an event fails after it changed the copy,
  the transaction rolls back with ``BatchRejected`` and the batch is received again event by event.
  The result is the same; the batched way needs a few dozen round trips per batch, not per event.
"""

from __future__ import annotations

import abc
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from packstation.adapters.db import tables as t
from packstation.adapters.db.bulk import copy_rows
from packstation.adapters.db.catalog import SqlCatalog
from packstation.adapters.db.orders import SqlOrders, _order
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import (
    CartonType,
    Order,
    OrderLine,
    PackBarcode,
    Product,
    StockLot,
    Tracking,
)
from packstation.domain.packing import Carton, CartonStatus, PackedItem
from packstation.services.ports import (
    BatchRejected,
    Blocker,
    CatalogRepository,
    CentralInbox,
    CentralLedger,
    CentralOutbox,
    Claim,
    Conflict,
    ConflictRecord,
    EventLog,
    ImportedState,
    Lease,
    LedgerEntry,
    OrderRepository,
    OutboxEvent,
    Refused,
    ScanRecord,
    ShipmentRepository,
    StationProgress,
    SyncState,
    UnitOfWork,
)

ev_ = t.events.c
cf = t.conflicts.c
ls = t.leases.c
ss = t.station_sync.c

# lock (or create) the station's row; the centre's clock at that moment
_LOCK = text("INSERT INTO station_sync (station_id, last_seq) VALUES (:s, 0) ON CONFLICT (station_id) "
             "DO UPDATE SET station_id = EXCLUDED.station_id RETURNING last_seq, clock_timestamp()")
# a station's orders with an open conflict: a refused event, neither marked resolved nor named by a
# conflict.resolved event (stations may not UPDATE conflicts: resolutions are appended as events)
_BLOCKED = text("""
SELECT c.order_id, c.event_id, c.reason, c.station_side FROM conflicts c
WHERE c.station_id = :s AND c.order_id = ANY(:orders) AND c.resolved_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM events r WHERE r.kind = 'conflict.resolved' AND r.order_id = c.order_id
                  AND (r.payload::jsonb ->> 'conflict_id') = c.id::text)
ORDER BY c.id""")
_RESOLUTION = text("""
SELECT r.payload, r.actor, r.received_at FROM events r
WHERE r.kind = 'conflict.resolved' AND r.order_id IS NOT DISTINCT FROM :o
  AND (r.payload::jsonb ->> 'conflict_id') = :cid ORDER BY r.seq LIMIT 1""")
_UNRESOLVED = ("c.resolved_at IS NULL AND NOT EXISTS (SELECT 1 FROM events r WHERE r.kind = 'conflict.resolved' "
               "AND r.order_id IS NOT DISTINCT FROM c.order_id AND (r.payload::jsonb ->> 'conflict_id') = c.id::text)")


def _any(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column = ANY(:array)``: one parameter however many values (an IN list of 500 ids costs more to
    build and to parse than the query itself)."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(String)))


class SqlCentralOutbox(CentralOutbox):
    def __init__(self, central: Callable[..., UnitOfWork]):
        self._central = central

    def _uow(self, *, readonly: bool = False) -> SqlUnitOfWork:
        uow = self._central(readonly=readonly)
        if not isinstance(uow, SqlUnitOfWork):
            raise TypeError("SqlCentralOutbox needs SqlUnitOfWork factories (Context.central)")
        return uow

    @contextmanager
    def begin(self, station_id: str, events: Sequence[OutboxEvent], *,
              batched: bool = True) -> Iterator[CentralInbox]:
        with self._uow() as uow:
            touched = _Touched.of(events)
            if batched:
                yield _BatchInbox(uow, station_id, events, touched)
                return
            last_seq, now = uow.conn.execute(_LOCK, {"s": station_id}).one()
            yield _DirectInbox(uow, station_id, int(last_seq), now, touched)

    def progress(self, station_id: str) -> StationProgress | None:
        with self._uow(readonly=True) as uow:
            row = uow.conn.execute(select(ss.last_seq, ss.last_push_at, ss.clock_offset_s)
                                   .where(ss.station_id == station_id)).first()
        return StationProgress(station_id, int(row[0]), row[1], row[2]) if row else None

    def conflict(self, conflict_id: int) -> ConflictRecord | None:
        with self._uow(readonly=True) as uow:
            row = uow.conn.execute(select(t.conflicts).where(cf.id == conflict_id)).mappings().first()
            return _conflict(uow.conn, row) if row else None

    def conflicts(self, *, station_id: str | None = None, open_only: bool = True,
                  limit: int = 200) -> list[ConflictRecord]:
        q = select(t.conflicts.alias("c"))
        c = q.selected_columns
        if station_id is not None:
            q = q.where(c.station_id == station_id)
        if open_only:
            q = q.where(text(_UNRESOLVED))
        q = q.order_by(c.id.desc()).limit(limit)
        with self._uow(readonly=True) as uow:
            return [_conflict(uow.conn, r) for r in uow.conn.execute(q).mappings().all()]

    def resolve(self, conflict_id: int, *, actor: str, user: str | None, station_id: str, note: str,
                at: datetime) -> ConflictRecord | None:
        with self._uow() as uow:
            # one resolution per conflict: two leads at once take turns (stations may not lock conflict
            # rows: FOR UPDATE needs UPDATE rights, which history does not give them)
            uow.conn.execute(text("SELECT pg_advisory_xact_lock(7061637, :id)"), {"id": conflict_id})
            row = uow.conn.execute(select(t.conflicts).where(cf.id == conflict_id)).mappings().first()
            if row is None:
                return None
            before = _conflict(uow.conn, row)
            if not before.open:
                return before
            payload = {"conflict_id": conflict_id, "event_id": row["event_id"], "station": row["station_id"],
                       "note": note}
            uow.conn.execute(insert(t.events).values(
                id=str(uuid.uuid4()), kind="conflict.resolved", order_id=row["order_id"], station_id=station_id,
                user_name=user, actor=actor, occurred_at=at, payload=json.dumps(payload, sort_keys=True),
                sync_state=SyncState.APPLIED.value, received_at=text("clock_timestamp()")))
            done = _conflict(uow.conn, row)
            uow.commit()
        return done


def _conflict(conn: Connection, r: Any) -> ConflictRecord:
    resolved_at, resolved_by, note = r["resolved_at"], r["resolved_by"], ""
    if resolved_at is None:
        hit = conn.execute(_RESOLUTION, {"o": r["order_id"], "cid": str(r["id"])}).first()
        if hit is not None:
            note = json.loads(hit[0]).get("note", "")
            resolved_by, resolved_at = hit[1], hit[2]
    return ConflictRecord(id=r["id"], event_id=r["event_id"], station_id=r["station_id"], order_id=r["order_id"],
                          reason=r["reason"], station_side=json.loads(r["station_side"]),
                          central_side=json.loads(r["central_side"]), created_at=r["created_at"],
                          resolved_at=resolved_at, resolved_by=resolved_by, note=note)


# --- what a batch touches ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Touched:
    orders: list[str]
    skus: list[str]
    serials: list[str]
    kinds: frozenset[str]

    @staticmethod
    def of(events: Sequence[OutboxEvent]) -> _Touched:
        orders, skus, serials, kinds = set(), set(), set(), set()
        for ob in events:
            e = ob.event
            kinds.add(e.kind)
            if e.order_id is not None:
                orders.add(e.order_id)
            sku = e.payload.get("sku")
            if isinstance(sku, str):
                skus.add(sku)
            serial = e.payload.get("serial")
            if isinstance(serial, str) and serial:
                serials.add(serial)
        return _Touched(sorted(orders), sorted(skus), sorted(serials), frozenset(kinds))


# --- the parts both ways share -------------------------------------------------------------------


class _Inbox(CentralInbox):
    def __init__(self, uow: SqlUnitOfWork, station_id: str, last_seq: int, now: datetime, touched: _Touched):
        self.sql = uow
        self.conn = uow.conn
        self.station_id = station_id
        self.last_seq = last_seq
        self.centre_now = now
        self.touched = touched

    def known(self, event_ids: Sequence[str]) -> dict[str, tuple[SyncState, str | None]]:
        out: dict[str, tuple[SyncState, str | None]] = {}
        if event_ids:
            for r in self.conn.execute(select(ev_.id, ev_.sync_state, ev_.sync_reason).where(_any(ev_.id, event_ids))):
                out[r[0]] = (SyncState(r[1]), r[2])
        return out

    def event_at(self, station_seq: int) -> dict[str, Any] | None:
        r = self.conn.execute(select(t.events).where(and_(ev_.station_id == self.station_id,
                                                          ev_.station_seq == station_seq))).mappings().first()
        if r is None:
            return None
        return {"id": r["id"], "kind": r["kind"], "order_id": r["order_id"], "station_seq": r["station_seq"],
                "occurred_at": r["occurred_at"].isoformat() if r["occurred_at"] else None,
                "payload": json.loads(r["payload"] or "{}")}

    def blocked(self, order_ids: Iterable[str]) -> dict[str, Blocker]:
        wanted = sorted(set(order_ids))
        out: dict[str, Blocker] = {}
        if not wanted:
            return out
        return _blockers(self.conn.execute(_BLOCKED, {"s": self.station_id, "orders": wanted}))

    def _event_row(self, ob: OutboxEvent, state: SyncState, reason: str | None) -> dict[str, Any]:
        e = ob.event
        return {"id": e.id, "kind": e.kind, "order_id": e.order_id, "station_id": self.station_id,
                "user_name": e.user, "actor": e.actor, "occurred_at": e.occurred_at or self.centre_now,
                "payload": ob.payload_json or json.dumps(e.payload, default=str, sort_keys=True),
                "station_seq": ob.station_seq,
                "fence": ob.fence, "sync_state": state.value, "sync_reason": reason, "received_at": self.centre_now}

    def _conflict_row(self, ob: OutboxEvent, reason: str, station_side: dict[str, Any],
                      central_side: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": ob.id, "station_id": self.station_id, "order_id": ob.event.order_id, "reason": reason,
                "station_side": json.dumps(station_side, default=str, sort_keys=True),
                "central_side": json.dumps(central_side, default=str, sort_keys=True),
                "created_at": self.centre_now}

    def _progress(self, last_seq: int, clock_offset_s: float) -> None:
        self.conn.execute(update(t.station_sync).where(ss.station_id == self.station_id).values(
            last_seq=last_seq, last_push_at=self.centre_now, clock_offset_s=clock_offset_s))

    def _lock(self) -> None:
        """Lock the batch's leases, then its orders, each in key order: two batches never wait on each
        other in a circle, and a claim (which takes the lease first) waits for the batch or it for the claim."""
        if self.touched.orders:
            self.conn.execute(select(ls.order_id).where(_any(ls.order_id, self.touched.orders))
                              .order_by(ls.order_id).with_for_update()).all()
            self.conn.execute(select(t.orders.c.order_id).where(_any(t.orders.c.order_id, self.touched.orders))
                              .order_by(t.orders.c.order_id).with_for_update()).all()


def _blockers(rows: Iterable[Any]) -> dict[str, Blocker]:
    """(order id, event id, reason, station side) rows of open conflicts: the first one per order."""
    out: dict[str, Blocker] = {}
    for order_id, event_id, reason, side in rows:
        if order_id not in out:
            station_side = json.loads(side or "{}")
            out[order_id] = Blocker(order_id, event_id, str(station_side.get("kind", "?")),
                                    station_side.get("station_seq"), reason)
    return out


def _refusal(exc: DBAPIError) -> Refused:
    first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else exc.__class__.__name__
    return Refused(f"The central database refused this change ({first}).")


# --- event by event ------------------------------------------------------------------------------


class _DirectInbox(_Inbox):
    def __init__(self, uow: SqlUnitOfWork, station_id: str, last_seq: int, now: datetime, touched: _Touched):
        super().__init__(uow, station_id, last_seq, now, touched)
        self.uow = uow
        self.ledger = _SqlLedger(self.conn)
        self._lock()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        sp = self.conn.begin_nested()
        try:
            yield
        except (IntegrityError, DataError) as exc:
            sp.rollback()
            raise _refusal(exc) from exc
        except BaseException:
            if sp.is_active:
                try:
                    sp.rollback()
                except DBAPIError:
                    pass  # the connection is gone: the transaction goes with it
            raise
        else:
            sp.commit()

    def store(self, event: OutboxEvent, state: SyncState, reason: str | None) -> None:
        self.conn.execute(insert(t.events).values(self._event_row(event, state, reason)))

    def add_conflict(self, event: OutboxEvent, reason: str, station_side: dict[str, Any],
                     central_side: dict[str, Any]) -> None:
        self.conn.execute(insert(t.conflicts).values(self._conflict_row(event, reason, station_side, central_side)))

    def finish(self, last_seq: int, clock_offset_s: float) -> None:
        self._progress(last_seq, clock_offset_s)
        self.sql.commit()


class _SqlLedger(CentralLedger):
    def __init__(self, conn: Connection):
        self.conn = conn

    def lease(self, order_id: str) -> Lease | None:
        r = self.conn.execute(select(ls.order_id, ls.station_id, ls.token, ls.expires_at)
                              .where(ls.order_id == order_id)).first()
        return Lease(order_id=r[0], station_id=r[1], holder="", token=int(r[2]), taken_at=None,
                     expires_at=r[3]) if r else None

    def release_lease(self, order_id: str, token: int) -> bool:
        res = self.conn.execute(update(t.leases).where(and_(ls.order_id == order_id, ls.token == token,
                                                            ls.station_id.is_not(None)))
                                .values(station_id=None, expires_at=None))
        return res.rowcount == 1

    def add_movement(self, movement: LedgerEntry) -> None:
        self.conn.execute(insert(t.stock_movements).values(_movement_row(movement)))


def _movement_row(m: LedgerEntry) -> dict[str, Any]:
    return {"sku": m.sku, "location": m.location, "lot": m.lot, "qty": m.qty, "kind": m.kind, "ref": m.ref,
            "event_id": m.event_id, "actor": m.actor, "at": m.at}


# --- batched -------------------------------------------------------------------------------------


class _Rejected(Exception):
    """What the database would refuse (a unique key), found in the batch's copy: refuses the event."""


class _Rewind(BatchRejected):
    """An event was refused (or failed) after it had changed the batch's copy: the copy cannot take
    those changes back, so the batch is received again event by event (each in a real savepoint)."""


def _clone(obj: Any) -> Any:
    """A shallow copy of a plain dataclass instance, without dataclasses.replace's overhead."""
    new = object.__new__(obj.__class__)
    new.__dict__.update(obj.__dict__)
    return new


@dataclass
class _Ord:
    order: Order
    status0: OrderStatus
    claimed_by: str | None
    claimed_user: str | None
    claimed_at: datetime | None
    claimed0: bool
    updated_at: datetime | None = None
    released: bool = False


@dataclass
class _Ctn:
    carton: Carton  # its items: the scans in it not undone, kept up to date by add_item / undo_item
    id: str
    opened_by: str
    station_id: str
    opened_at: datetime
    in_db: bool
    dirty: bool = False


@dataclass
class _Scn:
    order_id: str
    seq: int
    item: PackedItem
    station_id: str
    in_db: bool
    undone_at: datetime | None = None
    undone_by: str | None = None
    dirty: bool = False


@dataclass
class _Copy:
    """The batch's copy of what it touches, and what it changed (written by _flush)."""

    orders: dict[str, _Ord] = field(default_factory=dict)
    cartons: dict[str, dict[int, _Ctn]] = field(default_factory=lambda: defaultdict(dict))
    deleted_cartons: set[tuple[str, int]] = field(default_factory=set)
    scans: dict[str, _Scn] = field(default_factory=dict)
    order_scans: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    max_seq: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    serials: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (sku, serial) -> (order, scan)
    serials0: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    serials_read: set[str] = field(default_factory=set)
    products: dict[str, Product] = field(default_factory=dict)
    lots: dict[str, list[StockLot]] = field(default_factory=dict)
    carton_types: dict[str, CartonType] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    released_leases: dict[str, int] = field(default_factory=dict)
    packed: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    shorts: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    movements: list[LedgerEntry] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    writes: int = 0  # changes made to the copy so far (a savepoint knows whether its event changed it)


class _BatchInbox(_Inbox):
    def __init__(self, uow: SqlUnitOfWork, station_id: str, events: Sequence[OutboxEvent], touched: _Touched):
        copy = _Copy()
        got = _prefetch(uow.conn, copy, station_id, events, touched)
        super().__init__(uow, station_id, got.last_seq, got.now, touched)
        self.copy = copy
        self._known = got.known
        self._blocked = got.blocked
        self.uow = _BatchUnitOfWork(self.conn, self.copy)
        self.ledger = _BatchLedger(self.copy)

    def known(self, event_ids: Sequence[str]) -> dict[str, tuple[SyncState, str | None]]:
        return {i: self._known[i] for i in event_ids if i in self._known}

    def blocked(self, order_ids: Iterable[str]) -> dict[str, Blocker]:
        wanted = set(order_ids)
        if not wanted <= set(self.touched.orders):
            return super().blocked(wanted)
        return _blockers(r for r in self._blocked if r[0] in wanted)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        # the appliers check before they write: a refused event has changed nothing, so there is
        # nothing to take back. If one did change something, start again event by event.
        mark = self.copy.writes
        try:
            yield
        except _Rejected as exc:
            if self.copy.writes != mark:
                raise _Rewind(f"event refused after changes ({exc})") from exc
            raise Refused(f"The central database refused this change ({exc}).") from exc
        except BaseException as exc:
            if self.copy.writes != mark:
                raise _Rewind(f"event refused after changes ({exc})") from exc
            raise

    def store(self, event: OutboxEvent, state: SyncState, reason: str | None) -> None:
        self.copy.events.append(self._event_row(event, state, reason))

    def add_conflict(self, event: OutboxEvent, reason: str, station_side: dict[str, Any],
                     central_side: dict[str, Any]) -> None:
        self.copy.conflicts.append(self._conflict_row(event, reason, station_side, central_side))

    def finish(self, last_seq: int, clock_offset_s: float) -> None:
        try:
            _flush(self.conn, self.copy)
        except (IntegrityError, DataError) as exc:
            raise BatchRejected(str(exc.orig or exc).strip().splitlines()[0]) from exc
        self._progress(last_seq, clock_offset_s)
        self.sql.commit()


_SQL = {
    "lock": _LOCK.text.replace(":s", "%(s)s"),
    "known": "SELECT id, sync_state, sync_reason FROM events WHERE id = ANY(%(ids)s)",
    "blocked": _BLOCKED.text.replace(":s", "%(s)s").replace(":orders", "%(orders)s"),
    # leases first, then orders, each in key order (as _Inbox._lock)
    "leases": "SELECT order_id, station_id, token, expires_at FROM leases WHERE order_id = ANY(%(orders)s) "
              "ORDER BY order_id FOR UPDATE",
    "orders": "SELECT * FROM orders WHERE order_id = ANY(%(orders)s) ORDER BY order_id FOR UPDATE",
    "lines": "SELECT order_id, line_no, sku, qty, unit_price, packed_qty, short_qty, short_reason FROM order_lines "
             "WHERE order_id = ANY(%(orders)s) ORDER BY order_id, line_no",
    "cartons": "SELECT * FROM cartons WHERE order_id = ANY(%(orders)s)",
    "scans": "SELECT * FROM scans WHERE order_id = ANY(%(orders)s) ORDER BY order_id, seq",
    "serials": "SELECT sku, serial, order_id, scan_id FROM serial_registry WHERE serial = ANY(%(serials)s)",
    "serials_of_orders": "SELECT sku, serial, order_id, scan_id FROM serial_registry "
                         "WHERE serial = ANY(%(serials)s) OR order_id = ANY(%(orders)s)",
    "barcodes": "SELECT code, sku, qty FROM barcodes WHERE sku = ANY(%(skus)s)",
    "products": "SELECT sku, name, weight_g, location, tracking FROM products WHERE sku = ANY(%(skus)s)",
    "lots": "SELECT sku, lot, expiry, location, qty FROM stock_lots WHERE sku = ANY(%(skus)s)",
    "carton_types": "SELECT * FROM carton_types",
}


@dataclass
class _Prefetched:
    last_seq: int
    now: datetime
    known: dict[str, tuple[SyncState, str | None]]
    blocked: list[tuple[Any, ...]]


def _prefetch(conn: Connection, cp: _Copy, station_id: str, events: Sequence[OutboxEvent],
              touched: _Touched) -> _Prefetched:
    """Lock the station's row, the batch's leases and orders, and read everything the batch touches,
    in one psycopg pipeline: the queries go out together and their results come back together, one
    round trip (on a busy server every round trip is a wait for the scheduler as well)."""
    from psycopg.rows import dict_row

    params = {"s": station_id, "ids": [ev.id for ev in events], "orders": touched.orders, "skus": touched.skus,
              "serials": touched.serials}
    wanted = ["lock", "known", "blocked"]
    if touched.orders:
        wanted += ["leases", "orders", "lines", "cartons", "scans"]
    if touched.orders and "scan.undone" in touched.kinds:  # a serial scan taken back leaves the registry
        wanted.append("serials_of_orders")
    elif touched.serials:
        wanted.append("serials")
    if touched.skus:
        wanted += ["barcodes", "products", "lots"]
    if {"carton.opened", "carton.changed"} & touched.kinds:
        wanted.append("carton_types")
    raw = conn.connection.dbapi_connection
    try:
        with raw.pipeline():  # type: ignore[union-attr]
            cursors = {}
            for name in wanted:
                cur = raw.cursor(row_factory=dict_row)  # type: ignore[union-attr]
                cur.execute(_SQL[name], params)
                cursors[name] = cur
        rows = {name: cur.fetchall() for name, cur in cursors.items()}
    except psycopg.Error as exc:
        raise DBAPIError.instance("batch prefetch", None, exc, psycopg.Error) from exc
    lock = rows["lock"][0]
    known = {r["id"]: (SyncState(r["sync_state"]), r["sync_reason"]) for r in rows["known"]}
    blocked = [(r["order_id"], r["event_id"], r["reason"], r["station_side"]) for r in rows["blocked"]]
    for r in rows.get("leases", ()):
        cp.leases[r["order_id"]] = Lease(order_id=r["order_id"], station_id=r["station_id"], holder="",
                                         token=int(r["token"]), taken_at=None, expires_at=r["expires_at"])
    lines: dict[str, list[OrderLine]] = defaultdict(list)
    for x in rows.get("lines", ()):
        lines[x["order_id"]].append(OrderLine(line_no=x["line_no"], sku=x["sku"], qty=x["qty"],
                                              unit_price=Decimal(x["unit_price"]), packed=x["packed_qty"],
                                              short=x["short_qty"], short_reason=x["short_reason"]))
    for r in rows.get("orders", ()):
        order = _order(r, lines[r["order_id"]])
        cp.orders[order.order_id] = _Ord(order, order.status, r["claimed_by"], r["claimed_user"], r["claimed_at"],
                                         r["claimed_by"] is not None, r["updated_at"])
    for r in rows.get("cartons", ()):
        carton = Carton(seq=r["seq"], type=CartonType(r["type_code"], r["type_code"], 0),
                        status=CartonStatus(r["status"]), measured_g=r["measured_g"], sscc=r["sscc"],
                        override_by=r["override_by"], tracking_number=r["tracking_number"],
                        expected_g=r["expected_g"], closed_at=r["closed_at"], label_carrier=r["label_carrier"],
                        shipment_id=r["shipment_id"])
        cp.cartons[r["order_id"]][r["seq"]] = _Ctn(carton, r["id"], r["opened_by"], r["station_id"], r["opened_at"],
                                                   in_db=True)
    for r in rows.get("scans", ()):
        item = PackedItem(scan_id=r["id"], line_no=r["line_no"], sku=r["sku"], qty=r["qty"],
                          carton_seq=r["carton_seq"], barcode=r["barcode"], user=r["user_name"], lot=r["lot"],
                          expiry=r["expiry"], serial=r["serial"], source=r["source"], scanned_at=r["scanned_at"])
        order_id = r["order_id"]
        cp.scans[item.scan_id] = _Scn(order_id, r["seq"], item, r["station_id"], True, r["undone_at"], r["undone_by"])
        cp.order_scans[order_id].append(item.scan_id)
        cp.max_seq[order_id] = max(cp.max_seq[order_id], r["seq"])
        box = cp.cartons[order_id].get(item.carton_seq)
        if box is not None and r["undone_at"] is None:
            box.carton.items.append(item)
    cp.serials_read.update(touched.serials)
    for r in rows.get("serials", rows.get("serials_of_orders", ())):
        cp.serials[(r["sku"], r["serial"])] = (r["order_id"], r["scan_id"])
        cp.serials_read.add(r["serial"])
    cp.serials0 = dict(cp.serials)
    codes: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for r in rows.get("barcodes", ()):
        codes[r["sku"]].append((r["code"], r["qty"]))
    for r in rows.get("products", ()):
        found = codes.get(r["sku"], [])
        cp.products[r["sku"]] = Product(sku=r["sku"], name=r["name"], weight_g=r["weight_g"], location=r["location"],
                                        tracking=Tracking(r["tracking"]),
                                        barcodes=tuple(c for c, q in found if q == 1),
                                        pack_barcodes=tuple(PackBarcode(c, q) for c, q in found if q != 1))
    if "lots" in rows:
        lots: dict[str, list[StockLot]] = {sku: [] for sku in touched.skus}
        for r in rows["lots"]:
            lots[r["sku"]].append(StockLot(sku=r["sku"], lot=r["lot"], expiry=r["expiry"], location=r["location"],
                                           qty=r["qty"]))
        for sku, found_lots in lots.items():
            cp.lots[sku] = sorted(found_lots, key=lambda x: (x.expiry is None, x.expiry or date.max, x.lot))
    for r in rows.get("carton_types", ()):
        cp.carton_types[r["code"]] = CartonType(code=r["code"], name=r["name"], tare_g=r["tare_g"],
                                                inner_l_mm=r["inner_l_mm"], inner_w_mm=r["inner_w_mm"],
                                                inner_h_mm=r["inner_h_mm"], max_weight_g=r["max_weight_g"])
    return _Prefetched(int(lock["last_seq"]), lock["clock_timestamp"], known, blocked)


def _copy(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert *rows* (dicts with the same keys) with COPY: the cheapest way into PostgreSQL for the
    client and the server (an executemany INSERT costs a round of parameter handling per row)."""
    if not rows:
        return
    columns = list(rows[0])
    copy_rows(conn, table, columns, [[row[c] for c in columns] for row in rows])


# One statement per kind of update, however many rows: the rows go in as arrays (unnest), so the
# server plans once and the client does not handle each row's parameters in a pipeline.
_SET_STATUS = text("""
UPDATE orders AS o SET status = v.new, updated_at = v.at
FROM unnest(CAST(:ids AS text[]), CAST(:old AS text[]), CAST(:new AS text[]), CAST(:at AS timestamptz[]))
     AS v(id, old, new, at)
WHERE o.order_id = v.id AND o.status = v.old""")
_RELEASE = text("UPDATE orders SET claimed_by = NULL, claimed_user = NULL, claimed_at = NULL "
                "WHERE order_id = ANY(CAST(:ids AS text[]))")
_ADD_PACKED = text("""
UPDATE order_lines AS l SET packed_qty = l.packed_qty + v.d
FROM unnest(CAST(:o AS text[]), CAST(:l AS integer[]), CAST(:d AS integer[])) AS v(o, l, d)
WHERE l.order_id = v.o AND l.line_no = v.l""")
_SET_SHORT = text("""
UPDATE order_lines AS l SET short_qty = v.s, short_reason = v.r
FROM unnest(CAST(:o AS text[]), CAST(:l AS integer[]), CAST(:s AS integer[]), CAST(:r AS text[])) AS v(o, l, s, r)
WHERE l.order_id = v.o AND l.line_no = v.l""")
_DROP_CARTONS = text("""
DELETE FROM cartons AS c USING unnest(CAST(:o AS text[]), CAST(:seq AS integer[])) AS v(o, seq)
WHERE c.order_id = v.o AND c.seq = v.seq""")
_SAVE_CARTONS = text("""
UPDATE cartons AS c SET type_code = v.type_code, status = v.status, expected_g = v.expected_g,
       measured_g = v.measured_g, sscc = v.sscc, tracking_number = v.tracking_number, override_by = v.override_by,
       closed_at = v.closed_at, label_carrier = v.label_carrier, shipment_id = v.shipment_id
FROM unnest(CAST(:o AS text[]), CAST(:seq AS integer[]), CAST(:type_code AS text[]), CAST(:status AS text[]),
            CAST(:expected_g AS integer[]), CAST(:measured_g AS integer[]), CAST(:sscc AS text[]),
            CAST(:tracking_number AS text[]), CAST(:override_by AS text[]), CAST(:closed_at AS timestamptz[]),
            CAST(:label_carrier AS text[]), CAST(:shipment_id AS text[]))
     AS v(o, seq, type_code, status, expected_g, measured_g, sscc, tracking_number, override_by, closed_at,
          label_carrier, shipment_id)
WHERE c.order_id = v.o AND c.seq = v.seq""")
_UNDO_SCANS = text("""
UPDATE scans AS s SET undone_at = v.at, undone_by = v.by
FROM unnest(CAST(:ids AS text[]), CAST(:at AS timestamptz[]), CAST(:by AS text[])) AS v(id, at, by)
WHERE s.id = v.id""")
_DROP_SERIALS = text("""
DELETE FROM serial_registry AS r USING unnest(CAST(:sku AS text[]), CAST(:serial AS text[])) AS v(sku, serial)
WHERE r.sku = v.sku AND r.serial = v.serial""")
_FREE_LEASES = text("""
UPDATE leases AS l SET station_id = NULL, expires_at = NULL
FROM unnest(CAST(:o AS text[]), CAST(:t AS bigint[])) AS v(o, t)
WHERE l.order_id = v.o AND l.token = v.t""")


def _columns(rows: list[tuple[Any, ...]], *names: str) -> dict[str, list[Any]]:
    """Rows as one list per column (the arrays an unnest statement takes)."""
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _flush(conn: Connection, cp: _Copy) -> None:
    """Write everything the batch changed: one statement (an UPDATE over arrays, or a COPY) per kind of change."""
    statuses = [(k, x.status0.value, x.order.status.value, x.updated_at) for k, x in cp.orders.items()
                if x.order.status is not x.status0]
    if statuses:
        conn.execute(_SET_STATUS, _columns(statuses, "ids", "old", "new", "at"))
    released = [k for k, x in cp.orders.items() if x.released and x.claimed0]
    if released:
        conn.execute(_RELEASE, {"ids": released})
    packed = [(k[0], k[1], d) for k, d in cp.packed.items() if d]
    if packed:
        conn.execute(_ADD_PACKED, _columns(packed, "o", "l", "d"))
    if cp.shorts:
        conn.execute(_SET_SHORT, _columns([(k[0], k[1], v[0], v[1]) for k, v in cp.shorts.items()], "o", "l", "s", "r"))
    if cp.deleted_cartons:
        conn.execute(_DROP_CARTONS, _columns(sorted(cp.deleted_cartons), "o", "seq"))
    names = ("type_code", "status", "expected_g", "measured_g", "sscc", "tracking_number", "override_by", "closed_at",
             "label_carrier", "shipment_id")
    new_cartons, changed_cartons = [], []
    for order_id, by_seq in cp.cartons.items():
        for x in by_seq.values():
            k = x.carton
            values = (k.type.code, k.status.value, k.expected_g, k.measured_g, k.sscc, k.tracking_number,
                      k.override_by, k.closed_at, k.label_carrier, k.shipment_id)
            if not x.in_db:
                new_cartons.append({"id": x.id, "order_id": order_id, "seq": k.seq, "opened_by": x.opened_by,
                                    "station_id": x.station_id, "opened_at": x.opened_at,
                                    **dict(zip(names, values, strict=True))})
            elif x.dirty:
                changed_cartons.append((order_id, k.seq, *values))
    if changed_cartons:
        conn.execute(_SAVE_CARTONS, _columns(changed_cartons, "o", "seq", *names))
    _copy(conn, t.cartons, new_cartons)
    new_scans, undone = [], []
    for x in cp.scans.values():
        if not x.in_db:
            i = x.item
            new_scans.append({"id": i.scan_id, "order_id": x.order_id, "line_no": i.line_no, "sku": i.sku,
                              "carton_seq": i.carton_seq, "qty": i.qty, "barcode": i.barcode, "lot": i.lot,
                              "expiry": i.expiry, "serial": i.serial, "user_name": i.user, "station_id": x.station_id,
                              "scanned_at": i.scanned_at, "source": i.source, "undone_at": x.undone_at,
                              "undone_by": x.undone_by, "seq": x.seq})
        elif x.dirty:
            undone.append((x.item.scan_id, x.undone_at, x.undone_by))
    _copy(conn, t.scans, new_scans)
    if undone:
        conn.execute(_UNDO_SCANS, _columns(undone, "ids", "at", "by"))
    gone = [k for k, v in cp.serials0.items() if cp.serials.get(k) != v]
    if gone:
        conn.execute(_DROP_SERIALS, _columns(gone, "sku", "serial"))
    _copy(conn, t.serial_registry, [{"sku": k[0], "serial": k[1], "order_id": v[0], "scan_id": v[1]}
                                    for k, v in cp.serials.items() if cp.serials0.get(k) != v])
    _copy(conn, t.stock_movements, [_movement_row(m) for m in cp.movements])
    if cp.released_leases:
        conn.execute(_FREE_LEASES, _columns(list(cp.released_leases.items()), "o", "t"))
    _copy(conn, t.events, cp.events)
    _copy(conn, t.conflicts, cp.conflicts)


def _unavailable(port: type) -> Callable[[type], type]:
    """Fill the port methods a batched repository does not offer with ones that say so (the appliers
    never call them: reading or writing around the batch's copy would go wrong)."""

    def fill(cls: type) -> type:
        for name in getattr(cls, "__abstractmethods__", ()):
            def refuse(self: Any, *args: Any, _name: str = name, **kwargs: Any) -> Any:
                raise NotImplementedError(f"{port.__name__}.{_name} is not available while applying pushed events")
            setattr(cls, name, refuse)
        abc.update_abstractmethods(cls)
        return cls

    return fill


@_unavailable(OrderRepository)
class _BatchOrders(OrderRepository):
    def __init__(self, conn: Connection, cp: _Copy):
        self.conn, self.cp = conn, cp

    # a new order (a returns desk's replacement): straight into the tables, in the batch's transaction
    # (a rewind to event by event rolls it back with the rest), and into the copy for the batch's
    # later events
    def imported(self, order_ids: Sequence[str]) -> dict[str, ImportedState]:
        return SqlOrders(self.conn).imported(order_ids)

    def add_many(self, orders: Sequence[tuple[Order, str]], at: datetime) -> None:
        SqlOrders(self.conn).add_many(orders, at)
        for order, _ in orders:
            new = _clone(order)
            new.lines = [_clone(line) for line in order.lines]
            self.cp.orders[order.order_id] = _Ord(new, new.status, None, None, None, False, at)

    def _o(self, order_id: str) -> _Ord:
        return self.cp.orders[order_id]

    def get(self, order_id: str) -> Order | None:
        x = self.cp.orders.get(order_id)
        if x is None:
            return None
        order = _clone(x.order)
        order.lines = [_clone(line) for line in x.order.lines]
        return order

    def hold(self, order_id: str) -> Claim:
        x = self._o(order_id)
        return Claim(order_id, x.order.status, x.claimed_by, x.claimed_user, x.claimed_at)

    def claim_of(self, order_id: str) -> Claim | None:
        return self.hold(order_id) if order_id in self.cp.orders else None

    def set_status(self, order_id: str, expected: OrderStatus, status: OrderStatus, at: datetime) -> None:
        x = self._o(order_id)
        if x.order.status is not expected:
            raise Conflict(f"Order {order_id} changed meanwhile (it is no longer {expected.value}); try again.")
        x.order.status, x.updated_at = status, at
        self.cp.writes += 1

    def release(self, order_id: str) -> None:
        x = self._o(order_id)
        x.claimed_by = x.claimed_user = x.claimed_at = None
        x.released = True
        self.cp.writes += 1

    def add_packed(self, order_id: str, line_no: int, delta: int) -> None:
        line = next((ln for ln in self._o(order_id).order.lines if ln.line_no == line_no), None)
        if line is not None:
            line.packed += delta
            self.cp.packed[(order_id, line_no)] += delta
            self.cp.writes += 1

    def set_short(self, order_id: str, line_no: int, short: int, reason: str) -> None:
        line = next((ln for ln in self._o(order_id).order.lines if ln.line_no == line_no), None)
        if line is not None:
            line.short, line.short_reason = short, reason
            self.cp.shorts[(order_id, line_no)] = (short, reason)
            self.cp.writes += 1


@_unavailable(ShipmentRepository)
class _BatchShipments(ShipmentRepository):
    def __init__(self, conn: Connection, cp: _Copy):
        self.conn, self.cp = conn, cp

    def cartons(self, order_id: str, types: dict[str, CartonType]) -> list[Carton]:
        out = []
        by_seq = self.cp.cartons.get(order_id)
        for seq in sorted(by_seq or ()):
            k = _clone(by_seq[seq].carton)  # type: ignore[index]
            k.type = types.get(k.type.code) or CartonType(k.type.code, k.type.code, 0)
            k.items = list(k.items)
            out.append(k)
        return out

    def carton(self, order_id: str, seq: int) -> Carton | None:
        x = self.cp.cartons.get(order_id, {}).get(seq)
        if x is None:
            return None
        k = _clone(x.carton)  # a copy, as cartons() gives (an applier changes it, then saves it)
        k.type = CartonType(k.type.code, k.type.code, 0)
        k.items = list(k.items)
        return k

    def add_carton(self, order_id: str, carton: Carton, opened_by: str, station_id: str, at: datetime) -> None:
        by_seq = self.cp.cartons[order_id]
        if carton.seq in by_seq:
            raise _Rejected(f"order {order_id} has a carton {carton.seq} already")
        fresh = _clone(carton)
        fresh.items = []
        by_seq[carton.seq] = _Ctn(fresh, str(uuid.uuid4()), opened_by, station_id, at, in_db=False)
        self.cp.writes += 1

    def save_carton(self, order_id: str, carton: Carton, at: datetime) -> None:
        x = self.cp.cartons.get(order_id, {}).get(carton.seq)
        if x is None:
            return
        k = x.carton
        k.type, k.status, k.measured_g, k.expected_g = carton.type, carton.status, carton.measured_g, carton.expected_g
        k.sscc, k.override_by, k.tracking_number = carton.sscc, carton.override_by, carton.tracking_number
        k.label_carrier, k.shipment_id = carton.label_carrier, carton.shipment_id
        if carton.status is CartonStatus.CLOSED:
            k.closed_at = at
        x.dirty = True
        self.cp.writes += 1

    def remove_carton(self, order_id: str, seq: int) -> None:
        x = self.cp.cartons.get(order_id, {}).pop(seq, None)
        if x is not None:
            if x.in_db:
                self.cp.deleted_cartons.add((order_id, seq))
            self.cp.writes += 1

    def add_item(self, order_id: str, item: PackedItem, station_id: str, at: datetime) -> None:
        if item.scan_id in self.cp.scans:
            raise _Rejected(f"scan {item.scan_id} is stored already")
        if item.serial and self.serial_shipped(item.sku, item.serial):
            raise _Rejected(f"serial {item.serial} of {item.sku} is packed already")
        seq = self.cp.max_seq[order_id] + 1
        self.cp.max_seq[order_id] = seq
        stored = _clone(item)  # the item as stored: with the time it was scanned (PackedItem is frozen)
        object.__setattr__(stored, "scanned_at", at)
        self.cp.scans[item.scan_id] = _Scn(order_id, seq, stored, station_id, in_db=False)
        self.cp.order_scans[order_id].append(item.scan_id)
        box = self.cp.cartons.get(order_id, {}).get(item.carton_seq)
        if box is not None:
            box.carton.items.append(stored)
        if item.serial:
            self.cp.serials[(item.sku, item.serial)] = (order_id, item.scan_id)
        self.cp.writes += 1

    def undo_item(self, item: PackedItem, by: str, at: datetime) -> None:
        x = self.cp.scans.get(item.scan_id)
        if x is not None:
            x.undone_at, x.undone_by, x.dirty = at, by, True
            box = self.cp.cartons.get(x.order_id, {}).get(x.item.carton_seq)
            if box is not None:
                box.carton.items = [i for i in box.carton.items if i.scan_id != item.scan_id]
        if item.serial:
            for key in [k for k, v in self.cp.serials.items() if v[1] == item.scan_id]:
                del self.cp.serials[key]
        self.cp.writes += 1

    def serial_shipped(self, sku: str, serial: str) -> bool:
        if serial not in self.cp.serials_read:  # not named by the batch: read it now (and keep it)
            sr = t.serial_registry.c
            for r in self.conn.execute(select(sr.sku, sr.serial, sr.order_id, sr.scan_id).where(sr.serial == serial)):
                self.cp.serials[(r[0], r[1])] = self.cp.serials0[(r[0], r[1])] = (r[2], r[3])
            self.cp.serials_read.add(serial)
        return (sku, serial) in self.cp.serials

    def scans(self, order_id: str) -> list[ScanRecord]:
        return [ScanRecord(item=x.item, station_id=x.station_id, undone_at=x.undone_at, undone_by=x.undone_by)
                for x in (self.cp.scans[i] for i in self.cp.order_scans.get(order_id, ()))]


class _BatchCatalog(SqlCatalog):
    """The catalog as read at the batch's start (the appliers only read it)."""

    def __init__(self, conn: Connection, cp: _Copy):
        super().__init__(conn)
        self.cp = cp

    def products(self, skus: Iterable[str]) -> dict[str, Product]:
        wanted = set(skus)
        missing = wanted - self.cp.products.keys()
        if missing:
            self.cp.products.update(super().products(missing))
        return {sku: self.cp.products[sku] for sku in wanted if sku in self.cp.products}

    def lots(self, sku: str) -> list[StockLot]:
        if sku not in self.cp.lots:
            self.cp.lots[sku] = super().lots(sku)
        return list(self.cp.lots[sku])

    def carton_type(self, code: str) -> CartonType | None:
        if code not in self.cp.carton_types:
            found = super().carton_type(code)
            if found is None:
                return None
            self.cp.carton_types[code] = found
        return self.cp.carton_types[code]


class _BatchLedger(CentralLedger):
    def __init__(self, cp: _Copy):
        self.cp = cp

    def lease(self, order_id: str) -> Lease | None:
        return self.cp.leases.get(order_id)

    def release_lease(self, order_id: str, token: int) -> bool:
        lease = self.cp.leases.get(order_id)
        if lease is None or lease.token != token or lease.station_id is None:
            return False
        self.cp.leases[order_id] = replace(lease, station_id=None, expires_at=None)
        self.cp.released_leases[order_id] = token
        self.cp.writes += 1
        return True

    def add_movement(self, movement: LedgerEntry) -> None:
        self.cp.movements.append(movement)
        self.cp.writes += 1


class _BatchEvents(EventLog):
    """Nothing writes events through the repositories while applying (the inbox stores them)."""

    def _no(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("events are stored by the inbox while applying pushed events")

    add = for_order = since = number_pending = last_numbered = waiting = pending = answer = outbox = counts = reopen = \
        unpushed_orders = _no  # type: ignore[assignment]


class _BatchUnitOfWork(UnitOfWork):
    """The central unit of work of a batched push: the batch's copy behind the repository ports."""

    def __init__(self, conn: Connection, cp: _Copy):
        self.orders = _BatchOrders(conn, cp)
        self.shipments = _BatchShipments(conn, cp)
        self.catalog: CatalogRepository = _BatchCatalog(conn, cp)
        self.events = _BatchEvents()
        # the returns desk's events (and the carrier labels' requests) apply straight to these tables, in
        # the batch's transaction (nothing the batch's copy holds: a rewind to event by event rolls them
        # back with the rest)
        from packstation.adapters.db.manifests import SqlLabelRequests
        from packstation.adapters.db.photos import SqlPhotos
        from packstation.adapters.db.returns import SqlReturns
        from packstation.adapters.db.stock import SqlStockLedger

        self.returns = SqlReturns(conn)
        self.label_requests = SqlLabelRequests(conn)
        self.photos = SqlPhotos(conn)
        self.stock = SqlStockLedger(conn)
        self._conn = conn

    def __enter__(self) -> UnitOfWork:
        raise RuntimeError("the inbox opens the central transaction")

    def __exit__(self, *exc: Any) -> None:
        raise RuntimeError("the inbox ends the central transaction")

    def commit(self) -> None:
        raise RuntimeError("the inbox commits the central transaction")

    def ping(self) -> None:
        self._conn.exec_driver_sql("SELECT 1")


def central_outbox(central: Callable[..., UnitOfWork] | None) -> SqlCentralOutbox | None:
    """The outbox of a station's central database (``Context.central``), or None when standalone."""
    return SqlCentralOutbox(central) if central is not None else None


__all__ = ["SqlCentralOutbox", "central_outbox"]
