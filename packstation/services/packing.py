"""Packing use cases: claim an order, record scans, open/close cartons, undo, short-ship, release.

Each verb takes the context, the acting session (checked here, not by the caller) and what it
needs; decides with the domain rules; stores the change, its events and any print jobs in one
transaction; and only after the commit changes the in-memory :class:`PackSession`. A scan is
acknowledged (a verdict other than STORAGE_FAILED) only once committed.
"""

from __future__ import annotations

import copy
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from packstation.domain.barcodes import Barcode, sscc18
from packstation.domain.identity import Permission, Session
from packstation.domain.lifecycle import OrderStatus, TransitionRefused, describe
from packstation.domain.packing import Carton, CartonStatus, ItemDecision, PackSession, Verdict
from packstation.services import carriers, leases, printing, stock
from packstation.services.context import Context, record
from packstation.services.lifecycle import change_status
from packstation.services.outcome import Outcome, storage_failed
from packstation.services.ports import Lease, StorageError, UnitOfWork

log = logging.getLogger(__name__)

__all__ = [
    "OrderRefused", "Outcome", "PendingSeal", "claim_next_order", "claim_order", "close_carton", "finish_seal",
    "open_carton", "override_carton",
    "record_detail", "record_item_scan", "release_claim", "release_order", "reprint_code", "resume_session",
    "set_quantity", "short_ship", "undo_last_scan",
]


class OrderRefused(Exception):
    """The order cannot be packed here (unknown, held by another bench, not released)."""


class _ClaimLost(Exception):
    """Raised inside a unit of work (so it rolls back) when this bench no longer holds the order."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


def _hold_claim(ctx: Context, uow: UnitOfWork, order_id: str) -> None:
    """Refuse to change an order this bench no longer holds (a lead released it, another bench took it).

    Without this, a bench still showing the order would keep storing scans and cartons while
    another bench packs the same order: everything counted twice. The outcome carries
    ``claim_lost`` so the bench drops the order.
    """
    claim = uow.orders.hold(order_id)
    if claim.station_id == ctx.station_id:
        return
    if claim.station_id:
        why = f"is now being packed at {claim.station_id} by {claim.user}"
    elif claim.status is OrderStatus.PACKED:
        why = "is already packed"
    elif claim.status is OrderStatus.CANCELLED:
        why = "was cancelled"
    elif claim.status is OrderStatus.ON_HOLD:
        why = describe(claim.status)
    else:
        why = "was released from this bench (by a lead): scan it again to continue it"
    raise _ClaimLost(Outcome(Verdict.ORDER_REFUSED, f"NOT SAVED — order {order_id} {why}. Put the items aside.",
                             data={"claim_lost": True, "holder": claim.station_id}))


def _guarded(fn: Any) -> Any:
    """Run a change; storage failures and lost claims become the outcome the bench shows."""
    try:
        return fn()
    except StorageError as exc:
        return storage_failed(exc)
    except _ClaimLost as lost:
        return lost.outcome


# --- claim / resume / release -------------------------------------------------------------


def _load(uow: UnitOfWork, order_id: str) -> PackSession:
    order = uow.orders.get(order_id)
    assert order is not None
    products = uow.catalog.products(line.sku for line in order.lines)
    types = {ct.code: ct for ct in uow.catalog.carton_types()}
    return PackSession(order=order, products=products, cartons=uow.shipments.cartons(order_id, types))


def claim_order(ctx: Context, session: Session, code: str) -> PackSession:
    """Claim the order with this number (or tote barcode) for this bench. Raises OrderRefused.

    On a synced station the order's lease is taken at the centre first (``services.leases``)."""
    ctx.auth.require(session, Permission.PACK, "Packing")
    if ctx.synced:
        try:
            return leases.claim_with_lease(ctx, session, code, lambda lease: _claim(ctx, session, code, lease))
        except leases.LeaseRefused as exc:
            raise OrderRefused(str(exc)) from exc
    return _claim(ctx, session, code, None)


