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
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from packstation.domain.events import Event
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
)
from packstation.domain.lifecycle import OrderStatus, ReturnStatus
from packstation.domain.model import CartonType, Order, Product, Role, StockLot, User
from packstation.domain.packing import Carton, PackedItem
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
    Manifest,
    ManifestStatus,
)
from packstation.domain.stock import StockLevel, StockMovement


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

    # pulls from the central database
    @abstractmethod
    def get_many(self, order_ids: Sequence[str]) -> dict[str, tuple[Order, Claim]]:
        """The stored orders among these, with their claims, in a few statements (not one per order)."""

    @abstractmethod
    def upsert(self, orders: Sequence[tuple[Order, str, Claim | None]], at: datetime) -> None:
        """Insert or overwrite orders as the centre has them: (order, fingerprint, claim) with their
        data, status, lines (with their packed and short counts) and claim (None: nobody holds
        it). The lease columns, which are this station's own, are cleared."""

    @abstractmethod
    def withdraw(self, order_id: str, status: OrderStatus, at: datetime) -> None:
        """The centre cancelled (or held) an order this station holds: store *status* and drop the
        claim and lease; its lines, scans and cartons stay as packed here."""

    # the central lease this station holds on an order (a synced station; see LeaseRepository)
    @abstractmethod
    def set_lease(self, order_id: str, token: int | None, expires_at: datetime | None) -> None:
        """Store this station's copy of its lease on the order (None: it holds none). The order's
        events written afterwards carry *token* as their fence."""

    @abstractmethod
    def leased(self, station_id: str, order_ids: Collection[str] | None = None) -> list[HeldLease]:
        """The orders *station_id* holds (claimed here) that have a lease token, by order id: what
        the heartbeat renews at the centre. *order_ids*: only among these."""

    @abstractmethod
    def claimable(self, limit: int, carrier: str | None = None, exclude: Collection[str] = ()) -> list[str]:
        """Up to *limit* packable orders nobody holds here, oldest first (as ``claim_next`` would pick
        them), without claiming them: a synced bench takes the central lease first."""


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

    @abstractmethod
    def upsert(self, user: User, pin_hash: str | None, at: datetime) -> User:
        """Insert or overwrite the user of this name as the centre has it (role, badge, PIN hash,
        active, lock); the wrong-PIN counter stays this database's. A badge another user here
        holds is taken from them (that user is disabled and keeps ``~<id>~<badge>``)."""


class ShipmentRepository(ABC):
    """The cartons of an order and the item scans in them."""

    @abstractmethod
    def cartons(self, order_id: str, types: dict[str, CartonType]) -> list[Carton]:
        """The order's cartons, in order, with the scans not undone in each."""

    def carton(self, order_id: str, seq: int) -> Carton | None:
        """The order's carton *seq* as :meth:`cartons` gives it (a copy), or None. An adapter that
        can find one carton more cheaply than all of them overrides this."""
        return next((c for c in self.cartons(order_id, {}) if c.seq == seq), None)

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

    @abstractmethod
    def unpushed_orders(self, order_ids: Sequence[str]) -> set[str]:
        """The orders among these with events the centre has not answered yet (sync state pending)."""

    # the push to the central database (``add`` stamps each event's ``fence``: the lease token its
    # order holds in this database when the event is written, None when it holds none)
    @abstractmethod
    def number_pending(self, station_id: str, *, after: int = 0) -> int:
        """Number *station_id*'s events that have no station sequence yet, in the order they were
        stored, right after the station's highest number or *after*, whichever is higher (1, 2, 3, ...
        without gaps; *after*: the centre's last number, so a station restored from a backup does not
        reuse numbers). Returns how many were numbered."""

    @abstractmethod
    def last_numbered(self, station_id: str) -> int:
        """The station's highest station sequence number (0: none yet)."""

    @abstractmethod
    def waiting(self, station_id: str, *, centre_has: int) -> int:
        """How many of the station's events the centre does not have: those numbered above
        *centre_has* (the centre's last number, as last heard) and those not numbered yet."""

    @abstractmethod
    def pending(self, station_id: str, limit: int) -> list[OutboxEvent]:
        """The station's numbered events the centre has not answered yet, lowest number first."""

    @abstractmethod
    def answer(self, station_id: str, answers: Sequence[Answer], at: datetime) -> None:
        """Store the centre's answers on the station's events still pending (``Answer.settled_as``,
        the reason, *at*); an event answered already keeps its first answer."""

    @abstractmethod
    def outbox(self, station_id: str, states: Iterable[SyncState], limit: int = 200) -> list[OutboxEvent]:
        """The station's numbered events in these states, lowest number first (refused and held ones
        for a lead)."""

    @abstractmethod
    def counts(self, station_id: str) -> dict[SyncState, int]:
        """How many of the station's events are pending (unnumbered ones too), refused and held (the
        applied and duplicate ones are history: not counted, so this stays cheap however long it is)."""

    @abstractmethod
    def reopen(self, station_id: str, from_seq: int) -> int:
        """Mark the station's answered events numbered *from_seq* or higher pending again (the centre
        lost them: restored from a backup); returns how many."""


