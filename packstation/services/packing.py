"""Packing use cases: claim an order, record scans, open/close cartons, undo, short-ship, release.

Each verb takes the context and what it needs, decides with the domain rules, stores the
change and its event in one transaction, and only after the commit changes the in-memory
session. A scan is acknowledged (a verdict other than STORAGE_FAILED) only once committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from packstation.domain.barcodes import Barcode, sscc18
from packstation.domain.model import OrderStatus, User
from packstation.domain.packing import (
    Carton,
    CartonStatus,
    ItemDecision,
    PackSession,
    Tolerance,
    Verdict,
)
from packstation.services.ports import StorageError, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackingContext:
    """What the packing use cases need; built once by the composition root."""

    uow: UnitOfWorkFactory
    station_id: str
    tolerance: Tolerance = Tolerance()
    gs1_company_prefix: str = "0614141"
    sscc_extension: int = 0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Outcome:
    """The verdict the bench shows and sounds for one action."""

    verdict: Verdict
    message: str
    sku: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.verdict.tone.value in ("ok", "info", "prompt")


class OrderRefused(Exception):
    """The order cannot be packed here (unknown, held by another bench, not released)."""


def _storage_failed(exc: StorageError) -> Outcome:
    return Outcome(Verdict.STORAGE_FAILED, f"NOT SAVED — scan again. {exc}")


class _ClaimLost(Exception):
    """Raised inside a unit of work (so it rolls back) when this bench no longer holds the order."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


def _hold_claim(ctx: PackingContext, uow: UnitOfWork, order_id: str) -> None:
    """Refuse to change an order this bench no longer holds (a lead released it, another bench took it).

    Without this, a bench still showing the order would keep storing scans and cartons while
    another bench packs the same order: everything counted twice. The outcome carries
    ``claim_lost`` so the bench drops the order.
    """
    holder, holder_user, status = uow.order_claim(order_id)
    if holder == ctx.station_id:
        return
    if holder:
        why = f"is now being packed at {holder} by {holder_user}"
    elif status == OrderStatus.PACKED.value:
        why = "is already packed"
    else:
        why = "was released from this bench (by a lead): scan it again to continue it"
    raise _ClaimLost(Outcome(Verdict.ORDER_REFUSED, f"NOT SAVED — order {order_id} {why}. Put the items aside.",
                             data={"claim_lost": True, "holder": holder}))


# --- claim / resume / release -------------------------------------------------------------


def _load_session(uow: UnitOfWork, order_id: str) -> PackSession:
    order = uow.load_order(order_id)
    assert order is not None
    products = uow.products_by_sku(line.sku for line in order.lines)
    types = {ct.code: ct for ct in uow.carton_types()}
    cartons = uow.load_cartons(order_id, types)
    return PackSession(order=order, products=products, cartons=cartons)


def claim_order(ctx: PackingContext, user: User, code: str) -> PackSession:
    """Claim the order with this number (or tote barcode) for this bench. Raises OrderRefused."""
    with ctx.uow() as uow:
        order_id = uow.find_order_id(code.strip())
        if order_id is None:
            raise OrderRefused(f"No order or tote {code!r}. Check the order number and scan again.")
        holder, holder_user, status = uow.order_claim(order_id)
        if holder and holder != ctx.station_id:
            raise OrderRefused(f"Order {order_id} is being packed at {holder} by {holder_user}. Ask a lead to release it.")
        state = OrderStatus(status)
        if not state.packable:
            why = {
                OrderStatus.ON_HOLD: "is on hold (payment not received)",
                OrderStatus.PACKED: "is already packed",
                OrderStatus.IN_TRANSIT: "has already shipped",
                OrderStatus.DELIVERED: "has been delivered",
                OrderStatus.CANCELLED: "was cancelled",
            }.get(state, f"is {state.value}")
            raise OrderRefused(f"Order {order_id} {why}: it cannot be packed.")
        if not uow.try_claim(order_id, user.name):
            holder, holder_user, _ = uow.order_claim(order_id)
            raise OrderRefused(f"Order {order_id} was just claimed by {holder} ({holder_user}).")
        uow.add_event("order.claimed", order_id, user.name, {"station": ctx.station_id})
        session = _load_session(uow, order_id)
        uow.commit()
    return session