def _claim(ctx: Context, session: Session, code: str, lease: Lease | None, **extra: Any) -> PackSession:
    with ctx.uow() as uow:
        order_id = lease.order_id if lease is not None else uow.orders.find_id(code.strip())
        if order_id is None:
            raise OrderRefused(f"No order or tote {code!r}. Check the order number and scan again.")
        claim = uow.orders.hold(order_id)
        if claim.importing:
            raise OrderRefused(f"Order {order_id} is arriving with the import of {claim.importing}, which has not "
                               "finished: scan it again in a few minutes.")
        if claim.station_id and claim.station_id != ctx.station_id:
            raise OrderRefused(f"Order {order_id} is being packed at {claim.station_id} by {claim.user}. "
                               "Ask a lead to release it.")
        if not claim.status.packable:
            raise OrderRefused(f"Order {order_id} {describe(claim.status)}: it cannot be packed.")
        if not uow.orders.try_claim(order_id, ctx.station_id, session.name, ctx.clock()):
            again = uow.orders.hold(order_id)
            raise OrderRefused(f"Order {order_id} was just claimed by {again.station_id} ({again.user}).")
        if lease is not None:  # before any event: they carry its token
            uow.orders.set_lease(order_id, lease.token, lease.expires_at)
        if claim.status is not OrderStatus.PACKING:
            change_status(uow, ctx, session, order_id, claim.status, OrderStatus.PACKING)
        if lease is not None:
            extra["lease_token"] = lease.token
        record(uow, ctx, session, "order.claimed", order_id, {"station": ctx.station_id, **extra})
        pack = _load(uow, order_id)
        uow.commit()
    return pack


def claim_next_order(ctx: Context, session: Session, carrier: str | None = None) -> PackSession | None:
    """Claim the oldest packable order no bench holds (for benches working a queue).

    Packable: released, picked in a wave, or put back half-packed (CMD-CANCEL, lead release).
    A synced station passes over orders leased to other benches; offline it claims none (OrderRefused).
    """
    ctx.auth.require(session, Permission.PACK, "Packing")
    if ctx.synced:
        try:
            return leases.claim_next_with_lease(ctx, session, carrier,
                                                lambda lease: _claim(ctx, session, lease.order_id, lease, next=True))
        except leases.LeaseRefused as exc:
            raise OrderRefused(str(exc)) from exc
    with ctx.uow() as uow:
        order_id = uow.orders.claim_next(ctx.station_id, session.name, ctx.clock(), carrier)
        if order_id is None:
            return None
        claim = uow.orders.hold(order_id)
        if claim.status is not OrderStatus.PACKING:
            change_status(uow, ctx, session, order_id, claim.status, OrderStatus.PACKING)
        record(uow, ctx, session, "order.claimed", order_id, {"station": ctx.station_id, "next": True})
        pack = _load(uow, order_id)
        uow.commit()
    return pack


def resume_session(ctx: Context, session: Session) -> PackSession | None:
    """The order this bench was packing before a crash, a power cut or a logout."""
    ctx.auth.require(session, Permission.PACK, "Packing")
    with ctx.uow(readonly=True) as uow:
        order_id = uow.orders.held_by(ctx.station_id)
        return _load(uow, order_id) if order_id is not None else None


def release_order(ctx: Context, session: Session, pack: PackSession) -> Outcome:
    """Put the order back (CMD-CANCEL): its scans and cartons stay, any bench may continue it."""
    ctx.auth.require(session, Permission.PACK, "Putting an order back")
    order_id = pack.order.order_id

    def run() -> Outcome:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            uow.orders.release(order_id)
            record(uow, ctx, session, "order.put_back", order_id, {"station": ctx.station_id})
            uow.commit()
        return Outcome(Verdict.ORDER_RELEASED, f"Order {order_id} released. Scan the next order.")

    return _guarded(run)


def release_claim(ctx: Context, session: Session, order_id: str, reason: str) -> Outcome:
    """A lead frees an order held by another bench (the bench crashed or the packer left)."""
    ctx.auth.require(session, Permission.RELEASE_CLAIM, "Releasing another bench's order")
    if not reason.strip():
        return Outcome(Verdict.NOT_ALLOWED, "Give a reason: it is recorded with the release.")
    if ctx.central is not None:  # a synced station: the order's lease at the centre is what binds
        from packstation.services.leases import release_lease

        return release_lease(ctx, session, order_id, reason)
    with ctx.uow() as uow:
        real_id = uow.orders.find_id(order_id)
        if real_id is None:
            return Outcome(Verdict.ORDER_REFUSED, f"No order {order_id!r}.")
        claim = uow.orders.hold(real_id)
        if claim.station_id is None:
            return Outcome(Verdict.ORDER_RELEASED, f"Order {real_id} was not claimed.")
        uow.orders.release(real_id)
        record(uow, ctx, session, "order.claim_released", real_id,
               {"from_station": claim.station_id, "from_user": claim.user, "reason": reason.strip()})
        uow.commit()
    return Outcome(Verdict.ORDER_RELEASED, f"Order {real_id} released from {claim.station_id}.")


# --- cartons ----------------------------------------------------------------------------------