class NumberSeries(ABC):
    """Numbers that must never be issued twice (SSCC serials; later manifests, credit notes).

    The station draws from a block it holds; a block comes from a source (this database's
    own range, or the central database) so no two stations can hand out the same number.
    """

    @abstractmethod
    def next(self, series: str) -> int:
        """The next number of *series*; issued once this unit of work commits. Raises
        StorageError when the series' range is used up."""

    @abstractmethod
    def held(self, series: str) -> int:
        """How many unissued numbers of *series* this station holds in its blocks."""

    @abstractmethod
    def reserve(self, series: str, keep: int) -> int:
        """Hold at least *keep* unissued numbers of *series* (taking a block from the source if
        fewer are left), so a station cut off from the centre keeps numbering; returns how many
        it holds. Raises StorageError when no block can be had."""


@dataclass(frozen=True)
class ReturnFact:
    """One received item as the lead's returns figures count it."""

    rma_id: str
    reason: str
    sku: str
    qty: int
    grade: str | None
    packer: str | None  # who packed the unit it matched when it left
    unexpected: bool
    received_at: datetime


class ReturnRepository(ABC):
    """Returns (RMAs) with their lines; the returns desk's receipts, items, resolutions and credit notes."""

    @abstractmethod
    def get(self, rma_id: str) -> Return | None:
        """The return with its lines, each with the units received on it."""

    @abstractmethod
    def for_order(self, order_id: str) -> list[Return]: ...

    @abstractmethod
    def get_many(self, rma_ids: Sequence[str]) -> dict[str, Return]:
        """The returns of these ids that exist (as :meth:`get`), in a few queries however many."""

    @abstractmethod
    def imported(self, rma_ids: Sequence[str]) -> dict[str, ImportedState]: ...

    @abstractmethod
    def put(self, ret: Return, fingerprint: str, at: datetime) -> None:
        """Insert a return, or overwrite it and its lines (imports: only before anything arrived)."""

    @abstractmethod
    def add(self, ret: Return, at: datetime) -> None:
        """Store a return opened at the desk (refused if the id is taken)."""

    @abstractmethod
    def put_line(self, rma_id: str, line: ReturnLine) -> None:
        """Add a line, or change an existing line's expected quantity (by line number)."""

    @abstractmethod
    def set_status(self, rma_id: str, expected: ReturnStatus, status: ReturnStatus, at: datetime) -> None:
        """Store a status change the lifecycle allowed; Conflict if the return is no longer in
        *expected*. Call only through ``services.returns``."""

    @abstractmethod
    def recent(self, status: ReturnStatus | None = None, limit: int = 500) -> list[Return]:
        """Returns (of one status), the most recently changed first."""

    # the return parcel (its carrier's tracking)
    @abstractmethod
    def with_tracking(self, number: str) -> list[Return]:
        """The returns whose return parcel has this tracking number (one parcel may carry several
        returns of one customer), by RMA id; any status."""

    @abstractmethod
    def awaiting_pickup(self, carrier: str) -> list[tuple[str, str]]:
        """(RMA id, tracking number) of the *initiated* returns whose return parcel *carrier* carries
        (the carrier compared without regard to case), by RMA id: what the tracking poller asks about."""

    # what left in the order (the bench's scans and cartons)
    @abstractmethod
    def shipped(self, order_id: str) -> list[ShippedUnit]:
        """The order's live item scans in the order they happened, each with its sealed carton
        (SSCC, weight, seal time, tracking, carton photo)."""

    @abstractmethod
    def serial_left_in(self, sku: str, serial: str) -> str | None:
        """The order a serial of *sku* shipped in, if any."""

    # receipts: one parcel at a desk
    @abstractmethod
    def open_receipt(self, receipt: Receipt) -> None: ...

    @abstractmethod
    def join_receipt(self, receipt_id: str, rma_id: str) -> None:
        """Another return of the same customer is in the parcel."""

    @abstractmethod
    def close_receipt(self, receipt_id: str, at: datetime) -> None: ...

    @abstractmethod
    def receipt_of(self, station_id: str) -> Receipt | None:
        """The parcel this station has open (after a logout, a crash)."""

    # received items
    @abstractmethod
    def add_item(self, item: ReceivedItem) -> None:
        """Store a received item (its id is used once)."""

    @abstractmethod
    def items(self, rma_ids: Sequence[str]) -> list[ReceivedItem]:
        """The items received on these returns, in the order received, with their photo ids."""

    @abstractmethod
    def items_of_order(self, order_id: str) -> list[ReceivedItem]:
        """Every item received against an order, on any of its returns (without photo ids: what
        the receive check reads, as cheaply as it can)."""

    @abstractmethod
    def grade_item(self, item_id: str, grade: str, notes: str, by: str, at: datetime) -> None: ...

    @abstractmethod
    def note_item(self, item_id: str, notes: str) -> None: ...

    @abstractmethod
    def decide_item(self, item_id: str, disposition: str, location: str | None, by: str, at: datetime) -> None: ...

    @abstractmethod
    def mark_restocked(self, item_id: str, location: str, at: datetime) -> bool:
        """The item went into its bin; False if it was restocked already (nothing changed)."""

    # resolutions and credit notes
    @abstractmethod
    def add_resolution(self, resolution: Resolution) -> None:
        """Store a resolution and mark its lines resolved; Conflict if a line is resolved already
        or the same submission (key) was stored (so it resolves once)."""

    @abstractmethod
    def resolutions(self, rma_id: str) -> list[Resolution]: ...

    @abstractmethod
    def add_credit_note(self, note: CreditNote) -> None:
        """Register an issued credit note (its number is used once)."""

    @abstractmethod
    def credit_notes(self, rma_id: str) -> list[CreditNote]: ...

    # figures
    @abstractmethod
    def facts(self, since: datetime | None = None) -> list[ReturnFact]:
        """Every item received (since *since*), with its return's reason and the packer it left with."""

    # a synced station's copy of the centre's truth (services/sync/pull.py)
    @abstractmethod
    def put_copy(self, ret: Return, fingerprint: str, items: Sequence[ReceivedItem],
                 resolutions: Sequence[Resolution], credit_notes: Sequence[CreditNote], at: datetime) -> None:
        """Store the central database's state of a return here: the return and its lines as there
        (each line with its resolution), its items added or brought up to date by id (none removed),
        its resolutions and credit notes added when missing. No event: the centre recorded them."""


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

