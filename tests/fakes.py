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
- Lease expiry is decided by the database's own clock (``now()`` on PostgreSQL): a
  ``FakeDatabase(clock=...)`` (default: the real UTC time) that a test can move.
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
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from argon2 import PasswordHasher

from packstation.domain.documents import Address as DocAddress
from packstation.domain.documents import CreditNoteData, LabelData, PackingSlipData
from packstation.domain.events import Event
from packstation.domain.identity import Role
from packstation.domain.integration import (
    Admission,
    ApiClient,
    Delivery,
    DeliveryState,
    InboxItem,
    InboxState,
    ShopOrderRef,
    StoredAnswer,
    Subscription,
    SubscriptionKind,
    refill,
)
from packstation.domain.lifecycle import OrderStatus, ReturnStatus
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
from packstation.domain.returns import (
    CreditNote,
    Photo,
    Receipt,
    ReceivedItem,
    Resolution,
    Return,
    ReturnLine,
    ShippedUnit,
)
from packstation.domain.shipping import (
    DockCarton,
    LabelRequest,
    LabelRequestStatus,
    LoadedCarton,
    Manifest,
    ManifestStatus,
)
from packstation.domain.stock import StockLevel, StockMovement
from packstation.services.auth import Authenticator
from packstation.services.context import Context, PackingSettings
from packstation.services.ports import (
    Answer,
    ApiClientRepository,
    BatchState,
    Blocker,
    CatalogRepository,
    CentralInbox,
    CentralLedger,
    CentralOutbox,
    Change,
    ChangeLog,
    Claim,
    Conflict,
    ConflictRecord,
    Credentials,
    EventLog,
    HeldLease,
    IdempotencyRepository,
    ImportBatch,
    ImportBatchRepository,
    ImportedState,
    ImportStaging,
    LabelRequestRepository,
    Lease,
    LeaseRepository,
    LedgerEntry,
    LoggedEvent,
    ManifestRepository,
    NumberSeries,
    OrderRepository,
    OutboxEvent,
    PhotoRepository,
    PrintJobRepository,
    PushCursor,
    Refused,
    ReturnFact,
    ReturnRepository,
    ScanRecord,
    ShipmentRepository,
    ShopOrderRefs,
    StagedRecord,
    StationProgress,
    StatusPushRepository,
    StockLedger,
    StorageError,
    SubscriptionStats,
    SyncBookkeeping,
    SyncState,
    UnitOfWork,
    UserRepository,
    WebhookInbox,
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
    lease_token: int | None = None  # the central lease this station holds on it (a synced station)
    lease_expires_at: datetime | None = None
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
    label_carrier: str | None = None
    shipment_id: str | None = None
    pulled_at: datetime | None = None


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
class _OutboxRow:
    """What the central sync keeps on an event (the SQL columns station_seq, fence, sync_*)."""

    fence: int | None = None
    station_seq: int | None = None
    state: SyncState = SyncState.PENDING
    reason: str | None = None
    pushed_at: datetime | None = None


@dataclass
class _Block:
    series: str
    station_id: str
    first: int
    last: int
    next: int


@dataclass
class _LoadRow:
    manifest_id: str
    sscc: str
    load_seq: int
    loaded_by: str
    loaded_at: datetime
    station_id: str


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
    outbox: dict[str, _OutboxRow] = field(default_factory=dict)  # event id -> its sync columns
    series: dict[str, list[int]] = field(default_factory=dict)  # series -> [next value, last value]
    blocks: list[_Block] = field(default_factory=list)
    returns: dict[str, _ReturnRow] = field(default_factory=dict)
    # the central sync: the centre's change log, a station's bookkeeping, the stock ledger
    changes: list[Change] = field(default_factory=list)
    sync_state: dict[str, str] = field(default_factory=dict)
    stock: list[StockMovement] = field(default_factory=list)
    manifests: dict[str, Manifest] = field(default_factory=dict)  # id -> manifest (cartons kept apart)
    loads: dict[tuple[str, int], _LoadRow] = field(default_factory=dict)  # (order, carton) -> its manifest
    label_requests: dict[str, LabelRequest] = field(default_factory=dict)
    receipts: dict[str, Receipt] = field(default_factory=dict)
    items: dict[str, tuple[int, ReceivedItem]] = field(default_factory=dict)  # id -> (seq, item sans photos)
    resolutions: list[Resolution] = field(default_factory=list)
    credit_notes: dict[str, CreditNote] = field(default_factory=dict)
    photos: dict[str, tuple[Photo, bytes]] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)  # order id -> lease (the centre's table)
    last_lease_token: int = 0  # lease_token_seq
    api: _ApiState = field(default_factory=lambda: _ApiState())  # the order API's tables (issue 13)
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

    def __init__(self, *, busy_timeout_s: float = 5.0, central: bool = False,
                 clock: Callable[[], datetime] | None = None, one_transaction: bool = False) -> None:
        # central=True: a fake centre, whose commits log every changed row in its change log as
        # the centre's triggers do (adapters/central/schema.py)
        self.central = central
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))  # the database's now()
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
            if self.central:
                _log_changes(self._committed, state)
            self._committed = state
            if kinds:
                self.transactions.append(kinds)


def _log_changes(old: _State, new: _State) -> None:
    """Append to *new*'s change log one entry per row that differs from *old* (the triggers)."""
    changed: list[tuple[str, str]] = []

    def diff(entity: str, a: dict[Any, Any], b: dict[Any, Any], key: Callable[[Any, Any], str]) -> None:
        for k in sorted(set(b), key=str):  # deletes are not logged for these tables (nor by the triggers)
            if a.get(k) != b[k]:
                changed.append((entity, key(k, b[k])))

    diff("order", old.orders, new.orders, lambda k, _: k)
    diff("product", old.products, new.products, lambda k, _: k)
    for code in sorted(set(old.barcodes) | set(new.barcodes)):
        if old.barcodes.get(code) != new.barcodes.get(code):
            changed += [("product", owner[0]) for owner in (old.barcodes.get(code), new.barcodes.get(code)) if owner]
    diff("carton_type", old.carton_types, new.carton_types, lambda k, _: k)
    diff("user", old.users, new.users, lambda _, row: row.name)
    diff("stock_lot", old.lots, new.lots, lambda k, _: f"{k[0]}\x1f{k[1]}")
    seq = new.changes[-1].seq if new.changes else 0
    for n, (entity, key) in enumerate(changed, seq + 1):
        new.changes.append(Change(n, entity, key))


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
        self.changes = FakeChangeLog(self)
        self.sync_state = FakeSyncBookkeeping(self)
        self.stock = FakeStockLedger(self)
        self.manifests = FakeManifests(self)
        self.label_requests = FakeLabelRequests(self)
        self.photos = FakePhotos(self)
        self.leases = FakeLeases(self)
        self.api_clients = FakeApiClients(self)
        self.idempotency = FakeIdempotency(self)
        self.inbox = FakeInbox(self)
        self.shop_orders = FakeShopOrders(self)
        self.status_push = FakeStatusPush(self)
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

    def get_many(self, order_ids: Sequence[str]) -> dict[str, tuple[Order, Claim]]:
        return {i: (o, _claim(self.s.orders[i], self.s)) for i in sorted(set(order_ids)) if (o := self.get(i)) is not None}

    def upsert(self, orders: Sequence[tuple[Order, str, Claim | None]], at: datetime) -> None:
        for order, fingerprint, claim in orders:
            row = self._row(order.order_id)
            if row is None:
                row = _OrderRow(self._stored(order), fingerprint, _utc(at), _utc(at))  # type: ignore[arg-type]
                self.s.orders[order.order_id] = row
            else:
                row.order, row.fingerprint, row.updated_at = self._stored(order), fingerprint, _utc(at)  # type: ignore[assignment]
            row.claimed_by = claim.station_id if claim else None
            row.claimed_user = claim.user if claim else None
            row.claimed_at = _utc(claim.since) if claim else None

    def withdraw(self, order_id: str, status: OrderStatus, at: datetime) -> None:
        row = self._row(order_id)
        if row is not None:
            row.order.status, row.updated_at = status, _utc(at)  # type: ignore[assignment]
            row.claimed_by = row.claimed_user = row.claimed_at = None

    def set_lease(self, order_id: str, token: int | None, expires_at: datetime | None) -> None:
        row = self._row(order_id)
        if row is not None:
            row.lease_token, row.lease_expires_at = token, _utc(expires_at)

    def leased(self, station_id: str, order_ids: Collection[str] | None = None) -> list[HeldLease]:
        wanted = None if order_ids is None else set(order_ids)
        return [HeldLease(i, r.lease_token, r.lease_expires_at) for i, r in sorted(self.s.orders.items())
                if r.claimed_by == station_id and r.lease_token is not None and (wanted is None or i in wanted)]

    def claimable(self, limit: int, carrier: str | None = None, exclude: Collection[str] = ()) -> list[str]:
        skip = set(exclude)
        free = [r for r in self.s.orders.values() if r.order.status.packable and r.claimed_by is None and not _held(r, self.s)
                and (not carrier or r.order.carrier == carrier) and r.order.order_id not in skip]
        free.sort(key=lambda r: (r.order.placed_at, r.order.order_id))
        return [r.order.order_id for r in free[:limit]]


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

    def upsert(self, user: User, pin_hash: str | None, at: datetime) -> User:
        for other in self.s.users.values():
            if other.badge == user.badge and other.name != user.name:
                other.active, other.badge = False, f"~{other.id}~{user.badge}"[:64]
        row = next((r for r in self.s.users.values() if r.name == user.name), None)
        if row is None:
            self.s.last_user_id += 1
            row = _UserRow(id=self.s.last_user_id, name=user.name, role=user.role, badge=user.badge, pin_hash=pin_hash,
                           created_at=_utc(at))  # type: ignore[arg-type]
            self.s.users[row.id] = row
        row.role, row.badge, row.pin_hash, row.active = user.role, user.badge, pin_hash, user.active
        row.locked_until = _utc(user.locked_until)
        return _credentials(row).user