def open_carton(ctx: Context, session: Session, pack: PackSession, type_code: str) -> Outcome:
    ctx.auth.require(session, Permission.PACK, "Opening a carton")
    order_id = pack.order.order_id

    def run() -> Outcome:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            ctype = uow.catalog.carton_type(type_code)
            if ctype is None:
                return Outcome(Verdict.INVALID_SCAN, f"No carton type {type_code!r}. Scan a carton barcode from the card.")
            current = pack.open_carton
            if current is not None and not current.items:
                # an empty open carton is simply swapped for the new type
                swapped = copy.copy(current)
                swapped.type = ctype
                uow.shipments.save_carton(order_id, swapped, ctx.clock())
                record(uow, ctx, session, "carton.changed", order_id, {"seq": current.seq, "type": ctype.code})
                uow.commit()
                current.type = ctype
                return Outcome(Verdict.CARTON_OPENED, f"Carton {current.seq} is now a {ctype.name}.",
                               data={"seq": current.seq})
            if current is not None:
                return Outcome(Verdict.NOT_ALLOWED, f"Carton {current.seq} is still open: close it first (CMD-CLOSE-CARTON).")
            carton = Carton(seq=pack.next_carton_seq(), type=ctype)
            uow.shipments.add_carton(order_id, carton, session.name, ctx.station_id, ctx.clock())
            record(uow, ctx, session, "carton.opened", order_id, {"seq": carton.seq, "type": ctype.code})
            uow.commit()
        pack.cartons.append(carton)
        return Outcome(Verdict.CARTON_OPENED, f"Carton {carton.seq} ({ctype.name}) open: scan the items.",
                       data={"seq": carton.seq})

    return _guarded(run)


def close_carton(ctx: Context, session: Session, pack: PackSession, measured_g: int, *,
                 label_later: bool = False) -> Outcome:
    """Close the open carton with a stable scale weight; out of tolerance blocks it.

    ``label_later``: a seal that would wait for a carrier returns a :class:`PendingSeal` to finish
    instead (the window asks the carrier off its GUI thread)."""
    ctx.auth.require(session, Permission.PACK, "Closing a carton")
    decision = pack.evaluate_close(measured_g, ctx.packing.tolerance)
    carton = pack.open_carton
    order_id = pack.order.order_id
    data: dict[str, Any] = {"expected_g": decision.expected_g, "measured_g": measured_g, "allowed_g": decision.allowed_g}
    if decision.verdict is Verdict.CARTON_BLOCKED:
        assert carton is not None

        def block() -> Outcome:
            blocked = copy.copy(carton)
            blocked.status, blocked.measured_g, blocked.expected_g = CartonStatus.BLOCKED, measured_g, decision.expected_g
            with ctx.uow() as uow:
                _hold_claim(ctx, uow, order_id)
                uow.shipments.save_carton(order_id, blocked, ctx.clock())
                record(uow, ctx, session, "carton.blocked", order_id, {"seq": carton.seq, **data})
                uow.commit()
            carton.status, carton.measured_g, carton.expected_g = CartonStatus.BLOCKED, measured_g, decision.expected_g
            return Outcome(Verdict.CARTON_BLOCKED, decision.message, data={"seq": carton.seq, **data})

        return _guarded(block)
    if decision.verdict is not Verdict.CARTON_CLOSED:
        return Outcome(decision.verdict, decision.message)
    assert carton is not None
    return _seal(ctx, session, pack, carton, measured_g, decision.expected_g, approval=None, reason="", data=data,
                 label_later=label_later)


def override_carton(ctx: Context, session: Session, pack: PackSession, approval: Session, reason: str, *,
                    label_later: bool = False) -> Outcome:
    """A lead (badge + PIN) accepts a blocked carton at its measured weight, with a reason (``label_later``:
    as :func:`close_carton`)."""
    ctx.auth.require(session, Permission.PACK, "Closing a carton")
    ctx.auth.require(approval, Permission.APPROVE, "Overriding a blocked carton")
    carton = pack.open_carton
    if carton is None or carton.status is not CartonStatus.BLOCKED or carton.measured_g is None:
        return Outcome(Verdict.NOT_ALLOWED, "No blocked carton to override.")
    if not reason.strip():
        return Outcome(Verdict.NOT_ALLOWED, "An override needs a reason: pick one from the list.")
    expected = pack.expected_weight(carton)
    return _seal(ctx, session, pack, carton, carton.measured_g, expected, approval=approval, reason=reason.strip(),
                 data={"expected_g": expected, "measured_g": carton.measured_g}, label_later=label_later)


