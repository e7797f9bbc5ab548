"""In-memory fakes of the storage ports, for service unit tests that run without a database.

Each fake subclasses its port in ``packstation/services/ports.py`` (cosmicpython's way: a fake
that is a real implementation of the abstraction, not a mock). ``tests/contract`` runs one
suite of tests against these fakes, SQLite and PostgreSQL, so the fakes cannot drift from the
SQL adapters without a test failing.

- :class:`FakeDatabase` is the committed state, shared by every unit of work made on it (one
  database file, as it were).
- :class:`FakeUnitOfWork` copies the committed state when it begins and works on its copy;
  ``commit()`` installs the copy, leaving the block without ``commit()`` drops it, so a
  rollback is real. Writers are serialised by a lock held from begin to end, as SQLite's
  ``BEGIN IMMEDIATE`` does; ``readonly=True`` readers read a snapshot and take no lock.
- A constraint the database enforces (a unique badge, SSCC or serial, a foreign key) is
  refused the way SQLAlchemy refuses it: an exception inside the block that leaves the
  ``with`` as :class:`StorageError`.
- :func:`fake_context` builds a ``services.context.Context`` on a fake database with the real
  :class:`Authenticator`, a :class:`FakeClock` and :class:`FakeDocuments`.

Where the fake is stricter than SQL it says so: a read-only unit of work cannot commit (the
services never do; SQLite would let it), and a second write unit of work opened on the same
thread while one is open fails at once (SQLite would wait ``busy_timeout`` and then fail).
"""

from __future__ import annotations

import copy
import json
import marshal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from argon2 import PasswordHasher

from packstation.domain.documents import Address as DocAddress
from packstation.domain.documents import LabelData, PackingSlipData
from packstation.domain.events import Event
from packstation.domain.identity import Role
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import (
    Address,
    CartonType,
    Order,
    OrderLine,
    PackBarcode,
    Product,
    StockLot,
    Tracking,
    User,
)
from packstation.domain.packing import Carton, CartonStatus, PackedItem
from packstation.domain.print_jobs import JobStatus, PrintJob
from packstation.domain.returns import Return
from packstation.services.auth import Authenticator
from packstation.services.context import Context, PackingSettings
from packstation.services.ports import (
    BatchState,
    CatalogRepository,
    Claim,
    Conflict,
    Credentials,
    EventLog,
    ImportBatch,
    ImportBatchRepository,
    ImportedState,
    ImportStaging,
    NumberSeries,
    OrderRepository,
    PrintJobRepository,
    ReturnRepository,
    ScanRecord,
    ShipmentRepository,
    StagedRecord,
    StorageError,
    UnitOfWork,
    UserRepository,
)
from packstation.services.printing import Documents, PrinterFailure, Printers

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
INTERRUPTED_ERROR = "the station stopped while sending it: check whether it printed, then retry or discard"


class FakeIntegrityError(Exception):
    """A constraint refused a write (what ``sqlalchemy.exc.IntegrityError`` is on SQL).

    Not a StorageError inside the block, like SQLAlchemy's; the unit of work turns it into one
    when it leaves the ``with``."""


class SeriesExhausted(StorageError):
    """Every number of a series' range has been handed out."""


def _utc(value: datetime | None) -> datetime | None:
    """As the SQL columns store it: UTC, time-zone aware (a naive value is taken as UTC)."""
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)


def _refuse(what: str) -> FakeIntegrityError:
    return FakeIntegrityError(what)


# --- the stored rows -------------------------------------------------------------------------


@dataclass
class _OrderRow:
    order: Order  # with its lines; the status is order.status
    fingerprint: str
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None = None
    claimed_user: str | None = None
    claimed_at: datetime | None = None
    import_batch: str | None = None  # held by an unfinished import (FakeImports)


@dataclass
class _UserRow:
    id: int
    name: str
    role: Role
    badge: str
    pin_hash: str | None
    created_at: datetime
    active: bool = True
    failed_pins: int = 0
    locked_until: datetime | None = None


@dataclass
class _CartonRow:
    order_id: str
    seq: int
    type_code: str
    status: CartonStatus
    opened_by: str
    station_id: str
    opened_at: datetime
    expected_g: int | None = None
    measured_g: int | None = None
    sscc: str | None = None
    tracking_number: str | None = None
    override_by: str | None = None
    closed_at: datetime | None = None


@dataclass
class _ScanRow:
    order_id: str
    seq: int
    item: PackedItem  # scanned_at set
    station_id: str
    undone_at: datetime | None = None
    undone_by: str | None = None


@dataclass
class _JobRow:
    job: PrintJob
    station_id: str
    updated_at: datetime


@dataclass
class _ReturnRow:
    ret: Return
    fingerprint: str
    created_at: datetime
    updated_at: datetime


@dataclass
class _Block:
    series: str
    station_id: str
    first: int
    last: int
    next: int


@dataclass
class _State:
    """Everything a database holds; a unit of work works on a deep copy of it."""

    products: dict[str, tuple[Product, str]] = field(default_factory=dict)  # sku -> (product sans codes, fp)
    barcodes: dict[str, tuple[str, int]] = field(default_factory=dict)  # lookup key -> (sku, units)
    carton_types: dict[str, tuple[CartonType, str]] = field(default_factory=dict)
    lots: dict[tuple[str, str], StockLot] = field(default_factory=dict)
    orders: dict[str, _OrderRow] = field(default_factory=dict)
    users: dict[int, _UserRow] = field(default_factory=dict)
    last_user_id: int = 0
    cartons: dict[tuple[str, int], _CartonRow] = field(default_factory=dict)
    scans: dict[str, _ScanRow] = field(default_factory=dict)  # scan id -> row
    serials: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (sku, serial) -> (order, scan)
    print_jobs: dict[str, _JobRow] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    series: dict[str, list[int]] = field(default_factory=dict)  # series -> [next value, last value]
    blocks: list[_Block] = field(default_factory=list)
    returns: dict[str, _ReturnRow] = field(default_factory=dict)
    batches: dict[str, ImportBatch] = field(default_factory=dict)
    pending: dict[tuple[str, str], str] = field(default_factory=dict)  # (batch, order id) -> new content


