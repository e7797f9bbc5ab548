"""Returns use cases: find and open returns, receive items into a parcel, grade, photograph, decide,
restock, resolve (refund, replacement, credit note); and the read side (list, detail, figures).

Each verb takes the context and the acting session (checked here: ``Permission.RETURNS``),
decides with the rules in ``domain.returns``, and stores the change with its event in one
transaction. Every event's payload is complete: another database (the centre) can apply the
change from the event alone (see ``EVENT_KINDS``). Return states change only through
:func:`_set_status`, which asks ``domain.lifecycle.return_transition``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from packstation.domain.barcodes import Barcode, BarcodeKind
from packstation.domain.documents import Address as DocAddress
from packstation.domain.documents import CreditLine, CreditNoteData
from packstation.domain.identity import Permission, Session
from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.model import Order, Product
from packstation.domain.packing import Verdict
from packstation.domain.print_jobs import PrintJob
from packstation.domain.returns import (
    CreditNote,
    Disposition,
    Receipt,
    ReceiveDecision,
    ReceivedItem,
    Resolution,
    ResolutionKind,
    ResolutionRefused,
    Return,
    ReturnLine,
    ShippedUnit,
    customer_key,
    evaluate_receive,
    plan_resolution,
    status_after_inspection,
)
from packstation.domain.stock import MovementKind, StockMovement
from packstation.services import printing
from packstation.services.context import Context, record
from packstation.services.documents import doc_address
from packstation.services.lifecycle import change_return_status
from packstation.services.photos import Camera, Picture, store_photo
from packstation.services.ports import Conflict, StorageError, UnitOfWork

MAX_NOTE = 500
MAX_LOCATION = 32

# every event kind this module writes; the central sync applies them (services.returns_replay)
EVENT_KINDS = (
    "return.opened", "return.receipt_opened", "return.receipt_joined", "return.receipt_closed",
    "return.item_received", "return.scan_refused", "return.photo_added", "return.item_graded", "return.item_noted",
    "return.item_decided", "return.restocked", "return.resolved", "credit_note.issued",
    "return.received", "return.inspected", "return.processed", "return.closed",
)


class ReturnRefused(Exception):
    """The desk cannot do this (no such return, another customer's parcel, ...); the message says why."""


# --- finding a return -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    order: Order
    returns: tuple[Return, ...]  # the open returns it stands for (none: the desk may open one)
    via: str  # what the code was: return code, RMA, order, carton, tracking number

    @property
    def customer(self) -> str:
        return customer_key(self.order.customer_email, self.order.customer_name)


def shipped_units(ctx: Context, uow: UnitOfWork, order_id: str) -> list[Any]:
    """What left in the order: the bench's scans and cartons, from this station's database, or from
    the central database when the order was packed at another bench (a synced returns desk holds
    no other bench's scans). Offline and not here: none (the desk then refuses what it cannot match,
    with the reason; the desk keeps what it read while online for the open parcel)."""
    units = uow.returns.shipped(order_id)
    if units or ctx.central is None:
        return units
    try:
        with ctx.central(readonly=True) as central:
            return central.returns.shipped(order_id)
    except StorageError:
        return units


def _carton_at_centre(ctx: Context, text: str, sscc: str | None) -> tuple[str, str] | None:
    assert ctx.central is not None
    try:
        with ctx.central(readonly=True) as central:
            hit = central.shipments.carton_by_sscc(sscc) if sscc is not None else None
            if hit is not None:
                return hit[0], "carton"
            found = central.orders.find_by_tracking(text)
            return (found, "tracking number") if found is not None else None
    except StorageError:
        return None


def _code_of(bc: Barcode | str) -> tuple[str, str | None]:
    """The text as scanned, and the SSCC when the scan is one (bare 18 digits or AI 00)."""
    if isinstance(bc, str):
        return bc.strip(), None
    return (bc.raw or bc.value).strip(), bc.sscc if bc.kind is BarcodeKind.SSCC or bc.sscc else None


def find(ctx: Context, session: Session, code: Barcode | str) -> Found:
    """What a scanned code at the desk stands for: the return code on the slip (``RET-<order>``),
    an RMA id, an order number (or tote), a carton's SSCC or its tracking barcode, or the return
    parcel's tracking barcode (its return label)."""
    ctx.auth.require(session, Permission.RETURNS, "The returns desk")
    text, sscc = _code_of(code)
    with ctx.uow(readonly=True) as uow:
        order_id: str | None = None
        via = "order"
        only: Return | None = None
        parcel: list[Return] = []  # the returns a return parcel's tracking number stands for
        if text.upper().startswith("RET-") and len(text) > 4:
            order_id, via = uow.orders.find_id(text[4:]), "return code"
        if order_id is None:
            only = uow.returns.get(text)
            if only is not None:
                order_id, via = only.order_id, "RMA"
        if order_id is None and sscc is not None:
            hit = uow.shipments.carton_by_sscc(sscc)
            if hit is not None:
                order_id, via = hit[0], "carton"
        if order_id is None:
            order_id = uow.orders.find_id(text)
        if order_id is None:
            found = uow.orders.find_by_tracking(text)
            if found is not None:
                order_id, via = found, "tracking number"
        if order_id is None and (parcel := uow.returns.with_tracking(text)):  # the return label on the parcel
            order_id, via = parcel[0].order_id, "return parcel"
        if order_id is None and ctx.central is not None:  # a carton another bench packed: the centre knows it
            order_id, via = _carton_at_centre(ctx, text, sscc) or (None, via)
            if order_id is not None and uow.orders.get(order_id) is None:
                order_id = None  # not pulled here yet: the next pull brings it
        if order_id is None:
            raise ReturnRefused(f"No return, order, carton or tracking number {text!r}. Check the code on the parcel "
                                "or the packing slip and scan again.")
        order = uow.orders.get(order_id)
        assert order is not None
        if only is not None:
            if not only.open:
                raise ReturnRefused(f"Return {only.rma_id} is {only.status.value}: nothing more can be received on it.")
            returns: tuple[Return, ...] = (only,)
        elif parcel:
            returns = tuple(r for r in parcel if r.open)
            if not returns:
                raise ReturnRefused(f"The return(s) of parcel {text} ({', '.join(r.rma_id for r in parcel)}) are "
                                    f"{parcel[0].status.value}: nothing more can be received on them.")
        else:
            returns = tuple(r for r in uow.returns.for_order(order_id) if r.open)
    if not order.status.shipped:
        raise ReturnRefused(f"Order {order.order_id} is {order.status.value.replace('_', ' ')}: it has not shipped, so "
                            "nothing of it can come back.")
    return Found(order, returns, via)


def _new_rma_id(uow: UnitOfWork, ctx: Context) -> str:
    n = uow.numbers.next("rma")
    rma_id = f"RMA-{ctx.station_id}-{n:05d}"
    return rma_id if len(rma_id) <= 64 else f"RMA-{uuid.uuid4().hex[:20].upper()}"


def open_return(ctx: Context, session: Session, order_id: str, reason: str) -> Return:
    """A parcel came without an announced return: open one for its order (the desk asks the reason).

    Its lines are what arrives (each checked against what shipped)."""
    ctx.auth.require(session, Permission.RETURNS, "Opening a return")
    reason = reason.strip()
    if not reason:
        raise ReturnRefused("A return needs a reason: pick one by its number.")
    with ctx.uow() as uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise ReturnRefused(f"No order {order_id!r}.")
        if not order.status.shipped:
            raise ReturnRefused(f"Order {order_id} has not shipped: nothing of it can come back.")
        ret = Return(_new_rma_id(uow, ctx), order_id, reason[:200], ReturnStatus.INITIATED, [], origin="desk")
        uow.returns.add(ret, ctx.clock())
        record(uow, ctx, session, "return.opened", order_id, {
            "rma_id": ret.rma_id, "order_id": order_id, "reason": ret.reason, "status": ret.status.value,
            "origin": "desk", "lines": []})
        uow.commit()
    return ret


# --- receipts -------------------------------------------------------------------------------------


def _customer_of(uow: UnitOfWork, rma_id: str) -> tuple[Return, str]:
    ret = uow.returns.get(rma_id)
    if ret is None:
        raise ReturnRefused(f"No return {rma_id!r}.")
    order = uow.orders.get(ret.order_id)
    assert order is not None
    return ret, customer_key(order.customer_email, order.customer_name)


def open_receipt(ctx: Context, session: Session, rma_ids: list[str]) -> Receipt:
    """Open a parcel at this desk, holding the items of these returns (of one customer)."""
    ctx.auth.require(session, Permission.RETURNS, "Receiving a parcel")
    if not rma_ids:
        raise ReturnRefused("A parcel needs at least one return.")
    with ctx.uow() as uow:
        customers = {_customer_of(uow, rma_id)[1] for rma_id in rma_ids}
        if len(customers) != 1:
            raise ReturnRefused("These returns belong to different customers: one parcel, one customer.")
        receipt = Receipt(id=str(uuid.uuid4()), station_id=ctx.station_id, customer=customers.pop(),
                          opened_by=session.actor, opened_at=ctx.clock(), rma_ids=tuple(dict.fromkeys(rma_ids)))
        uow.returns.open_receipt(receipt)
        record(uow, ctx, session, "return.receipt_opened", None, {
            "receipt_id": receipt.id, "station": ctx.station_id, "customer": receipt.customer,
            "rma_ids": list(receipt.rma_ids), "opened_at": receipt.opened_at})
        uow.commit()
    return receipt


def join_receipt(ctx: Context, session: Session, receipt: Receipt, rma_ids: list[str]) -> Receipt:
    """More returns of the same customer in the same parcel."""
    ctx.auth.require(session, Permission.RETURNS, "Receiving a parcel")
    new = [i for i in dict.fromkeys(rma_ids) if i not in receipt.rma_ids]
    if not new:
        return receipt
    with ctx.uow() as uow:
        for rma_id in new:
            ret, customer = _customer_of(uow, rma_id)
            if customer != receipt.customer:
                raise ReturnRefused(f"Return {rma_id} is another customer's: this parcel holds {receipt.customer}'s "
                                    "returns. Finish this parcel first (RET-DONE).")
            uow.returns.join_receipt(receipt.id, rma_id)
            record(uow, ctx, session, "return.receipt_joined", ret.order_id, {"receipt_id": receipt.id, "rma_id": rma_id})
        uow.commit()
    return replace(receipt, rma_ids=receipt.rma_ids + tuple(new))


def close_receipt(ctx: Context, session: Session, receipt: Receipt) -> None:
    ctx.auth.require(session, Permission.RETURNS, "Receiving a parcel")
    with ctx.uow() as uow:
        uow.returns.close_receipt(receipt.id, ctx.clock())
        record(uow, ctx, session, "return.receipt_closed", None, {"receipt_id": receipt.id, "at": ctx.clock()})
        uow.commit()


def open_receipt_of_station(ctx: Context, session: Session) -> Receipt | None:
    """The parcel this desk had open before a logout or a crash."""
    ctx.auth.require(session, Permission.RETURNS, "The returns desk")
    with ctx.uow(readonly=True) as uow:
        return uow.returns.receipt_of(ctx.station_id)


# --- receiving ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What a receive scan came to: the decision, and the item stored when it was accepted."""

    decision: ReceiveDecision
    product: Product | None
    item: ReceivedItem | None = None
    event_id: str | None = None
    line: ReturnLine | None = None  # the line as stored (new, grown or as it was)
    status: ReturnStatus | None = None  # the return's status after it

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict


_RECEIVE_REFUSALS = frozenset({Verdict.NOT_IN_ORDER, Verdict.SERIAL_NOT_SHIPPED, Verdict.LOT_NOT_SHIPPED,
                               Verdict.MORE_THAN_SHIPPED, Verdict.UNKNOWN_BARCODE, Verdict.NOT_ALLOWED})


def _set_status(uow: UnitOfWork, ctx: Context, session: Session, ret: Return, target: ReturnStatus,
                **payload: Any) -> None:
    """Through ``services.lifecycle``: the one place a return's status changes (and its event)."""
    change_return_status(uow, ctx, session, ret, target, **payload)


def receive(ctx: Context, session: Session, receipt: Receipt, barcode: Barcode, *, lot: str | None = None,
            serial: str | None = None, source: str = "wedge", shipped: dict[str, list[ShippedUnit]] | None = None,
            product: tuple[Product, int] | None = None) -> Received:
    """One returned item scanned into the parcel: checked against what shipped, stored, recorded.

    Lot and serial come from the scan (GS1 (10)/(21)) or the answers to NEEDS_LOT / NEEDS_SERIAL.
    A refusal is recorded as ``return.scan_refused``; an accepted item as ``return.item_received``
    (and the return becomes *received*). *shipped* may hold the parcel's orders' shipped units
    (the desk loads them once: they do not change once an order shipped), and *product* what the
    barcode stands for (the desk knows its parcel's products; otherwise the catalog is asked)."""
    ctx.auth.require(session, Permission.RETURNS, "Receiving a returned item")
    code = barcode.raw or barcode.value
    with ctx.uow() as uow:
        hit = product or uow.catalog.by_barcode(barcode.value)
        if hit is None:
            decision = ReceiveDecision(Verdict.UNKNOWN_BARCODE, f"Unknown barcode {code}: no product of the catalog. "
                                       "Put the item aside for a lead (recorded).")
            orders = list(dict.fromkeys(r.order_id for i in receipt.rma_ids if (r := uow.returns.get(i)) is not None))
            event = _refusal(uow, ctx, session, receipt, decision, code, lot, serial, source, orders)
            uow.commit()
            return Received(decision, None, event_id=event)
        item_product, multiple = hit
        units = multiple * (barcode.count or 1)
        lot = (lot or barcode.lot or "").strip() or None
        serial = (serial or barcode.serial or "").strip() or None
        returns = [r for r in (uow.returns.get(i) for i in receipt.rma_ids) if r is not None and r.open]
        orders = list(dict.fromkeys(r.order_id for r in returns))
        units_by_order = {o: (shipped or {}).get(o) or shipped_units(ctx, uow, o) for o in orders}
        received = [i for o in orders for i in uow.returns.items_of_order(o)]
        left_in = uow.returns.serial_left_in(item_product.sku, serial) if serial else None
        decision = evaluate_receive(item_product, units, returns, units_by_order, received, lot=lot, serial=serial,
                                    serial_left_in=left_in)
        if decision.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_SERIAL):
            return Received(decision, item_product)
        if not decision.accepted:
            event = _refusal(uow, ctx, session, receipt, decision, code, lot, serial, source, orders)
            uow.commit()
            return Received(decision, item_product, event_id=event)
        assert decision.line is not None and decision.rma_id is not None and decision.order_id is not None
        ret = next(r for r in returns if r.rma_id == decision.rma_id)
        line = decision.line
        if decision.new_line:  # worth what the order charged for it
            order = uow.orders.get(decision.order_id)
            sold = order.line_for(item_product.sku) if order is not None else None
            line = replace(line, unit_price=sold.unit_price if sold is not None else None)
            uow.returns.put_line(ret.rma_id, line)
        elif decision.grow_line:
            line = replace(line, qty=line.qty + units)
            uow.returns.put_line(ret.rma_id, line)
        m = decision.matched
        item = ReceivedItem(
            id=str(uuid.uuid4()), rma_id=ret.rma_id, order_id=decision.order_id, line_no=line.line_no, sku=item_product.sku,
            qty=units, barcode=code[:64], received_by=session.actor, station_id=ctx.station_id, received_at=ctx.clock(),
            receipt_id=receipt.id, lot=lot if item_product.tracking.value != "none" else None,
            serial=serial if item_product.tracking.value == "serial" else None, unexpected=decision.unexpected,
            matched_scan=m.scan_id if m else None, carton_seq=m.carton_seq if m else None, sscc=m.sscc if m else None,
            packer=m.packer if m else None)
        uow.returns.add_item(item)
        event = record(uow, ctx, session, "return.item_received", decision.order_id, {
            "rma_id": ret.rma_id, "receipt_id": receipt.id, "item_id": item.id, "line_no": line.line_no,
            "line": {"sku": line.sku, "qty": line.qty, "unexpected": line.unexpected,
                     "unit_price": str(line.unit_price) if line.unit_price is not None else None,
                     "new": decision.new_line, "grown": decision.grow_line},
            "sku": item.sku, "qty": item.qty, "barcode": item.barcode, "lot": item.lot, "serial": item.serial,
            "unexpected": item.unexpected, "matched_scan": item.matched_scan, "carton_seq": item.carton_seq,
            "sscc": item.sscc, "packer": item.packer, "source": source, "received_at": item.received_at})
        _set_status(uow, ctx, session, ret, ReturnStatus.RECEIVED)
        uow.commit()
    return Received(decision, item_product, item, event, line=line, status=ret.status)