@dataclass
class PendingSeal:
    """A seal decided and numbered whose carrier label is still to be asked for.

    :func:`close_carton` and :func:`override_carton` called with ``label_later=True`` hand it back
    (``data["seal"]`` of a CREATING_LABEL outcome) instead of waiting for the carrier themselves,
    when the seal would wait on the network (:func:`carriers.asks_carrier`). :meth:`ask_carrier` is
    the slow part -- the carrier, bounded by its account's ``timeout_s``; no database, so it may run
    on any thread -- and :func:`finish_seal` then stores the seal, its label job or label request,
    in one transaction as before. Until then nothing of the seal is stored but its SSCC's number.
    """

    ctx: Context
    session: Session
    pack: PackSession
    carton: Carton
    measured_g: int
    expected_g: int
    approval: Session | None
    reason: str
    data: dict[str, Any]
    sscc: str
    after: PackSession  # the order as it will be once sealed: what the label (and the slip) print
    sealed: Carton  # the carton in *after*
    complete: bool
    empty: list[int]  # empty open cartons the order's completion removes
    carrier: str | None = None  # the account asked over the network, if any
    label: carriers.SealLabel | None = None
    asked: bool = False

    def wait_outcome(self) -> Outcome:
        """The answer to any input while the carrier is asked: it would race the seal."""
        return Outcome(Verdict.WEIGHING, f"Carton {self.carton.seq}: {self.carrier} is creating its label. Wait for "
                       "the carton's verdict; nothing was counted: scan again then.",
                       data={"headline": "CREATING LABEL — WAIT"})

    def ask_carrier(self) -> PendingSeal:
        """The carrier's (or marketplace's) label for the carton; a failure leaves a label request."""
        try:
            self.label = carriers.label_for_seal(self.ctx, self.after, self.sealed)
        except Exception as exc:  # noqa: BLE001 - a bug in a carrier adapter must not lose the seal
            log.exception("carrier label for %s/%s failed", self.pack.order.order_id, self.carton.seq)
            self.label = carriers.deferred_label(self.ctx, self.carrier or "carrier", self.after.order, self.sealed,
                                                 f"unexpected error: {exc!r}")
        self.asked = True
        return self


def _seal(ctx: Context, session: Session, pack: PackSession, carton: Carton, measured_g: int, expected_g: int, *,
          approval: Session | None, reason: str, data: dict[str, Any], label_later: bool = False) -> Outcome:
    order = pack.order
    try:
        sscc = _reserve_sscc(ctx)
    except StorageError as exc:
        return storage_failed(exc)
    override_by = approval.name if approval is not None else None
    complete = order.complete and all(not c.is_open or c is carton or not c.items for c in pack.cartons)
    empty = [c.seq for c in pack.cartons if c.is_open and c is not carton and not c.items]
    # the order as it will be once sealed: what the label (and the slip) print
    after = copy.deepcopy(pack)
    sealed = after.carton(carton.seq)
    sealed.status, sealed.measured_g, sealed.expected_g = CartonStatus.CLOSED, measured_g, expected_g
    sealed.sscc, sealed.override_by = sscc, override_by
    if complete:
        after.cartons = [c for c in after.cartons if c.seq not in empty]
        after.order.status = OrderStatus.PACKED
    seal = PendingSeal(ctx, session, pack, carton, measured_g, expected_g, approval, reason, data, sscc, after, sealed,
                       complete, empty, carrier=carriers.asks_carrier(ctx, after, sealed))
    if label_later and seal.carrier is not None:
        return Outcome(Verdict.CREATING_LABEL,
                       f"Carton {carton.seq} weighed ({measured_g} g): {seal.carrier} is creating its label. "
                       "Wait for the verdict; scans wait too.",
                       data={"seal": seal, "seq": carton.seq, "carrier": seal.carrier,
                             "headline": f"CREATING {seal.carrier} LABEL…"})
    # the carrier's label (or the marketplace's) instead of ours, asked for before the transaction
    # (bounded by the account's timeout); a carrier that fails leaves a label request instead
    return finish_seal(seal.ask_carrier())