# --- shipping: manifests at the dock, carrier label requests (issue 11) -----------------------


class ManifestRepository(ABC):
    """Carrier manifests with their cartons, and what the dock checks a scanned carton against."""

    @abstractmethod
    def carton(self, code: str) -> DockCarton | None:
        """The carton with this SSCC (or carrier tracking number), with its order's state and the
        manifest it is on: one read, for the dock's verdict."""

    @abstractmethod
    def cartons_of(self, order_ids: Iterable[str]) -> dict[str, list[DockCarton]]:
        """Every carton of these orders (a close checks that each order leaves whole)."""

    @abstractmethod
    def open_for(self, carrier: str, service: str) -> Manifest | None:
        """The open manifest of this carrier (and service, "" = all), with its cartons."""

    @abstractmethod
    def get(self, manifest_id: str) -> Manifest | None: ...

    @abstractmethod
    def lock(self, manifest_id: str) -> Manifest | None:
        """The manifest with its cartons, its row locked until the transaction ends: no carton is
        loaded onto it or unloaded from it meanwhile (loads and unloads take the same lock)."""

    @abstractmethod
    def by_number(self, number: int) -> Manifest | None: ...

    @abstractmethod
    def by_close_key(self, key: str) -> Manifest | None:
        """The manifest a close with this idempotency key closed."""

    @abstractmethod
    def add(self, manifest: Manifest) -> None:
        """Store a new open manifest. Raises Conflict if the carrier (and service) has an open one."""

    @abstractmethod
    def load(self, manifest_id: str, order_id: str, seq: int, sscc: str, by: str, station_id: str,
             at: datetime) -> None:
        """Put a carton on an open manifest. Raises Conflict if it is on a manifest already."""

    @abstractmethod
    def unload(self, manifest_id: str, order_id: str, seq: int) -> bool:
        """Take a carton off an open manifest; False if it was not on it (or the manifest is closed)."""

    @abstractmethod
    def close(self, manifest: Manifest) -> bool:
        """Store the close (number, who, when, close key, split approval, carrier answer) of an open
        manifest; False if it is not open any more (closed meanwhile)."""

    @abstractmethod
    def recent(self, *, status: ManifestStatus | None = None, limit: int = 50) -> list[Manifest]:
        """Manifests, newest first, with their cartons."""

    @abstractmethod
    def for_order(self, order_id: str) -> list[Manifest]:
        """The manifests that hold cartons of this order."""

    @abstractmethod
    def to_pull(self) -> list[DockCarton]:
        """Sealed cartons of orders cancelled after packing, not handed over nor pulled."""

    @abstractmethod
    def mark_pulled(self, order_id: str, seq: int, at: datetime) -> None: ...

    @abstractmethod
    def on_the_way(self, label_carrier: str) -> list[tuple[str, OrderStatus, str]]:
        """(order id, status, tracking number) of the cartons labelled by this carrier account whose
        orders are handed over or in transit (what tracking asks about)."""

    @abstractmethod
    def carriers_in_use(self) -> list[tuple[str, str]]:
        """(carrier, service) of the orders not yet handed over (released to packed), sorted."""