# --- shipments -------------------------------------------------------------------------------


class FakeShipments(_Repo, ShipmentRepository):
    def cartons(self, order_id: str, types: dict[str, CartonType]) -> list[Carton]:
        cartons: dict[int, Carton] = {}
        for row in sorted((r for r in self.s.cartons.values() if r.order_id == order_id), key=lambda r: r.seq):
            ctype = types.get(row.type_code) or CartonType(row.type_code, row.type_code, 0)
            cartons[row.seq] = Carton(seq=row.seq, type=ctype, status=row.status, measured_g=row.measured_g,
                                      sscc=row.sscc, override_by=row.override_by, tracking_number=row.tracking_number,
                                      expected_g=row.expected_g, closed_at=row.closed_at,
                                      label_carrier=row.label_carrier, shipment_id=row.shipment_id)
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
        row.label_carrier, row.shipment_id = carton.label_carrier, carton.shipment_id
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
        row = self.s.orders.get(event.order_id) if event.order_id is not None else None
        self.s.outbox[event.id] = _OutboxRow(fence=row.lease_token if row is not None else None)
        return event.id

    def for_order(self, order_id: str) -> list[Event]:
        return [e for e in self.s.events if e.order_id == order_id]

    def since(self, at: datetime) -> list[Event]:
        return [e for e in self.s.events if e.occurred_at is not None and e.occurred_at >= _utc(at)]  # type: ignore[operator]

    def unpushed_orders(self, order_ids: Sequence[str]) -> set[str]:
        """The orders among these with events the centre has not answered yet (pending)."""
        wanted = set(order_ids)
        return {e.order_id for e in self.s.events
                if e.order_id in wanted and self.s.outbox[e.id].state is SyncState.PENDING}

    # the push
    def _mine(self, station_id: str) -> list[tuple[Event, _OutboxRow]]:
        return [(e, self.s.outbox[e.id]) for e in self.s.events if e.station_id == station_id]

    def number_pending(self, station_id: str, *, after: int = 0) -> int:
        mine = self._mine(station_id)
        n = max(self.last_numbered(station_id), after)
        fresh = [r for _, r in mine if r.station_seq is None]
        for i, row in enumerate(fresh, 1):
            row.station_seq = n + i
        return len(fresh)

    def last_numbered(self, station_id: str) -> int:
        return max((r.station_seq for _, r in self._mine(station_id) if r.station_seq is not None), default=0)

    def waiting(self, station_id: str, *, centre_has: int) -> int:
        return sum(1 for _, r in self._mine(station_id) if r.station_seq is None or r.station_seq > centre_has)

    def _numbered(self, station_id: str, states: Iterable[SyncState], limit: int) -> list[OutboxEvent]:
        wanted = set(states)
        rows = sorted(((e, r) for e, r in self._mine(station_id) if r.station_seq is not None and r.state in wanted),
                      key=lambda er: er[1].station_seq or 0)
        return [OutboxEvent(e, r.station_seq or 0, r.fence, r.state, r.reason, r.pushed_at) for e, r in rows[:limit]]

    def pending(self, station_id: str, limit: int) -> list[OutboxEvent]:
        return self._numbered(station_id, [SyncState.PENDING], limit)

    def answer(self, station_id: str, answers: Sequence[Answer], at: datetime) -> None:
        mine = {e.id for e in self.s.events if e.station_id == station_id}
        for a in answers:
            row = self.s.outbox.get(a.event_id)
            if row is not None and a.event_id in mine and row.state is SyncState.PENDING:
                row.state, row.reason, row.pushed_at = a.settled_as, a.reason, _utc(at)

    def outbox(self, station_id: str, states: Iterable[SyncState], limit: int = 200) -> list[OutboxEvent]:
        return self._numbered(station_id, states, limit)

    def counts(self, station_id: str) -> dict[SyncState, int]:
        out = dict.fromkeys((SyncState.PENDING, SyncState.REFUSED, SyncState.HELD), 0)
        for _, row in self._mine(station_id):
            if row.state in out:
                out[row.state] += 1
        return out

    def reopen(self, station_id: str, from_seq: int) -> int:
        n = 0
        for _, row in self._mine(station_id):
            if row.station_seq is not None and row.station_seq >= from_seq and row.state is not SyncState.PENDING:
                row.state, row.reason, row.pushed_at = SyncState.PENDING, None, None
                n += 1
        return n


# --- leases (the centre) ---------------------------------------------------------------------


class FakeLeases(_Repo, LeaseRepository):
    """As the one conditional statement on SQL: the writer lock makes each call atomic."""

    def _now(self) -> datetime:
        now = _utc(self._uow.db.clock())
        assert now is not None
        return now

    def take(self, order_id: str, station_id: str, holder: str, ttl: timedelta) -> Lease:
        now = self._now()
        current = self.s.leases.get(order_id)
        if current is not None and current.station_id not in (None, station_id) and (
                current.expires_at is None or current.expires_at >= now):
            return current
        if current is not None and current.station_id == station_id:
            lease = replace(current, holder=holder, expires_at=now + ttl)  # one's own: same token
        else:
            self.s.last_lease_token += 1
            lease = Lease(order_id, station_id, holder, self.s.last_lease_token, now, now + ttl)
        self.s.leases[order_id] = lease
        return lease

    def renew(self, order_ids: Sequence[str], station_id: str, ttl: timedelta) -> dict[str, datetime]:
        until = self._now() + ttl
        out = {}
        for order_id in order_ids:
            lease = self.s.leases.get(order_id)
            if lease is not None and lease.station_id == station_id:
                self.s.leases[order_id] = replace(lease, expires_at=until)
                out[order_id] = until
        return out

    def release(self, order_id: str, token: int) -> bool:
        lease = self.s.leases.get(order_id)
        if lease is None or lease.token != token or lease.station_id is None:
            return False
        self.s.leases[order_id] = replace(lease, station_id=None, holder="", expires_at=None)
        return True

    def holder(self, order_id: str) -> Lease | None:
        return self.s.leases.get(order_id)


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

    def held(self, series: str) -> int:
        station = self._uow.station_id
        return sum(b.last - b.next + 1 for b in self.s.blocks if b.series == series and b.station_id == station
                   and b.next <= b.last)

    def reserve(self, series: str, keep: int) -> int:
        station = self._uow.station_id
        held = self.held(series)
        for _ in range(100):
            if held >= keep:
                break
            first, last = self._take(series)
            self.s.blocks.append(_Block(series, station, first, last, first))
            held += last - first + 1
        return held