def finish_seal(seal: PendingSeal) -> Outcome:
    """Store a seal whose carrier was asked (:meth:`PendingSeal.ask_carrier`): the carton, its label
    job or label request, the slip of a completed order, in one transaction. A seal that cannot be
    stored voids the carrier's shipment."""
    assert seal.asked, "ask the carrier first"
    ctx, session, pack, carton, approval, reason = seal.ctx, seal.session, seal.pack, seal.carton, seal.approval, \
        seal.reason
    measured_g, expected_g, sscc, data = seal.measured_g, seal.expected_g, seal.sscc, seal.data
    after, sealed, complete, empty, label = seal.after, seal.sealed, seal.complete, seal.empty, seal.label
    order = pack.order
    override_by = approval.name if approval is not None else None
    try:
        if label is None:
            jobs = printing.seal_jobs(ctx, after, sealed, completes=complete)
        else:
            jobs = ([label.job] if label.job is not None else []) + \
                ([printing.slip_job(ctx, after, reason="order packed")] if complete else [])
    except ValueError as exc:  # a document that cannot be rendered as given: nothing is sealed
        carriers.void_quietly(ctx, label)
        return Outcome(Verdict.NOT_ALLOWED, f"Carton NOT sealed: its label cannot be made ({exc}). Call a lead.")
    actor = approval or session

    def run() -> Outcome:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order.order_id)
            uow.shipments.save_carton(order.order_id, sealed, ctx.clock())
            if not ctx.synced:  # its items leave the stock now (with a centre, its applier of scan.recorded does)
                stock.packed_out(uow, ctx, session, order.order_id, sealed.items)
            record(uow, ctx, actor, "carton.overridden" if approval else "carton.closed", order.order_id,
                   {"seq": carton.seq, "sscc": sscc, "type": carton.type.code, **data,
                    **({"reason": reason, "packer": session.actor} if approval else {})})
            if label is not None:
                if label.request is not None:
                    uow.label_requests.add(label.request)
                kind, payload = carriers.label_event(label, sealed)
                record(uow, ctx, session, kind, order.order_id, payload)
            stored = [printing.add_job(uow, ctx, session, job) for job in jobs]
            if complete:
                for seq in empty:
                    uow.shipments.remove_carton(order.order_id, seq)
                uow.orders.release(order.order_id)
                change_status(uow, ctx, actor, order.order_id, OrderStatus.PACKING, OrderStatus.PACKED,
                              cartons=len(after.cartons))
            uow.commit()
        carton.status, carton.measured_g, carton.expected_g = CartonStatus.CLOSED, measured_g, expected_g
        carton.sscc, carton.override_by = sscc, override_by
        carton.tracking_number, carton.label_carrier = sealed.tracking_number, sealed.label_carrier
        carton.shipment_id = sealed.shipment_id
        if ctx.documents is not None and stored:
            ctx.documents.wake()
        out = {"seq": carton.seq, "sscc": sscc, "jobs": [j.id for j in stored], **data}
        if approval is not None:
            out["headline"] = "OVERRIDDEN"
        if label is not None and label.created is not None:
            out.update(carrier=label.carrier, tracking_number=sealed.tracking_number)
        if complete:
            pack.cartons = [c for c in pack.cartons if c.seq not in empty]
            order.status = OrderStatus.PACKED
        if label is not None and label.failed:
            assert label.request is not None
            return Outcome(Verdict.LABEL_NOT_CREATED,
                           f"Carton {carton.seq} sealed ({measured_g} g), SSCC {sscc}" +
                           (f"; order {order.order_id} packed" if complete else "") +
                           f". LABEL NOT CREATED by {label.carrier}: {label.error}. It is asked for again "
                           "automatically: set the carton aside until its label prints (the lead view lists it).",
                           data={**out, "headline": "LABEL NOT CREATED", "label_request": label.request.id,
                                 "label_error": label.error, "order_complete": complete})
        # the carrier's tracking number, as the label shows it (the packer can check the label printed)
        tracked = f", {label.carrier} tracking {sealed.tracking_number}" \
            if label is not None and label.created is not None and sealed.tracking_number else ""
        if complete:
            return Outcome(Verdict.ORDER_COMPLETE,
                           f"Carton {carton.seq} sealed ({measured_g} g){tracked}. Order {order.order_id} packed.",
                           data={**out, "order_complete": True})
        remaining = sum(line.remaining for line in order.lines)
        msg = f"Carton {carton.seq} sealed ({measured_g} g), SSCC {sscc}{tracked}."
        if approval is not None:
            msg = (f"Carton {carton.seq} sealed at {measured_g} g, overridden by {approval.name} ({reason}), "
                   f"SSCC {sscc}{tracked}.")
        if remaining:
            msg += f" {remaining} item(s) left: open the next carton."
        return Outcome(Verdict.CARTON_CLOSED, msg, data=out)

    outcome = _guarded(run)
    if outcome.verdict in (Verdict.STORAGE_FAILED, Verdict.ORDER_REFUSED):  # not sealed: the label is not wanted
        carriers.void_quietly(ctx, label)
    return outcome


def _reserve_sscc(ctx: Context) -> str:
    """Take the next SSCC serial in a transaction of its own, committed before the carton is sealed.

    If sealing then fails (the database refuses it, or an SSCC already exists because a backup
    was restored), the number stays used and the next attempt gets a fresh one: an SSCC is
    never handed out twice, and a retry never hits the same conflict. GS1 allows gaps in
    serial references. The serials come from the station's block of the ``sscc`` series.
    """
    with ctx.uow() as uow:
        serial = uow.numbers.next("sscc")
        uow.commit()
    return sscc18(ctx.packing.sscc_extension, ctx.packing.gs1_company_prefix, serial)


