"""How the centre applies a station's events: one applier per event kind.

The station already decided and committed each change; its event says what changed, completely
enough to do the same change here. An applier does it on the central unit of work's repositories
(the same ports the station's use cases use) and through ``services.lifecycle.change_status``, so
the centre's order follows the same lifecycle. An applier first checks, then writes: when the
centre's truth no longer allows the change it raises :class:`Refused` naming why (the lease was
taken over, the order was cancelled, a serial left with another order, the lifecycle does not
allow the step). It runs inside a savepoint, so nothing of a refused event stays anyway.

Kinds:

- ``order.<status>`` (packing, packed, cancelled, ...): ``change_status`` from the centre's current
  status; the same status already is a no-op. ``order.packed`` also drops the empty open cartons
  (as the bench does), frees the claim and the lease.
- ``order.put_back``: frees the claim and the lease. ``order.claim_released`` (a lead's release):
  frees the lease if the released station holds it (no fence check: it is the lead's override).
- ``order.short_shipped``: the short quantities per line.
- ``carton.opened`` / ``changed`` / ``blocked`` / ``closed`` / ``overridden``: the cartons.
- ``scan.recorded``: the item into its carton on the order's line of that SKU, the line's count,
  and a ``packed`` stock movement out of the lot's (else the product's) location.
  ``scan.undone``: taken back, with an ``unpacked`` movement back in.
- ``carton.label_created``: the carton's tracking number, label carrier and shipment id (what the
  dock loads by, the manifest lists, the carrier's close and tracking need); its label request,
  if the centre has one, is done. ``carton.label_failed``: the centre's copy of the station's label
  request (its attempts, the carrier's reason, the next try), so the centre's dock refuses the
  carton (NO CARRIER LABEL YET) until a ``carton.label_created`` comes. ``label.cancelled``: the
  request is cancelled. None of them is fenced or needs a packable order: a carrier's label is a
  fact about a carton sealed there (it comes after ``order.packed`` when a retry made it), whoever
  holds the order now; the carton must be at the centre with the same SSCC. A finished request
  stays finished and a created label stays: a late report of an earlier failure changes nothing.
- ``order.received`` of a replacement order a returns desk made (``replacement_for`` and the whole
  ``record`` in its payload): the order is created here as the desk created it (the import's
  validation), so every station pulls it and any bench can claim and pack it; made already with
  the same contents is a no-op. Any other ``order.received`` (an import's arrival record) is audit only.
- audit only (stored, nothing else): ``order.claimed``, ``order.updated``,
  ``scan.refused``, ``label.reprinted``, ``print.*``, ``user.*``, ``import.*``, ``return.*``,
  ``station.started``, ``conflict.resolved``; and every kind this version does not know (a newer
  station's events are kept, applied as far as this version understands them: forward compatible).

Fencing: every applier that changes an order checks the event's ``fence`` against the centre's
lease on it: a lease with another token (taken over meanwhile), a lease the event had no token
for, or a token without a lease is refused. Only an event without a token on an order without a
lease passes unchecked (a station without leases, or its history from before it had a centre).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from packstation.domain.events import Event
from packstation.domain.identity import Session
from packstation.domain.lifecycle import OrderStatus, TransitionRefused, describe, order_transition
from packstation.domain.model import CartonType, Order, OrderLine
from packstation.domain.packing import Carton, CartonStatus, PackedItem
from packstation.domain.shipping import LabelRequest, LabelRequestStatus
from packstation.services import returns_replay
from packstation.services.context import Context
from packstation.services.imports import RecordError, new_order, validate_order_record
from packstation.services.lifecycle import change_status
from packstation.services.ports import (
    CentralLedger,
    Claim,
    Conflict,
    EventLog,
    Lease,
    LedgerEntry,
    OutboxEvent,
    Refused,
    SyncState,
    UnitOfWork,
)

AUDIT_KINDS = frozenset({"order.claimed", "order.updated", "scan.refused", "label.reprinted",
                         "station.started", "conflict.resolved"})
AUDIT_PREFIXES = ("print.", "user.", "import.")
# order.<status> kinds that are lifecycle steps (order.received is the import's arrival record)
_STEPS = {f"order.{s.value}": s for s in OrderStatus if s is not OrderStatus.RECEIVED}


def is_audit(kind: str) -> bool:
    return kind in AUDIT_KINDS or kind.startswith(AUDIT_PREFIXES)


class Appliers:
    """The ``EventApplier`` of a push: ``appliers(uow, ledger, event, centre_now)``.

    *ctx* is the pushing station's context (its clock is replaced by the centre's while applying:
    what the centre stores as "updated at" is the centre's time); *session* the pushing worker's.
    """

    def __init__(self, ctx: Context, session: Session):
        self.ctx = ctx
        self.session = session
        self._at: tuple[datetime, Context] | None = None

    def context(self, now: datetime) -> Context:
        if self._at is None or self._at[0] != now:
            self._at = (now, replace(self.ctx, clock=lambda: now))
        return self._at[1]

    def __call__(self, uow: UnitOfWork, ledger: CentralLedger, event: OutboxEvent, now: datetime) -> None:
        kind = event.event.kind
        if kind in returns_replay.APPLIERS:  # the returns desk's events (idempotent, payloads complete)
            try:
                returns_replay.apply(uow, event.event)
            except returns_replay.Refused as exc:
                raise Refused(str(exc), {}) from exc
            return
        handler = _HANDLERS.get(kind)
        if handler is None:
            step = _STEPS.get(kind)
            if step is None:
                return  # audit only, or a kind this version does not know: stored as it is
            handler = _lifecycle(step)
        job = _Job(uow, ledger, event, self.context(now), self.session)
        try:
            handler(job)
        except Refused:
            raise
        except TransitionRefused as exc:
            raise Refused(f"{exc} (at the central database)") from exc
        except (KeyError, ValueError, TypeError) as exc:  # a payload this version cannot read
            raise Refused(f"The central database cannot read this {kind} event ({exc.__class__.__name__}: {exc}).",
                          {"payload": event.event.payload}) from exc


class _Job:
    """One event being applied: what every applier needs, and the checks they share."""

    def __init__(self, uow: UnitOfWork, ledger: CentralLedger, event: OutboxEvent, ctx: Context, session: Session):
        self.uow, self.ledger, self.ob, self.ctx, self.session = uow, ledger, event, ctx, session
        self.ev: Event = event.event
        self.p: dict[str, Any] = event.event.payload
        if self.ev.order_id is None:
            raise Refused(f"A {self.ev.kind} event must name its order; this one names none.")
        self.order_id: str = self.ev.order_id
        self.at: datetime = self.ev.occurred_at or ctx.clock()
        self.who: str = self.ev.user or self.ev.actor

    # --- checks ------------------------------------------------------------------------------
    def claim(self) -> Claim:
        try:
            return self.uow.orders.hold(self.order_id)
        except KeyError:
            raise Refused(f"Order {self.order_id} is not known at the central database (it was never imported "
                          "there).", {"order": None}) from None

    def fence(self) -> Lease | None:
        """The centre's lease, if the event's fencing token agrees with it; else refuse."""
        lease = self.ledger.lease(self.order_id)
        token = self.ob.fence
        what = f"{self.ev.kind} of {self.ev.station_id}"
        if lease is None:
            if token is None:
                return None
            raise Refused(f"Order {self.order_id}: {what} was done under lease token {token}, but the central "
                          "database has no lease on the order.", {"lease": None})
        if token == lease.token:
            return lease
        holder = f"held by {lease.station_id}" if lease.station_id else "free"
        if token is None:
            raise Refused(f"Order {self.order_id}: {what} was done without a lease, while the central database "
                          f"leases the order (token {lease.token}, {holder}).", {"lease": lease_json(lease)})
        raise Refused(f"Order {self.order_id} was taken over: {what} was done under lease token {token}, the "
                      f"central lease now has token {lease.token} ({holder}).", {"lease": lease_json(lease)})

    def packable(self) -> Claim:
        claim = self.claim()
        if not claim.status.packable:
            raise Refused(f"Order {self.order_id} {describe(claim.status)} at the central database: it cannot be "
                          "packed any more.", {"status": claim.status.value})
        return claim

    def order(self) -> Order:
        order = self.uow.orders.get(self.order_id)
        assert order is not None  # claim() found it
        return order

    def line(self, order: Order, sku: str, line_no: Any = None) -> OrderLine:
        lines = [ln for ln in order.lines if ln.sku == sku]
        if not lines:
            raise Refused(f"Order {self.order_id} has no line of {sku} at the central database.",
                          {"lines": [{"line_no": ln.line_no, "sku": ln.sku} for ln in order.lines]})
        if line_no is not None:
            for ln in lines:
                if ln.line_no == int(line_no):
                    return ln
        return next((ln for ln in lines if ln.remaining > 0), lines[0])

    def carton(self, seq: int) -> Carton:
        """The order's unsealed carton *seq*."""
        carton = self.uow.shipments.carton(self.order_id, seq)
        if carton is None:
            cartons = sorted(c.seq for c in self.uow.shipments.cartons(self.order_id, {}))
            raise Refused(f"Carton {seq} of order {self.order_id} is not at the central database.",
                          {"cartons": cartons})
        if not carton.is_open:
            raise Refused(f"Carton {seq} of order {self.order_id} is already sealed at the central database "
                          f"(SSCC {carton.sscc}).", {"carton": {"seq": seq, "status": carton.status.value,
                                                                "sscc": carton.sscc}})
        return carton

    def carton_type(self, code: str) -> CartonType:
        return self.uow.catalog.carton_type(code) or CartonType(code, code, 0)

    def location(self, sku: str, lot: str | None) -> str:
        if lot:
            for stock in self.uow.catalog.lots(sku):
                if stock.lot == lot:
                    return stock.location
        product = self.uow.catalog.products([sku]).get(sku)
        return product.location if product is not None else ""

    # --- writes --------------------------------------------------------------------------------
    def reopen_if_blocked(self, carton: Carton) -> None:
        """A scan into (or out of) a blocked carton opens it again: it must be weighed again (the bench
        does the same, without an event of its own)."""
        if carton.status is CartonStatus.BLOCKED:
            carton.status, carton.measured_g = CartonStatus.OPEN, None
            self.uow.shipments.save_carton(self.order_id, carton, self.at)

    def release_lease(self) -> None:
        lease = self.ledger.lease(self.order_id)
        if lease is not None and lease.station_id is not None:
            self.ledger.release_lease(self.order_id, lease.token)

    def move(self, sku: str, lot: str | None, qty: int, kind: str) -> None:
        self.ledger.add_movement(LedgerEntry(sku=sku, location=self.location(sku, lot), lot=lot or "", qty=qty,
                                               kind=kind, ref=self.order_id, event_id=self.ev.id,
                                               actor=self.ev.actor, at=self.at))