class LabelRequestRepository(ABC):
    """Carrier labels still to be created for sealed cartons (retried by a worker)."""

    @abstractmethod
    def add(self, request: LabelRequest) -> None: ...

    @abstractmethod
    def get(self, request_id: str) -> LabelRequest | None: ...

    @abstractmethod
    def for_carton(self, order_id: str, seq: int) -> LabelRequest | None: ...

    @abstractmethod
    def due(self, station_id: str, now: datetime, limit: int = 20) -> list[LabelRequest]:
        """This station's requests to try now (pending, or failed with next_try_at passed), oldest first."""

    @abstractmethod
    def start(self, request_id: str, at: datetime) -> bool:
        """pending / failed -> working (this worker tries it); False if another took it or it is done."""

    @abstractmethod
    def finish(self, request_id: str, status: LabelRequestStatus, error: str, next_try_at: datetime | None,
               at: datetime) -> None:
        """working -> done / failed / cancelled, one attempt more."""

    @abstractmethod
    def waiting(self, station_id: str | None = None) -> list[LabelRequest]:
        """Requests not done (pending, working, failed), of one station or all, oldest first."""

    @abstractmethod
    def interrupt_working(self, station_id: str, at: datetime) -> list[LabelRequest]:
        """At start: requests a stopped station left 'working' become 'failed' (retried); returns them."""

    @abstractmethod
    def mirror(self, request: LabelRequest) -> None:
        """The centre's copy of a station's request, as that station's latest label event tells it: stored,
        or the carton's request brought up to date (attempts never go down). A finished one (done,
        cancelled) stays finished, so a late report of an earlier failure changes nothing."""


# --- central sync: pull, numbers from the centre, the stock ledger (issue 10) ----------------


@dataclass(frozen=True)
class Change:
    """One entry of the centre's change log: this record changed (load its current state by key)."""

    seq: int
    entity: str  # order, product, carton_type, user, stock_lot
    key: str  # order id, sku, carton code, user name, sku + chr(31) + lot


class ChangeLog(ABC):
    """The centre's change log (its triggers append one entry per changed row), read by stations."""

    @abstractmethod
    def since(self, after: int, limit: int, *, only: Sequence[tuple[int, int | None]] | None = None) -> list[Change]:
        """Changes with seq > *after*, by seq, at most *limit*; with *only*, just those in one of the
        (first, last) seq ranges (last None: no end)."""

    # A seq missing from the log (a gap) belongs to a transaction still running or to one that
    # rolled back. Once finished_below() reaches a started_below() read after the gap was seen
    # (when its writer surely had begun), that transaction has ended: the gap stays a gap.
    @abstractmethod
    def finished_below(self) -> int:
        """Every transaction numbered below this has ended (committed or rolled back). Read it
        before :meth:`since` in the same unit of work: what those committed is then visible."""

    @abstractmethod
    def started_below(self) -> int:
        """Every transaction that has written anything so far is numbered below this (on
        PostgreSQL the unit of work takes a transaction number of its own for it)."""


class SyncBookkeeping(ABC):
    """A station's own sync bookkeeping, key -> text (pull cursor, last pull, last push, ...)."""

    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @abstractmethod
    def put(self, key: str, value: str) -> None: ...

    @abstractmethod
    def all(self) -> dict[str, str]: ...


class StockLedger(ABC):
    """Stock movements per SKU, location and lot (received, adjusted, moved, packed, returned ...).

    Stock on hand is the sum of the movements; nothing is ever updated or deleted."""

    @abstractmethod
    def add(self, movements: Sequence[StockMovement]) -> list[StockMovement]:
        """Store movements (``at`` defaults to now); one whose ``event_id`` is stored already (or
        comes twice) is left out: a movement that comes from an event is applied once. Returns
        those stored."""

    @abstractmethod
    def on_hand(self, sku: str) -> list[StockLevel]:
        """Stock on hand of *sku* per location and lot (sums that are not 0), by location then lot."""

    @abstractmethod
    def movements(self, sku: str) -> list[StockMovement]:
        """Every movement of *sku*, in the order they were stored."""

    @abstractmethod
    def find(self, event_id: str) -> StockMovement | None:
        """The movement that came from *event_id*, if one was stored."""
class PhotoRepository(ABC):
    """Photos taken at the returns desk (items) and at the bench (sealed cartons), with their bytes."""

    @abstractmethod
    def add(self, photo: Photo, data: bytes) -> None: ...

    @abstractmethod
    def get(self, photo_id: str) -> Photo | None: ...

    @abstractmethod
    def data(self, photo_id: str) -> bytes | None: ...

    @abstractmethod
    def of(self, owner_kind: str, owner_ref: str) -> list[Photo]:
        """The photos of one item or carton, oldest first."""