def claim_next_order(ctx: PackingContext, user: User, carrier: str | None = None) -> PackSession | None:
    """Claim the oldest packable order no bench holds (for benches working a queue).

    Packable: released, picked in a wave, or put back half-packed (CMD-CANCEL, lead release).
    """
    with ctx.uow() as uow:
        order_id = uow.claim_next(user.name, carrier)
        if order_id is None:
            return None
        uow.add_event("order.claimed", order_id, user.name, {"station": ctx.station_id, "next": True})
        session = _load_session(uow, order_id)
        uow.commit()
    return session


def resume_session(ctx: PackingContext) -> PackSession | None:
    """The order this bench was packing before a crash or power cut, with its scans and cartons."""
    with ctx.uow() as uow:
        order_id = uow.claimed_order()
        if order_id is None:
            return None
        session = _load_session(uow, order_id)
        uow.commit()
    return session


def release_order(ctx: PackingContext, session: PackSession, user: User) -> Outcome:
    """Put the order back (CMD-CANCEL): its scans and cartons stay, any bench may continue it."""
    try:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, session.order.order_id)
            uow.release_claim(session.order.order_id)
            uow.add_event("order.released", session.order.order_id, user.name, {"station": ctx.station_id})
            uow.commit()
    except StorageError as exc:
        return _storage_failed(exc)
    except _ClaimLost as lost:
        return lost.outcome
    return Outcome(Verdict.ORDER_RELEASED, f"Order {session.order.order_id} released. Scan the next order.")


def release_claim(ctx: PackingContext, order_id: str, lead: User, reason: str) -> Outcome:
    """A lead frees an order held by another bench (the bench crashed or the packer left)."""
    if not lead.role.can_authorise:
        return Outcome(Verdict.NOT_ALLOWED, "Only a lead can release another bench's order.")
    with ctx.uow() as uow:
        real_id = uow.find_order_id(order_id)
        if real_id is None:
            return Outcome(Verdict.ORDER_REFUSED, f"No order {order_id!r}.")
        holder, holder_user, _ = uow.order_claim(real_id)
        if holder is None:
            return Outcome(Verdict.ORDER_RELEASED, f"Order {real_id} was not claimed.")
        uow.release_claim(real_id)
        uow.add_event("order.claim_released", real_id, lead.name, {"from_station": holder, "from_user": holder_user, "reason": reason})
        uow.commit()
    return Outcome(Verdict.ORDER_RELEASED, f"Order {real_id} released from {holder}.")


# --- cartons ----------------------------------------------------------------------------------


def open_carton(ctx: PackingContext, session: PackSession, user: User, type_code: str) -> Outcome:
    order_id = session.order.order_id
    try:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            ctype = uow.carton_type(type_code)
            if ctype is None:
                return Outcome(Verdict.INVALID_SCAN, f"No carton type {type_code!r}. Scan a carton barcode from the card.")
            current = session.open_carton
            if current is not None and not current.items:
                # an empty open carton is simply swapped for the new type
                uow.update_carton(order_id, current.seq, type_code=ctype.code)
                uow.add_event("carton.changed", order_id, user.name, {"seq": current.seq, "type": ctype.code})
                uow.commit()
                current.type = ctype
                return Outcome(Verdict.CARTON_OPENED, f"Carton {current.seq} is now a {ctype.name}.", data={"seq": current.seq})
            if current is not None:
                return Outcome(Verdict.NOT_ALLOWED, f"Carton {current.seq} is still open: close it first (CMD-CLOSE-CARTON).")
            carton = Carton(seq=session.next_carton_seq(), type=ctype)
            uow.insert_carton(order_id, carton, user.name)
            uow.add_event("carton.opened", order_id, user.name, {"seq": carton.seq, "type": ctype.code})
            uow.commit()
    except StorageError as exc:
        return _storage_failed(exc)
    except _ClaimLost as lost:
        return lost.outcome
    session.cartons.append(carton)
    return Outcome(Verdict.CARTON_OPENED, f"Carton {carton.seq} ({ctype.name}) open: scan the items.", data={"seq": carton.seq})