# --- item scans -----------------------------------------------------------------------------


_REFUSALS = frozenset({Verdict.WRONG_ITEM, Verdict.UNKNOWN_BARCODE, Verdict.OVER_SCAN, Verdict.EXPIRED_LOT,
                       Verdict.SERIAL_ALREADY_SHIPPED, Verdict.NOT_ALLOWED, Verdict.UNKNOWN_LOT})


def _refused(ctx: Context, session: Session, pack: PackSession, outcome: Outcome, barcode: str, source: str) -> Outcome:
    """Record a refused item scan (the lead's error figures count them), then show it.

    The refusal changes nothing, so if it cannot be recorded the verdict still stands.
    """
    try:
        with ctx.uow() as uow:
            record(uow, ctx, session, "scan.refused", pack.order.order_id,
                   {"verdict": outcome.verdict.value, "sku": outcome.sku, "barcode": barcode, "source": source})
            uow.commit()
    except StorageError:
        log.warning("could not record refused scan %s on %s", barcode, pack.order.order_id)
    return outcome


def _store_item(ctx: Context, session: Session, pack: PackSession, decision: ItemDecision, barcode: str,
                source: str, *, detail_source: str | None = None) -> Outcome:
    """Store an accepted item (or record a refusal). *detail_source*: how the answer to a lot /
    expiry / serial prompt arrived, when it did (the item's own scan is *source*)."""
    if decision.item is None:
        pack.apply_item(decision)
        outcome = Outcome(decision.verdict, decision.message, sku=decision.sku, data=dict(decision.data))
        return _refused(ctx, session, pack, outcome, barcode, source) if decision.verdict in _REFUSALS else outcome
    item = decision.item
    order_id = pack.order.order_id
    carton = pack.carton(item.carton_seq)

    def run() -> Outcome:
        now = ctx.clock()
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            uow.shipments.add_item(order_id, item, ctx.station_id, now)
            uow.orders.add_packed(order_id, item.line_no, item.qty)
            if carton.status is CartonStatus.BLOCKED:
                # the packer is fixing a blocked carton: it is open again and must be re-weighed,
                # on disk too, or a restart would bring back the stale block and weight
                reopened = copy.copy(carton)
                reopened.status, reopened.measured_g = CartonStatus.OPEN, None
                uow.shipments.save_carton(order_id, reopened, now)
            record(uow, ctx, session, "scan.recorded", order_id,
                   {"scan_id": item.scan_id, "sku": item.sku, "qty": item.qty, "carton": item.carton_seq,
                    "lot": item.lot, "expiry": item.expiry, "serial": item.serial, "barcode": item.barcode,
                    "source": item.source, **({"detail_source": detail_source} if detail_source else {}),
                    **({"lot_unverified": True} if decision.data.get("lot_unverified") else {})})
            uow.commit()
        pack.apply_item(decision)
        line = pack.line(item.line_no)
        return Outcome(Verdict.ACCEPTED, decision.message, sku=item.sku,
                       data={"scan_id": item.scan_id, "line_no": item.line_no, "packed": line.packed, "qty": line.qty,
                             **decision.data})

    return _guarded(run)


def record_item_scan(ctx: Context, session: Session, pack: PackSession, barcode: Barcode, *,
                     source: str = "wedge") -> Outcome:
    """An item scan: checked against the order, stored, and only then counted."""
    ctx.auth.require(session, Permission.PACK, "Packing")
    today = ctx.clock().date()
    scan_id = str(uuid.uuid4())
    hit = pack.resolve(barcode)
    if hit is None:
        try:
            with ctx.uow(readonly=True) as uow:
                found = uow.catalog.by_barcode(barcode.value)
        except StorageError as exc:
            return storage_failed(exc)
        pack.pending = None
        pack.pending_qty = None
        if found is None:
            outcome = Outcome(Verdict.UNKNOWN_BARCODE, f"Unknown barcode {barcode.raw or barcode.value}. "
                              "It is no product of the catalog: put the item aside for a lead.")
        else:
            outcome = Outcome(Verdict.WRONG_ITEM, f"{found[0].name} ({found[0].sku}) is not on this order. Put it aside.",
                              sku=found[0].sku)
        return _refused(ctx, session, pack, outcome, barcode.value, source)
    product, _ = hit
    if source == "typed" and not ctx.packing.accept_typed_sku and pack.resolved_by_sku(barcode):
        pack.pending = None
        pack.pending_qty = None
        outcome = Outcome(Verdict.NOT_ALLOWED, f"{product.sku} was typed: a typed SKU does not count as an item. "
                          "Scan the item's barcode (or a lead sets [packing] accept_typed_sku).", sku=product.sku,
                          data={"headline": "SCAN THE ITEM"})
        return _refused(ctx, session, pack, outcome, barcode.value, source)
    serial_shipped = False
    if barcode.serial:
        serial_shipped = _serial_shipped(ctx, product.sku, barcode.serial)
    lots = _lots(ctx, product.sku) if product.tracking.value in ("lot", "lot_expiry") else None
    decision = pack.evaluate_item(barcode, today, user=session.name, scan_id=scan_id, serial_shipped=serial_shipped,
                                  source=source, known_lots=lots, unknown_lot=ctx.packing.unknown_lot)
    return _store_item(ctx, session, pack, decision, barcode.value, source)