# --- the appliers --------------------------------------------------------------------------------


def _lifecycle(target: OrderStatus) -> Callable[[_Job], None]:
    def apply(job: _Job) -> None:
        job.fence()
        current = job.claim().status
        if current is target:
            return  # already so at the centre (another station's event got there first): nothing to change
        try:
            order_transition(current, target, order_id=job.order_id)
        except TransitionRefused as exc:
            raise Refused(f"{exc} (at the central database)", {"status": current.value}) from None
        if target is OrderStatus.PACKED:
            for carton in job.uow.shipments.cartons(job.order_id, {}):
                if carton.is_open and not carton.items:
                    job.uow.shipments.remove_carton(job.order_id, carton.seq)
            job.uow.orders.release(job.order_id)
            job.release_lease()
        try:
            change_status(_AtTheCentre(job.uow, job.ob), job.ctx, job.session, job.order_id, current, target)
        except Conflict as exc:
            raise Refused(str(exc), {"status": current.value}) from None

    return apply


def _put_back(job: _Job) -> None:
    job.fence()
    job.claim()
    job.uow.orders.release(job.order_id)
    job.release_lease()


def _claim_released(job: _Job) -> None:
    job.claim()
    job.uow.orders.release(job.order_id)
    lease = job.ledger.lease(job.order_id)
    if lease is not None and lease.station_id is not None and lease.station_id == job.p.get("from_station"):
        job.ledger.release_lease(job.order_id, lease.token)