def close_carton(ctx: PackingContext, session: PackSession, user: User, measured_g: int) -> Outcome:
    """Close the open carton with a stable scale weight; out of tolerance blocks it."""
    decision = session.evaluate_close(measured_g, ctx.tolerance)
    carton = session.open_carton
    order_id = session.order.order_id
    data: dict[str, Any] = {"expected_g": decision.expected_g, "measured_g": measured_g, "allowed_g": decision.allowed_g}
    if decision.verdict is Verdict.CARTON_BLOCKED:
        assert carton is not None
        try:
            with ctx.uow() as uow:
                _hold_claim(ctx, uow, order_id)
                uow.update_carton(order_id, carton.seq, status=CartonStatus.BLOCKED.value, measured_g=measured_g, expected_g=decision.expected_g)
                uow.add_event("carton.blocked", order_id, user.name, {"seq": carton.seq, **data})
                uow.commit()
        except StorageError as exc:
            return _storage_failed(exc)
        except _ClaimLost as lost:
            return lost.outcome
        carton.status = CartonStatus.BLOCKED
        carton.measured_g = measured_g
        return Outcome(Verdict.CARTON_BLOCKED, decision.message, data={"seq": carton.seq, **data})
    if decision.verdict is not Verdict.CARTON_CLOSED:
        return Outcome(decision.verdict, decision.message)
    assert carton is not None
    return _seal(ctx, session, user, carton, measured_g, decision.expected_g, override_by=None, data=data)


def override_carton(ctx: PackingContext, session: PackSession, lead: User) -> Outcome:
    """A lead accepts a blocked carton at its measured weight."""
    if not lead.role.can_authorise:
        return Outcome(Verdict.NOT_ALLOWED, f"{lead.name} is not a lead: a lead must scan their badge.")
    carton = session.open_carton
    if carton is None or carton.status is not CartonStatus.BLOCKED or carton.measured_g is None:
        return Outcome(Verdict.NOT_ALLOWED, "No blocked carton to override.")
    expected = session.expected_weight(carton)
    return _seal(ctx, session, lead, carton, carton.measured_g, expected, override_by=lead.name,
                 data={"expected_g": expected, "measured_g": carton.measured_g})


def _seal(
    ctx: PackingContext,
    session: PackSession,
    user: User,
    carton: Carton,
    measured_g: int,
    expected_g: int,
    *,
    override_by: str | None,
    data: dict[str, Any],
) -> Outcome:
    order = session.order
    try:
        sscc = _reserve_sscc(ctx)
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order.order_id)
            uow.update_carton(
                order.order_id, carton.seq, status=CartonStatus.CLOSED.value, measured_g=measured_g,
                expected_g=expected_g, sscc=sscc, override_by=override_by,
            )
            uow.add_event(
                "carton.overridden" if override_by else "carton.closed", order.order_id, user.name,
                {"seq": carton.seq, "sscc": sscc, "type": carton.type.code, **data},
            )
            complete = order.complete and all(not c.is_open or c is carton or not c.items for c in session.cartons)
            empty = [c for c in session.cartons if c.is_open and c is not carton and not c.items]
            if complete:
                for c in empty:
                    uow.delete_carton(order.order_id, c.seq)
                uow.release_claim(order.order_id, status=OrderStatus.PACKED)
                uow.add_event("order.packed", order.order_id, user.name, {"cartons": len(session.cartons) - len(empty)})
            uow.commit()
    except StorageError as exc:
        return _storage_failed(exc)
    except _ClaimLost as lost:
        return lost.outcome
    carton.status = CartonStatus.CLOSED
    carton.measured_g = measured_g
    carton.sscc = sscc
    carton.override_by = override_by
    out = {"seq": carton.seq, "sscc": sscc, **data}
    if complete:
        session.cartons = [c for c in session.cartons if c not in empty]
        order.status = OrderStatus.PACKED
        return Outcome(Verdict.ORDER_COMPLETE, f"Carton {carton.seq} sealed ({measured_g} g). Order {order.order_id} packed.",
                       data={**out, "order_complete": True})
    remaining = sum(line.remaining for line in order.lines)
    msg = f"Carton {carton.seq} sealed ({measured_g} g), SSCC {sscc}."
    if remaining:
        msg += f" {remaining} item(s) left: open the next carton."
    return Outcome(Verdict.CARTON_CLOSED, msg, data=out)