# --- the central sync: the outbox push ---------------------------------------------------------
#
# A station ships its events (the outbox) to the centre in batches, in the order of its own
# sequence (``station_seq``: numbered at push time, without gaps). The centre applies each event
# once (its id and its sequence number are both checked), answers every event, and keeps all of
# them, refused ones too. ``services.sync.push`` runs the algorithm on these ports; the adapters
# only store.


class SyncState(StrEnum):
    """Where an event stands with the centre (``events.sync_state`` at stations and at the centre)."""

    PENDING = "pending"  # at a station: not answered by the centre yet
    APPLIED = "applied"  # the centre applied it
    DUPLICATE = "duplicate"  # the centre had it already (a retry after a lost reply)
    REFUSED = "refused"  # the centre refused it (a conflict record keeps both sides)
    HELD = "held"  # stored, not applied: an earlier event of its order was refused


@dataclass(frozen=True)
class OutboxEvent:
    """An event as the outbox ships it: the event, its number in its station's sequence, the lease
    token its order carried when it was written (``fence``), and what the centre answered."""

    event: Event
    station_seq: int
    fence: int | None = None
    state: SyncState = SyncState.PENDING
    reason: str | None = None
    pushed_at: datetime | None = None  # when the centre's answer was stored at the station
    payload_json: str | None = field(default=None, compare=False, repr=False)  # the payload as stored, if read

    @property
    def id(self) -> str:
        return self.event.id


@dataclass(frozen=True)
class Answer:
    """The centre's answer to one event. A duplicate says what the centre decided the first time
    (``stored_as``), so a station whose reply was lost still learns that an event was refused."""

    event_id: str
    station_seq: int
    state: SyncState
    reason: str | None = None
    stored_as: SyncState | None = None

    @property
    def settled_as(self) -> SyncState:
        """What the station keeps: a refusal or hold stays visible even when it came back as a duplicate."""
        if self.state is SyncState.DUPLICATE and self.stored_as in (SyncState.REFUSED, SyncState.HELD):
            return self.stored_as
        return self.state


@dataclass(frozen=True)
class Gap:
    """The centre expected station sequence *expected* and was sent *got*: something in between is missing."""

    expected: int
    got: int


@dataclass(frozen=True)
class Blocker:
    """Why a station's order is blocked at the centre: the refused event and its open conflict."""

    order_id: str
    event_id: str
    kind: str
    station_seq: int | None
    reason: str