def record_detail(ctx: Context, session: Session, pack: PackSession, text: str, *, source: str = "wedge") -> Outcome:
    """The answer to a lot / expiry / serial prompt."""
    ctx.auth.require(session, Permission.PACK, "Packing")
    today = ctx.clock().date()
    pending = pack.pending
    serial_shipped = False
    lots = None
    if pending is not None:
        tracking = pack.products[pending.sku].tracking.value
        if tracking == "serial":
            serial_shipped = _serial_shipped(ctx, pending.sku, text.strip())
        elif tracking in ("lot", "lot_expiry"):
            lots = _lots(ctx, pending.sku)
    decision = pack.evaluate_detail(text, today, user=session.name, scan_id=str(uuid.uuid4()),
                                    serial_shipped=serial_shipped, known_lots=lots, unknown_lot=ctx.packing.unknown_lot)
    return _store_item(ctx, session, pack, decision, pending.barcode if pending else text.strip(),
                       pending.source if pending else source, detail_source=source if pending else None)


def _serial_shipped(ctx: Context, sku: str, serial: str) -> bool:
    with ctx.uow(readonly=True) as uow:
        return uow.shipments.serial_shipped(sku, serial)


def _lots(ctx: Context, sku: str) -> list[Any]:
    with ctx.uow(readonly=True) as uow:
        return uow.catalog.lots(sku)


def set_quantity(pack: PackSession, barcode: Barcode) -> Outcome:
    decision = pack.evaluate_quantity(barcode)
    if decision.verdict is Verdict.QTY_SET:
        pack.pending_qty = int(barcode.value)
    pack.awaiting_qty = False
    return Outcome(decision.verdict, decision.message)


def undo_last_scan(ctx: Context, session: Session, pack: PackSession) -> Outcome:
    """Take back the newest scan of this user (a lead may take back anyone's) from an unsealed carton.

    With a prompt open (lot, expiry, serial, or the quantity after CMD-QTY), CMD-UNDO cancels
    the prompt and nothing else."""
    ctx.auth.require(session, Permission.PACK, "Undo")
    if pack.pending is not None or pack.pending_qty is not None or pack.awaiting_qty:
        pack.pending = None
        pack.pending_qty = None
        pack.awaiting_qty = False
        return Outcome(Verdict.UNDONE, "Prompt cancelled; nothing was counted. Scan the item again.",
                       data={"headline": "PROMPT CANCELLED"})
    item = pack.last_undoable(session.name, any_user=session.role.can_authorise)
    if item is None:
        return Outcome(Verdict.NOTHING_TO_UNDO, "Nothing to undo: the last scan is in a sealed carton or is not yours.")
    order_id = pack.order.order_id

    def run() -> Outcome:
        now = ctx.clock()
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            uow.shipments.undo_item(item, session.name, now)
            uow.orders.add_packed(order_id, item.line_no, -item.qty)
            record(uow, ctx, session, "scan.undone", order_id, {"scan_id": item.scan_id, "sku": item.sku, "qty": item.qty})
            carton = pack.carton(item.carton_seq)
            if carton.status is CartonStatus.BLOCKED:
                reopened = copy.copy(carton)
                reopened.status, reopened.measured_g = CartonStatus.OPEN, None
                uow.shipments.save_carton(order_id, reopened, now)
            uow.commit()
        pack.apply_undo(item)
        product = pack.products[item.sku]
        line = pack.line(item.line_no)
        return Outcome(Verdict.UNDONE, f"Undone: {item.qty} × {product.name} ({line.packed} of {line.qty}). "
                       "Take it out of the carton.", sku=item.sku)

    return _guarded(run)