# --- the database and its units of work ------------------------------------------------------


class FakeDatabase:
    """The committed state that units of work read and replace; thread-safe.

    ``transactions`` lists, for every commit that wrote events, the kinds of the events it
    wrote, in order: a test can see what one transaction decided (a seal, its label job and
    the order's status change together). :meth:`refuse_commit` makes a coming commit fail as a
    full disk would.
    """

    def __init__(self, *, busy_timeout_s: float = 5.0, one_transaction: bool = False) -> None:
        self.one_transaction = one_transaction  # FakeImports.one_transaction: PostgreSQL's answer when True
        self._committed = _State()
        self._state_lock = threading.Lock()  # guards _committed (short holds only)
        self._writer = threading.Lock()  # held by the one open write unit of work
        self._writer_thread: int | None = None
        self.busy_timeout_s = busy_timeout_s
        self.transactions: list[list[str]] = []
        self._refusal: list[Any] | None = None  # [commits to let through first, message]

    def refuse_commit(self, nth: int = 1, message: str = "The disk is full. Ask IT to free space on this station.") -> None:
        """The *nth* commit from now raises StorageError(*message*) and stores nothing (a full
        disk, the server gone); the ones before and after it go through."""
        with self._state_lock:
            self._refusal = [nth - 1, message]

    def snapshot(self) -> _State:
        with self._state_lock:
            return copy.deepcopy(self._committed)

    def _begin_write(self) -> None:
        me = threading.get_ident()
        if self._writer_thread == me:
            raise StorageError("The database is busy: this thread already has a write unit of work open "
                               "(on SQLite the second one would wait for the first until it times out).")
        if not self._writer.acquire(timeout=self.busy_timeout_s):
            raise StorageError("The database is busy. Scan again in a moment. (fake: writer lock timed out)")
        self._writer_thread = me

    def _end_write(self) -> None:
        self._writer_thread = None
        self._writer.release()

    def _install(self, state: _State) -> None:
        with self._state_lock:
            if self._refusal is not None:
                if self._refusal[0] == 0:
                    message, self._refusal = self._refusal[1], None
                    raise StorageError(message)
                self._refusal[0] -= 1
            known = {e.id for e in self._committed.events}
            kinds = [e.kind for e in state.events if e.id not in known]
            self._committed = state
            if kinds:
                self.transactions.append(kinds)


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, db: FakeDatabase, station_id: str, numbers: NumberRanges, *, readonly: bool = False) -> None:
        self.db = db
        self.station_id = station_id
        self.readonly = readonly
        self._state: _State | None = None
        self._writing = False
        self.orders = FakeOrders(self)
        self.catalog = FakeCatalog(self)
        self.users = FakeUsers(self)
        self.shipments = FakeShipments(self)
        self.print_jobs = FakePrintJobs(self)
        self.events = FakeEventLog(self)
        self.numbers = FakeNumberSeries(self, numbers)
        self.returns = FakeReturns(self)
        self.imports = FakeImports(self)

    @property
    def state(self) -> _State:
        if self._state is None:
            raise RuntimeError("use the unit of work inside 'with uow_factory() as uow:'")
        return self._state

    def __enter__(self) -> FakeUnitOfWork:
        if not self.readonly:
            self.db._begin_write()
            self._writing = True
        self._state = self.db.snapshot()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._state = None  # what was not committed is gone
        if self._writing:
            self._writing = False
            self.db._end_write()
        if isinstance(exc, FakeIntegrityError):
            raise StorageError(f"The database refused the change. Scan again; if it repeats, call a lead. ({exc})") from exc

    def commit(self) -> None:
        if self.readonly:
            raise StorageError("a read-only unit of work cannot commit (the fake is stricter than SQLite here)")
        self.db._install(self.state)
        self._state = copy.deepcopy(self._state)  # later changes need a commit of their own

    def ping(self) -> None:
        self.state  # noqa: B018 - fails outside the block, like a closed connection


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def s(self) -> _State:
        return self._uow.state


# --- orders ----------------------------------------------------------------------------------


def _held(row: _OrderRow, state: _State) -> bool:
    """Held by an unfinished import: its batch still publishing, or an update of it waiting."""
    if row.import_batch is None:
        return False
    batch = state.batches.get(row.import_batch)
    publishing = batch is not None and batch.state is BatchState.PUBLISHING
    return publishing or (row.import_batch, row.order.order_id) in state.pending


def _claim(row: _OrderRow, state: _State) -> Claim:
    importing = None
    if _held(row, state):
        batch = state.batches.get(row.import_batch)
        importing = batch.file if batch else "an import"
    return Claim(row.order.order_id, row.order.status, row.claimed_by, row.claimed_user, row.claimed_at,
                 importing=importing)