def _short_shipped(job: _Job) -> None:
    job.fence()
    job.packable()
    order = job.order()
    reason = str(job.p.get("reason") or "")
    for entry in job.p["lines"]:
        sku, short = entry["sku"], int(entry["short"])
        line = job.line(order, sku)
        if line.remaining < short:
            raise Refused(f"Order {job.order_id}: {short} × {sku} short-shipped, but its line has {line.remaining} "
                          "left to pack at the central database.",
                          {"line": {"line_no": line.line_no, "qty": line.qty, "packed": line.packed,
                                    "short": line.short}})
        job.uow.orders.set_short(job.order_id, line.line_no, line.short + short, reason)
        line.short += short


def _carton_opened(job: _Job) -> None:
    job.fence()
    job.packable()
    seq = int(job.p["seq"])
    if any(c.seq == seq for c in job.uow.shipments.cartons(job.order_id, {})):
        raise Refused(f"Order {job.order_id} has a carton {seq} at the central database already.", {"carton": seq})
    job.uow.shipments.add_carton(job.order_id, Carton(seq=seq, type=job.carton_type(str(job.p["type"]))), job.who,
                                 job.ev.station_id, job.at)


def _carton_changed(job: _Job) -> None:
    job.fence()
    job.packable()
    carton = job.carton(int(job.p["seq"]))
    carton.type = job.carton_type(str(job.p["type"]))
    job.uow.shipments.save_carton(job.order_id, carton, job.at)