def short_ship(ctx: Context, session: Session, pack: PackSession, approval: Session, reason: str) -> Outcome:
    """A lead (badge + PIN) ships the order without what is missing; recorded with the reason."""
    ctx.auth.require(session, Permission.PACK, "A short-ship")
    ctx.auth.require(approval, Permission.APPROVE, "A short-ship")
    short = pack.short_lines()
    if not short:
        return Outcome(Verdict.NOT_ALLOWED, "Nothing is missing: every line is complete.")
    if not reason.strip():
        return Outcome(Verdict.NOT_ALLOWED, "A short-ship needs a reason.")
    if not pack.items:
        return Outcome(Verdict.NOT_ALLOWED, "Nothing is packed yet: a short-ship would send an empty parcel. "
                       "Release the order (CMD-CANCEL) and ask a lead.")
    order_id = pack.order.order_id
    # Everything already packed is in sealed cartons: nothing is left to close, so the
    # short-ship itself finishes the order (otherwise it would stay claimed for ever).
    finishes = not any(c.is_open and c.items for c in pack.cartons)
    empty = [c.seq for c in pack.cartons if c.is_open and not c.items]
    jobs: list[Any] = []
    if finishes:
        after = copy.deepcopy(pack)
        for line in after.short_lines():
            line.short += line.remaining
        after.cartons = [c for c in after.cartons if c.seq not in empty]
        after.order.status = OrderStatus.PACKED
        if ctx.documents is not None:
            jobs = [printing.slip_job(ctx, after, reason="order packed")]

    def run() -> Outcome:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            for line in short:
                uow.orders.set_short(order_id, line.line_no, line.short + line.remaining, reason)
            record(uow, ctx, approval, "order.short_shipped", order_id,
                   {"reason": reason, "packer": session.actor,
                    "lines": [{"sku": ln.sku, "short": ln.remaining} for ln in short]})
            stored = [printing.add_job(uow, ctx, session, job) for job in jobs]
            if finishes:
                for seq in empty:
                    uow.shipments.remove_carton(order_id, seq)
                uow.orders.release(order_id)
                change_status(uow, ctx, approval, order_id, OrderStatus.PACKING, OrderStatus.PACKED,
                              cartons=len(pack.cartons) - len(empty))
            uow.commit()
        missing = sum(line.remaining for line in short)
        for line in short:
            line.short += line.remaining
            line.short_reason = reason
        if stored and ctx.documents is not None:
            ctx.documents.wake()
        text = f"Short-ship approved by {approval.name}: {missing} item(s) will not ship."
        if finishes:
            pack.cartons = [c for c in pack.cartons if c.seq not in empty]
            pack.order.status = OrderStatus.PACKED
            return Outcome(Verdict.ORDER_COMPLETE, f"{text} Order {order_id} packed.",
                           data={"order_complete": True, "jobs": [j.id for j in stored]})
        return Outcome(Verdict.SHORT_SHIPPED, f"{text} Close the carton.")

    try:
        return _guarded(run)
    except TransitionRefused as exc:
        return Outcome(Verdict.NOT_ALLOWED, str(exc))


# --- reprints -------------------------------------------------------------------------------


def reprint_code(ctx: Context, session: Session, approval: Session, code: str, reason: str,
                 pack: PackSession | None = None) -> Outcome:
    """Reprint a carton's label (its SSCC scanned), or an order's labels (its number scanned, or
    the order open at the bench), audited with the approving lead and the reason.

    The slip is reprinted only with the whole order, and only once it is packed."""
    code = code.strip()
    sscc = code[2:] if code.startswith("00") and len(code) == 20 else code
    try:
        with ctx.uow(readonly=True) as uow:
            carton_hit = uow.shipments.carton_by_sscc(sscc) if code else None
            if pack is not None and not code:
                order_id: str | None = pack.order.order_id
            else:
                order_id = carton_hit[0] if carton_hit else uow.orders.find_id(code)
            if order_id is None:
                return Outcome(Verdict.NOT_ALLOWED, f"Reprint refused: no carton or order {code!r}.")
            fresh = _load(uow, order_id)
        target = pack if pack is not None and pack.order.order_id == order_id else fresh
        cartons = [c for c in target.cartons if c.sscc and (not carton_hit or c.sscc == sscc)]
        result = printing.reprint(ctx, session, approval, target, cartons, reason, slip=not carton_hit)
    except ValueError as exc:
        return Outcome(Verdict.NOT_ALLOWED, f"Reprint refused: {exc}")
    except StorageError as exc:
        return storage_failed(exc, "scan CMD-REPRINT again")
    return Outcome(Verdict.REPRINT_REQUESTED,
                   f"Reprint approved by {approval.name} ({reason}): {result.message} printing.",
                   data={"order_id": order_id, "jobs": [j.id for j in result.jobs]})
