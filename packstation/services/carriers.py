"""Carriers: the port a carrier account is reached through, and the use cases around labels and tracking.

A carrier account (``[carriers.<CODE>]`` in the config) is a :class:`CarrierPort`: create a
shipment for a sealed carton (its label and tracking number), void it, close the day's manifest
(where the carrier has an end-of-day close), track parcels. ``adapters.carriers`` implements it
through karrio, and as a simulated carrier for the demo and the tests. An order whose carrier
has no account gets our own SSCC label (as before); an order that came with a marketplace label
(``label_zpl`` / ``label_url``) prints that one.

**At the seal** (:func:`label_for_seal`, called by ``packing`` before the seal's transaction, with
no transaction open) the carrier is asked once, within the account's ``timeout_s``; its label
becomes a print job in the seal's transaction. The window asks it on a worker thread
(``packing.PendingSeal``; :func:`asks_carrier` says whether a seal will wait on the network).
A carrier that fails or does not answer never blocks packing: the carton is sealed all the same,
a :class:`~packstation.domain.shipping.LabelRequest` is written in the seal's transaction, the band
says LABEL NOT CREATED with the carrier's reason, and the label worker (:func:`retry_labels`) asks
again (15 s doubling to 10 min) until the label prints; the lead view lists what waits. After a
failure the next seals for that carrier within a minute do not wait for it again (they go straight
to the retry queue), so one packer waits, not every packer.

**Tracking** (:func:`poll_tracking`, for a worker): asks each account for the parcels it carries
that are handed over or in transit, and for the return parcels of its initiated returns, no more
often than the account allows, and moves orders on through the lifecycle and those returns to
*picked* (never backwards, a status seen again changes nothing).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from packstation.domain.documents import Address as DocAddress
from packstation.domain.identity import ActorKind, Permission, Role, Session
from packstation.domain.lifecycle import OrderStatus, ReturnStatus, TransitionRefused
from packstation.domain.model import Address, Order
from packstation.domain.packing import Carton, PackSession
from packstation.domain.print_jobs import PrintJob
from packstation.domain.shipping import LabelRequest, LabelRequestStatus, retry_delay_s
from packstation.services.context import Context, record
from packstation.services.lifecycle import change_return_status, change_status
from packstation.services.ports import StorageError

if TYPE_CHECKING:
    from packstation.services.ports import UnitOfWork

log = logging.getLogger(__name__)

MARKETPLACE = "marketplace"  # the label request "carrier" of a label the order's record points to


class CarrierError(Exception):
    """The carrier refused or could not be reached; the message is the carrier's reason."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class CarrierTimeout(CarrierError):
    """The carrier did not answer within the account's timeout."""


@dataclass(frozen=True)
class Parcel:
    weight_g: int
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0


@dataclass(frozen=True)
class ShipmentRequest:
    """What a carrier needs to label one carton."""

    order_id: str
    carton_seq: int
    sscc: str
    carrier: str  # the order's carrier as it came in ("DHL")
    service: str  # the order's service ("Paket")
    ship_from: DocAddress
    ship_to: Address
    recipient_email: str
    recipient_phone: str
    parcel: Parcel
    label_format: str = "ZPL"  # ZPL or PDF: what the station's label printer takes
    cod_amount: Decimal | None = None
    currency: str = ""
    label_url: str | None = None  # a marketplace's label, fetched rather than created

    @property
    def reference(self) -> str:
        return f"{self.order_id}/{self.carton_seq}"


@dataclass(frozen=True)
class CreatedLabel:
    tracking_number: str
    shipment_id: str
    label: bytes
    label_format: str  # ZPL or PDF


@dataclass(frozen=True)
class TrackingUpdate:
    tracking_number: str
    status: OrderStatus | None  # IN_TRANSIT or DELIVERED; None: nothing that moves an order
    at: datetime | None
    description: str = ""
    code: str = ""


@dataclass(frozen=True)
class CarrierClose:
    reference: str  # the carrier's id of the closed manifest / day