# --- returns ---------------------------------------------------------------------------------


class FakeReturns(_Repo, ReturnRepository):
    def get(self, rma_id: str) -> Return | None:
        row = self.s.returns.get(rma_id)
        if row is None:
            return None
        ret = copy.deepcopy(row.ret)
        ret.lines.sort(key=lambda ln: ln.line_no)
        for ln in ret.lines:
            ln.received = sum(i.qty for _, i in self.s.items.values() if i.rma_id == rma_id and i.line_no == ln.line_no)
        return ret

    def for_order(self, order_id: str) -> list[Return]:
        ids = sorted(i for i, r in self.s.returns.items() if r.ret.order_id == order_id)
        return [r for i in ids if (r := self.get(i)) is not None]

    def get_many(self, rma_ids: Sequence[str]) -> dict[str, Return]:
        return {i: r for i in rma_ids if (r := self.get(i)) is not None}

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
        stored = copy.deepcopy(ret)
        for ln in stored.lines:
            ln.received = 0  # read from the items, never stored
        self.s.returns[ret.rma_id] = _ReturnRow(stored, fingerprint, created, _utc(at))  # type: ignore[arg-type]

    def add(self, ret: Return, at: datetime) -> None:
        if ret.rma_id in self.s.returns:
            raise _refuse(f"return {ret.rma_id} exists already (primary key)")
        self.put(ret, "", at)

    def put_line(self, rma_id: str, line: ReturnLine) -> None:
        row = self.s.returns[rma_id]
        old = next((ln for ln in row.ret.lines if ln.line_no == line.line_no), None)
        if old is not None:
            old.qty = line.qty
        else:
            row.ret.lines.append(replace(line, received=0))

    def set_status(self, rma_id: str, expected: ReturnStatus, status: ReturnStatus, at: datetime) -> None:
        row = self.s.returns.get(rma_id)
        if row is None or row.ret.status is not expected:
            raise Conflict(f"Return {rma_id} is no longer {expected.value}: it changed meanwhile. Scan it again.")
        row.ret.status, row.updated_at = status, _utc(at)  # type: ignore[assignment]

    def recent(self, status: ReturnStatus | None = None, limit: int = 500) -> list[Return]:
        rows = [r for r in self.s.returns.values() if status is None or r.ret.status is status]
        rows.sort(key=lambda r: r.ret.rma_id)
        rows.sort(key=lambda r: r.updated_at, reverse=True)
        return [x for r in rows[:limit] if (x := self.get(r.ret.rma_id)) is not None]

    def with_tracking(self, number: str) -> list[Return]:
        ids = sorted(i for i, r in self.s.returns.items() if r.ret.tracking_number == number)
        return [r for i in ids if (r := self.get(i)) is not None]

    def awaiting_pickup(self, carrier: str) -> list[tuple[str, str]]:
        return sorted((i, r.ret.tracking_number) for i, r in self.s.returns.items()
                      if r.ret.status is ReturnStatus.INITIATED and r.ret.tracking_number
                      and (r.ret.carrier or "").upper() == carrier.upper())

    def shipped(self, order_id: str) -> list[ShippedUnit]:
        out = []
        for scan in sorted((r for r in self.s.scans.values() if r.order_id == order_id and r.undone_at is None),
                           key=lambda r: r.seq):
            it = scan.item
            carton = self.s.cartons.get((order_id, it.carton_seq))
            photos = sorted((p for p, _ in self.s.photos.values()
                             if p.owner_kind == "carton" and p.owner_ref == f"{order_id}/{it.carton_seq}"),
                            key=lambda p: (p.taken_at, p.id))
            out.append(ShippedUnit(
                scan_id=it.scan_id, order_id=order_id, sku=it.sku, qty=it.qty, carton_seq=it.carton_seq, packer=it.user,
                station_id=scan.station_id, scanned_at=it.scanned_at, lot=it.lot, serial=it.serial,
                sscc=carton.sscc if carton else None, weight_g=carton.measured_g if carton else None,
                sealed_at=carton.closed_at if carton else None, tracking_number=carton.tracking_number if carton else None,
                carton_photo=photos[-1].id if photos else None))
        return out

    def serial_left_in(self, sku: str, serial: str) -> str | None:
        hit = self.s.serials.get((sku, serial))
        return hit[0] if hit else None

    def open_receipt(self, receipt: Receipt) -> None:
        if receipt.id in self.s.receipts:
            raise _refuse(f"receipt {receipt.id} exists already (primary key)")
        for rma_id in receipt.rma_ids:
            if rma_id not in self.s.returns:
                raise _refuse(f"no return {rma_id} (foreign key)")
        self.s.receipts[receipt.id] = replace(receipt, opened_at=_utc(receipt.opened_at),  # type: ignore[arg-type]
                                              rma_ids=tuple(dict.fromkeys(receipt.rma_ids)))

    def join_receipt(self, receipt_id: str, rma_id: str) -> None:
        if rma_id not in self.s.returns:
            raise _refuse(f"no return {rma_id} (foreign key)")
        rec = self.s.receipts[receipt_id]
        if rma_id not in rec.rma_ids:
            self.s.receipts[receipt_id] = replace(rec, rma_ids=rec.rma_ids + (rma_id,))

    def close_receipt(self, receipt_id: str, at: datetime) -> None:
        rec = self.s.receipts.get(receipt_id)
        if rec is not None and rec.closed_at is None:
            self.s.receipts[receipt_id] = replace(rec, closed_at=_utc(at))

    def receipt_of(self, station_id: str) -> Receipt | None:
        mine = [r for r in self.s.receipts.values() if r.station_id == station_id and r.closed_at is None]
        return max(mine, key=lambda r: r.opened_at) if mine else None

    def add_item(self, item: ReceivedItem) -> None:
        if item.id in self.s.items:
            raise _refuse(f"item {item.id} is stored already (unique)")
        if item.rma_id not in self.s.returns:
            raise _refuse(f"no return {item.rma_id} (foreign key)")
        seq = max((n for n, i in self.s.items.values() if i.rma_id == item.rma_id), default=0) + 1
        self.s.items[item.id] = (seq, replace(item, photos=(), received_at=_utc(item.received_at),
                                              restocked_at=_utc(item.restocked_at)))

    def _with_photos(self, item: ReceivedItem) -> ReceivedItem:
        photos = sorted((p for p, _ in self.s.photos.values() if p.owner_kind == "return_item" and p.owner_ref == item.id),
                        key=lambda p: (p.taken_at, p.id))
        return replace(item, photos=tuple(p.id for p in photos))

    def _sorted(self, rows: Iterable[tuple[int, ReceivedItem]]) -> list[ReceivedItem]:
        ordered = sorted(rows, key=lambda r: (r[1].received_at, r[1].rma_id, r[0]))
        return [self._with_photos(i) for _, i in ordered]

    def items(self, rma_ids: Sequence[str]) -> list[ReceivedItem]:
        wanted = set(rma_ids)
        return self._sorted(r for r in self.s.items.values() if r[1].rma_id in wanted)

    def items_of_order(self, order_id: str) -> list[ReceivedItem]:
        return [replace(i, photos=()) for i in self._sorted(r for r in self.s.items.values() if r[1].order_id == order_id)]

    def _change(self, item_id: str, **changes: Any) -> bool:
        if item_id not in self.s.items:
            return False
        seq, item = self.s.items[item_id]
        self.s.items[item_id] = (seq, replace(item, **changes))
        return True

    def grade_item(self, item_id: str, grade: str, notes: str, by: str, at: datetime) -> None:
        self._change(item_id, grade=grade, notes=notes)

    def note_item(self, item_id: str, notes: str) -> None:
        self._change(item_id, notes=notes)

    def decide_item(self, item_id: str, disposition: str, location: str | None, by: str, at: datetime) -> None:
        row = self.s.items.get(item_id)
        if row is not None and row[1].restocked_at is None:
            self._change(item_id, disposition=disposition, location=location)

    def mark_restocked(self, item_id: str, location: str, at: datetime) -> bool:
        row = self.s.items.get(item_id)
        if row is None or row[1].restocked_at is not None:
            return False
        return self._change(item_id, restocked_at=_utc(at), location=location)

    def add_resolution(self, resolution: Resolution) -> None:
        if any(r.key == resolution.key for r in self.s.resolutions):
            raise Conflict(f"Return {resolution.rma_id}: this resolution was submitted already.")
        if resolution.credit_note and any(r.credit_note == resolution.credit_note for r in self.s.resolutions):
            raise _refuse(f"credit note {resolution.credit_note} is on another resolution (unique)")
        row = self.s.returns.get(resolution.rma_id)
        if row is None:
            raise _refuse(f"no return {resolution.rma_id} (foreign key)")
        for rl in resolution.lines:
            line = next((ln for ln in row.ret.lines if ln.line_no == rl.line_no), None)
            if line is None or line.resolution_id is not None:
                raise Conflict(f"Return {resolution.rma_id} line {rl.line_no} is resolved already (or unknown).")
            line.resolution_id = resolution.id
        self.s.resolutions.append(replace(resolution, at=_utc(resolution.at)))

    def resolutions(self, rma_id: str) -> list[Resolution]:
        return sorted((r for r in self.s.resolutions if r.rma_id == rma_id), key=lambda r: (r.at, r.id))

    def add_credit_note(self, note: CreditNote) -> None:
        if note.number in self.s.credit_notes:
            raise _refuse(f"credit note {note.number} exists already (primary key)")
        if any(n.resolution_id == note.resolution_id for n in self.s.credit_notes.values()):
            raise _refuse(f"resolution {note.resolution_id} has a credit note already (unique)")
        if note.rma_id not in self.s.returns:
            raise _refuse(f"no return {note.rma_id} (foreign key)")
        self.s.credit_notes[note.number] = replace(note, issued_at=_utc(note.issued_at))

    def credit_notes(self, rma_id: str) -> list[CreditNote]:
        return sorted((n for n in self.s.credit_notes.values() if n.rma_id == rma_id), key=lambda n: (n.issued_at, n.number))

    def put_copy(self, ret: Return, fingerprint: str, items: Sequence[ReceivedItem],
                 resolutions: Sequence[Resolution], credit_notes: Sequence[CreditNote], at: datetime) -> None:
        self.put(ret, fingerprint, at)
        for item in items:
            if item.id not in self.s.items:
                self.add_item(item)
            else:
                self._change(item.id, line_no=item.line_no, qty=item.qty, grade=item.grade, notes=item.notes,
                             disposition=item.disposition, location=item.location,
                             restocked_at=_utc(item.restocked_at))
        for resolution in resolutions:
            if all(r.id != resolution.id for r in self.s.resolutions):
                self.s.resolutions.append(replace(resolution, at=_utc(resolution.at)))
        for note in credit_notes:
            if note.number not in self.s.credit_notes:
                self.add_credit_note(note)

    def facts(self, since: datetime | None = None) -> list[ReturnFact]:
        out = []
        for _, i in sorted(self.s.items.values(), key=lambda r: (r[1].received_at, r[1].rma_id, r[0])):
            if since is not None and i.received_at is not None and i.received_at < _utc(since):  # type: ignore[operator]
                continue
            reason = self.s.returns[i.rma_id].ret.reason
            out.append(ReturnFact(i.rma_id, reason, i.sku, i.qty, i.grade, i.packer, i.unexpected, i.received_at))  # type: ignore[arg-type]
        return out