def _refusal(uow: UnitOfWork, ctx: Context, session: Session, receipt: Receipt, decision: ReceiveDecision, code: str,
             lot: str | None, serial: str | None, source: str, orders: list[str]) -> str:
    """``return.scan_refused``, under the order the parcel's returns are of when they are all of one
    (so ``returns show`` lists it with the return); a parcel of several orders' returns: under none."""
    return record(uow, ctx, session, "return.scan_refused", orders[0] if len(orders) == 1 else None, {
        "receipt_id": receipt.id, "rma_ids": list(receipt.rma_ids), "verdict": decision.verdict.value,
        "sku": decision.sku, "barcode": code[:64], "lot": lot, "serial": serial, "source": source,
        "reason": decision.message})


# --- inspecting -----------------------------------------------------------------------------------


class PhotoRequired(ReturnRefused):
    """A grade below the bar without a photo of the item."""


def _load_item(uow: UnitOfWork, rma_id: str, item_id: str) -> tuple[ReceivedItem, Return, list[ReceivedItem]]:
    ret = uow.returns.get(rma_id)
    if ret is None:
        raise ReturnRefused(f"No return {rma_id!r}.")
    items = uow.returns.items([rma_id])
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise ReturnRefused(f"Return {rma_id} has no received item {item_id}.")
    line = ret.line(item.line_no)
    if line is not None and line.resolution_id:
        raise ReturnRefused(f"Return {rma_id} line {item.line_no} is resolved already: its items cannot change.")
    return item, ret, items