class Refused(Exception):
    """The centre will not apply an event: *reason* for a lead, *central* what the centre has (JSON)."""

    def __init__(self, reason: str, central: dict[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.central = dict(central or {})


class BatchRejected(StorageError):
    """The centre's database refused a batch's writes as a whole (a constraint): nothing of the batch
    was stored. Receive it again event by event (``batched=False``) to find the event at fault."""


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the stock ledger as the push writes it at the centre (``domain.stock.StockMovement``
    is the same line for the stock use cases; the push's batched path writes these directly)."""

    sku: str
    location: str
    lot: str
    qty: int
    kind: str  # received, adjusted, packed, unpacked, returned, scrapped
    ref: str  # the order, the RMA, the import file
    event_id: str | None
    actor: str
    at: datetime


class CentralLedger(ABC):
    """What applying pushed events writes at the centre besides the repositories: order leases (the
    fencing check, releases) and the stock ledger. (The lease and inventory work give these their
    own ports; this is the part the push needs.)"""

    @abstractmethod
    def lease(self, order_id: str) -> Lease | None: ...

    @abstractmethod
    def release_lease(self, order_id: str, token: int) -> bool:
        """Free the lease if it still has *token*; False if it was taken over (or is gone)."""

    @abstractmethod
    def add_movement(self, movement: LedgerEntry) -> None: ...


# apply(central unit of work, ledger, event, centre's now): raises Refused; runs inside a savepoint
EventApplier = Callable[["UnitOfWork", CentralLedger, OutboxEvent, datetime], None]


class CentralInbox(ABC):
    """One batch of one station's events at the centre: one central transaction, with the station's
    sync row locked (two senders of one station take turns). Leaving without :meth:`finish` rolls
    everything back."""

    uow: UnitOfWork  # the centre's repositories, in this transaction
    ledger: CentralLedger
    last_seq: int  # the station's last sequence number the centre has
    centre_now: datetime  # the centre's clock when the batch began

    @abstractmethod
    def known(self, event_ids: Sequence[str]) -> dict[str, tuple[SyncState, str | None]]:
        """The events among *event_ids* the centre has already: id -> (state, reason)."""

    @abstractmethod
    def event_at(self, station_seq: int) -> dict[str, Any] | None:
        """The event the centre holds under this station sequence number (as JSON), if any."""

    @abstractmethod
    def blocked(self, order_ids: Iterable[str]) -> dict[str, Blocker]:
        """This station's orders among *order_ids* with an open conflict (a refused event not resolved)."""

    @abstractmethod
    def savepoint(self) -> AbstractContextManager[None]:
        """Everything written inside the block is undone if it raises. A write the database refuses
        (a constraint) leaves it as :class:`Refused`; a lost connection leaves as StorageError."""

    @abstractmethod
    def store(self, event: OutboxEvent, state: SyncState, reason: str | None) -> None:
        """Keep the event at the centre with its outcome (applied, refused, held) and the centre's clock."""

    @abstractmethod
    def add_conflict(self, event: OutboxEvent, reason: str, station_side: dict[str, Any],
                     central_side: dict[str, Any]) -> None: ...

    @abstractmethod
    def finish(self, last_seq: int, clock_offset_s: float) -> None:
        """Record the station's progress and its clock offset, and commit. Batched writes may raise
        :class:`BatchRejected` here (then nothing was stored)."""


@dataclass(frozen=True)
class ConflictRecord:
    """A station's event the centre refused, with both sides, for a lead to decide on."""

    id: int
    event_id: str
    station_id: str
    order_id: str | None
    reason: str
    station_side: dict[str, Any]
    central_side: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str = ""

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class StationProgress:
    """What the centre knows of a station's push: its last sequence number, clocks."""

    station_id: str
    last_seq: int
    last_push_at: datetime | None
    clock_offset_s: float | None  # the station's clock minus the centre's, at its last push


class CentralOutbox(ABC):
    """The centre's side of the outbox push (and the conflicts it keeps)."""

    @abstractmethod
    def begin(self, station_id: str, events: Sequence[OutboxEvent], *,
              batched: bool = True) -> AbstractContextManager[CentralInbox]:
        """Open the central transaction for a batch of *events* of *station_id*. ``batched``: the
        adapter may collect the batch's writes and store them together in :meth:`CentralInbox.finish`."""

    @abstractmethod
    def progress(self, station_id: str) -> StationProgress | None: ...

    @abstractmethod
    def conflict(self, conflict_id: int) -> ConflictRecord | None: ...

    @abstractmethod
    def conflicts(self, *, station_id: str | None = None, open_only: bool = True,
                  limit: int = 200) -> list[ConflictRecord]:
        """Conflicts, newest first."""

    @abstractmethod
    def resolve(self, conflict_id: int, *, actor: str, user: str | None, station_id: str, note: str,
                at: datetime) -> ConflictRecord | None:
        """Mark a conflict resolved (a lead decided): its order is no longer blocked for the station's
        later events. Written as a ``conflict.resolved`` event at the centre (history stays as it
        was). None if there is no such conflict."""


# --- leases: which station may pack an order (the central database) ---------------------------


@dataclass(frozen=True)
class Lease:
    """A station's right to pack an order, kept at the central database.

    ``token`` is the fencing token: every event of the order a station writes carries the token
    of the lease it held (``events.fence``); the centre refuses an event whose fence is no longer
    the lease's token. It grows whenever the lease changes hands (and after a release), never
    when its holder renews or takes it again.
    """

    order_id: str
    station_id: str | None  # None: free (released by its holder or by a lead)
    holder: str  # the person who took it (shown to other benches)
    token: int
    taken_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class HeldLease:
    """A station's own copy of a lease it holds (on its local order row)."""

    order_id: str
    token: int
    expires_at: datetime | None


class LeaseRepository(ABC):
    """Leases on orders, at the central database (a station's own database has the table, unused).

    Expiry is decided by the database's clock (``now()`` on PostgreSQL), never a station's: a
    station whose clock is off can neither keep a lease too long nor take one too early.
    """

    @abstractmethod
    def take(self, order_id: str, station_id: str, holder: str, ttl: timedelta) -> Lease:
        """Take the lease in one conditional statement; returns the lease as it now is.

        Taken (the lease returned names *station_id*) when it is free, expired or already this
        station's, until the database's now + *ttl*. A new token (greater than any given before)
        unless it was already this station's: taking one's own lease again keeps its token, so
        what the station wrote under it stays valid. Held by another station and not expired:
        that station's lease is returned, unchanged."""

    @abstractmethod
    def renew(self, order_ids: Sequence[str], station_id: str, ttl: timedelta) -> dict[str, datetime]:
        """Extend this station's leases among *order_ids* to now + *ttl* (tokens unchanged), even
        expired ones nobody took; order id -> new expiry of those renewed. Missing from the answer:
        released, taken over by another station, or never leased."""

    @abstractmethod
    def release(self, order_id: str, token: int) -> bool:
        """Free the lease if it is held with *token*; False if not (taken over meanwhile, already
        free). The token stays; whoever takes the lease next gets a new one."""

    @abstractmethod
    def holder(self, order_id: str) -> Lease | None:
        """The lease as stored (held, expired or free); None if the order was never leased."""



# --- the order API, webhooks in and status out (issue 13) ------------------------------------


class ApiClientRepository(ABC):
    """API tokens per client, stored as their SHA-256 (a token is shown once, when it is made)."""

    @abstractmethod
    def add(self, name: str, token_hash: str, token_prefix: str, rate_per_s: float, burst: int, created_by: str,
            at: datetime) -> ApiClient:
        """Store a new token for client *name* (a client may hold several while one replaces another)."""

    @abstractmethod
    def list(self) -> list[ApiClient]:
        """Every token, revoked ones too, by client name then age."""

    @abstractmethod
    def revoke(self, name: str, by: str, at: datetime, *, prefix: str | None = None) -> int:
        """Revoke the client's active tokens (only the one starting with *prefix*, if given); how many."""

    @abstractmethod
    def admit(self, token_hash: str, at: datetime, *, take: int = 1) -> Admission:
        """One request with this token: refill the client's bucket and take one, in one atomic step.

        Several API servers share the bucket (it is in the database): a client gets its rate in
        total, not per server. Unknown or revoked tokens give ``Admission(client=None)``.

        *take* above 1: a server's lease of tokens for the client's next requests; the bucket gives
        *take* if it holds them, else one (``tokens`` says how many; ``rate_per_s`` is the client's)."""

    @abstractmethod
    def live(self, token_hashes: Collection[str]) -> set[str]:
        """Those of *token_hashes* that belong to a token not revoked (one statement)."""


class IdempotencyRepository(ABC):
    """The first answer to each (client, Idempotency-Key)."""

    @abstractmethod
    def get(self, client: str, key: str) -> StoredAnswer | None: ...

    @abstractmethod
    def put(self, client: str, key: str, answer: StoredAnswer, at: datetime) -> None:
        """Store the answer; a second answer for the same key is refused by the database (the
        unit of work then raises StorageError: the caller reads the first one)."""

    @abstractmethod
    def forget_before(self, at: datetime) -> int:
        """Drop answers older than *at* (keys are kept for a day or two); how many."""


class WebhookInbox(ABC):
    """Shops' webhook deliveries, stored raw before they are answered, then applied by a worker."""

    @abstractmethod
    def add(self, source: str, delivery_id: str, topic: str, shop: str, body: bytes, at: datetime) -> bool:
        """Store a delivery; False (nothing stored) if this source's delivery id is stored already."""

    @abstractmethod
    def claim(self, limit: int, now: datetime, lease_until: datetime) -> list[InboxItem]:
        """Take up to *limit* pending deliveries nobody else holds (SKIP LOCKED on PostgreSQL), oldest
        first, until *lease_until*: a worker that dies leaves them to the next one after that."""

    @abstractmethod
    def finish(self, item_id: int, state: InboxState, reason: str, order_id: str | None, at: datetime) -> None: ...

    @abstractmethod
    def release(self, item_id: int) -> None:
        """Pending again at once (another worker changed the same order meanwhile: try again)."""

    @abstractmethod
    def get(self, item_id: int) -> InboxItem | None: ...

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""

    @abstractmethod
    def recent(self, states: Sequence[InboxState], limit: int) -> list[InboxItem]:
        """The newest deliveries in *states*, newest first."""

    @abstractmethod
    def replay(self, states: Sequence[InboxState], at: datetime) -> int:
        """Deliveries in *states* become pending again (after the catalog was fixed, say); how many."""


class ShopOrderRefs(ABC):
    """Which shop order each order came from, and the newest version of it applied."""

    @abstractmethod
    def get(self, source: str, shop: str, external_id: str, *, lock: bool = False) -> ShopOrderRef | None:
        """The reference; with *lock*, row-locked until the unit of work ends (PostgreSQL FOR UPDATE;
        SQLite's writers take turns anyway)."""

    @abstractmethod
    def put(self, ref: ShopOrderRef) -> None:
        """Insert or overwrite the reference of (source, shop, external id)."""

    @abstractmethod
    def for_order(self, order_id: str) -> ShopOrderRef | None: ...

    @abstractmethod
    def set_fulfillment(self, order_id: str, fulfillment_id: str) -> None: ...


@dataclass(frozen=True)
class PushCursor:
    """How far the outbox reader has read the event log: every event up to ``read_seq``, except the
    numbers in ``missing`` (each with when it was first missed): a transaction had taken the number
    but not committed when the reader passed. They are looked for again until a grace period is
    over (then they were rolled back)."""

    read_seq: int = 0
    missing: tuple[tuple[int, datetime], ...] = ()


@dataclass(frozen=True)
class LoggedEvent:
    event: Event  # with its seq and time
    sync_state: str = ""  # at the centre: applied / refused / held; at a station: pending, ...


@dataclass(frozen=True)
class SubscriptionStats:
    subscription: Subscription
    pending: int = 0
    failed: int = 0
    delivered: int = 0
    oldest_pending_at: datetime | None = None
    failing_since: datetime | None = None  # the oldest pending delivery that has failed at least once
    attempts: int = 0  # tries of the oldest failing delivery so far
    last_error: str = ""
    last_status: int | None = None
    last_delivered_at: datetime | None = None
    next_retry_at: datetime | None = None  # when the oldest pending delivery that has failed goes again

    @property
    def failing(self) -> bool:
        return self.failed > 0 or self.failing_since is not None


class StatusPushRepository(ABC):
    """Subscriptions, their deliveries, and the outbox reader's cursor over the event log."""

    # stats() reads no signing secret (its subscriptions carry secret=""): a station's database role
    # at the centre may read the subscriptions' other columns, never the secrets

    @abstractmethod
    def add_subscription(self, url: str, events: Sequence[str], secret: str, kind: SubscriptionKind, shop: str,
                         by: str, at: datetime) -> Subscription: ...

    @abstractmethod
    def subscriptions(self) -> list[Subscription]: ...

    @abstractmethod
    def cursor(self, name: str, *, lock: bool = False) -> PushCursor:
        """The reader's cursor (a fresh one at 0); *lock*: one reader at a time over all API servers."""

    @abstractmethod
    def set_cursor(self, name: str, cursor: PushCursor) -> None: ...

    @abstractmethod
    def events_after(self, seq: int, limit: int) -> list[LoggedEvent]:
        """Events stored after *seq*, in seq order (the event log's own numbering)."""

    @abstractmethod
    def events_numbered(self, seqs: Sequence[int]) -> list[LoggedEvent]:
        """The events with these numbers that are stored (now), in seq order."""

    @abstractmethod
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        """Store deliveries; one already stored for the same (subscription, event) is left as it is.
        Returns how many were new."""

    @abstractmethod
    def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        """Take up to *limit* pending deliveries due by *now* that nobody holds, until *lease_until*.

        Only the oldest pending delivery of each (subscription, order) is due: a subscriber hears an
        order's stages in the order they happened, even when one of them needs retries."""

    @abstractmethod
    def record(self, outcomes: Sequence[Delivery]) -> None:
        """Store how tries went: each delivery's state, attempts, next try, last status and error
        (and it is no longer held)."""

    @abstractmethod
    def retry_failed(self, subscription_id: int | None, at: datetime) -> int:
        """Failed deliveries (of one subscription, or all) are due again now; how many."""

    @abstractmethod
    def deliveries(self, subscription_id: int, states: Sequence[DeliveryState], limit: int) -> list[Delivery]:
        """The subscription's deliveries in *states*, oldest first."""

    @abstractmethod
    def stats(self) -> list[SubscriptionStats]:
        """Per subscription: what is waiting, failing, failed and delivered."""
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
    changes: ChangeLog  # read at the centre
    sync_state: SyncBookkeeping
    stock: StockLedger
    manifests: ManifestRepository
    label_requests: LabelRequestRepository
    photos: PhotoRepository
    leases: LeaseRepository
    api_clients: ApiClientRepository
    idempotency: IdempotencyRepository
    inbox: WebhookInbox
    shop_orders: ShopOrderRefs
    status_push: StatusPushRepository
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
    "Answer", "ApiClientRepository", "BatchRejected", "Blocker", "CatalogRepository", "CentralInbox",
    "CentralLedger", "CentralOutbox", "Change", "ChangeLog", "Claim", "Clock", "Conflict", "ConflictRecord",
    "Credentials", "EventApplier", "EventLog", "Gap", "HeldLease", "IdempotencyRepository", "ImportedState",
    "LabelRequestRepository", "Lease", "LeaseRepository", "LedgerEntry", "LoggedEvent", "ManifestRepository",
    "NumberSeries", "OrderRepository", "OutboxEvent", "PhotoRepository", "PrintJobRepository", "PushCursor",
    "Refused", "ReturnFact", "ReturnRepository", "ScanRecord", "ShipmentRepository", "ShopOrderRefs",
    "StationProgress", "StationRepository", "StationSeat", "StatusPushRepository", "StockLedger", "StockMovement",
    "StorageError", "SubscriptionStats", "SyncBookkeeping", "SyncState", "UnitOfWork", "UnitOfWorkFactory",
    "UserRepository", "WebhookInbox",
    "BatchState", "ImportBatch", "ImportBatchRepository", "ImportStaging", "StagedRecord", "StagingFactory",
    "CatalogRepository", "Claim", "Clock", "Conflict", "Credentials", "EventLog", "ImportedState",
    "NumberSeries", "OrderRepository", "PrintJobRepository", "ReturnRepository", "ScanRecord", "ShipmentRepository",
    "StationRepository", "StationSeat", "StorageError", "UnitOfWork", "UnitOfWorkFactory", "UserRepository",
]