class FakePhotos(_Repo, PhotoRepository):
    def add(self, photo: Photo, data: bytes) -> None:
        if photo.id in self.s.photos:
            raise _refuse(f"photo {photo.id} exists already (primary key)")
        self.s.photos[photo.id] = (replace(photo, size=len(data), taken_at=_utc(photo.taken_at)), bytes(data))

    def get(self, photo_id: str) -> Photo | None:
        row = self.s.photos.get(photo_id)
        return row[0] if row else None

    def data(self, photo_id: str) -> bytes | None:
        row = self.s.photos.get(photo_id)
        return row[1] if row else None

    def of(self, owner_kind: str, owner_ref: str) -> list[Photo]:
        return sorted((p for p, _ in self.s.photos.values() if p.owner_kind == owner_kind and p.owner_ref == owner_ref),
                      key=lambda p: (p.taken_at, p.id))


# --- shipping: manifests and carrier label requests ------------------------------------------


def _open_key(carrier: str, service: str) -> str:
    return f"{carrier.strip().upper()}/{service.strip().upper()}"


class FakeManifests(_Repo, ManifestRepository):
    def _dock(self, row: _CartonRow) -> DockCarton:
        order = self.s.orders[row.order_id].order
        load = self.s.loads.get((row.order_id, row.seq))
        manifest = self.s.manifests.get(load.manifest_id) if load else None
        pending = any(r.order_id == row.order_id and r.carton_seq == row.seq and r.status.waiting
                      for r in self.s.label_requests.values())
        return DockCarton(order_id=row.order_id, seq=row.seq, status=row.status, sscc=row.sscc,
                          tracking_number=row.tracking_number, order_status=order.status, carrier=order.carrier,
                          service=order.service, weight_g=row.measured_g, manifest_id=load.manifest_id if load else None,
                          manifest_status=manifest.status if manifest else None,
                          manifest_number=manifest.number if manifest else None, label_pending=pending,
                          pulled_at=row.pulled_at, label_carrier=row.label_carrier, shipment_id=row.shipment_id)

    def carton(self, code: str) -> DockCarton | None:
        code = code.strip()
        if not code:
            return None
        rows = sorted(self.s.cartons.values(), key=lambda r: (r.order_id, r.seq))
        row = next((r for r in rows if r.sscc == code), None) or next((r for r in rows if r.tracking_number == code), None)
        return self._dock(row) if row else None

    def cartons_of(self, order_ids: Iterable[str]) -> dict[str, list[DockCarton]]:
        wanted = set(order_ids)
        out: dict[str, list[DockCarton]] = {}
        for row in sorted(self.s.cartons.values(), key=lambda r: (r.order_id, r.seq)):
            if row.order_id in wanted:
                out.setdefault(row.order_id, []).append(self._dock(row))
        return out

    def _with_cartons(self, manifest: Manifest) -> Manifest:
        cartons = []
        for (order_id, seq), load in self.s.loads.items():
            if load.manifest_id != manifest.id:
                continue
            row = self.s.cartons[(order_id, seq)]
            cartons.append(LoadedCarton(order_id=order_id, seq=seq, sscc=load.sscc, tracking_number=row.tracking_number,
                                        service=self.s.orders[order_id].order.service, weight_g=row.measured_g or 0,
                                        loaded_by=load.loaded_by, loaded_at=load.loaded_at, load_seq=load.load_seq))
        return replace(copy.deepcopy(manifest), cartons=sorted(cartons, key=lambda c: c.load_seq))

    def open_for(self, carrier: str, service: str) -> Manifest | None:
        key = _open_key(carrier, service)
        found = next((m for m in self.s.manifests.values() if m.status is ManifestStatus.OPEN
                      and _open_key(m.carrier, m.service) == key), None)
        return self._with_cartons(found) if found else None

    def get(self, manifest_id: str) -> Manifest | None:
        found = self.s.manifests.get(manifest_id)
        return self._with_cartons(found) if found else None

    def lock(self, manifest_id: str) -> Manifest | None:  # one thread at a time: nothing to lock
        return self.get(manifest_id)

    def by_number(self, number: int) -> Manifest | None:
        found = next((m for m in self.s.manifests.values() if m.number == number), None)
        return self._with_cartons(found) if found else None

    def by_close_key(self, key: str) -> Manifest | None:
        found = next((m for m in self.s.manifests.values() if m.close_key == key), None)
        return self._with_cartons(found) if found else None

    def add(self, manifest: Manifest) -> None:
        if self.open_for(manifest.carrier, manifest.service) is not None:
            raise Conflict(f"{manifest.label} has an open manifest already.")
        if manifest.id in self.s.manifests:
            raise _refuse(f"manifest {manifest.id} exists (unique)")
        self.s.manifests[manifest.id] = replace(copy.deepcopy(manifest), cartons=[],
                                                opened_at=_utc(manifest.opened_at))  # type: ignore[arg-type]

    def load(self, manifest_id: str, order_id: str, seq: int, sscc: str, by: str, station_id: str,
             at: datetime) -> None:
        manifest = self.s.manifests.get(manifest_id)
        if manifest is None or manifest.status is not ManifestStatus.OPEN:
            raise Conflict("This manifest was closed meanwhile (at another dock).")
        if (order_id, seq) in self.s.loads:
            raise Conflict(f"Carton {sscc} is on a manifest already.")
        nxt = max((x.load_seq for x in self.s.loads.values() if x.manifest_id == manifest_id), default=0) + 1
        self.s.loads[(order_id, seq)] = _LoadRow(manifest_id, sscc, nxt, by, _utc(at), station_id)  # type: ignore[arg-type]

    def unload(self, manifest_id: str, order_id: str, seq: int) -> bool:
        load = self.s.loads.get((order_id, seq))
        manifest = self.s.manifests.get(manifest_id)
        if load is None or load.manifest_id != manifest_id or manifest is None or manifest.status is not ManifestStatus.OPEN:
            return False
        del self.s.loads[(order_id, seq)]
        return True

    def close(self, manifest: Manifest) -> bool:
        current = self.s.manifests.get(manifest.id)
        if current is None or current.status is not ManifestStatus.OPEN:
            return False
        if manifest.number is not None and any(m.number == manifest.number for m in self.s.manifests.values()):
            raise _refuse(f"manifest number {manifest.number} is taken (unique)")
        if manifest.close_key and any(m.close_key == manifest.close_key for m in self.s.manifests.values()):
            raise _refuse(f"close key {manifest.close_key} is taken (unique)")
        self.s.manifests[manifest.id] = replace(
            current, status=ManifestStatus.CLOSED, number=manifest.number, closed_at=_utc(manifest.closed_at),
            closed_by=manifest.closed_by, close_key=manifest.close_key, split_by=manifest.split_by,
            split_reason=manifest.split_reason, carrier_ref=manifest.carrier_ref)
        return True

    def recent(self, *, status: ManifestStatus | None = None, limit: int = 50) -> list[Manifest]:
        found = [m for m in self.s.manifests.values() if status is None or m.status is status]
        found.sort(key=lambda m: m.id)
        found.sort(key=lambda m: m.opened_at, reverse=True)
        return [self._with_cartons(m) for m in found[:limit]]

    def for_order(self, order_id: str) -> list[Manifest]:
        ids = {x.manifest_id for (o, _), x in self.s.loads.items() if o == order_id}
        return [self._with_cartons(m) for m in sorted((self.s.manifests[i] for i in ids), key=lambda m: m.opened_at)]

    def to_pull(self) -> list[DockCarton]:
        out = []
        for row in sorted(self.s.cartons.values(), key=lambda r: (r.order_id, r.seq)):
            dock = self._dock(row)
            if dock.order_status is OrderStatus.CANCELLED and row.sscc and row.pulled_at is None \
                    and dock.manifest_status is not ManifestStatus.CLOSED:
                out.append(dock)
        return out

    def mark_pulled(self, order_id: str, seq: int, at: datetime) -> None:
        row = self.s.cartons.get((order_id, seq))
        if row is not None:
            row.pulled_at = _utc(at)

    def on_the_way(self, label_carrier: str) -> list[tuple[str, OrderStatus, str]]:
        out = []
        for row in sorted(self.s.cartons.values(), key=lambda r: (r.order_id, r.seq)):
            status = self.s.orders[row.order_id].order.status
            if (row.label_carrier or "").upper() == label_carrier.upper() and row.tracking_number \
                    and status in (OrderStatus.HANDED_OVER, OrderStatus.IN_TRANSIT):
                out.append((row.order_id, status, row.tracking_number))
        return out

    def carriers_in_use(self) -> list[tuple[str, str]]:
        live = {st for st in OrderStatus if st.open or st is OrderStatus.PACKED}
        return sorted({(r.order.carrier, r.order.service) for r in self.s.orders.values() if r.order.status in live})