def _carton_blocked(job: _Job) -> None:
    job.fence()
    job.packable()
    carton = job.carton(int(job.p["seq"]))
    carton.status, carton.measured_g, carton.expected_g = (CartonStatus.BLOCKED, int(job.p["measured_g"]),
                                                           int(job.p["expected_g"]))
    job.uow.shipments.save_carton(job.order_id, carton, job.at)


def _carton_sealed(job: _Job) -> None:
    job.fence()
    job.packable()
    carton = job.carton(int(job.p["seq"]))
    carton.status, carton.measured_g, carton.expected_g = (CartonStatus.CLOSED, int(job.p["measured_g"]),
                                                           int(job.p["expected_g"]))
    carton.sscc = job.p.get("sscc")
    if job.ev.kind == "carton.overridden":
        carton.override_by = job.who
    job.uow.shipments.save_carton(job.order_id, carton, job.at)


def _scan_recorded(job: _Job) -> None:
    job.fence()
    job.packable()
    p = job.p
    sku, qty, lot, serial = str(p["sku"]), int(p["qty"]), p.get("lot"), p.get("serial")
    line = job.line(job.order(), sku, p.get("line_no"))
    if serial and job.uow.shipments.serial_shipped(sku, serial):
        raise Refused(f"Serial {serial} of {sku} is already packed for another order at the central database.",
                      {"serial": {"sku": sku, "serial": serial}})
    carton = job.carton(int(p["carton"]))
    item = PackedItem(scan_id=str(p["scan_id"]), line_no=line.line_no, sku=sku, qty=qty, carton_seq=carton.seq,
                      barcode=str(p.get("barcode") or ""), user=job.who, lot=lot,
                      expiry=date.fromisoformat(p["expiry"]) if p.get("expiry") else None, serial=serial,
                      source=str(p.get("source") or "wedge"))
    job.uow.shipments.add_item(job.order_id, item, job.ev.station_id, job.at)
    job.uow.orders.add_packed(job.order_id, line.line_no, qty)
    job.reopen_if_blocked(carton)
    job.move(sku, lot, -qty, "packed")


def _scan_undone(job: _Job) -> None:
    job.fence()
    job.packable()
    scan_id = str(job.p["scan_id"])
    record = next((r for r in job.uow.shipments.scans(job.order_id) if r.item.scan_id == scan_id), None)
    if record is None:
        raise Refused(f"Scan {scan_id} of order {job.order_id} is not at the central database.", {"scan": None})
    if record.undone_at is not None:
        raise Refused(f"Scan {scan_id} of order {job.order_id} was already taken back at the central database "
                      f"(by {record.undone_by}).", {"scan": {"undone_by": record.undone_by}})
    item = record.item
    carton = job.carton(item.carton_seq)
    job.uow.shipments.undo_item(item, job.who, job.at)
    job.uow.orders.add_packed(job.order_id, item.line_no, -item.qty)
    job.reopen_if_blocked(carton)
    job.move(item.sku, item.lot, item.qty, "unpacked")