class CarrierPort(ABC):
    """One carrier account."""

    code: str  # the config code (``DHL``)
    connector: str  # ``dhl_parcel_de``, ``simulated``, ...
    supports_close: bool = False
    min_poll_interval_s: float = 900.0  # tracking: at most one request this often
    track_batch: int = 20  # tracking numbers per request

    @abstractmethod
    def create_shipment(self, request: ShipmentRequest) -> CreatedLabel:
        """A label and tracking number for one carton; raises CarrierError / CarrierTimeout."""

    @abstractmethod
    def void(self, shipment_id: str) -> None:
        """Cancel a shipment (its label is not used); raises CarrierError."""

    def close_manifest(self, shipment_ids: list[str], tracking_numbers: list[str]) -> CarrierClose | None:
        """The carrier's end-of-day close for these shipments; None where the carrier has none."""
        return None

    @abstractmethod
    def track(self, tracking_numbers: list[str]) -> list[TrackingUpdate]:
        """The latest known status of each parcel (those the carrier knows)."""


@dataclass
class Carriers:
    """The station's carrier accounts by code (matched without regard to case)."""

    accounts: dict[str, CarrierPort] = field(default_factory=dict)
    marketplace: CarrierPort | None = None  # fetches labels from a marketplace's URL
    breaker_s: float = 60.0  # after a failure, seals skip the carrier for this long
    _failed_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def for_carrier(self, carrier: str) -> CarrierPort | None:
        return self.accounts.get(carrier.strip().upper())

    def codes(self) -> list[str]:
        return sorted(self.accounts)

    def tripped(self, code: str, now: float | None = None) -> bool:
        with self._lock:
            at = self._failed_at.get(code)
        return at is not None and (now or time.monotonic()) - at < self.breaker_s

    def note(self, code: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failed_at.pop(code, None)
            else:
                self._failed_at[code] = time.monotonic()


# --- at the seal ----------------------------------------------------------------------------


@dataclass
class SealLabel:
    """What the carrier side decided for a carton being sealed."""

    carrier: str  # the account code, or "marketplace"
    job: PrintJob | None = None  # the carrier's (or marketplace's) label, to print in the seal's transaction
    created: CreatedLabel | None = None
    request: LabelRequest | None = None  # no label yet: retried
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.request is not None


def shipment_request(ctx: Context, order: Order, carton: Carton, *, label_url: str | None = None) -> ShipmentRequest:
    assert ctx.documents is not None and carton.sscc is not None
    ct = carton.type
    cod = order.cod_amount
    return ShipmentRequest(
        order_id=order.order_id, carton_seq=carton.seq, sscc=carton.sscc, carrier=order.carrier, service=order.service,
        ship_from=ctx.documents.ship_from, ship_to=order.ship_to, recipient_email=order.customer_email,
        recipient_phone=order.customer_phone,
        parcel=Parcel(carton.measured_g or carton.expected_g or 0, ct.inner_l_mm, ct.inner_w_mm, ct.inner_h_mm),
        label_format=ctx.documents.carrier_label_format, cod_amount=cod, currency=order.currency if cod else "",
        label_url=label_url,
    )


def _source(ctx: Context, pack: PackSession, carton: Carton) -> tuple[str, CarrierPort | None] | None:
    """Who makes this carton's label: the marketplace's (once per order), a carrier account, or us
    (None; also a station that prints nothing)."""
    if ctx.documents is None:
        return None
    order = pack.order
    has_market_label = any(c.label_carrier == MARKETPLACE for c in pack.cartons if c.seq != carton.seq)
    if (order.label_zpl or order.label_url) and not has_market_label:
        return MARKETPLACE, ctx.carriers.marketplace if ctx.carriers else None
    if ctx.carriers is None:
        return None
    account = ctx.carriers.for_carrier(order.carrier)
    return (account.code, account) if account is not None else None


def asks_carrier(ctx: Context, pack: PackSession, carton: Carton) -> str | None:
    """The account :func:`label_for_seal` would ask over the network for *carton*'s label, or None
    when it would not wait on anyone (our own label, a marketplace's ZPL in the order, no way to
    fetch it, or the account failed a moment ago). The window asks those off its own thread."""
    source = _source(ctx, pack, carton)
    if source is None:
        return None
    code, account = source
    if account is None or (code == MARKETPLACE and pack.order.label_zpl):
        return None
    assert ctx.carriers is not None
    return None if ctx.carriers.tripped(code) else code


def label_for_seal(ctx: Context, pack: PackSession, carton: Carton) -> SealLabel | None:
    """The carrier's label for *carton* as sealed (*pack* and *carton* show the state after the seal).

    None: no carrier account and no marketplace label, our own SSCC label prints. Otherwise a
    print job of the carrier's label, or a label request when the carrier failed (the carton
    is sealed all the same). *carton* gets the tracking number, carrier and shipment id.
    """
    source = _source(ctx, pack, carton)
    if source is None:
        return None
    code, account = source
    order = pack.order
    if code == MARKETPLACE and order.label_zpl:
        created = CreatedLabel(order.tracking_number or "", "", order.label_zpl.encode("utf-8"), "ZPL")
        return _created(ctx, code, order, carton, created)
    request = shipment_request(ctx, order, carton, label_url=order.label_url if code == MARKETPLACE else None)
    if account is None:
        return _deferred(ctx, code, order, carton, "no way to fetch the marketplace's label is set up")
    assert ctx.carriers is not None
    if ctx.carriers.tripped(code):
        return _deferred(ctx, code, order, carton, f"{code} failed a moment ago: the label is asked for in the background")
    try:
        created = account.create_shipment(request)
    except CarrierError as exc:
        ctx.carriers.note(code, ok=False)
        log.warning("carrier %s: no label for %s: %s", code, request.reference, exc)
        return _deferred(ctx, code, order, carton, str(exc))
    ctx.carriers.note(code, ok=True)
    if code == MARKETPLACE and order.tracking_number:
        created = replace(created, tracking_number=order.tracking_number)
    return _created(ctx, code, order, carton, created)


def _created(ctx: Context, code: str, order: Order, carton: Carton, created: CreatedLabel) -> SealLabel:
    assert ctx.documents is not None and carton.sscc is not None
    carton.tracking_number = created.tracking_number or carton.tracking_number
    carton.label_carrier, carton.shipment_id = code, created.shipment_id or None
    job = ctx.documents.carrier_label(order.order_id, carton.sscc, created.label, created.label_format, reason="sealed")
    return SealLabel(code, job=job, created=created)


def _deferred(ctx: Context, code: str, order: Order, carton: Carton, error: str) -> SealLabel:
    assert carton.sscc is not None
    now = ctx.clock()
    carton.label_carrier = code
    request = LabelRequest(id=str(uuid.uuid4()), order_id=order.order_id, carton_seq=carton.seq, sscc=carton.sscc,
                           carrier=code, station_id=ctx.station_id, status=LabelRequestStatus.FAILED, attempts=1,
                           error=error, next_try_at=now + timedelta(seconds=retry_delay_s(1)), created_at=now,
                           updated_at=now)
    return SealLabel(code, request=request, error=error)


def deferred_label(ctx: Context, code: str, order: Order, carton: Carton, error: str) -> SealLabel:
    """No label now (*error* says why): a label request the label worker retries."""
    return _deferred(ctx, code, order, carton, error)


def label_event(label: SealLabel, carton: Carton) -> tuple[str, dict[str, Any]]:
    """The event kind and payload that record what the carrier did for *carton* at the seal."""
    if label.request is not None:
        return "carton.label_failed", {"seq": carton.seq, "sscc": carton.sscc, "carrier": label.carrier,
                                       "request": label.request.id, "reason": label.error,
                                       "retry_at": label.request.next_try_at, "attempts": 1}
    assert label.created is not None
    return "carton.label_created", {"seq": carton.seq, "sscc": carton.sscc, "carrier": label.carrier,
                                    "tracking_number": carton.tracking_number, "shipment_id": carton.shipment_id,
                                    "format": label.created.label_format}


def void_quietly(ctx: Context, label: SealLabel | None) -> None:
    """A label was created but the seal was not stored: cancel the shipment (best effort)."""
    if label is None or label.created is None or not label.created.shipment_id or ctx.carriers is None:
        return
    account = ctx.carriers.for_carrier(label.carrier)
    if account is None:
        return
    try:
        account.void(label.created.shipment_id)
    except CarrierError as exc:
        log.warning("could not void shipment %s at %s: %s", label.created.shipment_id, label.carrier, exc)


# --- the label worker -----------------------------------------------------------------------


@dataclass(frozen=True)
class LabelResult:
    request: LabelRequest
    tracking_number: str = ""
    error: str = ""
    job_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def message(self) -> str:
        what = f"Carton {self.request.sscc} (order {self.request.order_id})"
        if self.error:
            return f"{what}: LABEL NOT CREATED by {self.request.carrier}: {self.error}. Asked again later."
        return f"{what}: {self.request.carrier} label created (tracking {self.tracking_number}), printing."


def _load_pack(uow: UnitOfWork, order_id: str) -> PackSession | None:
    order = uow.orders.get(order_id)
    if order is None:
        return None
    products = uow.catalog.products(line.sku for line in order.lines)
    types = {ct.code: ct for ct in uow.catalog.carton_types()}
    return PackSession(order=order, products=products, cartons=uow.shipments.cartons(order_id, types))


def resume_labels(ctx: Context, session: Session) -> list[LabelRequest]:
    """At start: requests a stopped station was asking the carrier about are asked again."""
    with ctx.uow() as uow:
        found = uow.label_requests.interrupt_working(ctx.station_id, ctx.clock())
        for req in found:
            record(uow, ctx, session, "label.interrupted", req.order_id, {"request": req.id, "sscc": req.sscc})
        uow.commit()
    return found


def retry_labels(ctx: Context, session: Session, *, limit: int = 20) -> list[LabelResult]:
    """Ask the carriers again for this station's labels that are due; print those that come."""
    with ctx.uow(readonly=True) as uow:
        due = uow.label_requests.due(ctx.station_id, ctx.clock(), limit)
    return [r for req in due if (r := retry_label(ctx, session, req.id)) is not None]


def retry_label(ctx: Context, session: Session, request_id: str) -> LabelResult | None:
    """One label request: claim it, ask the carrier (no database transaction open meanwhile), store."""
    with ctx.uow() as uow:
        req = uow.label_requests.get(request_id)
        if req is None or not uow.label_requests.start(request_id, ctx.clock()):
            return None
        pack = _load_pack(uow, req.order_id)
        uow.commit()
    carton = next((c for c in pack.cartons if c.seq == req.carton_seq), None) if pack else None
    if pack is None or carton is None or pack.order.status is OrderStatus.CANCELLED:
        with ctx.uow() as uow:
            uow.label_requests.finish(req.id, LabelRequestStatus.CANCELLED, "the order was cancelled", None, ctx.clock())
            record(uow, ctx, session, "label.cancelled", req.order_id, {"request": req.id, "sscc": req.sscc})
            uow.commit()
        return LabelResult(req, error="the order was cancelled: no label")
    label: SealLabel | None = None
    error = ""
    try:
        label = _ask(ctx, pack, carton, req)
    except CarrierError as exc:
        error = str(exc) or exc.__class__.__name__
    except Exception as exc:  # noqa: BLE001 - a bug must not leave the request 'working' for ever
        log.exception("label request %s failed", req.id)
        error = f"unexpected error: {exc!r}"
    now = ctx.clock()
    if label is None or label.job is None:
        attempts = req.attempts + 1
        retry_at = now + timedelta(seconds=retry_delay_s(attempts))
        with ctx.uow() as uow:
            uow.label_requests.finish(req.id, LabelRequestStatus.FAILED, error, retry_at, now)
            record(uow, ctx, session, "carton.label_failed", req.order_id,
                   {"seq": req.carton_seq, "sscc": req.sscc, "carrier": req.carrier, "request": req.id,
                    "reason": error, "retry_at": retry_at, "attempts": attempts})
            uow.commit()
        if ctx.carriers is not None:
            ctx.carriers.note(req.carrier, ok=False)
        return LabelResult(req, error=error)
    from packstation.services import printing

    try:
        with ctx.uow() as uow:
            uow.shipments.save_carton(req.order_id, carton, now)
            kind, payload = label_event(label, carton)
            record(uow, ctx, session, kind, req.order_id, {**payload, "request": req.id, "attempts": req.attempts + 1})
            job = printing.add_job(uow, ctx, session, label.job)
            uow.label_requests.finish(req.id, LabelRequestStatus.DONE, "", None, now)
            uow.commit()
    except StorageError:
        void_quietly(ctx, label)
        raise
    if ctx.carriers is not None:
        ctx.carriers.note(req.carrier, ok=True)
    if ctx.documents is not None:
        ctx.documents.wake()
    return LabelResult(req, tracking_number=carton.tracking_number or "", job_id=job.id)


def _ask(ctx: Context, pack: PackSession, carton: Carton, req: LabelRequest) -> SealLabel:
    order = pack.order
    if req.carrier == MARKETPLACE:
        if order.label_zpl:
            return _created(ctx, MARKETPLACE, order, carton, CreatedLabel(order.tracking_number or "", "",
                                                                           order.label_zpl.encode("utf-8"), "ZPL"))
        account = ctx.carriers.marketplace if ctx.carriers else None
    else:
        account = ctx.carriers.for_carrier(req.carrier) if ctx.carriers else None
    if account is None:
        raise CarrierError(f"no carrier account {req.carrier} in this station's config", retryable=True)
    created = account.create_shipment(shipment_request(ctx, order, carton,
                                                       label_url=order.label_url if req.carrier == MARKETPLACE else None))
    if req.carrier == MARKETPLACE and order.tracking_number:
        created = replace(created, tracking_number=order.tracking_number)
    return _created(ctx, req.carrier, order, carton, created)


def waiting_labels(ctx: Context, session: Session) -> list[LabelRequest]:
    """Carrier labels not created yet, from this station's database (the lead view): every bench on it; a
    synced bench lists its own, which it is the one to ask for again (the centre keeps a copy)."""
    ctx.auth.require(session, Permission.PACK, "The carrier-label list")
    with ctx.uow(readonly=True) as uow:
        return uow.label_requests.waiting()


def retry_now(ctx: Context, session: Session, request_id: str) -> LabelResult | None:
    """A lead asks the carrier again at once (instead of waiting for the next try)."""
    ctx.auth.require(session, Permission.APPROVE, "Asking a carrier again")
    return retry_label(ctx, session, request_id)


# --- tracking ---------------------------------------------------------------------------------


@dataclass
class TrackingPoller:
    """State of the tracking poll across calls: when each account was last asked, what each parcel
    last said. One per station (or per centre); :func:`poll_tracking` uses it."""

    last_asked: dict[str, float] = field(default_factory=dict)  # account -> monotonic time
    seen: dict[str, OrderStatus] = field(default_factory=dict)  # tracking number -> furthest status seen
    clock: Callable[[], float] = time.monotonic

    cursor: dict[str, str] = field(default_factory=dict)  # account -> the last tracking number asked about

    def next_batch(self, code: str, numbers: list[str], size: int) -> list[str]:
        """The next *size* of the sorted *numbers* after the last one asked about (wrapping round),
        so every parcel is asked about in turn however many there are. (:meth:`asked` moves on
        once the carrier answered: a batch whose request failed is the next one again.)"""
        after = self.cursor.get(code)
        start = next((i for i, n in enumerate(numbers) if after is None or n > after), 0)
        return (numbers[start:] + numbers[:start])[:max(1, size)]

    def asked(self, code: str, batch: list[str]) -> None:
        if batch:
            self.cursor[code] = batch[-1]

    def due(self, code: str, min_interval_s: float) -> bool:
        """May account *code* be asked now (its rate limit: once per *min_interval_s*)?"""
        last = self.last_asked.get(code)
        return last is None or self.clock() - last >= min_interval_s


def carrier_session(ctx: Context, code: str) -> Session:
    """The session a carrier's tracking feed acts with (``carrier:DHL``)."""
    return ctx.auth.system(ActorKind.CARRIER, code, Role.ADMIN)


def poll_tracking(ctx: Context, poller: TrackingPoller, *, accounts: Iterable[str] | None = None) -> list[str]:
    """Ask every carrier account (whose rate limit allows it now) about its parcels on the way and
    move their orders on. Returns the event ids written. For a worker: call it every few seconds;
    it asks each account at most once per ``min_poll_interval_s``.

    An order is *in transit* once any of its parcels is, and *delivered* once every one of them
    is. A status never moves an order backwards, and one seen before changes nothing.
    """
    if ctx.carriers is None:
        return []
    uow_factory = ctx.central or ctx.uow
    written: list[str] = []
    for code in list(accounts or ctx.carriers.codes()):
        account = ctx.carriers.accounts.get(code)
        if account is None:
            continue
        if not poller.due(code, account.min_poll_interval_s):
            continue
        now = poller.clock()
        with uow_factory(readonly=True) as uow:
            parcels = uow.manifests.on_the_way(code)
            awaiting = uow.returns.awaiting_pickup(code)  # return parcels the customer is to hand in
        if not parcels and not awaiting:
            poller.last_asked[code] = now
            continue
        numbers = sorted({p[2] for p in parcels} | {number for _rma, number in awaiting})
        batch = poller.next_batch(code, numbers, account.track_batch)
        updates: dict[str, TrackingUpdate] = {}
        # one request per round: the rate limit counts requests (more parcels than a batch are
        # asked about in turn, round after round; an order's other parcels keep what they said)
        poller.last_asked[code] = poller.clock()
        try:
            for update in account.track(batch):
                updates[update.tracking_number] = update
            poller.asked(code, batch)
        except CarrierError as exc:
            log.warning("tracking at %s failed: %s", code, exc)
        written += _apply_tracking(ctx, uow_factory, code, parcels, updates, poller)
        written += _apply_return_tracking(ctx, uow_factory, code, awaiting, updates)
    return written


def _apply_return_tracking(ctx: Context, uow_factory: Any, code: str, awaiting: list[tuple[str, str]],
                           updates: dict[str, TrackingUpdate]) -> list[str]:
    """Initiated returns whose parcel the carrier has (collected, on the way, even delivered to the
    warehouse) become *picked*; *received* is the returns desk's, when the items are counted in."""
    session = carrier_session(ctx, code)
    written = []
    for rma_id, number in awaiting:
        update = updates.get(number)
        if update is None or update.status is None:
            continue  # not handed in yet (or a status that says nothing about where it is)
        try:
            with uow_factory() as uow:
                ret = uow.returns.get(rma_id)
                if ret is None or ret.status is not ReturnStatus.INITIATED:
                    continue  # never backwards; a repeat changes nothing
                event = change_return_status(uow, ctx, session, ret, ReturnStatus.PICKED, source="carrier",
                                             carrier=code, tracking_number=number, tracking_status=update.status.value,
                                             at=update.at, description=update.description)
                uow.commit()
        except (TransitionRefused, StorageError) as exc:
            log.warning("tracking: return %s not moved to picked: %s", rma_id, exc)
            continue
        if event is not None:
            written.append(event)
    return written


def _apply_tracking(ctx: Context, uow_factory: Any, code: str, parcels: list[tuple[str, OrderStatus, str]],
                    updates: dict[str, TrackingUpdate], poller: TrackingPoller) -> list[str]:
    session = carrier_session(ctx, code)
    by_order: dict[str, list[str]] = {}
    for order_id, _status, number in parcels:
        by_order.setdefault(order_id, []).append(number)
    written = []
    for order_id, numbers in by_order.items():
        states = []
        for number in numbers:
            update = updates.get(number)
            best = poller.seen.get(number)
            if update is not None and update.status is not None and (best is None or update.status.stage > best.stage):
                poller.seen[number] = best = update.status
            states.append(best)
        if all(s is OrderStatus.DELIVERED for s in states):
            target = OrderStatus.DELIVERED
        elif any(s is not None for s in states):
            target = OrderStatus.IN_TRANSIT
        else:
            continue
        latest = max((u for n in numbers if (u := updates.get(n)) is not None and u.status is not None),
                     key=lambda u: u.status.stage if u.status else -1, default=None)
        try:
            with uow_factory() as uow:
                claim = uow.orders.hold(order_id)
                if claim.status.stage >= target.stage or claim.status is OrderStatus.CANCELLED:
                    continue  # never backwards; a repeat changes nothing
                written.append(change_status(
                    uow, ctx, session, order_id, claim.status, target, source="carrier", carrier=code,
                    tracking_number=latest.tracking_number if latest else numbers[0],
                    at=latest.at if latest and latest.at else None, description=latest.description if latest else ""))
                uow.commit()
        except (TransitionRefused, StorageError, KeyError) as exc:
            log.warning("tracking %s for %s not applied: %s", target.value, order_id, exc)
    return written


def decode_label(data: str | bytes) -> bytes:
    """A carrier's label as bytes: raw ZPL text as some APIs send it, else base64."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if raw.lstrip()[:3].upper() in (b"^XA", b"~DG", b"%PD"):  # ZPL, a ZPL graphic download, or a PDF
        return raw
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise CarrierError(f"the carrier sent a label that is neither base64 nor ZPL ({exc})", retryable=False) from exc


__all__ = [
    "MARKETPLACE", "CarrierClose", "CarrierError", "CarrierPort", "CarrierTimeout", "Carriers", "CreatedLabel",
    "LabelResult", "Parcel", "SealLabel", "ShipmentRequest", "TrackingPoller", "TrackingUpdate", "asks_carrier",
    "carrier_session", "decode_label", "deferred_label", "label_event", "label_for_seal", "poll_tracking", "resume_labels", "retry_label",
    "retry_labels", "retry_now", "shipment_request", "void_quietly", "waiting_labels",
]