class FakeOrders(_Repo, OrderRepository):
    def _row(self, order_id: str) -> _OrderRow | None:
        return self.s.orders.get(order_id)

    def get(self, order_id: str) -> Order | None:
        row = self._row(order_id)
        if row is None:
            return None
        order = copy.deepcopy(row.order)
        order.lines.sort(key=lambda ln: ln.line_no)
        return order

    def find_id(self, code: str) -> str | None:
        hits = [r for r in self.s.orders.values()
                if r.order.order_id == code or r.order.tote == code or r.order.order_id.upper() == code.upper()]
        if not hits:
            return None

        def rank(r: _OrderRow) -> tuple[bool, bool, bool, datetime]:
            o = r.order
            return (o.order_id == code, o.order_id.upper() == code.upper(), o.status.packable, o.placed_at)

        return max(hits, key=rank).order.order_id

    def find_by_tracking(self, number: str) -> str | None:
        for row in self.s.orders.values():
            if row.order.tracking_number == number:
                return row.order.order_id
        for carton in self.s.cartons.values():
            if carton.tracking_number == number:
                return carton.order_id
        return None

    def hold(self, order_id: str) -> Claim:
        row = self._row(order_id)
        if row is None:
            raise KeyError(order_id)
        return _claim(row, self.s)  # the writer lock already keeps everyone else out

    def claim_of(self, order_id: str) -> Claim | None:
        row = self._row(order_id)
        return _claim(row, self.s) if row else None

    def try_claim(self, order_id: str, station_id: str, user: str, at: datetime) -> bool:
        row = self._row(order_id)
        if (row is None or row.claimed_by not in (None, station_id) or not row.order.status.packable
                or _held(row, self.s)):
            return False
        row.claimed_by, row.claimed_user, row.claimed_at, row.updated_at = station_id, user, _utc(at), _utc(at)
        return True

    def claim_next(self, station_id: str, user: str, at: datetime, carrier: str | None = None) -> str | None:
        # PostgreSQL skips rows other stations have locked (SKIP LOCKED); here, as on SQLite,
        # writers take turns, so the next free order is simply the oldest unclaimed one.
        free = [r for r in self.s.orders.values() if r.order.status.packable and r.claimed_by is None
                and not _held(r, self.s) and (not carrier or r.order.carrier == carrier)]
        if not free:
            return None
        first = min(free, key=lambda r: (r.order.placed_at, r.order.order_id))
        return first.order.order_id if self.try_claim(first.order.order_id, station_id, user, at) else None

    def release(self, order_id: str) -> None:
        row = self._row(order_id)
        if row is not None:
            row.claimed_by = row.claimed_user = row.claimed_at = None

    def set_status(self, order_id: str, expected: OrderStatus, status: OrderStatus, at: datetime) -> None:
        row = self._row(order_id)
        if row is None or row.order.status is not expected:
            raise Conflict(f"Order {order_id} changed meanwhile (it is no longer {expected.value}); try again.")
        row.order.status, row.updated_at = status, _utc(at)  # type: ignore[assignment]

    def held_by(self, station_id: str) -> str | None:
        mine = [r for r in self.s.orders.values()
                if r.claimed_by == station_id and r.order.status is OrderStatus.PACKING]
        if not mine:
            return None
        return max(mine, key=lambda r: r.claimed_at or datetime.min.replace(tzinfo=UTC)).order.order_id

    def claims(self) -> list[Claim]:
        held = [r for r in self.s.orders.values() if r.claimed_by is not None]
        return [_claim(r, self.s) for r in sorted(held, key=lambda r: (r.claimed_at, r.order.order_id))]

    def _free_released(self) -> list[_OrderRow]:
        return [r for r in self.s.orders.values()
                if r.order.status is OrderStatus.RELEASED and r.claimed_by is None and not _held(r, self.s)]

    def ready(self, limit: int) -> list[tuple[str, str | None]]:
        rows = sorted(self._free_released(), key=lambda r: r.order.order_id)[:limit]
        return [(r.order.order_id, r.order.tote) for r in rows]

    def next_to_pick(self, limit: int, carrier: str | None = None) -> list[Order]:
        rows = [r for r in self._free_released() if not carrier or r.order.carrier.lower() == carrier.lower()]
        rows.sort(key=lambda r: (r.order.placed_at, r.order.order_id))
        return [o for r in rows[:limit] if (o := self.get(r.order.order_id)) is not None]

    def set_wave(self, order_id: str, wave_id: str) -> None:
        row = self._row(order_id)
        if row is not None:
            row.order.wave_id = wave_id

    def _line(self, order_id: str, line_no: int) -> OrderLine | None:
        row = self._row(order_id)
        if row is None:
            return None
        return next((ln for ln in row.order.lines if ln.line_no == line_no), None)

    def add_packed(self, order_id: str, line_no: int, delta: int) -> None:
        line = self._line(order_id, line_no)
        if line is not None:
            line.packed += delta

    def set_short(self, order_id: str, line_no: int, short: int, reason: str) -> None:
        line = self._line(order_id, line_no)
        if line is not None:
            line.short, line.short_reason = short, reason

    def imported(self, order_ids: Sequence[str]) -> dict[str, ImportedState]:
        return {i: ImportedState(fingerprint=r.fingerprint, status=r.order.status.value, held_by=r.claimed_by,
                                 import_batch=r.import_batch if _held(r, self.s) else None)
                for i in order_ids if (r := self._row(i)) is not None}

    def open_order_with_tote(self, tote: str, other_than: str) -> tuple[str, OrderStatus] | None:
        for row in self.s.orders.values():
            o = row.order
            if o.tote == tote and o.order_id != other_than and o.status.open:
                return o.order_id, o.status
        return None

    def _stored(self, order: Order) -> Order:
        stored = copy.deepcopy(order)
        stored.placed_at = _utc(stored.placed_at)  # type: ignore[assignment]
        seen: set[int] = set()
        for line in stored.lines:
            if line.line_no in seen:
                raise _refuse(f"order {order.order_id} has line {line.line_no} twice")
            seen.add(line.line_no)
            if line.sku not in self.s.products:
                raise _refuse(f"order {order.order_id}: no product {line.sku!r} (foreign key)")
            line.unit_price = Decimal(str(line.unit_price))
        return stored

    def add_many(self, orders: Sequence[tuple[Order, str]], at: datetime) -> None:
        for order, fingerprint in orders:
            if order.order_id in self.s.orders:
                raise _refuse(f"order {order.order_id} exists already (unique)")
            self.s.orders[order.order_id] = _OrderRow(self._stored(order), fingerprint, _utc(at), _utc(at))  # type: ignore[arg-type]

    def replace(self, order: Order, fingerprint: str, at: datetime) -> None:
        row = self._row(order.order_id)
        if row is None:
            raise _refuse(f"no order {order.order_id} to replace (its lines would have no order: foreign key)")
        row.order, row.fingerprint, row.updated_at = self._stored(order), fingerprint, _utc(at)  # type: ignore[assignment]