def _labelled_carton(job: _Job) -> Carton:
    """The sealed carton a label event names (any order status: the label belongs to the carton)."""
    job.claim()
    seq = int(job.p["seq"])
    carton = job.uow.shipments.carton(job.order_id, seq)
    if carton is None:
        raise Refused(f"Carton {seq} of order {job.order_id} is not at the central database: its carrier label "
                      "cannot be recorded.", {"carton": None})
    sscc = job.p.get("sscc")
    if sscc and carton.sscc != sscc:
        raise Refused(f"Carton {seq} of order {job.order_id} has SSCC {carton.sscc} at the central database, the "
                      f"station's label is for {sscc}.", {"carton": {"seq": seq, "sscc": carton.sscc}})
    return carton


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _label_created(job: _Job) -> None:
    carton = _labelled_carton(job)
    carton.label_carrier = str(job.p["carrier"])
    carton.tracking_number = job.p.get("tracking_number") or carton.tracking_number
    carton.shipment_id = job.p.get("shipment_id") or None
    job.uow.shipments.save_carton(job.order_id, carton, carton.closed_at or job.at)
    waiting = job.uow.label_requests.for_carton(job.order_id, carton.seq)
    if waiting is not None and waiting.status.waiting:
        job.uow.label_requests.mirror(replace(waiting, status=LabelRequestStatus.DONE, error="", next_try_at=None,
                                              attempts=int(job.p.get("attempts") or waiting.attempts),
                                              updated_at=job.at))


def _label_failed(job: _Job) -> None:
    carton = _labelled_carton(job)
    carrier = str(job.p["carrier"])
    if carton.label_carrier is not None and (carton.tracking_number or carton.shipment_id):
        return  # its label was created already (reported before this failure): nothing waits
    if carton.label_carrier != carrier:
        carton.label_carrier = carrier
        job.uow.shipments.save_carton(job.order_id, carton, carton.closed_at or job.at)
    job.uow.label_requests.mirror(LabelRequest(
        id=str(job.p["request"]), order_id=job.order_id, carton_seq=carton.seq, sscc=str(job.p.get("sscc") or carton.sscc),
        carrier=carrier, station_id=job.ev.station_id, status=LabelRequestStatus.FAILED,
        attempts=int(job.p.get("attempts") or 1), error=str(job.p.get("reason") or ""),
        next_try_at=_when(job.p.get("retry_at")), created_at=job.at, updated_at=job.at))


def _label_cancelled(job: _Job) -> None:
    job.claim()
    found = job.uow.label_requests.get(str(job.p["request"]))
    if found is not None and found.status.waiting:
        job.uow.label_requests.mirror(replace(found, status=LabelRequestStatus.CANCELLED, next_try_at=None,
                                              error="the order was cancelled", updated_at=job.at))


def _order_received(job: _Job) -> None:
    rma_id, rec = job.p.get("replacement_for"), job.p.get("record")
    if not rma_id or not isinstance(rec, dict):
        return  # an import's arrival record (a station's own, from before it had a centre): audit only
    what = f"The replacement order {job.order_id} for return {rma_id}"
    try:
        order_id, row, _ = validate_order_record(rec)
    except RecordError as exc:
        raise Refused(f"{what} cannot be made at the central database: {exc}.", {"record": rec}) from None
    if order_id != job.order_id:
        raise Refused(f"{what}: its record names order {order_id}.", {"record": rec})
    if job.uow.returns.get(str(rma_id)) is None:  # its return's events come first in the same push
        raise Refused(f"{what}: the central database has no return {rma_id}.", {"return": None})
    there = job.uow.orders.imported([order_id]).get(order_id)
    if there is not None:
        if there.fingerprint == row["content_hash"]:
            return  # made here already
        raise Refused(f"{what}: the central database has another order {order_id} already.",
                      {"order": {"status": there.status}})
    try:
        new_order(job.uow, rec, job.at)
    except RecordError as exc:  # a product the centre does not know
        raise Refused(f"{what} cannot be made at the central database: {exc}.", {"record": rec}) from None