def _after_inspection(uow: UnitOfWork, ctx: Context, session: Session, ret: Return) -> None:
    items = uow.returns.items([ret.rma_id])
    target = status_after_inspection(ret, items, ctx.returns)
    if target is not ret.status:
        _set_status(uow, ctx, session, ret, target)


def add_photo(ctx: Context, session: Session, rma_id: str, item_id: str, picture: Picture) -> str:
    """A photo of a returned item (before grading it below the bar). Returns the photo id."""
    ctx.auth.require(session, Permission.RETURNS, "A photo of a returned item")
    with ctx.uow() as uow:
        item, ret, _ = _load_item(uow, rma_id, item_id)
        photo = store_photo(uow, ctx, session, "return_item", item.id, picture, order_id=ret.order_id,
                            event="return.photo_added", rma_id=rma_id, item_id=item.id)
        uow.commit()
    return photo.id


def take_photo(ctx: Context, session: Session, rma_id: str, item_id: str, camera: Camera) -> str:
    """Take a photo with *camera* (raises CameraError) and store it for the item."""
    ctx.auth.require(session, Permission.RETURNS, "A photo of a returned item")
    return add_photo(ctx, session, rma_id, item_id, camera.capture())


def grade(ctx: Context, session: Session, rma_id: str, item_id: str, code: str, notes: str | None = None) -> ReceivedItem:
    """Grade a received item from ``[returns] grades``; below the bar it needs a photo first."""
    ctx.auth.require(session, Permission.RETURNS, "Grading a returned item")
    policy = ctx.returns
    wanted = policy.grade(code)
    if wanted is None:
        raise ReturnRefused(f"No grade {code!r}: the grades are {', '.join(g.code for g in policy.grades)}.")
    with ctx.uow() as uow:
        item, ret, _ = _load_item(uow, rma_id, item_id)
        if item.restocked_at is not None:
            raise ReturnRefused(f"{item.sku} was restocked already (bin {item.location}): its grade cannot change.")
        if policy.needs_photo(wanted.code) and not item.photos:
            raise PhotoRequired(f"Grade {wanted.code} ({wanted.label}) needs a photo of the item first: scan RET-PHOTO, "
                                "then the grade again.")
        text = (item.notes if notes is None else notes.strip())[:MAX_NOTE]
        uow.returns.grade_item(item.id, wanted.code, text, session.actor, ctx.clock())
        record(uow, ctx, session, "return.item_graded", ret.order_id, {
            "rma_id": rma_id, "item_id": item.id, "grade": wanted.code, "notes": text, "photos": list(item.photos)})
        _after_inspection(uow, ctx, session, ret)
        uow.commit()
    return replace(item, grade=wanted.code, notes=text)