# --- catalog ---------------------------------------------------------------------------------


class FakeCatalog(_Repo, CatalogRepository):
    def _product(self, sku: str) -> Product | None:
        hit = self.s.products.get(sku)
        if hit is None:
            return None
        codes = [(code, qty) for code, (owner, qty) in self.s.barcodes.items() if owner == sku]
        return replace(hit[0], barcodes=tuple(c for c, q in codes if q == 1),
                       pack_barcodes=tuple(PackBarcode(c, q) for c, q in codes if q != 1))

    def products(self, skus: Iterable[str]) -> dict[str, Product]:
        return {sku: p for sku in sorted(set(skus)) if (p := self._product(sku)) is not None}

    def by_barcode(self, key: str) -> tuple[Product, int] | None:
        sku, qty = self.s.barcodes.get(key, (key, 1))
        product = self._product(sku)
        return (product, qty) if product else None

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        return {sku for sku in skus if sku in self.s.products}

    def carton_type(self, code: str) -> CartonType | None:
        hit = self.s.carton_types.get(code)
        return hit[0] if hit else None

    def carton_types(self) -> list[CartonType]:
        return sorted((c for c, _ in self.s.carton_types.values()), key=lambda c: (c.tare_g, c.code))

    def lots(self, sku: str) -> list[StockLot]:
        lots = [lot for (s, _), lot in self.s.lots.items() if s == sku]
        return sorted(lots, key=lambda x: (x.expiry is None, x.expiry or date.max, x.lot))

    def imported_products(self, skus: Sequence[str]) -> dict[str, str]:
        return {sku: self.s.products[sku][1] for sku in skus if sku in self.s.products}

    def barcode_owners(self, codes: Sequence[str]) -> dict[str, str]:
        return {code: self.s.barcodes[code][0] for code in codes if code in self.s.barcodes}

    def put_products(self, products: Sequence[tuple[Product, str]], at: datetime) -> None:
        skus = {prod.sku for prod, _ in products}
        for code in [c for c, (owner, _) in self.s.barcodes.items() if owner in skus]:
            del self.s.barcodes[code]
        for prod, fingerprint in products:
            self.s.products[prod.sku] = (replace(prod, barcodes=(), pack_barcodes=()), fingerprint)
        for prod, _ in products:
            codes = [(code, 1) for code in prod.barcodes] + [(p.barcode, p.qty) for p in prod.pack_barcodes]
            for code, qty in codes:
                if code in self.s.barcodes:
                    raise _refuse(f"barcode {code} belongs to {self.s.barcodes[code][0]} already (unique)")
                self.s.barcodes[code] = (prod.sku, qty)

    def imported_cartons(self, codes: Sequence[str]) -> dict[str, str]:
        return {code: self.s.carton_types[code][1] for code in codes if code in self.s.carton_types}

    def put_cartons(self, cartons: Sequence[tuple[CartonType, str]]) -> None:
        for carton, fingerprint in cartons:
            self.s.carton_types[carton.code] = (carton, fingerprint)

    def put_lots(self, lots: Sequence[StockLot]) -> None:
        for lot in lots:
            if lot.sku not in self.s.products:
                raise _refuse(f"lot {lot.lot}: no product {lot.sku!r} (foreign key)")
            self.s.lots[(lot.sku, lot.lot)] = lot


# --- users -----------------------------------------------------------------------------------


def _credentials(row: _UserRow) -> Credentials:
    user = User(id=row.id, name=row.name, role=row.role, badge=row.badge, has_pin=bool(row.pin_hash),
                active=row.active, locked_until=row.locked_until)
    return Credentials(user=user, pin_hash=row.pin_hash, failed_pins=row.failed_pins, locked_until=row.locked_until)


class FakeUsers(_Repo, UserRepository):
    def _one(self, match: Callable[[_UserRow], bool]) -> Credentials | None:
        row = next((r for r in self.s.users.values() if match(r)), None)
        return _credentials(row) if row else None

    def by_badge(self, badge: str) -> Credentials | None:
        return self._one(lambda r: r.badge == badge)

    def by_name(self, name: str) -> Credentials | None:
        return self._one(lambda r: r.name == name)

    def by_id(self, user_id: int) -> Credentials | None:
        return self._one(lambda r: r.id == user_id)

    def add(self, name: str, role: Role, badge: str, pin_hash: str | None, at: datetime) -> User:
        for row in self.s.users.values():
            if row.name == name:
                raise _refuse(f"a user called {name!r} exists already (unique)")
            if row.badge == badge:
                raise _refuse("that badge belongs to another user (unique)")
        self.s.last_user_id += 1
        row = _UserRow(id=self.s.last_user_id, name=name, role=role, badge=badge, pin_hash=pin_hash,
                       created_at=_utc(at))  # type: ignore[arg-type]
        self.s.users[row.id] = row
        return User(id=row.id, name=name, role=role, badge=badge, has_pin=bool(pin_hash))

    def update(self, user_id: int, *, role: Role | None = None, active: bool | None = None,
               pin_hash: str | None = None) -> None:
        row = self.s.users.get(user_id)
        if row is None:
            return
        if role is not None:
            row.role = role
        if active is not None:
            row.active = active
        if pin_hash is not None:
            row.pin_hash = pin_hash

    def pin_failed(self, user_id: int, lock_after: int, locked_until: datetime) -> int:
        row = self.s.users.get(user_id)
        if row is None:
            raise KeyError(user_id)
        if row.failed_pins + 1 >= lock_after:
            row.failed_pins, row.locked_until = 0, _utc(locked_until)
            return lock_after
        row.failed_pins += 1
        return row.failed_pins

    def pin_ok(self, user_id: int) -> None:
        row = self.s.users.get(user_id)
        if row is not None:
            row.failed_pins, row.locked_until = 0, None

    def list(self) -> list[User]:
        return [_credentials(r).user for r in sorted(self.s.users.values(), key=lambda r: r.name)]