class FakeLabelRequests(_Repo, LabelRequestRepository):
    def add(self, request: LabelRequest) -> None:
        if request.id in self.s.label_requests or any(
                r.order_id == request.order_id and r.carton_seq == request.carton_seq
                for r in self.s.label_requests.values()):
            raise _refuse(f"a label request for carton {request.order_id}/{request.carton_seq} exists (unique)")
        self.s.label_requests[request.id] = replace(
            request, created_at=_utc(request.created_at), updated_at=_utc(request.updated_at or request.created_at),
            next_try_at=_utc(request.next_try_at))

    def get(self, request_id: str) -> LabelRequest | None:
        return self.s.label_requests.get(request_id)

    def for_carton(self, order_id: str, seq: int) -> LabelRequest | None:
        return next((r for r in self.s.label_requests.values() if r.order_id == order_id and r.carton_seq == seq), None)

    def _sorted(self, rows: Iterable[LabelRequest]) -> list[LabelRequest]:
        return sorted(rows, key=lambda r: (r.created_at or NOW, r.id))

    def due(self, station_id: str, now: datetime, limit: int = 20) -> list[LabelRequest]:
        now = _utc(now)  # type: ignore[assignment]
        return self._sorted(r for r in self.s.label_requests.values() if r.station_id == station_id and (
            r.status is LabelRequestStatus.PENDING or (r.status is LabelRequestStatus.FAILED and (
                r.next_try_at is None or r.next_try_at <= now))))[:limit]

    def start(self, request_id: str, at: datetime) -> bool:
        r = self.s.label_requests.get(request_id)
        if r is None or r.status not in (LabelRequestStatus.PENDING, LabelRequestStatus.FAILED):
            return False
        self.s.label_requests[request_id] = replace(r, status=LabelRequestStatus.WORKING, updated_at=_utc(at))
        return True

    def finish(self, request_id: str, status: LabelRequestStatus, error: str, next_try_at: datetime | None,
               at: datetime) -> None:
        r = self.s.label_requests.get(request_id)
        if r is not None:
            self.s.label_requests[request_id] = replace(r, status=status, error=error, next_try_at=_utc(next_try_at),
                                                        attempts=r.attempts + 1, updated_at=_utc(at))

    def waiting(self, station_id: str | None = None) -> list[LabelRequest]:
        return self._sorted(r for r in self.s.label_requests.values()
                            if r.status.waiting and (station_id is None or r.station_id == station_id))

    def interrupt_working(self, station_id: str, at: datetime) -> list[LabelRequest]:
        found = []
        for r in self._sorted(self.s.label_requests.values()):
            if r.station_id == station_id and r.status is LabelRequestStatus.WORKING:
                r = replace(r, status=LabelRequestStatus.FAILED, next_try_at=_utc(at), updated_at=_utc(at),
                            error="the station stopped while asking the carrier: asked again")
                self.s.label_requests[r.id] = r
                found.append(r)
        return found

    def mirror(self, request: LabelRequest) -> None:
        found = self.for_carton(request.order_id, request.carton_seq)
        if found is None:
            self.add(request)
        elif found.status.waiting:
            self.s.label_requests[found.id] = replace(
                found, status=request.status, attempts=max(found.attempts, request.attempts), error=request.error,
                next_try_at=_utc(request.next_try_at), carrier=request.carrier, station_id=request.station_id,
                updated_at=_utc(request.updated_at or request.created_at))


# --- the central sync: change log, sync state, stock ledger ----------------------------------


class FakeChangeLog(_Repo, ChangeLog):
    """The change log of a ``FakeDatabase(central=True)``; its commits are atomic, so no gaps."""

    def since(self, after: int, limit: int, *, only: Sequence[tuple[int, int | None]] | None = None) -> list[Change]:
        def wanted(seq: int) -> bool:
            return only is None or any(seq >= a and (b is None or seq <= b) for a, b in only)

        return [c for c in self.s.changes if c.seq > after and wanted(c.seq)][:limit]

    def finished_below(self) -> int:
        return 2**62

    def started_below(self) -> int:
        return 0


class FakeSyncBookkeeping(_Repo, SyncBookkeeping):
    def get(self, key: str) -> str | None:
        return self.s.sync_state.get(key)

    def put(self, key: str, value: str) -> None:
        self.s.sync_state[key] = value

    def all(self) -> dict[str, str]:
        return dict(sorted(self.s.sync_state.items()))