def add_note(ctx: Context, session: Session, rma_id: str, item_id: str, text: str) -> ReceivedItem:
    """Add a note to a received item (joined to earlier ones)."""
    ctx.auth.require(session, Permission.RETURNS, "A note on a returned item")
    text = " ".join(text.split())
    if not text:
        raise ReturnRefused("The note is empty.")
    with ctx.uow() as uow:
        item, ret, _ = _load_item(uow, rma_id, item_id)
        notes = (f"{item.notes}; {text}" if item.notes else text)[:MAX_NOTE]
        uow.returns.note_item(item.id, notes)
        record(uow, ctx, session, "return.item_noted", ret.order_id, {"rma_id": rma_id, "item_id": item.id, "notes": notes})
        uow.commit()
    return replace(item, notes=notes)


def _location(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip().upper()
    if not text or len(text) > MAX_LOCATION or not text.isprintable():
        raise ReturnRefused(f"A bin location has 1 to {MAX_LOCATION} printable characters; got {text!r}.")
    return text


def decide(ctx: Context, session: Session, rma_id: str, item_id: str, disposition: Disposition | str,
           location: str | None = None) -> ReceivedItem:
    """Where a graded item goes. Restock with a bin writes its stock movement now; restock without a
    bin is restocked later (:func:`restock`), which does not hold up the resolution."""
    ctx.auth.require(session, Permission.RETURNS, "Deciding a returned item")
    disposition = Disposition(disposition)
    where = _location(location)
    if where is not None and disposition is not Disposition.RESTOCK:
        raise ReturnRefused(f"Only a restock goes to a bin; {disposition.label} takes no location.")
    with ctx.uow() as uow:
        item, ret, _ = _load_item(uow, rma_id, item_id)
        need = item.needs(ctx.returns)
        if need in ("grade", "photo"):
            raise ReturnRefused(f"Grade {item.sku} first (and photograph it if its grade needs it), then decide.")
        if item.restocked_at is not None:
            raise ReturnRefused(f"{item.sku} was restocked already (bin {item.location}).")
        uow.returns.decide_item(item.id, disposition.value, where, session.actor, ctx.clock())
        record(uow, ctx, session, "return.item_decided", ret.order_id, {
            "rma_id": rma_id, "item_id": item.id, "disposition": disposition.value, "location": where})
        decided = replace(item, disposition=disposition.value, location=where)
        if disposition is Disposition.RESTOCK and where is not None:
            decided = _restock(uow, ctx, session, ret, decided, where) or decided
        _after_inspection(uow, ctx, session, ret)
        uow.commit()
    return decided


def _restock(uow: UnitOfWork, ctx: Context, session: Session, ret: Return, item: ReceivedItem,
             location: str) -> ReceivedItem | None:
    """Put the item back into stock: one ``returned`` movement in the stock ledger, once (None: it was
    restocked already); the movement carries the restock event's id, so the centre applies it once."""
    at = ctx.clock()
    if not uow.returns.mark_restocked(item.id, location, at):
        return None
    event = record(uow, ctx, session, "return.restocked", ret.order_id, {
        "rma_id": ret.rma_id, "item_id": item.id, "sku": item.sku, "qty": item.qty, "lot": item.lot or "",
        "location": location, "kind": "returned", "at": at})
    uow.stock.add([StockMovement(sku=item.sku, location=location, lot=item.lot or "", qty=item.qty,
                                 kind=MovementKind.RETURNED, ref=ret.rma_id, event_id=event, actor=session.actor, at=at)])
    return replace(item, location=location, restocked_at=at)


def restock_movements(uow: UnitOfWork, ret: Return) -> list[StockMovement]:
    """The stock ledger's movements of a return (its restocks), in the order written."""
    skus = list(dict.fromkeys(ln.sku for ln in ret.lines))
    return [m for sku in skus for m in uow.stock.movements(sku) if m.ref == ret.rma_id]


def restock(ctx: Context, session: Session, rma_id: str, item_id: str, location: str | None = None) -> bool:
    """Restock an item decided *restock* (later, when it reaches its bin): its stock movement, once.

    Returns False when it was restocked already (nothing written: a second submit changes nothing).
    Without *location*, the bin decided earlier (or the product's home bin)."""
    ctx.auth.require(session, Permission.RETURNS, "Restocking a returned item")
    where = _location(location)
    with ctx.uow() as uow:
        ret = uow.returns.get(rma_id)
        item = next((i for i in uow.returns.items([rma_id]) if i.id == item_id), None)
        if ret is None or item is None:
            raise ReturnRefused(f"Return {rma_id} has no received item {item_id}.")
        if item.restocked_at is not None:
            return False
        if item.disposition != Disposition.RESTOCK.value:
            raise ReturnRefused(f"{item.sku} is decided {item.disposition or 'nothing yet'}, not restock.")
        if where is None:
            where = item.location
        if where is None:
            product = uow.catalog.products([item.sku]).get(item.sku)
            where = product.location if product is not None and product.location else None
        if where is None:
            raise ReturnRefused(f"{item.sku} has no bin: scan the bin it goes to.")
        done = _restock(uow, ctx, session, ret, item, where) is not None
        uow.commit()
    return done


# --- resolving ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    resolution: Resolution
    created: bool  # False: the same resolution was made already (a second submit resolves once)
    job: PrintJob | None = None  # the credit note's print job
    closed: bool = False


def _credit_note_data(ctx: Context, number: str, order: Order, ret: Return, lines: list[tuple[ReturnLine, Any]],
                      products: dict[str, Product], issued: datetime) -> CreditNoteData:
    policy = ctx.returns
    issuer = ctx.documents.ship_from if ctx.documents is not None else DocAddress("", "", "", "", "")
    credit: list[CreditLine] = []
    for line, resolved in lines:
        name = products[line.sku].name if line.sku in products else line.sku
        if resolved.qty:
            price = (line.unit_price or Decimal("0"))
            credit.append(CreditLine(line.sku, name, resolved.qty, price, policy.tax_rate))
        if resolved.fee:
            # the policy's fee, or what the desk / command line agreed not to pay back (an amount given)
            fee = resolved.fee == policy.fee((line.unit_price or Decimal("0")) * resolved.qty)
            what = "Restocking fee" if fee else "Deduction"
            credit.append(CreditLine("FEE", f"{what} ({line.sku})", 1, -resolved.fee, policy.tax_rate))
    return CreditNoteData(number=number, issued=issued.date(), order_id=order.order_id,
                          customer=doc_address(order.ship_to, order.customer_phone), issuer=issuer,
                          currency=order.currency, lines=tuple(credit), reason=ret.reason, rma_id=ret.rma_id)


def _replacement_record(order: Order, rma_id: str, n: int, lines: list[tuple[ReturnLine, Any]], at: datetime) -> dict[str, Any]:
    order_id = f"{rma_id}-R{n}"
    if len(order_id) > 64:
        order_id = f"R-{uuid.uuid4().hex[:16].upper()}"
    a = order.ship_to
    return {
        "order_id": order_id, "channel": order.channel, "placed_at": at.isoformat(),
        "customer": {"name": order.customer_name, "email": order.customer_email, "phone": order.customer_phone},
        "ship_to": {"name": a.name, "line1": a.line1, "line2": a.line2, "city": a.city, "region": a.region,
                    "postcode": a.postcode, "country": a.country},
        "currency": order.currency, "payment": {"method": "prepaid", "status": "paid"},
        "carrier": order.carrier, "service": order.service,
        "lines": [{"sku": line.sku, "qty": resolved.qty, "unit_price": "0.00"} for line, resolved in lines],
    }


def resolve(ctx: Context, session: Session, rma_id: str, kind: ResolutionKind | str, *,
            line_nos: list[int] | None = None, amounts: dict[int, Decimal] | None = None) -> Resolved:
    """Settle lines of a return: refund, replacement (a new order for a bench), credit note (printed,
    numbered without gaps) or nothing due. Each line is resolved once; the same submission made
    twice resolves once (the second gets the first's resolution back). The return becomes
    *processed*, and *closed* once every line is resolved."""
    ctx.auth.require(session, Permission.RETURNS, "Resolving a return")
    kind = ResolutionKind(kind)
    policy = ctx.returns
    job: PrintJob | None = None
    with ctx.uow() as uow:
        ret = uow.returns.get(rma_id)
        if ret is None:
            raise ReturnRefused(f"No return {rma_id!r}.")
        items = uow.returns.items([rma_id])
        done = uow.returns.resolutions(rma_id)
        order = uow.orders.get(ret.order_id)
        assert order is not None
        for ln in ret.lines:  # an announced line is worth what the order charged for it
            if ln.unit_price is None and (sold := order.line_for(ln.sku)) is not None:
                ln.unit_price = sold.unit_price
        try:
            plan = plan_resolution(ret, items, kind, policy, done, line_nos=line_nos, amounts=amounts)
        except ResolutionRefused as exc:
            raise ReturnRefused(str(exc)) from None
        if plan.existing is not None:
            return Resolved(plan.existing, created=False, closed=ret.status is ReturnStatus.CLOSED)
        now = ctx.clock()
        lines = [(ret.line(rl.line_no), rl) for rl in plan.lines]
        resolution = Resolution(id=str(uuid.uuid4()), rma_id=rma_id, kind=kind, lines=plan.lines, currency=order.currency,
                                key=plan.key, by=session.actor, at=now)
        if kind is ResolutionKind.CREDIT_NOTE:
            if ctx.documents is None:
                raise ReturnRefused("This station prints nothing: a credit note cannot be issued here.")
            # drawn in this transaction: rolled back with it, the number is not used (no gap)
            number = policy.credit_note_number(ctx.station_id, uow.numbers.next(policy.series(ctx.station_id)))
            resolution = replace(resolution, credit_note=number)
            products = uow.catalog.products(ln.sku for ln, _ in lines)  # type: ignore[union-attr]
            data = _credit_note_data(ctx, number, order, ret, lines, products, now)  # type: ignore[arg-type]
            job = ctx.documents.credit_note(data, reason=f"return {rma_id}")
        if kind is ResolutionKind.REPLACEMENT:
            from packstation.services.imports import RecordError, add_order

            n = sum(1 for r in done if r.kind is ResolutionKind.REPLACEMENT) + 1
            rec = _replacement_record(order, rma_id, n, lines, now)  # type: ignore[arg-type]
            try:
                new = add_order(uow, ctx, session, rec, replacement_for=rma_id)
            except RecordError as exc:
                raise ReturnRefused(f"The replacement order cannot be made: {exc}") from None
            resolution = replace(resolution, replacement_order=new.order_id)
        try:
            uow.returns.add_resolution(resolution)
        except Conflict as exc:
            raise ReturnRefused(str(exc)) from None
        record(uow, ctx, session, "return.resolved", ret.order_id, {
            "rma_id": rma_id, "resolution_id": resolution.id, "kind": kind.value, "key": resolution.key,
            "currency": resolution.currency, "total": str(resolution.total), "fees": str(resolution.fees),
            "lines": [{"line_no": ln.line_no, "qty": ln.qty, "amount": str(ln.amount), "fee": str(ln.fee)}
                      for ln in resolution.lines],
            "credit_note": resolution.credit_note, "replacement_order": resolution.replacement_order, "at": now})
        if resolution.credit_note is not None and job is not None:
            note = CreditNote(number=resolution.credit_note, legal_entity=policy.legal_entity, station_id=ctx.station_id,
                              rma_id=rma_id, order_id=ret.order_id, resolution_id=resolution.id,
                              currency=resolution.currency, total=resolution.total, issued_at=now)
            uow.returns.add_credit_note(note)
            job = printing.add_job(uow, ctx, session, job)
            record(uow, ctx, session, "credit_note.issued", ret.order_id, {
                "number": note.number, "legal_entity": note.legal_entity, "station": note.station_id, "rma_id": rma_id,
                "resolution_id": resolution.id, "currency": note.currency, "total": str(note.total), "issued_at": now,
                "job": job.id})
        ret = uow.returns.get(rma_id) or ret
        _set_status(uow, ctx, session, ret, ReturnStatus.PROCESSED, resolution_id=resolution.id)
        closed = ret.resolved
        if closed:
            _set_status(uow, ctx, session, ret, ReturnStatus.CLOSED)
        uow.commit()
    if job is not None and ctx.documents is not None:
        ctx.documents.wake()
    return Resolved(resolution, created=True, job=job, closed=closed)


# --- reading --------------------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass
class ReturnFigures:
    """Units received, counted four ways (the lead view's returns figures)."""

    returns: int = 0
    units: int = 0
    unexpected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_grade: dict[str, int] = field(default_factory=dict)
    by_sku: dict[str, int] = field(default_factory=dict)
    by_packer: dict[str, int] = field(default_factory=dict)  # who packed the outbound carton


def figures(ctx: Context, session: Session, since: datetime | None = None) -> ReturnFigures:
    ctx.auth.require(session, Permission.VIEW_FIGURES, "Returns figures")
    with ctx.uow(readonly=True) as uow:
        facts = uow.returns.facts(since)
    out = ReturnFigures(returns=len({f.rma_id for f in facts}))
    for f in facts:
        out.units += f.qty
        out.unexpected += f.qty if f.unexpected else 0
        for table, key in ((out.by_reason, f.reason), (out.by_grade, f.grade or "not graded"), (out.by_sku, f.sku),
                           (out.by_packer, f.packer or "unknown")):
            table[key] = table.get(key, 0) + f.qty
    return out


def list_returns(ctx: Context, session: Session, status: ReturnStatus | None = None, limit: int = 500) -> list[dict[str, Any]]:
    ctx.auth.check(session, "The list of returns")
    with ctx.uow(readonly=True) as uow:
        rows = uow.returns.recent(status, limit)
    return [{"rma_id": r.rma_id, "order_id": r.order_id, "status": r.status.value, "reason": r.reason,
             "origin": r.origin, "lines": len(r.lines), "expected": sum(ln.qty for ln in r.lines),
             "received": sum(ln.received for ln in r.lines),
             "resolved_lines": sum(1 for ln in r.lines if ln.resolution_id)} for r in rows]


def _unit(u: ShippedUnit | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {"scan_id": u.scan_id, "packer": u.packer, "station": u.station_id, "scanned_at": _iso(u.scanned_at),
            "carton": u.carton_seq, "sscc": u.sscc, "weight_g": u.weight_g, "sealed_at": _iso(u.sealed_at),
            "tracking_number": u.tracking_number, "lot": u.lot, "serial": u.serial, "carton_photo": u.carton_photo}


def detail(ctx: Context, session: Session, rma_id: str) -> dict[str, Any]:
    """Everything about one return: lines (expected, received, grades, dispositions, resolution),
    items with the bench's evidence, photos, resolutions, credit notes, restock movements, events."""
    ctx.auth.check(session, "A return")
    with ctx.uow(readonly=True) as uow:
        ret = uow.returns.get(rma_id)
        if ret is None:
            raise ReturnRefused(f"No return {rma_id!r}.")
        items = uow.returns.items([rma_id])
        resolutions = {r.id: r for r in uow.returns.resolutions(rma_id)}
        notes = uow.returns.credit_notes(rma_id)
        movements = restock_movements(uow, ret)
        shipped = {u.scan_id: u for u in shipped_units(ctx, uow, ret.order_id)}
        products = uow.catalog.products(ln.sku for ln in ret.lines)
        events = [e for e in uow.events.for_order(ret.order_id)
                  if e.payload.get("rma_id") == rma_id or rma_id in (e.payload.get("rma_ids") or ())]
    out_lines = []
    for ln in ret.lines:
        mine = [i for i in items if i.line_no == ln.line_no]
        grades = [i.grade for i in mine if i.grade]
        disps = [i.disposition for i in mine if i.disposition]
        res = resolutions.get(ln.resolution_id or "")
        resolved = next((x for x in res.lines if x.line_no == ln.line_no), None) if res else None
        out_lines.append({
            "line_no": ln.line_no, "sku": ln.sku, "name": products[ln.sku].name if ln.sku in products else "",
            "expected": ln.qty, "received": ln.received, "unexpected": ln.unexpected,
            "unit_price": str(ln.unit_price) if ln.unit_price is not None else None,
            "grade": grades[0] if grades and len(set(grades)) == 1 else ("mixed" if grades else None), "grades": grades,
            "disposition": disps[0] if disps and len(set(disps)) == 1 else ("mixed" if disps else None),
            "dispositions": disps,
            "photos": [p for i in mine for p in i.photos],
            "resolution": None if res is None else {
                "id": res.id, "kind": res.kind.value, "qty": resolved.qty if resolved else 0,
                "amount": str(resolved.amount) if resolved else "0", "fee": str(resolved.fee) if resolved else "0",
                "credit_note": res.credit_note, "replacement_order": res.replacement_order},
        })
    return {
        "rma_id": ret.rma_id, "order_id": ret.order_id, "status": ret.status.value, "reason": ret.reason,
        "origin": ret.origin, "tracking_number": ret.tracking_number, "carrier": ret.carrier, "lines": out_lines,
        "items": [{"id": i.id, "line_no": i.line_no, "sku": i.sku, "qty": i.qty, "lot": i.lot, "serial": i.serial,
                   "unexpected": i.unexpected, "grade": i.grade, "notes": i.notes, "disposition": i.disposition,
                   "location": i.location, "restocked_at": _iso(i.restocked_at), "photos": list(i.photos),
                   "received_by": i.received_by, "received_at": _iso(i.received_at),
                   "shipped": _unit(shipped.get(i.matched_scan or ""))} for i in items],
        "resolutions": [{"id": r.id, "kind": r.kind.value, "total": str(r.total), "fees": str(r.fees),
                         "currency": r.currency, "credit_note": r.credit_note, "replacement_order": r.replacement_order,
                         "by": r.by, "at": _iso(r.at), "lines": [ln.line_no for ln in r.lines]}
                        for r in resolutions.values()],
        "credit_notes": [{"number": n.number, "total": str(n.total), "currency": n.currency, "issued_at": _iso(n.issued_at)}
                         for n in notes],
        "credit_note": notes[-1].number if notes else None,
        "movements": [{"sku": m.sku, "location": m.location, "lot": m.lot, "qty": m.qty, "kind": m.kind.value,
                       "at": _iso(m.at)} for m in movements],
        "events": [{"kind": e.kind, "at": _iso(e.occurred_at), "actor": e.actor, "station": e.station_id}
                   for e in events],
        "refused": [{"at": _iso(e.occurred_at), "by": e.actor, "verdict": e.payload.get("verdict"),
                     "sku": e.payload.get("sku"), "barcode": e.payload.get("barcode"), "lot": e.payload.get("lot"),
                     "serial": e.payload.get("serial"), "reason": e.payload.get("reason")}
                    for e in events if e.kind == "return.scan_refused"],
    }


__all__ = [
    "EVENT_KINDS", "Found", "PhotoRequired", "Received", "Resolved", "ReturnFigures", "ReturnRefused", "add_note",
    "add_photo", "close_receipt", "decide", "detail", "figures", "find", "grade", "join_receipt", "list_returns",
    "open_receipt", "open_receipt_of_station", "open_return", "receive", "resolve", "restock", "restock_movements",
    "take_photo",
]