# --- shipments -------------------------------------------------------------------------------


class FakeShipments(_Repo, ShipmentRepository):
    def cartons(self, order_id: str, types: dict[str, CartonType]) -> list[Carton]:
        cartons: dict[int, Carton] = {}
        for row in sorted((r for r in self.s.cartons.values() if r.order_id == order_id), key=lambda r: r.seq):
            ctype = types.get(row.type_code) or CartonType(row.type_code, row.type_code, 0)
            cartons[row.seq] = Carton(seq=row.seq, type=ctype, status=row.status, measured_g=row.measured_g,
                                      sscc=row.sscc, override_by=row.override_by, tracking_number=row.tracking_number,
                                      expected_g=row.expected_g, closed_at=row.closed_at)
        for scan in self._scans(order_id):
            if scan.undone_at is None:
                cartons[scan.item.carton_seq].items.append(scan.item)
        return list(cartons.values())

    def _scans(self, order_id: str) -> list[_ScanRow]:
        return sorted((r for r in self.s.scans.values() if r.order_id == order_id), key=lambda r: r.seq)

    def add_carton(self, order_id: str, carton: Carton, opened_by: str, station_id: str, at: datetime) -> None:
        if order_id not in self.s.orders:
            raise _refuse(f"no order {order_id} (foreign key)")
        if (order_id, carton.seq) in self.s.cartons:
            raise _refuse(f"order {order_id} has a carton {carton.seq} already (unique)")
        self.s.cartons[(order_id, carton.seq)] = _CartonRow(
            order_id=order_id, seq=carton.seq, type_code=carton.type.code, status=carton.status, opened_by=opened_by,
            station_id=station_id, opened_at=_utc(at))  # type: ignore[arg-type]

    def save_carton(self, order_id: str, carton: Carton, at: datetime) -> None:
        row = self.s.cartons.get((order_id, carton.seq))
        if row is None:
            return
        if carton.sscc is not None and any(r.sscc == carton.sscc and r is not row for r in self.s.cartons.values()):
            raise _refuse(f"SSCC {carton.sscc} is on another carton already (unique)")
        row.type_code, row.status, row.measured_g, row.expected_g = carton.type.code, carton.status, carton.measured_g, carton.expected_g
        row.sscc, row.override_by, row.tracking_number = carton.sscc, carton.override_by, carton.tracking_number
        if carton.status is CartonStatus.CLOSED:
            row.closed_at = _utc(at)

    def remove_carton(self, order_id: str, seq: int) -> None:
        self.s.cartons.pop((order_id, seq), None)

    def carton_by_sscc(self, sscc: str) -> tuple[str, int] | None:
        row = next((r for r in self.s.cartons.values() if r.sscc == sscc), None)
        return (row.order_id, row.seq) if row else None

    def add_item(self, order_id: str, item: PackedItem, station_id: str, at: datetime) -> None:
        if order_id not in self.s.orders:
            raise _refuse(f"no order {order_id} (foreign key)")
        if item.scan_id in self.s.scans:
            raise _refuse(f"scan {item.scan_id} is stored already (unique)")
        if item.serial and (item.sku, item.serial) in self.s.serials:
            raise _refuse(f"serial {item.serial} of {item.sku} is packed already (unique)")
        seq = max((r.seq for r in self.s.scans.values() if r.order_id == order_id), default=0) + 1
        self.s.scans[item.scan_id] = _ScanRow(order_id, seq, replace(item, scanned_at=_utc(at)), station_id)
        if item.serial:
            self.s.serials[(item.sku, item.serial)] = (order_id, item.scan_id)

    def undo_item(self, item: PackedItem, by: str, at: datetime) -> None:
        row = self.s.scans.get(item.scan_id)
        if row is not None:
            row.undone_at, row.undone_by = _utc(at), by
        if item.serial:
            for key in [k for k, (_, scan_id) in self.s.serials.items() if scan_id == item.scan_id]:
                del self.s.serials[key]

    def serial_shipped(self, sku: str, serial: str) -> bool:
        return (sku, serial) in self.s.serials

    def scans(self, order_id: str) -> list[ScanRecord]:
        return [ScanRecord(item=r.item, station_id=r.station_id, undone_at=r.undone_at, undone_by=r.undone_by)
                for r in self._scans(order_id)]


# --- print jobs ------------------------------------------------------------------------------


class FakePrintJobs(_Repo, PrintJobRepository):
    def _jobs(self, station_id: str, statuses: Iterable[JobStatus]) -> list[PrintJob]:
        wanted = set(statuses)
        rows = [r.job for r in self.s.print_jobs.values() if r.station_id == station_id and r.job.status in wanted]
        return sorted(rows, key=lambda j: (j.created_at, j.id))

    def add(self, job: PrintJob, station_id: str, at: datetime) -> None:
        if job.id in self.s.print_jobs:
            raise _refuse(f"print job {job.id} exists already (unique)")
        self.s.print_jobs[job.id] = _JobRow(replace(job, created_at=_utc(job.created_at or at)), station_id, _utc(at))  # type: ignore[arg-type]

    def get(self, job_id: str) -> PrintJob | None:
        row = self.s.print_jobs.get(job_id)
        return row.job if row else None

    def waiting(self, station_id: str) -> list[PrintJob]:
        return self._jobs(station_id, [s for s in JobStatus if s.waiting])

    def next_pending(self, station_id: str) -> PrintJob | None:
        jobs = self._jobs(station_id, [JobStatus.PENDING])
        return jobs[0] if jobs else None

    def _move(self, job_id: str, from_: Iterable[JobStatus], at: datetime, **changes: Any) -> bool:
        row = self.s.print_jobs.get(job_id)
        if row is None or row.job.status not in set(from_):
            return False
        row.job, row.updated_at = replace(row.job, **changes), _utc(at)  # type: ignore[assignment]
        return True

    def requeue(self, job_id: str, at: datetime) -> bool:
        return self._move(job_id, [JobStatus.FAILED, JobStatus.INTERRUPTED], at, status=JobStatus.PENDING)

    def start(self, job_id: str, at: datetime) -> bool:
        return self._move(job_id, [JobStatus.PENDING], at, status=JobStatus.SENDING)

    def finish(self, job_id: str, status: JobStatus, error: str, at: datetime) -> None:
        row = self.s.print_jobs.get(job_id)
        if row is not None:
            self._move(job_id, list(JobStatus), at, status=status, error=error, attempts=row.job.attempts + 1)

    def interrupt_sending(self, station_id: str, at: datetime) -> list[PrintJob]:
        jobs = self._jobs(station_id, [JobStatus.SENDING])
        for job in jobs:
            self._move(job.id, [JobStatus.SENDING], at, status=JobStatus.INTERRUPTED, error=INTERRUPTED_ERROR)
        return [self.s.print_jobs[j.id].job for j in jobs]