class FakeStockLedger(_Repo, StockLedger):
    def add(self, movements: Sequence[StockMovement]) -> list[StockMovement]:
        known = {m.event_id for m in self.s.stock if m.event_id}
        stored = []
        for m in movements:
            if m.event_id and m.event_id in known:
                continue
            if m.event_id:
                known.add(m.event_id)
            m = replace(m, at=_utc(m.at) or datetime.now(UTC), ref=m.ref[:120], actor=m.actor[:160])
            self.s.stock.append(m)
            stored.append(m)
        return stored

    def on_hand(self, sku: str) -> list[StockLevel]:
        sums: dict[tuple[str, str], int] = {}
        for m in self.s.stock:
            if m.sku == sku:
                sums[(m.location, m.lot)] = sums.get((m.location, m.lot), 0) + m.qty
        return [StockLevel(sku, loc, lot, qty) for (loc, lot), qty in sorted(sums.items()) if qty]

    def movements(self, sku: str) -> list[StockMovement]:
        return [m for m in self.s.stock if m.sku == sku]

    def find(self, event_id: str) -> StockMovement | None:
        return next((m for m in self.s.stock if m.event_id == event_id), None)


# --- the order API: clients, idempotency, the webhook inbox, shop orders, status push ---------


@dataclass
class _ClientRow:
    client: ApiClient
    token_hash: str
    bucket: float
    bucket_at: float


@dataclass
class _InboxRow:
    item: InboxItem
    lease_until: datetime | None = None


@dataclass
class _DeliveryRow:
    delivery: Delivery
    lease_until: datetime | None = None


@dataclass
class _ApiState:
    clients: dict[int, _ClientRow] = field(default_factory=dict)
    answers: dict[tuple[str, str], tuple[StoredAnswer, datetime]] = field(default_factory=dict)
    inbox: dict[int, _InboxRow] = field(default_factory=dict)
    shop_orders: dict[tuple[str, str, str], ShopOrderRef] = field(default_factory=dict)
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    deliveries: dict[str, _DeliveryRow] = field(default_factory=dict)
    cursors: dict[str, PushCursor] = field(default_factory=dict)
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id


class FakeApiClients(_Repo, ApiClientRepository):
    def add(self, name: str, token_hash: str, token_prefix: str, rate_per_s: float, burst: int, created_by: str,
            at: datetime) -> ApiClient:
        api = self.s.api
        if any(r.token_hash == token_hash for r in api.clients.values()):
            raise _refuse("api_clients.token_hash is unique")
        client = ApiClient(id=api.next_id(), name=name, token_prefix=token_prefix, created_at=_utc(at),  # type: ignore[arg-type]
                           created_by=created_by, rate_per_s=float(rate_per_s), burst=burst)
        api.clients[client.id] = _ClientRow(client, token_hash, float(burst), at.timestamp())
        return client

    def list(self) -> list[ApiClient]:
        rows = sorted(self.s.api.clients.values(), key=lambda r: (r.client.name, r.client.created_at, r.client.id))
        return [r.client for r in rows]

    def revoke(self, name: str, by: str, at: datetime, *, prefix: str | None = None) -> int:
        n = 0
        for row in self.s.api.clients.values():
            c = row.client
            if c.name == name and c.revoked_at is None and (not prefix or c.token_prefix == prefix):
                row.client = replace(c, revoked_at=_utc(at), revoked_by=by)
                n += 1
        return n

    def admit(self, token_hash: str, at: datetime, *, take: int = 1) -> Admission:
        row = next((r for r in self.s.api.clients.values() if r.token_hash == token_hash), None)
        if row is None or row.client.revoked_at is not None:
            return Admission(client=None)
        now = at.timestamp()
        c = row.client
        tokens = refill(row.bucket, row.bucket_at, now, c.rate_per_s, c.burst)
        if tokens < 1:
            wait = (1 - tokens) / c.rate_per_s if c.rate_per_s > 0 else 3600.0
            return Admission(client=c.name, allowed=False, retry_after_s=max(wait, 0.001), rate_per_s=c.rate_per_s)
        n = take if tokens >= take else 1
        row.bucket, row.bucket_at = tokens - n, max(now, row.bucket_at)
        row.client = replace(c, last_used_at=_utc(at))
        return Admission(client=c.name, allowed=True, tokens=n, rate_per_s=c.rate_per_s)

    def live(self, token_hashes: Collection[str]) -> set[str]:
        wanted = set(token_hashes)
        return {r.token_hash for r in self.s.api.clients.values()
                if r.token_hash in wanted and r.client.revoked_at is None}


class FakeIdempotency(_Repo, IdempotencyRepository):
    def get(self, client: str, key: str) -> StoredAnswer | None:
        hit = self.s.api.answers.get((client, key))
        return hit[0] if hit else None

    def put(self, client: str, key: str, answer: StoredAnswer, at: datetime) -> None:
        if (client, key) in self.s.api.answers:
            raise _refuse(f"idempotency key {key!r} of {client} is stored already (primary key)")
        self.s.api.answers[(client, key)] = (answer, _utc(at))  # type: ignore[assignment]

    def forget_before(self, at: datetime) -> int:
        old = [k for k, (_, when) in self.s.api.answers.items() if when < _utc(at)]  # type: ignore[operator]
        for k in old:
            del self.s.api.answers[k]
        return len(old)


class FakeInbox(_Repo, WebhookInbox):
    def add(self, source: str, delivery_id: str, topic: str, shop: str, body: bytes, at: datetime) -> bool:
        api = self.s.api
        if any(r.item.source == source and r.item.delivery_id == delivery_id for r in api.inbox.values()):
            return False
        item = InboxItem(id=api.next_id(), source=source, delivery_id=delivery_id, topic=topic, shop=shop,
                         body=bytes(body), received_at=_utc(at))  # type: ignore[arg-type]
        api.inbox[item.id] = _InboxRow(item)
        return True

    def claim(self, limit: int, now: datetime, lease_until: datetime) -> list[InboxItem]:
        free = [r for r in sorted(self.s.api.inbox.values(), key=lambda r: r.item.id)
                if r.item.state is InboxState.PENDING and (r.lease_until is None or r.lease_until < _utc(now))][:limit]  # type: ignore[operator]
        for r in free:
            r.lease_until = _utc(lease_until)
            r.item = replace(r.item, attempts=r.item.attempts + 1)
        return [r.item for r in free]

    def finish(self, item_id: int, state: InboxState, reason: str, order_id: str | None, at: datetime) -> None:
        row = self.s.api.inbox.get(item_id)
        if row is not None:
            row.item = replace(row.item, state=state, reason=reason, order_id=order_id, processed_at=_utc(at))
            row.lease_until = None

    def release(self, item_id: int) -> None:
        row = self.s.api.inbox.get(item_id)
        if row is not None:
            row.lease_until = None

    def get(self, item_id: int) -> InboxItem | None:
        row = self.s.api.inbox.get(item_id)
        return row.item if row else None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.s.api.inbox.values():
            out[r.item.state.value] = out.get(r.item.state.value, 0) + 1
        return out

    def recent(self, states: Sequence[InboxState], limit: int) -> list[InboxItem]:
        rows = [r.item for r in self.s.api.inbox.values() if r.item.state in states]
        return sorted(rows, key=lambda i: -i.id)[:limit]

    def replay(self, states: Sequence[InboxState], at: datetime) -> int:
        n = 0
        for r in self.s.api.inbox.values():
            if r.item.state in states:
                r.item = replace(r.item, state=InboxState.PENDING, processed_at=None)
                r.lease_until = None
                n += 1
        return n


class FakeShopOrders(_Repo, ShopOrderRefs):
    def get(self, source: str, shop: str, external_id: str, *, lock: bool = False) -> ShopOrderRef | None:
        return self.s.api.shop_orders.get((source, shop, external_id))  # the writer lock keeps others out

    def put(self, ref: ShopOrderRef) -> None:
        key = (ref.source, ref.shop, ref.external_id)
        old = self.s.api.shop_orders.get(key)
        fulfillment = ref.fulfillment_id if ref.fulfillment_id is not None else (old.fulfillment_id if old else None)
        self.s.api.shop_orders[key] = replace(ref, updated_at=_utc(ref.updated_at), fulfillment_id=fulfillment)  # type: ignore[arg-type]

    def for_order(self, order_id: str) -> ShopOrderRef | None:
        return next((r for r in self.s.api.shop_orders.values() if r.order_id == order_id), None)

    def set_fulfillment(self, order_id: str, fulfillment_id: str) -> None:
        for key, ref in list(self.s.api.shop_orders.items()):
            if ref.order_id == order_id:
                self.s.api.shop_orders[key] = replace(ref, fulfillment_id=fulfillment_id)