def _reserve_sscc(ctx: PackingContext) -> str:
    """Take the next SSCC in a transaction of its own, committed before the carton is sealed.

    If sealing then fails (the database refuses it, or an SSCC already exists because the
    counter was restored from an old backup), the number stays used and the next attempt gets
    a fresh one: an SSCC is never handed out twice, and a retry never hits the same conflict.
    GS1 allows gaps in serial references.
    """
    with ctx.uow() as uow:
        serial = uow.next_counter("sscc")
        uow.commit()
    return sscc18(ctx.sscc_extension, ctx.gs1_company_prefix, serial)


# --- item scans -----------------------------------------------------------------------------


_REFUSALS = frozenset({Verdict.WRONG_ITEM, Verdict.UNKNOWN_BARCODE, Verdict.OVER_SCAN, Verdict.EXPIRED_LOT,
                       Verdict.SERIAL_ALREADY_SHIPPED, Verdict.NOT_ALLOWED})


def _refused(ctx: PackingContext, session: PackSession, user: User, outcome: Outcome, barcode: str) -> Outcome:
    """Record a refused item scan (the lead's error figures count them), then show it.

    The refusal changes nothing, so if it cannot be recorded the verdict still stands.
    """
    try:
        with ctx.uow() as uow:
            uow.add_event("scan.refused", session.order.order_id, user.name,
                          {"verdict": outcome.verdict.value, "sku": outcome.sku, "barcode": barcode})
            uow.commit()
    except StorageError:
        log.warning("could not record refused scan %s on %s", barcode, session.order.order_id)
    return outcome


def _store_item(ctx: PackingContext, session: PackSession, decision: ItemDecision, user: User, barcode: str) -> Outcome:
    if decision.item is None:
        session.apply_item(decision)
        outcome = Outcome(decision.verdict, decision.message, sku=decision.sku)
        return _refused(ctx, session, user, outcome, barcode) if decision.verdict in _REFUSALS else outcome
    item = decision.item
    order_id = session.order.order_id
    carton = session.carton(item.carton_seq)
    try:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            uow.insert_scan(order_id, item)
            uow.add_packed(order_id, item.line_no, item.qty)
            if carton.status is CartonStatus.BLOCKED:
                # the packer is fixing a blocked carton: it is open again and must be re-weighed,
                # on disk too, or a restart would bring back the stale block and weight
                uow.update_carton(order_id, carton.seq, status=CartonStatus.OPEN.value, measured_g=None)
            uow.add_event(
                "scan.recorded", order_id, item.user,
                {"scan_id": item.scan_id, "sku": item.sku, "qty": item.qty, "carton": item.carton_seq,
                 "lot": item.lot, "expiry": item.expiry, "serial": item.serial, "barcode": item.barcode},
            )
            uow.commit()
    except StorageError as exc:
        return _storage_failed(exc)
    except _ClaimLost as lost:
        return lost.outcome
    session.apply_item(decision)
    line = session.line(item.line_no)
    return Outcome(Verdict.ACCEPTED, decision.message, sku=item.sku,
                   data={"scan_id": item.scan_id, "line_no": item.line_no, "packed": line.packed, "qty": line.qty})