# --- events ----------------------------------------------------------------------------------


class FakeEventLog(_Repo, EventLog):
    def add(self, event: Event, station_id: str, at: datetime) -> str:
        if any(e.id == event.id for e in self.s.events):
            raise _refuse(f"event {event.id} is stored already (unique)")
        # stored as the SQL adapters store it: the payload as JSON (dates become text)
        payload = json.loads(json.dumps(event.payload, default=str, sort_keys=True))
        seq = self.s.events[-1].seq + 1 if self.s.events else 1
        self.s.events.append(replace(event, payload=payload, occurred_at=_utc(event.occurred_at or at),
                                     station_id=station_id, seq=seq))
        return event.id

    def for_order(self, order_id: str) -> list[Event]:
        return [e for e in self.s.events if e.order_id == order_id]

    def since(self, at: datetime) -> list[Event]:
        return [e for e in self.s.events if e.occurred_at is not None and e.occurred_at >= _utc(at)]  # type: ignore[operator]


# --- number series ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberRanges:
    """The ranges this station draws blocks from (``[numbers]`` of its config), as ``LocalBlocks``."""

    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    block_size: int = 100


class FakeNumberSeries(_Repo, NumberSeries):
    def __init__(self, uow: FakeUnitOfWork, config: NumberRanges) -> None:
        super().__init__(uow)
        self.config = config

    def _take(self, series: str) -> tuple[int, int]:
        first, last = self.config.ranges.get(series, (1, 10**18))
        row = self.s.series.get(series)
        start = first if row is None else max(row[0], first)
        if start > last:
            raise SeriesExhausted(f"Number series {series!r} is used up (range {first}-{last}): "
                                  "give this station a new range in [numbers] of its config.")
        end = min(start + self.config.block_size - 1, last)
        self.s.series[series] = [end + 1, last]
        return start, end

    def next(self, series: str) -> int:
        station = self._uow.station_id
        mine = [b for b in self.s.blocks if b.series == series and b.station_id == station and b.next <= b.last]
        if mine:
            block = min(mine, key=lambda b: b.first)
        else:
            first, last = self._take(series)
            block = _Block(series, station, first, last, first)
            self.s.blocks.append(block)
        value = block.next
        block.next += 1
        return value


# --- returns ---------------------------------------------------------------------------------


class FakeReturns(_Repo, ReturnRepository):
    def get(self, rma_id: str) -> Return | None:
        row = self.s.returns.get(rma_id)
        if row is None:
            return None
        ret = copy.deepcopy(row.ret)
        ret.lines.sort(key=lambda ln: ln.line_no)
        return ret

    def for_order(self, order_id: str) -> list[Return]:
        ids = sorted(i for i, r in self.s.returns.items() if r.ret.order_id == order_id)
        return [r for i in ids if (r := self.get(i)) is not None]

    def imported(self, rma_ids: Sequence[str]) -> dict[str, ImportedState]:
        return {i: ImportedState(fingerprint=r.fingerprint, status=r.ret.status.value, order_id=r.ret.order_id)
                for i in rma_ids if (r := self.s.returns.get(i)) is not None}

    def put(self, ret: Return, fingerprint: str, at: datetime) -> None:
        if ret.order_id not in self.s.orders:
            raise _refuse(f"return {ret.rma_id}: no order {ret.order_id} (foreign key)")
        if len({ln.line_no for ln in ret.lines}) != len(ret.lines):
            raise _refuse(f"return {ret.rma_id} has a line number twice")
        old = self.s.returns.get(ret.rma_id)
        created = old.created_at if old else _utc(at)
        self.s.returns[ret.rma_id] = _ReturnRow(copy.deepcopy(ret), fingerprint, created, _utc(at))  # type: ignore[arg-type]


# --- imports: the journal of big imports, and the staging area --------------------------------