class FakeStatusPush(_Repo, StatusPushRepository):
    def add_subscription(self, url: str, events: Sequence[str], secret: str, kind: SubscriptionKind, shop: str,
                         by: str, at: datetime) -> Subscription:
        sub = Subscription(id=self.s.api.next_id(), url=url, events=tuple(events), secret=secret, kind=kind,
                           created_at=_utc(at), created_by=by, shop=shop)
        self.s.api.subscriptions[sub.id] = sub
        return sub

    def subscriptions(self) -> list[Subscription]:
        return [self.s.api.subscriptions[k] for k in sorted(self.s.api.subscriptions)]

    def cursor(self, name: str, *, lock: bool = False) -> PushCursor:
        return self.s.api.cursors.get(name, PushCursor())

    def set_cursor(self, name: str, cursor: PushCursor) -> None:
        # stored as the SQL adapters store it: missing numbers with epoch seconds (JSON)
        missing = tuple(sorted((seq, datetime.fromtimestamp(at.timestamp(), UTC)) for seq, at in cursor.missing))
        self.s.api.cursors[name] = PushCursor(cursor.read_seq, missing)

    def events_after(self, seq: int, limit: int) -> list[LoggedEvent]:
        # the fake keeps no sync state on events: every one is as a station's, "pending" push
        return [LoggedEvent(ev, "pending") for ev in self.s.events if ev.seq > seq][:limit]

    def events_numbered(self, seqs: Sequence[int]) -> list[LoggedEvent]:
        wanted = set(seqs)
        return [LoggedEvent(ev, "pending") for ev in self.s.events if ev.seq in wanted]

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        rows = self.s.api.deliveries
        taken = {(r.delivery.subscription_id, r.delivery.event_id) for r in rows.values()}
        n = 0
        for x in deliveries:
            if x.subscription_id not in self.s.api.subscriptions:
                raise _refuse(f"delivery {x.id}: no subscription {x.subscription_id} (foreign key)")
            if (x.subscription_id, x.event_id) in taken or x.id in rows:
                continue
            rows[x.id] = _DeliveryRow(replace(x, next_attempt_at=_utc(x.next_attempt_at or x.created_at),
                                              created_at=_utc(x.created_at)))  # type: ignore[arg-type]
            taken.add((x.subscription_id, x.event_id))
            n += 1
        return n

    def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        at = _utc(now)
        pending = [r for r in self.s.api.deliveries.values() if r.delivery.state is DeliveryState.PENDING]
        blocked = set()
        for r in pending:  # an earlier pending delivery of the same order holds back the later ones
            x = r.delivery
            if x.order_id is not None and any(
                    o.delivery.subscription_id == x.subscription_id and o.delivery.order_id == x.order_id
                    and o.delivery.event_seq < x.event_seq for o in pending):
                blocked.add(x.id)
        due = [r for r in pending if r.delivery.id not in blocked and r.delivery.next_attempt_at <= at  # type: ignore[operator]
               and (r.lease_until is None or r.lease_until < at)]  # type: ignore[operator]
        due.sort(key=lambda r: (r.delivery.next_attempt_at, r.delivery.event_seq))
        for r in due[:limit]:
            r.lease_until = _utc(lease_until)
        return [r.delivery for r in due[:limit]]

    def record(self, outcomes: Sequence[Delivery]) -> None:
        for x in outcomes:
            row = self.s.api.deliveries.get(x.id)
            if row is None:
                continue
            row.delivery = replace(row.delivery, state=x.state, attempts=x.attempts,
                                   next_attempt_at=_utc(x.next_attempt_at or x.created_at), last_status=x.last_status,
                                   last_error=x.last_error, delivered_at=_utc(x.delivered_at))
            row.lease_until = None

    def retry_failed(self, subscription_id: int | None, at: datetime) -> int:
        n = 0
        for row in self.s.api.deliveries.values():
            x = row.delivery
            if x.state is DeliveryState.FAILED and subscription_id in (None, x.subscription_id):
                row.delivery = replace(x, state=DeliveryState.PENDING, next_attempt_at=_utc(at))
                row.lease_until = None
                n += 1
        return n

    def deliveries(self, subscription_id: int, states: Sequence[DeliveryState], limit: int) -> list[Delivery]:
        rows = [r.delivery for r in self.s.api.deliveries.values()
                if r.delivery.subscription_id == subscription_id and r.delivery.state in states]
        return sorted(rows, key=lambda x: (x.created_at, x.event_seq))[:limit]

    def stats(self) -> list[SubscriptionStats]:
        out = []
        for sub in (replace(x, secret="") for x in self.subscriptions()):  # as the port says: no secrets
            mine = sorted((r.delivery for r in self.s.api.deliveries.values() if r.delivery.subscription_id == sub.id),
                          key=lambda x: (x.created_at, x.event_seq))
            pending = [x for x in mine if x.state is DeliveryState.PENDING]
            failing = [x for x in mine if x.state is not DeliveryState.DELIVERED and x.attempts > 0]
            delivered = [x.delivered_at for x in mine if x.state is DeliveryState.DELIVERED and x.delivered_at]
            first = failing[0] if failing else None
            retry = next((x.next_attempt_at for x in pending if x.attempts > 0), None)
            out.append(SubscriptionStats(
                subscription=sub, pending=len(pending), failed=sum(x.state is DeliveryState.FAILED for x in mine),
                delivered=len(delivered), oldest_pending_at=min((x.created_at for x in pending), default=None),
                failing_since=first.created_at if first else None, attempts=first.attempts if first else 0,
                last_error=first.last_error if first else "", last_status=first.last_status if first else None,
                last_delivered_at=max(delivered, default=None), next_retry_at=retry))
        return out


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


# --- the central database's outbox side ------------------------------------------------------