def record_item_scan(ctx: PackingContext, session: PackSession, user: User, barcode: Barcode) -> Outcome:
    """An item scan: checked against the order, stored, and only then counted."""
    today = ctx.clock().date()
    scan_id = str(uuid.uuid4())
    if session.resolve(barcode) is None:
        try:
            with ctx.uow(readonly=True) as uow:
                hit = uow.product_by_barcode(barcode.value)
        except StorageError as exc:
            return _storage_failed(exc)
        session.pending = None
        session.pending_qty = None
        if hit is None:
            outcome = Outcome(Verdict.UNKNOWN_BARCODE, f"Unknown barcode {barcode.raw or barcode.value}. Put the item aside for a lead.")
        else:
            outcome = Outcome(Verdict.WRONG_ITEM, f"WRONG ITEM: {hit[0].name} ({hit[0].sku}) is not on this order. Put it aside.", sku=hit[0].sku)
        return _refused(ctx, session, user, outcome, barcode.value)
    serial_shipped = False
    if barcode.serial:
        product, _ = session.resolve(barcode)  # type: ignore[misc]
        serial_shipped = _serial_shipped(ctx, product.sku, barcode.serial)
    decision = session.evaluate_item(barcode, today, user=user.name, scan_id=scan_id, serial_shipped=serial_shipped)
    return _store_item(ctx, session, decision, user, barcode.value)


def record_detail(ctx: PackingContext, session: PackSession, user: User, text: str) -> Outcome:
    """The answer to a lot / expiry / serial prompt."""
    today = ctx.clock().date()
    pending = session.pending
    serial_shipped = False
    if pending is not None and session.products[pending.sku].tracking.value == "serial":
        serial_shipped = _serial_shipped(ctx, pending.sku, text.strip())
    decision = session.evaluate_detail(text, today, user=user.name, scan_id=str(uuid.uuid4()), serial_shipped=serial_shipped)
    return _store_item(ctx, session, decision, user, pending.barcode if pending else text.strip())


def _serial_shipped(ctx: PackingContext, sku: str, serial: str) -> bool:
    with ctx.uow(readonly=True) as uow:
        return uow.serial_shipped(sku, serial)


def set_quantity(session: PackSession, barcode: Barcode) -> Outcome:
    decision = session.evaluate_quantity(barcode)
    if decision.verdict is Verdict.QTY_SET:
        session.pending_qty = int(barcode.value)
    session.awaiting_qty = False
    return Outcome(decision.verdict, decision.message)


def undo_last_scan(ctx: PackingContext, session: PackSession, user: User) -> Outcome:
    """Take back the newest scan of this user (a lead may take back anyone's) from an unsealed carton."""
    if session.pending is not None or session.pending_qty is not None:
        session.pending = None
        session.pending_qty = None
        return Outcome(Verdict.UNDONE, "Prompt cancelled. Scan the item again.")
    item = session.last_undoable(user.name, any_user=user.role.can_authorise)
    if item is None:
        return Outcome(Verdict.NOTHING_TO_UNDO, "Nothing to undo: the last scan is in a sealed carton or is not yours.")
    try:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, session.order.order_id)
            uow.undo_scan(item, user.name)
            uow.add_packed(session.order.order_id, item.line_no, -item.qty)
            uow.add_event("scan.undone", session.order.order_id, user.name, {"scan_id": item.scan_id, "sku": item.sku, "qty": item.qty})
            carton = session.carton(item.carton_seq)
            if carton.status is CartonStatus.BLOCKED:
                uow.update_carton(session.order.order_id, carton.seq, status=CartonStatus.OPEN.value, measured_g=None)
            uow.commit()
    except StorageError as exc:
        return _storage_failed(exc)
    except _ClaimLost as lost:
        return lost.outcome
    session.apply_undo(item)
    product = session.products[item.sku]
    line = session.line(item.line_no)
    return Outcome(Verdict.UNDONE, f"Undone: {item.qty} × {product.name} ({line.packed} of {line.qty}). Take it out of the carton.", sku=item.sku)


