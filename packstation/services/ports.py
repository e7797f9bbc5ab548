"""What the use cases need from storage: one repository per aggregate, and a unit of work.

Every port speaks in domain objects (``Order``, ``Carton``, ``PackedItem``, ``User``,
``PrintJob``, ``Event``) and names no table or column. ``adapters.db`` implements them on
SQLite and PostgreSQL; ``tests/fakes.py`` implements them in memory by subclassing these
classes, and one contract suite (``tests/contract``) runs against all three.

A unit of work is one transaction: ``with uow_factory() as uow: ...; uow.commit()``. Leaving
the block without ``commit()`` rolls everything back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from packstation.domain.events import Event
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import CartonType, Order, Product, Role, StockLot, User
from packstation.domain.packing import Carton, PackedItem
from packstation.domain.print_jobs import JobStatus, PrintJob
from packstation.domain.returns import Return


class StorageError(RuntimeError):
    """A change could not be stored (read-only or full disk, database gone). Nothing was applied."""


class Conflict(StorageError):
    """Someone else changed the same thing first (a claim, a status); reload and decide again."""


# --- records the repositories hand out -------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """Who holds an order and in what state it is (read under a row lock by ``OrderRepository.hold``)."""

    order_id: str
    status: OrderStatus
    station_id: str | None = None
    user: str | None = None
    since: datetime | None = None
    importing: str | None = None  # the file of an unfinished import that holds the order


@dataclass(frozen=True)
class Credentials:
    """A user with what logging in needs: the PIN hash and the wrong-PIN state."""

    user: User
    pin_hash: str | None
    failed_pins: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class ScanRecord:
    """One stored item scan, undone or not (the order's status document lists them)."""

    item: PackedItem
    station_id: str
    undone_at: datetime | None = None
    undone_by: str | None = None


@dataclass(frozen=True)
class ImportedState:
    """What an import needs to know about a record that is already stored."""

    fingerprint: str  # the hash of the record as last imported
    status: str = ""  # orders and returns
    held_by: str | None = None  # orders: the station holding it
    order_id: str = ""  # returns: the order it belongs to
    import_batch: str | None = None  # orders: an unfinished import holds it (ImportBatchRepository)


# --- repositories ----------------------------------------------------------------------------


class OrderRepository(ABC):
    """Orders with their lines, their claim (which station holds it) and their status."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None: ...

    @abstractmethod
    def find_id(self, code: str) -> str | None:
        """The order an order number or a tote barcode stands for.

        An exact order number wins, then a case-insensitive one, then the tote's packable
        order (the newest, since totes are reused once their order is packed)."""

    @abstractmethod
    def find_by_tracking(self, number: str) -> str | None:
        """The order whose (order-level or carton) tracking number this is."""

    @abstractmethod
    def hold(self, order_id: str) -> Claim:
        """The claim and status of an order, locked until the unit of work ends.

        The lock (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers) keeps
        a lead's release or another station's claim from slipping in between a check and the
        change that follows it. Raises KeyError for an unknown order."""

    @abstractmethod
    def claim_of(self, order_id: str) -> Claim | None:
        """The claim and status of an order, read without a lock (status pages, lists)."""

    @abstractmethod
    def try_claim(self, order_id: str, station_id: str, user: str, at: datetime) -> bool:
        """Atomically claim a packable order for *station_id*; False if another station holds it."""

    @abstractmethod
    def claim_next(self, station_id: str, user: str, at: datetime, carrier: str | None = None) -> str | None:
        """Claim the oldest packable order nobody holds (SKIP LOCKED on PostgreSQL)."""

    @abstractmethod
    def release(self, order_id: str) -> None:
        """No station holds the order any more (its scans and cartons stay)."""

    @abstractmethod
    def set_status(self, order_id: str, expected: OrderStatus, status: OrderStatus, at: datetime) -> None:
        """Store a status change the lifecycle allowed. Raises Conflict if the order is no longer
        in *expected* (changed meanwhile). Call only through ``services.lifecycle``."""

    @abstractmethod
    def held_by(self, station_id: str) -> str | None:
        """The order *station_id* holds while packing (after a crash or a logout)."""

    @abstractmethod
    def claims(self) -> list[Claim]:
        """Orders some station holds, oldest claim first."""

    @abstractmethod
    def ready(self, limit: int) -> list[tuple[str, str | None]]:
        """(order id, tote) of released orders nobody holds, by order number."""

    @abstractmethod
    def next_to_pick(self, limit: int, carrier: str | None = None) -> list[Order]:
        """The oldest released orders nobody holds (optionally of one carrier), for a pick wave."""

    @abstractmethod
    def set_wave(self, order_id: str, wave_id: str) -> None: ...

    @abstractmethod
    def add_packed(self, order_id: str, line_no: int, delta: int) -> None: ...

    @abstractmethod
    def set_short(self, order_id: str, line_no: int, short: int, reason: str) -> None: ...

    # imports
    @abstractmethod
    def imported(self, order_ids: Sequence[str]) -> dict[str, ImportedState]: ...

    @abstractmethod
    def open_order_with_tote(self, tote: str, other_than: str) -> tuple[str, OrderStatus] | None:
        """An open (not yet packed) order other than *other_than* that already uses *tote*."""

    @abstractmethod
    def add_many(self, orders: Sequence[tuple[Order, str]], at: datetime) -> None:
        """Insert new orders with their lines and fingerprints."""

    @abstractmethod
    def replace(self, order: Order, fingerprint: str, at: datetime) -> None:
        """Overwrite an order's data and lines (only while it is not being packed)."""


class CatalogRepository(ABC):
    """Products with their barcodes, carton types, and the lots in stock."""

    @abstractmethod
    def products(self, skus: Iterable[str]) -> dict[str, Product]: ...

    @abstractmethod
    def by_barcode(self, key: str) -> tuple[Product, int] | None:
        """The product a lookup key (GTIN-14 or upper-cased text, or its SKU) stands for, and the
        units one scan of it counts."""

    @abstractmethod
    def known_skus(self, skus: Iterable[str]) -> set[str]: ...

    @abstractmethod
    def carton_type(self, code: str) -> CartonType | None: ...

    @abstractmethod
    def carton_types(self) -> list[CartonType]:
        """Every carton type, lightest first."""

    @abstractmethod
    def lots(self, sku: str) -> list[StockLot]:
        """The lots of *sku* the warehouse knows of (stock imports), earliest expiry first."""

    # imports
    @abstractmethod
    def imported_products(self, skus: Sequence[str]) -> dict[str, str]:
        """sku -> fingerprint of the products already stored."""

    @abstractmethod
    def barcode_owners(self, codes: Sequence[str]) -> dict[str, str]:
        """lookup key -> sku for the codes already given to a product."""

    @abstractmethod
    def put_products(self, products: Sequence[tuple[Product, str]], at: datetime) -> None:
        """Insert or overwrite products (with their barcodes) and their fingerprints."""

    @abstractmethod
    def imported_cartons(self, codes: Sequence[str]) -> dict[str, str]: ...

    @abstractmethod
    def put_cartons(self, cartons: Sequence[tuple[CartonType, str]]) -> None: ...

    @abstractmethod
    def put_lots(self, lots: Sequence[StockLot]) -> None:
        """Insert or overwrite stock lots (by sku and lot)."""


class UserRepository(ABC):
    @abstractmethod
    def by_badge(self, badge: str) -> Credentials | None: ...

    @abstractmethod
    def by_name(self, name: str) -> Credentials | None: ...

    @abstractmethod
    def by_id(self, user_id: int) -> Credentials | None: ...

    @abstractmethod
    def add(self, name: str, role: Role, badge: str, pin_hash: str | None, at: datetime) -> User: ...

    @abstractmethod
    def update(self, user_id: int, *, role: Role | None = None, active: bool | None = None,
               pin_hash: str | None = None) -> None: ...

    @abstractmethod
    def pin_failed(self, user_id: int, lock_after: int, locked_until: datetime) -> int:
        """Count one wrong PIN atomically (two stations failing at once both count).

        Returns the number of wrong PINs in a row, this one included. When it reaches
        *lock_after* the badge is locked until *locked_until* and the stored count starts
        again at 0 (the value returned is then *lock_after*)."""

    @abstractmethod
    def pin_ok(self, user_id: int) -> None:
        """Forget wrong PINs and any lock."""

    @abstractmethod
    def list(self) -> list[User]: ...


class ShipmentRepository(ABC):
    """The cartons of an order and the item scans in them."""

    @abstractmethod
    def cartons(self, order_id: str, types: dict[str, CartonType]) -> list[Carton]:
        """The order's cartons, in order, with the scans not undone in each."""

    @abstractmethod
    def add_carton(self, order_id: str, carton: Carton, opened_by: str, station_id: str, at: datetime) -> None: ...

    @abstractmethod
    def save_carton(self, order_id: str, carton: Carton, at: datetime) -> None:
        """Store a carton's type, status, weights, SSCC, override and tracking number."""

    @abstractmethod
    def remove_carton(self, order_id: str, seq: int) -> None:
        """Drop an empty carton (left open when the order completed)."""

    @abstractmethod
    def carton_by_sscc(self, sscc: str) -> tuple[str, int] | None:
        """(order id, carton seq) of the carton with this SSCC."""

    @abstractmethod
    def add_item(self, order_id: str, item: PackedItem, station_id: str, at: datetime) -> None:
        """Store an accepted scan; a serial is registered so it can leave only once."""

    @abstractmethod
    def undo_item(self, item: PackedItem, by: str, at: datetime) -> None: ...

    @abstractmethod
    def serial_shipped(self, sku: str, serial: str) -> bool: ...

    @abstractmethod
    def scans(self, order_id: str) -> list[ScanRecord]:
        """Every scan of the order, undone ones included, in the order they happened."""


class PrintJobRepository(ABC):
    @abstractmethod
    def add(self, job: PrintJob, station_id: str, at: datetime) -> None: ...

    @abstractmethod
    def get(self, job_id: str) -> PrintJob | None: ...

    @abstractmethod
    def waiting(self, station_id: str) -> list[PrintJob]:
        """This station's jobs not printed yet (pending, failed, interrupted), oldest first."""

    @abstractmethod
    def next_pending(self, station_id: str) -> PrintJob | None:
        """The oldest job of this station waiting to be sent (pending)."""

    @abstractmethod
    def requeue(self, job_id: str, at: datetime) -> bool:
        """failed / interrupted -> pending (a lead retries it); False if it is not waiting."""

    @abstractmethod
    def start(self, job_id: str, at: datetime) -> bool:
        """pending -> sending; False if it is not pending (any more)."""

    @abstractmethod
    def finish(self, job_id: str, status: JobStatus, error: str, at: datetime) -> None:
        """sending -> done / failed, one attempt more."""

    @abstractmethod
    def interrupt_sending(self, station_id: str, at: datetime) -> list[PrintJob]:
        """At start: jobs left 'sending' by a stopped station become 'interrupted'; returns them."""


class EventLog(ABC):
    """The outbox: every change's event, in the same transaction as the change."""

    @abstractmethod
    def add(self, event: Event, station_id: str, at: datetime) -> str:
        """Store an event; returns its id."""

    def add_many(self, events: Sequence[Event], station_id: str, at: datetime) -> None:
        """Store many events at once (imports), as :meth:`add` would store each."""
        for event in events:
            self.add(event, station_id, at)

    @abstractmethod
    def for_order(self, order_id: str) -> list[Event]: ...

    @abstractmethod
    def since(self, at: datetime) -> list[Event]:
        """Every event that happened at or after *at*, in the order they were stored."""


class NumberSeries(ABC):
    """Numbers that must never be issued twice (SSCC serials; later manifests, credit notes).

    The station draws from a block it holds; a block comes from a source (this database's
    own range, or the central database) so no two stations can hand out the same number.
    """

    @abstractmethod
    def next(self, series: str) -> int:
        """The next number of *series*; issued once this unit of work commits. Raises
        StorageError when the series' range is used up."""


class ReturnRepository(ABC):
    """Returns (RMAs) with their lines."""

    @abstractmethod
    def get(self, rma_id: str) -> Return | None: ...

    @abstractmethod
    def for_order(self, order_id: str) -> list[Return]: ...

    @abstractmethod
    def imported(self, rma_ids: Sequence[str]) -> dict[str, ImportedState]: ...

    @abstractmethod
    def put(self, ret: Return, fingerprint: str, at: datetime) -> None:
        """Insert a return, or overwrite it and its lines."""


@dataclass(frozen=True)
class StationSeat:
    """Who runs a station id: one window per station id on a database."""

    station_id: str
    holder: str  # "pid 1234 on bench07 (user pat)"
    token: str
    since: datetime
    expires_at: datetime


class StationRepository(ABC):
    """Seats: the lease a running station window holds on its station id."""

    @abstractmethod
    def take(self, seat: StationSeat, now: datetime, *, stale_token: str | None = None) -> StationSeat | None:
        """Take the seat if it is free, expired, already ours (same token) or held by *stale_token*
        (a holder known to be dead); else return the holder's."""

    @abstractmethod
    def renew(self, station_id: str, token: str, expires_at: datetime) -> bool:
        """Extend our lease; False if it is no longer ours."""

    @abstractmethod
    def release(self, station_id: str, token: str) -> None: ...

# --- imports at warehouse scale: the import journal and the staging area ---------------------


class BatchState(StrEnum):
    """Where a big import stored in chunks stands (``ImportBatchRepository``)."""

    PUBLISHING = "publishing"  # its orders go in, held by the batch: a restart rolls it back
    RELEASING = "releasing"  # committed; the updates of existing orders are applied: a restart finishes them
    DONE = "done"
    ROLLED_BACK = "rolled_back"

    @property
    def finished(self) -> bool:
        return self in (BatchState.DONE, BatchState.ROLLED_BACK)


@dataclass(frozen=True)
class ImportBatch:
    """One file being stored in chunks: the journal row a restart recovers from."""

    id: str
    kind: str
    file: str
    actor: str
    station_id: str
    state: BatchState
    holder: str  # "pid 1234 on bench07": who works on it; renewed with every chunk
    expires_at: datetime  # the holder's lease: after it, anyone may recover the batch
    started_at: datetime
    records: int = 0  # records in the file
    stored: int = 0  # records stored so far (publishing), updates applied so far (releasing)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    reason: str = ""  # why it was rolled back


class ImportBatchRepository(ABC):
    """The orders of a big import stored in chunks, held by their batch until the file is committed.

    An order is *held* by a batch while the batch is publishing (a new order of its file, stored
    with the batch's id) and, for an existing order the file updates, until that update is applied
    (:meth:`reserve` .. :meth:`settle`). A held order cannot be claimed, put in a pick wave or
    listed as ready: ``OrderRepository.hold`` says so (``Claim.importing``), ``try_claim``,
    ``claim_next``, ``ready`` and ``next_to_pick`` skip it. Saving the batch as releasing (or done)
    lets all its new orders go at once: the commit point of the file. Rolling a batch back
    (:meth:`discard`) removes its new orders with their lines and events and lets go of the
    existing ones unchanged. A new order keeps its batch's id afterwards (where it came from).
    """

    @property
    @abstractmethod
    def one_transaction(self) -> bool:
        """True where one transaction of any size blocks neither readers nor other writers
        (PostgreSQL's MVCC): a whole file then goes in one transaction, without a batch."""

    @abstractmethod
    def open(self, batch: ImportBatch) -> None: ...

    @abstractmethod
    def get(self, batch_id: str) -> ImportBatch | None: ...

    @abstractmethod
    def unfinished(self) -> list[ImportBatch]:
        """Batches publishing or releasing, oldest first."""

    @abstractmethod
    def save(self, batch: ImportBatch) -> None:
        """Store the batch's state, lease and counts."""

    @abstractmethod
    def take_over(self, batch_id: str, holder_was: str, holder: str, expires_at: datetime) -> bool:
        """Become the batch's holder if *holder_was* still holds it (atomically); False if not."""

    @abstractmethod
    def add_orders(self, batch_id: str | None, orders: Sequence[tuple[Order, str]], at: datetime) -> None:
        """Insert new orders with their lines and fingerprints, of *batch_id* (held while it is
        publishing; None: no batch). Raises Conflict naming the orders that exist already."""

    @abstractmethod
    def reserve(self, batch_id: str, updates: Sequence[tuple[str, str]]) -> None:
        """Hold existing orders for the batch and keep their new content (order id, payload) until
        :meth:`settle`. Raises Conflict if one of them is held or claimed already."""

    @abstractmethod
    def totes_in_use(self, totes: Sequence[str]) -> dict[str, list[tuple[str, OrderStatus]]]:
        """tote -> the open (not yet packed) orders that use it."""

    @abstractmethod
    def pending(self, batch_id: str, limit: int) -> list[tuple[str, str]]:
        """Up to *limit* (order id, payload) of existing orders the batch holds with new content."""

    @abstractmethod
    def settle(self, batch_id: str, order_ids: Sequence[str]) -> None:
        """Let existing orders go (their new content applied or dropped) and forget that content."""

    @abstractmethod
    def tidy(self) -> None:
        """After a chunk's commit: let the database tidy up what the chunk left behind, so that a
        bench's next commit need not (SQLite: checkpoint the write-ahead log)."""

    @abstractmethod
    def discard(self, batch_id: str, limit: int) -> int:
        """Roll up to *limit* orders of the batch back: new ones removed (with their lines and
        events), existing ones let go unchanged. Returns how many; 0 when nothing of it is left."""


class StagedRecord(NamedTuple):
    """A validated record of a file being imported, as the staging area keeps it."""

    seq: int  # 1, 2, ... in file order
    position: str  # "record 3", "line 17"
    key: str
    data: Any = None  # plain values only: str, int, None, bool, lists, dicts, tuples
    fingerprint: str = ""
    tags: tuple[tuple[str, str], ...] = ()  # (tag, value) for cross-record checks, e.g. ("tote", "T-7")


class ImportStaging(ABC):
    """A scratch area on disk for one import: the validated records and what checks need.

    Holds nothing in memory that grows with the file; nothing in it is visible to anyone, and it
    is thrown away when the import ends (:meth:`close`). Not the station's storage: no unit of work.
    """

    @abstractmethod
    def add(self, records: Sequence[StagedRecord]) -> None: ...

    @abstractmethod
    def reject(self, seqs: Iterable[int]) -> None:
        """Leave these records out of everything that follows."""

    @abstractmethod
    def repeats(self, tag: str) -> Iterator[tuple[StagedRecord, str, StagedRecord]]:
        """(record, value, first record) for every record whose *tag* value (``"key"``: its key) an
        earlier record already has, in file order; records without data, rejected ones left out."""

    @abstractmethod
    def values(self, tag: str) -> Iterator[str]:
        """The distinct values of *tag* (rejected records left out)."""

    @abstractmethod
    def tagged(self, tag: str, values: Iterable[str]) -> Iterator[tuple[StagedRecord, str]]:
        """(record without data, value) of the records whose *tag* is one of *values*, in file order."""

    @abstractmethod
    def records(self, after: int = 0, limit: int = 1000, *, data: bool = True) -> list[StagedRecord]:
        """The next records after seq *after* in file order (rejected left out), without their tags;
        without their data either when *data* is False."""

    @abstractmethod
    def get(self, seq: int) -> StagedRecord | None: ...

    @abstractmethod
    def count(self) -> int:
        """Records not rejected."""

    @abstractmethod
    def add_rows(self, rows: Sequence[tuple[str, int, Any]]) -> None:
        """Raw CSV rows to group into records: (record key, line number, cells)."""

    @abstractmethod
    def grouped_rows(self) -> Iterator[list[tuple[int, Any]]]:
        """The rows added, grouped by key: each group's rows by line number, groups by their first
        line (rows with an empty key are groups of their own)."""

    @abstractmethod
    def close(self) -> None:
        """Throw the area away."""


StagingFactory = Callable[[], ImportStaging]


class UnitOfWork(ABC):
    """One transaction over every repository; rolls back unless ``commit()`` is called."""

    orders: OrderRepository
    catalog: CatalogRepository
    users: UserRepository
    shipments: ShipmentRepository
    print_jobs: PrintJobRepository
    events: EventLog
    numbers: NumberSeries
    returns: ReturnRepository
    stations: StationRepository
    imports: ImportBatchRepository

    @abstractmethod
    def __enter__(self) -> UnitOfWork: ...

    @abstractmethod
    def __exit__(self, *exc: Any) -> None: ...

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def ping(self) -> None:
        """One round trip (the status bar's database check)."""


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, readonly: bool = False) -> UnitOfWork: ...


Clock = Callable[[], datetime]

__all__ = [
    "BatchState", "ImportBatch", "ImportBatchRepository", "ImportStaging", "StagedRecord", "StagingFactory",
    "CatalogRepository", "Claim", "Clock", "Conflict", "Credentials", "EventLog", "ImportedState",
    "NumberSeries", "OrderRepository", "PrintJobRepository", "ReturnRepository", "ScanRecord", "ShipmentRepository",
    "StationRepository", "StationSeat", "StorageError", "UnitOfWork", "UnitOfWorkFactory", "UserRepository",
]