@dataclass
class _CentreSide:
    """What only the centre keeps, besides the repositories' tables."""

    last_seq: dict[str, int] = field(default_factory=dict)  # station_sync
    last_push: dict[str, tuple[datetime, float]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> stored row, in arrival order
    leases: dict[str, Lease] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    movements: list[LedgerEntry] = field(default_factory=list)


class FakeCentre:
    """A central database in memory: a FakeDatabase for the repositories plus the centre's own books.

    ``centre.uow`` is its unit-of-work factory (import orders into it, read what pushes did);
    ``FakeCentralOutbox(centre)`` is what a station pushes to."""

    def __init__(self, db: FakeDatabase | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db or FakeDatabase()
        self.uow = FakeUnitOfWorkFactory(self.db, "CENTRE")
        self.clock = clock or FakeClock()
        self.side = _CentreSide()
        self.lock = threading.Lock()  # guards side (the station_sync row lock is the db's writer lock)

    def set_lease(self, order_id: str, station_id: str | None, token: int) -> None:
        with self.lock:
            self.side.leases[order_id] = Lease(order_id=order_id, station_id=station_id, holder="", token=token,
                                               taken_at=None, expires_at=None)


class FakeCentralOutbox(CentralOutbox):
    """The centre's side of the push on a FakeCentre. ``batched`` is ignored: every savepoint is a copy."""

    def __init__(self, centre: FakeCentre) -> None:
        self.centre = centre

    @contextmanager
    def begin(self, station_id: str, events: Sequence[OutboxEvent], *, batched: bool = True) -> Iterator[CentralInbox]:
        with self.centre.uow() as uow:  # the writer lock: two senders take turns
            with self.centre.lock:
                side = copy.deepcopy(self.centre.side)
            inbox = _FakeInbox(self.centre, uow, side, station_id)
            yield inbox
            if inbox.finished:
                uow.commit()
                with self.centre.lock:
                    self.centre.side = side

    def progress(self, station_id: str) -> StationProgress | None:
        with self.centre.lock:
            side = self.centre.side
            if station_id not in side.last_seq:
                return None
            at, offset = side.last_push.get(station_id, (None, None))
            return StationProgress(station_id, side.last_seq[station_id], at, offset)

    def conflict(self, conflict_id: int) -> ConflictRecord | None:
        return next((c for c in self.conflicts(open_only=False, limit=10**9) if c.id == conflict_id), None)

    def conflicts(self, *, station_id: str | None = None, open_only: bool = True, limit: int = 200) -> list[ConflictRecord]:
        with self.centre.lock:
            rows = [dict(c) for c in self.centre.side.conflicts]
        out = [ConflictRecord(**c) for c in reversed(rows)
               if (station_id is None or c["station_id"] == station_id) and (not open_only or c["resolved_at"] is None)]
        return out[:limit]

    def resolve(self, conflict_id: int, *, actor: str, user: str | None, station_id: str, note: str,
                at: datetime) -> ConflictRecord | None:
        with self.centre.lock:
            row = next((c for c in self.centre.side.conflicts if c["id"] == conflict_id), None)
            if row is None:
                return None
            found = ConflictRecord(**row)
            row.update(resolved_at=self.centre.clock(), resolved_by=actor, note=note)
            event_id = str(uuid.uuid4())
            self.centre.side.events[event_id] = {
                "id": event_id, "kind": "conflict.resolved", "order_id": row["order_id"], "station_id": station_id,
                "station_seq": None, "state": SyncState.APPLIED, "reason": None, "actor": actor, "user": user,
                "payload": {"conflict_id": conflict_id, "event_id": row["event_id"], "station": row["station_id"],
                            "note": note}, "received_at": self.centre.clock()}
        return found


class _FakeLedger(CentralLedger):
    def __init__(self, side: _CentreSide) -> None:
        self.side = side

    def lease(self, order_id: str) -> Lease | None:
        return self.side.leases.get(order_id)

    def release_lease(self, order_id: str, token: int) -> bool:
        lease = self.side.leases.get(order_id)
        if lease is None or lease.token != token or lease.station_id is None:
            return False
        self.side.leases[order_id] = replace(lease, station_id=None, expires_at=None)
        return True

    def add_movement(self, movement: LedgerEntry) -> None:
        if any(m.event_id == movement.event_id for m in self.side.movements if movement.event_id):
            raise _refuse(f"a stock movement of event {movement.event_id} exists already (unique)")
        self.side.movements.append(movement)


class _FakeInbox(CentralInbox):
    def __init__(self, centre: FakeCentre, uow: FakeUnitOfWork, side: _CentreSide, station_id: str) -> None:
        self.centre, self.uow, self.side, self.station_id = centre, uow, side, station_id
        self.ledger = _FakeLedger(side)
        self.last_seq = side.last_seq.get(station_id, 0)
        self.centre_now = _utc(centre.clock())  # type: ignore[assignment]
        self.finished = False

    def known(self, event_ids: Sequence[str]) -> dict[str, tuple[SyncState, str | None]]:
        return {i: (self.side.events[i]["state"], self.side.events[i]["reason"]) for i in event_ids if i in self.side.events}

    def event_at(self, station_seq: int) -> dict[str, Any] | None:
        return next(({k: v for k, v in e.items() if k != "state"} for e in self.side.events.values()
                     if e["station_id"] == self.station_id and e["station_seq"] == station_seq), None)

    def blocked(self, order_ids: Iterable[str]) -> dict[str, Blocker]:
        wanted = set(order_ids)
        out: dict[str, Blocker] = {}
        for c in self.side.conflicts:
            o = c["order_id"]
            if c["station_id"] == self.station_id and o in wanted and c["resolved_at"] is None and o not in out:
                side = c["station_side"]
                out[o] = Blocker(o, c["event_id"], side.get("kind", "?"), side.get("station_seq"), c["reason"])
        return out

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        state, side = copy.deepcopy(self.uow.state), copy.deepcopy(self.side)
        try:
            yield
        except BaseException as exc:
            self.uow._state = state
            self.side.__dict__.update(side.__dict__)
            self.ledger.side = self.side
            if isinstance(exc, FakeIntegrityError):
                raise Refused(f"The central database refused this change ({exc}).") from exc
            raise

    def store(self, event: OutboxEvent, state: SyncState, reason: str | None) -> None:
        e = event.event
        if e.id in self.side.events:
            raise _refuse(f"event {e.id} is stored already (unique)")
        self.side.events[e.id] = {
            "id": e.id, "kind": e.kind, "order_id": e.order_id, "station_id": self.station_id,
            "station_seq": event.station_seq, "fence": event.fence, "state": state, "reason": reason,
            "actor": e.actor, "user": e.user, "occurred_at": e.occurred_at, "payload": e.payload,
            "received_at": self.centre_now}

    def add_conflict(self, event: OutboxEvent, reason: str, station_side: dict[str, Any],
                     central_side: dict[str, Any]) -> None:
        self.side.conflicts.append({
            "id": len(self.side.conflicts) + 1, "event_id": event.id, "station_id": self.station_id,
            "order_id": event.event.order_id, "reason": reason,
            "station_side": json.loads(json.dumps(station_side, default=str)),
            "central_side": json.loads(json.dumps(central_side, default=str)), "created_at": self.centre_now,
            "resolved_at": None, "resolved_by": None, "note": ""})

    def finish(self, last_seq: int, clock_offset_s: float) -> None:
        self.side.last_seq[self.station_id] = last_seq
        self.side.last_push[self.station_id] = (self.centre_now, clock_offset_s)
        self.finished = True


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

    def credit_note(self, data: CreditNoteData, *, reason: str) -> PrintJob:
        lines = ", ".join(f"{ln.sku} {ln.qty} x {ln.unit_price}" for ln in data.lines)
        text = f"CREDIT NOTE {data.number} {data.order_id} {data.rma_id}: {lines} total {data.total} {data.currency}"
        return PrintJob(id="", printer="document", target="fake://document", kind="credit_note",
                        ref=f"{data.order_id}/{data.number}", payload=text.encode(), reason=reason)

    def carrier_label(self, order_id: str, sscc: str, payload: bytes, label_format: str, *, reason: str) -> PrintJob:
        return PrintJob(id="", printer="label", target="fake://label", kind="shipping_label", ref=f"{order_id}/{sscc}",
                        payload=payload, reason=reason)

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
                 auth_key: bytes = b"fake-station-key-for-unit-tests", central: FakeDatabase | None = None,
                 returns: Any = None, cameras: Any = None) -> Context:
    """A Context on a fake database: the real Authenticator, a still clock, FakeDocuments.

    ``documents=None`` gives a station that prints nothing. A second station on the same
    database: ``fake_context(ctx.uow.db, station_id="BENCH-02")``. ``central``: a synced station
    of that fake centre (``FakeDatabase(central=True)``).
    """
    db = db or FakeDatabase()
    clock = clock or FakeClock()
    uow = FakeUnitOfWorkFactory(db, station_id, numbers or NumberRanges())
    auth = Authenticator(uow, station_id, clock, lead_pin_required=lead_pin_required, key=auth_key)
    docs = FakeDocuments() if documents is _DEFAULT else documents
    extra = {"returns": returns} if returns is not None else {}
    return Context(uow=uow, auth=auth, station_id=station_id, documents=docs, packing=packing or PackingSettings(),
                   clock=clock, central=FakeUnitOfWorkFactory(central, station_id) if central is not None else None,
                   cameras=cameras, staging=FakeStaging, **extra)


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
    "FakeCatalog", "FakeCentralOutbox", "FakeCentre", "FakeChangeLog", "FakeClock", "FakeDatabase", "FakeDocuments", "FakeEventLog", "FakeIntegrityError", "FakeLeases", "FakeNumberSeries", "FakeOrders", "FakePhotos", "FakePrintJobs", "FakePrinters", "FakeReturns", "FakeShipments", "FakeStockLedger", "FakeSyncBookkeeping", "FakeUnitOfWork", "FakeUnitOfWorkFactory", "FakeUsers", "NOW", "NumberRanges", "SHIP_FROM", "SeriesExhausted",
    "NOW", "SHIP_FROM", "FakeCatalog", "FakeClock", "FakeDatabase", "FakeDocuments", "FakeEventLog", "FakeImports",
    "FakeStaging",
    "FakeIntegrityError", "FakeNumberSeries", "FakeOrders", "FakePrintJobs", "FakePrinters", "FakeReturns",
    "FakeShipments", "FakeUnitOfWork", "FakeUnitOfWorkFactory", "FakeUsers", "NumberRanges", "SeriesExhausted",
    "a_product", "an_order", "cheap_pin_hash", "fake_context",
]