def short_ship(ctx: PackingContext, session: PackSession, lead: User, reason: str) -> Outcome:
    """A lead ships the order without what is missing; the short lines are recorded with the reason."""
    if not lead.role.can_authorise:
        return Outcome(Verdict.NOT_ALLOWED, f"{lead.name} is not a lead: short-shipping needs a lead's badge.")
    short = session.short_lines()
    if not short:
        return Outcome(Verdict.NOT_ALLOWED, "Nothing is missing: every line is complete.")
    if not reason.strip():
        return Outcome(Verdict.NOT_ALLOWED, "A short-ship needs a reason.")
    if not session.items:
        return Outcome(Verdict.NOT_ALLOWED, "Nothing is packed yet: a short-ship would send an empty parcel. "
                       "Release the order (CMD-CANCEL) and ask a lead.")
    order_id = session.order.order_id
    # Everything already packed is in sealed cartons: nothing is left to close, so the
    # short-ship itself finishes the order (otherwise it would stay claimed for ever).
    finishes = not any(c.is_open and c.items for c in session.cartons)
    empty = [c for c in session.cartons if c.is_open and not c.items]
    try:
        with ctx.uow() as uow:
            _hold_claim(ctx, uow, order_id)
            for line in short:
                uow.set_short(order_id, line.line_no, line.short + line.remaining, reason)
            uow.add_event("order.short_shipped", order_id, lead.name,
                          {"reason": reason, "lines": [{"sku": ln.sku, "short": ln.remaining} for ln in short]})
            if finishes:
                for c in empty:
                    uow.delete_carton(order_id, c.seq)
                uow.release_claim(order_id, status=OrderStatus.PACKED)
                uow.add_event("order.packed", order_id, lead.name, {"cartons": len(session.cartons) - len(empty)})
            uow.commit()
    except StorageError as exc:
        return _storage_failed(exc)
    except _ClaimLost as lost:
        return lost.outcome
    missing = sum(line.remaining for line in short)
    for line in short:
        line.short += line.remaining
    text = f"Short-ship approved by {lead.name}: {missing} item(s) will not ship."
    if finishes:
        session.cartons = [c for c in session.cartons if c not in empty]
        session.order.status = OrderStatus.PACKED
        return Outcome(Verdict.ORDER_COMPLETE, f"{text} Order {order_id} packed.", data={"order_complete": True})
    return Outcome(Verdict.SHORT_SHIPPED, f"{text} Close the carton.")


# --- reprints -------------------------------------------------------------------------------

REPRINT_REASONS = ("label damaged", "label lost", "printer jammed", "wrong printer", "carrier asked", "other")


@dataclass(frozen=True)
class ReprintPlan:
    session: PackSession
    cartons: tuple[Carton, ...]  # the sealed cartons whose labels print again
    slip: bool  # the packing slip prints again (an order was scanned, not one carton)


def plan_reprint(ctx: PackingContext, code: str, lead: User, reason: str, printer: str) -> ReprintPlan:
    """A lead reprints a carton's label (scan its SSCC) or an order's labels and slip; audited.

    Raises OrderRefused when there is nothing to reprint or the user is not a lead.
    """
    if not lead.role.can_authorise:
        raise OrderRefused(f"{lead.name} is not a lead: reprints need a lead.")
    if not reason.strip():
        raise OrderRefused("A reprint needs a reason.")
    code = code.strip()
    sscc = code[2:] if code.startswith("00") and len(code) == 20 else code
    with ctx.uow() as uow:
        carton_hit = uow.carton_by_sscc(sscc)
        order_id = carton_hit[0] if carton_hit else uow.find_order_id(code)
        if order_id is None:
            raise OrderRefused(f"No carton or order {code!r}.")
        session = _load_session(uow, order_id)
        sealed = [c for c in session.cartons if c.sscc]
        chosen = [c for c in sealed if c.sscc == sscc] if carton_hit else sealed
        if not chosen:
            raise OrderRefused(f"Order {order_id} has no sealed carton yet: nothing to reprint.")
        uow.add_event("label.reprinted", order_id, lead.name, {
            "reason": reason, "printer": printer, "sscc": [c.sscc for c in chosen], "slip": not carton_hit,
            "station": ctx.station_id,
        })
        uow.commit()
    return ReprintPlan(session=session, cartons=tuple(chosen), slip=not carton_hit)