class FakeImports(_Repo, ImportBatchRepository):
    """Orders held by import batches, in memory. ``one_transaction`` is the database's setting
    (False, as SQLite: batches of chunks; True, as PostgreSQL: a whole file in one transaction)."""

    @property
    def one_transaction(self) -> bool:
        return self._uow.db.one_transaction

    def open(self, batch: ImportBatch) -> None:
        if batch.id in self.s.batches:
            raise _refuse(f"import batch {batch.id} exists already (unique)")
        self.s.batches[batch.id] = batch

    def get(self, batch_id: str) -> ImportBatch | None:
        return self.s.batches.get(batch_id)

    def unfinished(self) -> list[ImportBatch]:
        return sorted((b for b in self.s.batches.values() if not b.state.finished), key=lambda b: (b.started_at, b.id))

    def save(self, batch: ImportBatch) -> None:
        if batch.id in self.s.batches:
            self.s.batches[batch.id] = replace(batch, expires_at=_utc(batch.expires_at),  # type: ignore[arg-type]
                                               started_at=_utc(batch.started_at))  # type: ignore[arg-type]

    def take_over(self, batch_id: str, holder_was: str, holder: str, expires_at: datetime) -> bool:
        batch = self.s.batches.get(batch_id)
        if batch is None or batch.holder != holder_was:
            return False
        self.s.batches[batch_id] = replace(batch, holder=holder, expires_at=_utc(expires_at))  # type: ignore[arg-type]
        return True

    def add_orders(self, batch_id: str | None, orders: Sequence[tuple[Order, str]], at: datetime) -> None:
        taken = sorted(o.order_id for o, _ in orders if o.order_id in self.s.orders)
        if taken:
            raise Conflict(f"order {', '.join(taken[:5])} was stored meanwhile (by another import or the order API); "
                           "import the file again.")
        FakeOrders(self._uow).add_many(orders, at)
        for order, _ in orders:
            self.s.orders[order.order_id].import_batch = batch_id

    def reserve(self, batch_id: str, updates: Sequence[tuple[str, str]]) -> None:
        for order_id, payload in updates:
            row = self.s.orders.get(order_id)
            if row is None or _held(row, self.s) or row.claimed_by is not None:
                raise Conflict("an order the file updates was claimed or taken by another import meanwhile; "
                               "import the file again.")
            row.import_batch = batch_id
            self.s.pending[(batch_id, order_id)] = payload

    def totes_in_use(self, totes: Sequence[str]) -> dict[str, list[tuple[str, OrderStatus]]]:
        wanted = set(totes)
        out: dict[str, list[tuple[str, OrderStatus]]] = {}
        for order_id in sorted(self.s.orders):
            order = self.s.orders[order_id].order
            if order.tote in wanted and order.status.open:
                out.setdefault(order.tote, []).append((order_id, order.status))
        return out

    def _new(self, batch_id: str, limit: int) -> list[_OrderRow]:
        rows = [r for k, r in sorted(self.s.orders.items())
                if r.import_batch == batch_id and (batch_id, k) not in self.s.pending]
        return rows[:limit]

    def pending(self, batch_id: str, limit: int) -> list[tuple[str, str]]:
        return sorted((k, v) for (b, k), v in self.s.pending.items() if b == batch_id)[:limit]

    def settle(self, batch_id: str, order_ids: Sequence[str]) -> None:
        for order_id in order_ids:
            row = self.s.orders.get(order_id)
            if row is not None and row.import_batch == batch_id:
                row.import_batch = None
            self.s.pending.pop((batch_id, order_id), None)

    def tidy(self) -> None:
        pass  # nothing to tidy in memory

    def discard(self, batch_id: str, limit: int) -> int:
        rows = self._new(batch_id, limit)
        if rows:
            gone = {row.order.order_id for row in rows}
            for order_id in gone:
                del self.s.orders[order_id]
            self.s.events = [e for e in self.s.events if e.order_id not in gone]
            return len(rows)
        kept = [k for k, _ in self.pending(batch_id, limit)]
        self.settle(batch_id, kept)
        return len(kept)


class FakeStaging(ImportStaging):
    """The staging area in memory. Record data goes through ``marshal`` as in the SQLite area,
    so a record that is not plain values fails here too."""

    def __init__(self) -> None:
        self._records: dict[int, StagedRecord] = {}
        self._rejected: set[int] = set()
        self._rows: list[tuple[str, int, bytes]] = []
        self.closed = False

    def add(self, records: Sequence[StagedRecord]) -> None:
        for r in records:
            self._records[r.seq] = r._replace(data=marshal.dumps(r.data))

    def _live(self) -> list[StagedRecord]:
        return [r for seq, r in sorted(self._records.items()) if seq not in self._rejected]

    def _bare(self, r: StagedRecord) -> StagedRecord:
        return StagedRecord(r.seq, r.position, r.key, None, r.fingerprint)

    def _tags(self, tag: str) -> list[tuple[StagedRecord, str]]:
        if tag == "key":
            return [(r, r.key) for r in self._live()]
        return [(r, v) for r in self._live() for t, v in r.tags if t == tag]

    def reject(self, seqs: Iterable[int]) -> None:
        self._rejected.update(seqs)

    def repeats(self, tag: str) -> Iterator[tuple[StagedRecord, str, StagedRecord]]:
        first: dict[str, StagedRecord] = {}
        for r, value in self._tags(tag):
            if value in first:
                if first[value].seq != r.seq:
                    yield self._bare(r), value, self._bare(first[value])
            else:
                first[value] = r

    def values(self, tag: str) -> Iterator[str]:
        yield from sorted({v for _, v in self._tags(tag)})

    def tagged(self, tag: str, values: Iterable[str]) -> Iterator[tuple[StagedRecord, str]]:
        wanted = set(values)
        yield from ((self._bare(r), v) for r, v in self._tags(tag) if v in wanted)

    def records(self, after: int = 0, limit: int = 1000, *, data: bool = True) -> list[StagedRecord]:
        out = [r for r in self._live() if r.seq > after][:limit]
        return [r._replace(data=marshal.loads(r.data), tags=()) if data else self._bare(r) for r in out]

    def get(self, seq: int) -> StagedRecord | None:
        r = self._records.get(seq)
        return r._replace(data=marshal.loads(r.data), tags=()) if r else None

    def count(self) -> int:
        return len(self._live())

    def add_rows(self, rows: Sequence[tuple[str, int, Any]]) -> None:
        self._rows += [(key or f"\x00{n}", n, marshal.dumps(cells)) for key, n, cells in rows]

    def grouped_rows(self) -> Iterator[list[tuple[int, Any]]]:
        groups: dict[str, list[tuple[int, Any]]] = {}
        for key, n, cells in sorted(self._rows, key=lambda r: r[1]):
            groups.setdefault(key, []).append((n, marshal.loads(cells)))
        yield from sorted(groups.values(), key=lambda g: g[0][0])

    def close(self) -> None:
        self.closed = True
        self._records.clear()
        self._rows.clear()


# --- the unit of work factory ----------------------------------------------------------------