_HANDLERS: dict[str, Callable[[_Job], None]] = {
    "order.received": _order_received,
    "order.put_back": _put_back,
    "order.claim_released": _claim_released,
    "order.short_shipped": _short_shipped,
    "carton.opened": _carton_opened,
    "carton.changed": _carton_changed,
    "carton.blocked": _carton_blocked,
    "carton.closed": _carton_sealed,
    "carton.overridden": _carton_sealed,
    "scan.recorded": _scan_recorded,
    "scan.undone": _scan_undone,
    "carton.label_created": _label_created,
    "carton.label_failed": _label_failed,
    "label.cancelled": _label_cancelled,
}


def lease_json(lease: Lease | None) -> dict[str, Any] | None:
    if lease is None:
        return None
    return {"station_id": lease.station_id, "token": lease.token,
            "expires_at": lease.expires_at.isoformat() if lease.expires_at else None}


# --- the lifecycle's event at the centre ---------------------------------------------------------


class _AtTheCentre(UnitOfWork):
    """The centre's unit of work as ``change_status`` sees it while applying a station's event.

    The event the lifecycle writes is the station's own, which the inbox stores with its id, station
    and number: written again it would be there twice. So this unit of work's event log takes the
    lifecycle's event as the station's (checking that it is the same step) and writes nothing.
    """

    def __init__(self, inner: UnitOfWork, event: OutboxEvent):
        for name in ("orders", "catalog", "users", "shipments", "print_jobs", "numbers", "returns", "stations"):
            if hasattr(inner, name):
                setattr(self, name, getattr(inner, name))
        self.events = _StationsEvent(inner.events, event)
        self._inner = inner

    def __enter__(self) -> UnitOfWork:
        raise RuntimeError("the centre's unit of work is opened by the inbox")

    def __exit__(self, *exc: Any) -> None:
        raise RuntimeError("the centre's unit of work is closed by the inbox")

    def commit(self) -> None:
        raise RuntimeError("the inbox commits the centre's transaction")

    def ping(self) -> None:
        self._inner.ping()


class _StationsEvent(EventLog):
    def __init__(self, inner: EventLog, event: OutboxEvent):
        self._inner, self._event = inner, event

    def add(self, event: Event, station_id: str, at: datetime) -> str:
        if event.kind != self._event.event.kind or event.order_id != self._event.event.order_id:
            raise Refused(f"The central database's lifecycle would record {event.kind} on {event.order_id}, "
                          f"the station sent {self._event.event.kind}.")
        return self._event.id

    def for_order(self, order_id: str) -> list[Event]:
        return self._inner.for_order(order_id)

    def since(self, at: datetime) -> list[Event]:
        return self._inner.since(at)

    def number_pending(self, station_id: str, *, after: int = 0) -> int:
        raise RuntimeError("not at the centre")

    def unpushed_orders(self, order_ids: Any) -> set[str]:
        raise RuntimeError("not at the centre")

    def last_numbered(self, station_id: str) -> int:
        raise RuntimeError("not at the centre")

    def waiting(self, station_id: str, *, centre_has: int) -> int:
        raise RuntimeError("not at the centre")

    def pending(self, station_id: str, limit: int) -> list[OutboxEvent]:
        raise RuntimeError("not at the centre")

    def answer(self, station_id: str, answers: Any, at: datetime) -> None:
        raise RuntimeError("not at the centre")

    def outbox(self, station_id: str, states: Any, limit: int = 200) -> list[OutboxEvent]:
        raise RuntimeError("not at the centre")

    def counts(self, station_id: str) -> dict[SyncState, int]:
        raise RuntimeError("not at the centre")

    def reopen(self, station_id: str, from_seq: int) -> int:
        raise RuntimeError("not at the centre")


__all__ = ["AUDIT_KINDS", "AUDIT_PREFIXES", "Appliers", "is_audit", "lease_json"]
