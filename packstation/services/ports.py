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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

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
    def admit(self, token_hash: str, at: datetime) -> Admission:
        """One request with this token: refill the client's bucket and take one, in one atomic step.

        Several API servers share the bucket (it is in the database): a client gets its rate in
        total, not per server. Unknown or revoked tokens give ``Admission(client=None)``."""


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

    @property
    def failing(self) -> bool:
        return self.failed > 0 or self.failing_since is not None


class StatusPushRepository(ABC):
    """Subscriptions, their deliveries, and the outbox reader's cursor over the event log."""

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
    api_clients: ApiClientRepository
    idempotency: IdempotencyRepository
    inbox: WebhookInbox
    shop_orders: ShopOrderRefs
    status_push: StatusPushRepository

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
    "ApiClientRepository", "IdempotencyRepository", "LoggedEvent", "PushCursor", "ShopOrderRefs",
    "StatusPushRepository", "SubscriptionStats", "WebhookInbox",
    "CatalogRepository", "Claim", "Clock", "Conflict", "Credentials", "EventLog", "ImportedState",
    "NumberSeries", "OrderRepository", "PrintJobRepository", "ReturnRepository", "ScanRecord", "ShipmentRepository",
    "StationRepository", "StationSeat", "StorageError", "UnitOfWork", "UnitOfWorkFactory", "UserRepository",
]