@dataclass
class FakeUnitOfWorkFactory:
    """``ctx.uow``: ``factory(readonly=...)`` gives a unit of work on *db* for *station_id*."""

    db: FakeDatabase
    station_id: str = "BENCH-01"
    numbers: NumberRanges = NumberRanges()

    def __call__(self, *, readonly: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db, self.station_id, self.numbers, readonly=readonly)


# --- the rest of a context: clock, documents, printers ---------------------------------------


class FakeClock:
    """A clock that stands still at *start* until a test moves it."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


SHIP_FROM = DocAddress(name="Packstation Test Warehouse", line1="Lagerweg 1", city="Hamburg", postcode="20095",
                       country="DE")


class FakeDocuments(Documents):
    """Renders labels and slips as one line of text each (what a test can read back)."""

    def __init__(self, ship_from: DocAddress = SHIP_FROM) -> None:
        self.ship_from = ship_from
        self.wakes = 0
        self.refuse_labels: str | None = None  # a reason: the next labels cannot be rendered

    def label(self, data: LabelData, *, reason: str) -> PrintJob:
        if self.refuse_labels:
            raise ValueError(self.refuse_labels)
        count = data.carton_count if data.carton_count is not None else "?"
        text = f"LABEL {data.order_id} carton {data.carton_no}/{count} {data.weight_g} g SSCC {data.sscc}"
        return PrintJob(id="", printer="label", target="fake://label", kind="shipping_label",
                        ref=f"{data.order_id}/{data.sscc}", payload=text.encode(), reason=reason)

    def packing_slip(self, data: PackingSlipData, *, reason: str) -> PrintJob:
        lines = ", ".join(f"{ln.sku} {ln.qty_shipped}/{ln.qty_ordered}" for ln in data.lines)
        text = f"SLIP {data.order_id}: {lines}"
        return PrintJob(id="", printer="document", target="fake://document", kind="packing_slip", ref=data.order_id,
                        payload=text.encode(), reason=reason)

    def wake(self) -> None:
        self.wakes += 1


class FakePrinters(Printers):
    """Takes every job (``sent``), or refuses with ``failure`` set (a printer offline)."""

    def __init__(self) -> None:
        self.sent: list[PrintJob] = []
        self.failure: str | None = None

    def send(self, job: PrintJob) -> str:
        if self.failure:
            raise PrinterFailure(self.failure)
        self.sent.append(job)
        return job.target


_DEFAULT = object()


def fake_context(db: FakeDatabase | None = None, *, station_id: str = "BENCH-01", clock: FakeClock | None = None,
                 documents: Any = _DEFAULT, packing: PackingSettings | None = None,
                 lead_pin_required: bool = True, numbers: NumberRanges | None = None,
                 auth_key: bytes = b"fake-station-key-for-unit-tests") -> Context:
    """A Context on a fake database: the real Authenticator, a still clock, FakeDocuments.

    ``documents=None`` gives a station that prints nothing. A second station on the same
    database: ``fake_context(ctx.uow.db, station_id="BENCH-02")``.
    """
    db = db or FakeDatabase()
    clock = clock or FakeClock()
    uow = FakeUnitOfWorkFactory(db, station_id, numbers or NumberRanges())
    auth = Authenticator(uow, station_id, clock, lead_pin_required=lead_pin_required, key=auth_key)
    docs = FakeDocuments() if documents is _DEFAULT else documents
    return Context(uow=uow, auth=auth, station_id=station_id, documents=docs, packing=packing or PackingSettings(),
                   clock=clock, staging=FakeStaging)


# --- test data -------------------------------------------------------------------------------

# argon2 with the smallest cost: verifying it is as real as production's (the parameters travel
# in the hash) but takes microseconds, so unit tests can log leads in by the dozen.
_cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def cheap_pin_hash(pin: str) -> str:
    return _cheap.hash(pin)


def an_order(order_id: str, lines: dict[str, int], *, tote: str | None = None, placed_at: datetime = NOW,
             status: OrderStatus = OrderStatus.RELEASED, carrier: str = "DHL", payment: tuple[str, str] = ("prepaid", "paid"),
             tracking_number: str | None = None, unit_price: str = "9.95") -> Order:
    """An order of *lines* (sku -> qty), numbered from 1 in the order given."""
    return Order(
        order_id=order_id, channel="shop-web", placed_at=placed_at, customer_name="Anna Schmidt",
        customer_email="anna@example.com", customer_phone="+49 30 1234",
        ship_to=Address(name="Anna Schmidt", line1="Hauptstraße 12", city="Berlin", postcode="10115", country="DE"),
        currency="EUR", payment_method=payment[0], payment_status=payment[1], carrier=carrier, service="Paket",
        tracking_number=tracking_number, status=status, tote=tote,
        lines=[OrderLine(line_no=i, sku=sku, qty=qty, unit_price=Decimal(unit_price))
               for i, (sku, qty) in enumerate(lines.items(), 1)],
    )


def a_product(sku: str, name: str, weight_g: int, *barcodes: str, tracking: Tracking = Tracking.NONE,
              packs: Sequence[tuple[str, int]] = (), location: str = "") -> Product:
    return Product(sku=sku, name=name, weight_g=weight_g, location=location, tracking=tracking,
                   barcodes=tuple(barcodes), pack_barcodes=tuple(PackBarcode(c, q) for c, q in packs))


__all__ = [
    "NOW", "SHIP_FROM", "FakeCatalog", "FakeClock", "FakeDatabase", "FakeDocuments", "FakeEventLog", "FakeImports",
    "FakeStaging",
    "FakeIntegrityError", "FakeNumberSeries", "FakeOrders", "FakePrintJobs", "FakePrinters", "FakeReturns",
    "FakeShipments", "FakeUnitOfWork", "FakeUnitOfWorkFactory", "FakeUsers", "NumberRanges", "SeriesExhausted",
    "a_product", "an_order", "cheap_pin_hash", "fake_context",
]
