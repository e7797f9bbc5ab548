"""The returns desk: what each scan means while a parcel is being opened, inspected and settled.

The :class:`~packstation.services.terminal.Terminal` logs a returns clerk (or a lead) in and hands
their scans here. Everything is a scan from the desk card (``packstation commands-sheet --desk
returns``), so the keyboard is only needed for notes:

1. Find the return: the return code on the packing slip (``RET-<order>``), the RMA id, the order
   number, a carton's SSCC or its tracking barcode. No return announced: the desk opens one,
   asking the reason by number. More returns of the same customer in the parcel: scan them too.
2. Receive each item (lot / serial asked for when the product needs one): checked against what
   shipped in the order, each refusal with its own verdict and sound.
3. Inspect it: ``RET-PHOTO`` (the camera), ``RET-NOTE`` then the text, ``GRADE-<code>``.
4. Decide: ``DISP-RESTOCK`` (then the bin, ``DISP-RESTOCK`` again for the product's home bin, or
   ``RET-LATER``), ``DISP-BSTOCK``, ``DISP-REFURBISH``, ``DISP-QUARANTINE``, ``DISP-RTV``, ``DISP-SCRAP``.
5. Resolve: ``RES-REFUND``, ``RES-CREDIT``, ``RES-REPLACE``, ``RES-NONE``; ``RET-DONE`` ends the parcel.
   ``RET-AMOUNT`` then a typed amount: what the item's line pays back at the next RES-REFUND or
   RES-CREDIT, instead of its price less the restocking fee.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from packstation.domain.barcodes import Barcode, BarcodeError, BarcodeKind, RawScan, prompt_value
from packstation.domain.identity import Desk, Permission, Session
from packstation.domain.lifecycle import TransitionRefused
from packstation.domain.model import Order, Product
from packstation.domain.packing import Verdict, build_barcode_index
from packstation.domain.returns import (
    Disposition,
    Receipt,
    ReceivedItem,
    ResolutionKind,
    Return,
    ReturnsPolicy,
    ShippedUnit,
    parse_amount,
)
from packstation.services import returns as rs
from packstation.services.context import Context
from packstation.services.outcome import Outcome, storage_failed
from packstation.services.photos import Camera, CameraError, photo_data
from packstation.services.ports import StorageError
from packstation.services.terminal import PinWait

DISPOSITION_CODES = {
    "DISP-RESTOCK": Disposition.RESTOCK, "DISP-BSTOCK": Disposition.B_STOCK, "DISP-REFURBISH": Disposition.REFURBISH,
    "DISP-QUARANTINE": Disposition.QUARANTINE, "DISP-RTV": Disposition.RETURN_TO_VENDOR, "DISP-SCRAP": Disposition.SCRAP,
}
RESOLUTION_CODES = {"RES-REFUND": ResolutionKind.REFUND, "RES-CREDIT": ResolutionKind.CREDIT_NOTE,
                    "RES-REPLACE": ResolutionKind.REPLACEMENT, "RES-NONE": ResolutionKind.NONE}
DESK_CODES = {"RET-PHOTO": "take a photo of the item", "RET-NOTE": "add a note (then type it)",
              "RET-LATER": "restock later (at the bin prompt)",
              "RET-AMOUNT": "amount the item's line pays back (then type it)", "RET-DONE": "parcel done"}
GRADE_PREFIX = "GRADE-"


def _desk_code(value: str) -> bool:
    """A code of the desk card (not an item, a return or an answer)."""
    return value in DESK_CODES or value in DISPOSITION_CODES or value in RESOLUTION_CODES or value.startswith(GRADE_PREFIX)


@dataclass
class Prompt:
    """What the desk waits for: a reason (opening a return), a lot or serial, a bin, a note."""

    kind: str  # reason | lot | serial | location | note | amount
    order_id: str | None = None  # reason: the order to open a return for
    barcode: Barcode | None = None  # lot / serial: the item scan waiting for it
    lot: str | None = None
    item_id: str | None = None  # location / note: the item
    home: str | None = None  # location: the product's home bin


@dataclass
class ReturnsDesk:
    ctx: Context
    session: Session
    camera: Camera | None = None
    desk: Desk = Desk.RETURNS
    receipt: Receipt | None = None
    returns: list[Return] = field(default_factory=list)
    items: list[ReceivedItem] = field(default_factory=list)
    shipped: dict[str, list[ShippedUnit]] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    current: str | None = None  # the item the next grade / photo / note / disposition is for
    prompt: Prompt | None = None
    last_closed: list[str] = field(default_factory=list)  # the returns of the parcel that just closed
    index: dict[str, tuple[str, int]] = field(default_factory=dict)  # barcode -> (sku, units): the parcel's products
    # (RMA id, line no) -> what the line pays back at the next refund / credit note (RET-AMOUNT)
    amounts: dict[tuple[str, int], Decimal] = field(default_factory=dict)

    # --- the desk protocol ------------------------------------------------------------------
    def start(self) -> Outcome:
        self.ctx.auth.require(self.session, Permission.RETURNS, "The returns desk")
        receipt = rs.open_receipt_of_station(self.ctx, self.session)
        if receipt is not None:
            self._load(receipt)
            return Outcome(Verdict.LOGGED_IN, f"Hello {self.session.name}. The parcel of "
                           f"{', '.join(receipt.rma_ids)} is still open at this desk: carry on.",
                           data={"resumed": receipt.id})
        return Outcome(Verdict.LOGGED_IN, f"Hello {self.session.name}. Scan the return code on the packing slip "
                       "(RET-…), the RMA, the order number, or the carton's label.")

    def leave(self) -> None:
        self.prompt = None  # the parcel stays open: logging in again resumes it

    def approved(self, wait: PinWait, approval: Session | None, error: str) -> Outcome:
        return Outcome(Verdict.NOT_ALLOWED, "Nothing at the returns desk waits for a lead.")

    def handle(self, bc: Barcode, scan: RawScan) -> Outcome:
        try:
            return self._dispatch(bc, scan)
        except rs.PhotoRequired as exc:
            return Outcome(Verdict.PHOTO_REQUIRED, str(exc), data={"headline": "PHOTO FIRST"})
        except (rs.ReturnRefused, TransitionRefused) as exc:
            return Outcome(Verdict.RETURN_REFUSED, str(exc))
        except StorageError as exc:
            return storage_failed(exc)

    # --- reading ----------------------------------------------------------------------------
    @property
    def current_item(self) -> ReceivedItem | None:
        return next((i for i in self.items if i.id == self.current), None)

    def evidence(self, item: ReceivedItem) -> ShippedUnit | None:
        """What the bench recorded for the unit this item left as."""
        return next((u for u in self.shipped.get(item.order_id, ()) if u.scan_id == item.matched_scan), None)

    def return_of(self, rma_id: str) -> Return | None:
        return next((r for r in self.returns if r.rma_id == rma_id), None)

    def select(self, item_id: str) -> Outcome:
        """The window picks an item (a click) for the next grade, photo or disposition."""
        item = next((i for i in self.items if i.id == item_id), None)
        if item is None:
            return Outcome(Verdict.NOT_ALLOWED, "That item is not in this parcel.")
        self.current, self.prompt = item.id, None
        return Outcome(Verdict.ITEM_RECEIVED, f"{self._name(item.sku)} selected. {self._next_step(item)}",
                       sku=item.sku, data={"item_id": item.id, "headline": "ITEM SELECTED"})

    # --- scans ------------------------------------------------------------------------------
    def _dispatch(self, bc: Barcode, scan: RawScan) -> Outcome:
        value = bc.value
        if bc.is_command:
            if value == "CMD-UNDO":
                if self.prompt is None:
                    return Outcome(Verdict.NOTHING_TO_UNDO, "Nothing to cancel. (A received item is graded and "
                                   "decided like any other: the desk never takes an item back silently.)")
                what, self.prompt = self.prompt.kind, None
                return Outcome(Verdict.UNDONE, f"Cancelled: the {what} prompt. Nothing was recorded.",
                               data={"headline": "CANCELLED"})
            return Outcome(Verdict.NOT_ALLOWED, f"{value} is a pack-bench command: the returns desk has its own card.")
        if self.prompt is not None:
            handled = self._prompt_answer(self.prompt, bc, scan)
            if handled is not None:
                return handled
        if _desk_code(value):
            return self._desk_code(value)
        code = (scan.data or bc.raw or value).strip()
        if self.receipt is None:
            if bc.kind is BarcodeKind.GTIN:
                return Outcome(Verdict.NO_ORDER, "That is an item: first scan the return code on the packing slip "
                               "(RET-…), the RMA, the order number or the carton's label; then the items.")
            self.last_closed = []
            return self._find(bc, code)
        if bc.kind in (BarcodeKind.GTIN, BarcodeKind.GS1_DATA) or self._is_product(bc):
            return self._receive(bc, scan.source)
        return self._find(bc, code)

    def _prompt_answer(self, prompt: Prompt, bc: Barcode, scan: RawScan) -> Outcome | None:
        """A scan while a prompt waits; None: it is not an answer (handle it as usual, prompt dropped)."""
        value = bc.value
        if prompt.kind == "reason":
            reasons = self.ctx.returns.reasons
            if bc.kind is BarcodeKind.NUMBER and 1 <= int(value) <= len(reasons):
                self.prompt = None
                assert prompt.order_id is not None
                return self._open_return(prompt.order_id, reasons[int(value) - 1])
            if _desk_code(value):
                self.prompt = None
                return None  # a desk code: no return is opened
            return self._reason_prompt(prompt.order_id or "")
        if prompt.kind in ("lot", "serial"):
            if bc.kind is BarcodeKind.GTIN or _desk_code(value):
                self.prompt = None
                return None  # another item, or a desk code: the prompt is dropped
            try:
                text = prompt_value(scan, prompt.kind)  # type: ignore[arg-type]
            except BarcodeError as exc:
                return Outcome(Verdict.INVALID_SCAN, f"Not a {prompt.kind}: {exc}. Scan the {prompt.kind} again.")
            assert prompt.barcode is not None
            self.prompt = None
            lot = text if prompt.kind == "lot" else prompt.lot
            serial = text if prompt.kind == "serial" else None
            return self._receive(prompt.barcode, scan.source, lot=lot, serial=serial)
        if prompt.kind == "location":
            assert prompt.item_id is not None
            if value == "DISP-RESTOCK":
                if not prompt.home:
                    return Outcome(Verdict.NEEDS_LOCATION, "This product has no home bin: scan the bin it goes to "
                                   "(or RET-LATER).")
                self.prompt = None
                return self._decide(prompt.item_id, Disposition.RESTOCK, prompt.home)
            if value == "RET-LATER":
                self.prompt = None
                return self._decide(prompt.item_id, Disposition.RESTOCK, None)
            if _desk_code(value) or bc.kind in (BarcodeKind.GTIN, BarcodeKind.SSCC):
                self.prompt = None
                return None
            self.prompt = None
            return self._decide(prompt.item_id, Disposition.RESTOCK, (scan.data or bc.raw or value).strip())
        if prompt.kind == "amount":
            assert prompt.item_id is not None
            if _desk_code(value) or bc.kind is BarcodeKind.GTIN:
                self.prompt = None
                return None  # a desk code or an item: no amount is kept
            return self._amount(prompt.item_id, (scan.data or bc.raw or value).strip())
        if prompt.kind == "note":
            assert prompt.item_id is not None
            self.prompt = None
            item = self._item(prompt.item_id)
            noted = rs.add_note(self.ctx, self.session, item.rma_id, item.id, scan.data or bc.raw or value)
            self._reload()
            return Outcome(Verdict.NOTE_ADDED, f"Note kept on {self._name(noted.sku)}: {noted.notes}", sku=noted.sku,
                           data={"item_id": noted.id})
        return None

    def _desk_code(self, value: str) -> Outcome:
        if value == "RET-DONE":
            return self._done()
        if value in RESOLUTION_CODES:
            return self._resolve(RESOLUTION_CODES[value])
        if self.receipt is None:
            return Outcome(Verdict.NO_ORDER, "No parcel open: scan the return code, the RMA, the order or the carton first.")
        if value == "RET-LATER":
            return Outcome(Verdict.NOT_ALLOWED, "RET-LATER answers the bin prompt after DISP-RESTOCK.")
        item = self.current_item
        if item is None:
            return Outcome(Verdict.NOT_ALLOWED, "Scan a returned item first (or pick one on the screen).")
        if value == "RET-PHOTO":
            return self._photo(item)
        if value == "RET-AMOUNT":
            return self._amount_prompt(item)
        if value == "RET-NOTE":
            self.prompt = Prompt("note", item_id=item.id)
            return Outcome(Verdict.NEEDS_NOTE, f"Note for {self._name(item.sku)}: type it and press Enter "
                           "(CMD-UNDO cancels).", sku=item.sku)
        if value.startswith(GRADE_PREFIX):
            code = value[len(GRADE_PREFIX):]
            graded = rs.grade(self.ctx, self.session, item.rma_id, item.id, code)
            self._reload()
            label = self.ctx.returns.grade(code)
            return Outcome(Verdict.GRADED, f"{self._name(graded.sku)}: grade {graded.grade} "
                           f"({label.label if label else ''}). {self._next_step(self._item(graded.id))}",
                           sku=graded.sku, data={"item_id": graded.id, "grade": graded.grade})
        disposition = DISPOSITION_CODES[value]
        if disposition is Disposition.RESTOCK:
            if item.needs(self.ctx.returns) in ("grade", "photo"):
                return Outcome(Verdict.NOT_ALLOWED, f"Grade {self._name(item.sku)} first, then decide.", sku=item.sku)
            home = self.products[item.sku].location if item.sku in self.products else ""
            self.prompt = Prompt("location", item_id=item.id, home=home or None)
            hint = f"DISP-RESTOCK again for its home bin {home}, " if home else ""
            return Outcome(Verdict.NEEDS_LOCATION, f"Restock {self._name(item.sku)}: scan the bin ({hint}or RET-LATER "
                           "to restock it later).", sku=item.sku, data={"home": home})
        return self._decide(item.id, disposition, None)

    # --- finding and opening ------------------------------------------------------------------
    def _find(self, bc: Barcode, code: str) -> Outcome:
        try:
            found = rs.find(self.ctx, self.session, bc)
        except rs.ReturnRefused as exc:
            if self.receipt is not None:
                return Outcome(Verdict.UNKNOWN_BARCODE, f"{code}: not an item of this parcel's orders, nor a return, "
                               f"order or carton. ({exc}) Put it aside for a lead.")
            raise
        if self.receipt is not None and found.customer != self.receipt.customer:
            return Outcome(Verdict.RETURN_REFUSED, f"Order {found.order.order_id} is another customer's "
                           f"({found.order.customer_name}): one parcel, one customer. Scan RET-DONE to finish this "
                           "parcel first.", data={"headline": "ANOTHER CUSTOMER"})
        if not found.returns:
            return self._reason_prompt(found.order.order_id)
        ids = [r.rma_id for r in found.returns]
        if self.receipt is None:
            receipt = rs.open_receipt(self.ctx, self.session, ids)
        else:
            receipt = rs.join_receipt(self.ctx, self.session, self.receipt, ids)
        self._load(receipt)
        expected = sum(ln.qty - ln.received for r in found.returns for ln in r.lines if not ln.unexpected)
        return Outcome(Verdict.RETURN_OPENED, f"{', '.join(ids)} for order {found.order.order_id} "
                       f"({found.order.customer_name}, found by {found.via}): {max(expected, 0)} item(s) expected. "
                       "Scan each item.", data={"rma_ids": ids, "order_id": found.order.order_id})

    def _reason_prompt(self, order_id: str) -> Outcome:
        self.prompt = Prompt("reason", order_id=order_id)
        listed = "; ".join(f"{i} {r}" for i, r in enumerate(self.ctx.returns.reasons, 1))
        return Outcome(Verdict.NEEDS_REASON, f"Order {order_id} has no open return: to open one, scan the number of "
                       f"the reason ({listed}). CMD-UNDO cancels.",
                       data={"reasons": list(self.ctx.returns.reasons), "order_id": order_id})

    def _open_return(self, order_id: str, reason: str) -> Outcome:
        ret = rs.open_return(self.ctx, self.session, order_id, reason)
        if self.receipt is None:
            receipt = rs.open_receipt(self.ctx, self.session, [ret.rma_id])
        else:
            receipt = rs.join_receipt(self.ctx, self.session, self.receipt, [ret.rma_id])
        self._load(receipt)
        return Outcome(Verdict.RETURN_OPENED, f"Return {ret.rma_id} opened for order {order_id} ({reason}). "
                       "Scan each item in the parcel.", data={"rma_ids": [ret.rma_id], "order_id": order_id})

    # --- receiving --------------------------------------------------------------------------
    def _is_product(self, bc: Barcode) -> bool:
        if bc.kind is not BarcodeKind.TEXT:
            return False
        if bc.value in self.index:
            return True
        with self.ctx.uow(readonly=True) as uow:
            return uow.catalog.by_barcode(bc.value) is not None

    def _receive(self, bc: Barcode, source: str, *, lot: str | None = None, serial: str | None = None) -> Outcome:
        assert self.receipt is not None
        known = self.index.get(bc.value)
        hit = (self.products[known[0]], known[1]) if known is not None and known[0] in self.products else None
        result = rs.receive(self.ctx, self.session, self.receipt, bc, lot=lot, serial=serial, source=source,
                            shipped=self.shipped, product=hit)
        d = result.decision
        if d.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_SERIAL):
            kind = "lot" if d.verdict is Verdict.NEEDS_LOT else "serial"
            self.prompt = Prompt(kind, barcode=bc, lot=lot)
            return Outcome(d.verdict, d.message + " (CMD-UNDO cancels.)", sku=d.sku)
        if result.product is not None:
            self.products.setdefault(result.product.sku, result.product)
        if result.item is None:
            return Outcome(d.verdict, d.message, sku=d.sku, data=dict(d.data))
        self._received(result)
        self.current = result.item.id
        photo = ""
        if self.ctx.returns.photo_required_below:
            photo = f" (a photo first for grades below {self.ctx.returns.photo_required_below}: RET-PHOTO)"
        return Outcome(d.verdict, f"{d.message}{photo}", sku=d.sku,
                       data={**d.data, "item_id": result.item.id, "rma_id": d.rma_id})

    # --- inspecting and deciding ----------------------------------------------------------------
    def _photo(self, item: ReceivedItem) -> Outcome:
        if self.camera is None:
            return Outcome(Verdict.NOT_ALLOWED, "This desk has no camera ([returns] camera in the config): no photo "
                           "can be taken here.", data={"headline": "NO CAMERA"})
        try:
            photo_id = rs.take_photo(self.ctx, self.session, item.rma_id, item.id, self.camera)
        except CameraError as exc:
            return Outcome(Verdict.NOT_ALLOWED, f"No photo: {exc}. Check the camera and scan RET-PHOTO again.",
                           data={"headline": "CAMERA ERROR"})
        self._reload()
        n = len(self._item(item.id).photos)
        return Outcome(Verdict.PHOTO_TAKEN, f"Photo {n} of {self._name(item.sku)} kept. "
                       f"{self._next_step(self._item(item.id))}", sku=item.sku,
                       data={"item_id": item.id, "photo_id": photo_id})

    def _decide(self, item_id: str, disposition: Disposition, location: str | None) -> Outcome:
        item = self._item(item_id)
        decided = rs.decide(self.ctx, self.session, item.rma_id, item.id, disposition, location)
        self._reload()
        if decided.disposition == Disposition.RESTOCK.value:
            what = f"restocked into {decided.location}" if decided.restocked_at else "to restock later"
        else:
            what = disposition.label
        after = self._advance()
        return Outcome(Verdict.DISPOSITION_SET, f"{self._name(item.sku)}: {what}. {after}", sku=item.sku,
                       data={"item_id": item.id, "disposition": disposition.value, "location": decided.location})

    def _advance(self) -> str:
        """Move to the next item that still needs something; say what comes next."""
        policy = self.ctx.returns
        waiting = [i for i in self.items if i.needs(policy)]
        if waiting:
            self.current = waiting[0].id
            return f"Next: {self._name(waiting[0].sku)} — {self._next_step(waiting[0])}"
        ready = [r.rma_id for r in self.returns if r.status.value in ("inspected", "processed") and not r.resolved]
        if ready:
            return (f"Every item is inspected: resolve {', '.join(ready)} with RES-REFUND, RES-CREDIT or RES-REPLACE "
                    "(or scan the next item).")
        return "Scan the next item, or RET-DONE."

    def _next_step(self, item: ReceivedItem) -> str:
        need = item.needs(self.ctx.returns)
        codes = ", ".join(f"GRADE-{g.code}" for g in self.ctx.returns.grades)
        if need == "grade":
            return f"Grade it: {codes}."
        if need == "photo":
            return f"Grade {item.grade} needs a photo: RET-PHOTO."
        if need == "disposition":
            return "Decide: DISP-RESTOCK, DISP-BSTOCK, DISP-REFURBISH, DISP-QUARANTINE, DISP-RTV or DISP-SCRAP."
        return "It is done."

    # --- resolving ----------------------------------------------------------------------------
    def _line_price(self, rma_id: str, line_no: int) -> tuple[str, Decimal | None, str]:
        """The line's SKU, its price per unit (the order's when the line has none) and the currency."""
        ret = self.return_of(rma_id)
        line = ret.line(line_no) if ret is not None else None
        order = self.orders.get(ret.order_id) if ret is not None else None
        sku = line.sku if line is not None else "?"
        price = line.unit_price if line is not None else None
        if price is None and order is not None and (sold := order.line_for(sku)) is not None:
            price = sold.unit_price
        return sku, price, order.currency if order is not None else ""

    def _amount_prompt(self, item: ReceivedItem) -> Outcome:
        sku, price, currency = self._line_price(item.rma_id, item.line_no)
        each = f", {price} {currency} each" if price is not None else ""
        self.prompt = Prompt("amount", item_id=item.id)
        return Outcome(Verdict.NEEDS_AMOUNT, f"Amount line {item.line_no} of {item.rma_id} ({self._name(sku)}{each}) "
                       "pays back at the next RES-REFUND or RES-CREDIT: type it (e.g. 15.00) and press Enter "
                       "(CMD-UNDO cancels).", sku=sku, data={"rma_id": item.rma_id, "line_no": item.line_no})

    def _amount(self, item_id: str, text: str) -> Outcome:
        item = self._item(item_id)
        try:
            amount = parse_amount(text)
        except ValueError as exc:  # the prompt stays: type it again
            return Outcome(Verdict.INVALID_SCAN, f"Not an amount: {exc}. Type the amount again (CMD-UNDO cancels).",
                           data={"headline": "NOT AN AMOUNT"})
        self.prompt = None
        self.amounts[(item.rma_id, item.line_no)] = amount
        sku, price, currency = self._line_price(item.rma_id, item.line_no)
        instead = f" (its price: {price} {currency} per unit, less the restocking fee)" if price is not None else ""
        return Outcome(Verdict.AMOUNT_SET, f"Line {item.line_no} of {item.rma_id} ({self._name(sku)}) pays back "
                       f"{amount} {currency} at RES-REFUND or RES-CREDIT{instead}.", sku=sku,
                       data={"rma_id": item.rma_id, "line_no": item.line_no, "amount": str(amount)})

    def _amounts_of(self, rma_id: str, kind: ResolutionKind) -> dict[int, Decimal] | None:
        if not kind.pays:
            return None  # a replacement or nothing due pays no money: the amounts wait for a refund
        given = {n: a for (r, n), a in self.amounts.items() if r == rma_id}
        return given or None

    def _resolve(self, kind: ResolutionKind) -> Outcome:
        if self.receipt is None and self.last_closed:
            # the parcel just closed and the code was scanned again: say what was done, do nothing
            answers = [rs.resolve(self.ctx, self.session, rma_id, kind) for rma_id in self.last_closed]
            said = "; ".join(f"{a.resolution.rma_id}: {a.resolution.kind.label}"
                             + (f" {a.resolution.credit_note}" if a.resolution.credit_note else "") for a in answers)
            return Outcome(Verdict.RETURN_RESOLVED, f"Resolved already ({said}): nothing new. Scan the next parcel.",
                           data={"created": sum(a.created for a in answers), "headline": "ALREADY RESOLVED"})
        if self.receipt is None:
            return Outcome(Verdict.NO_ORDER, "No parcel open: scan the return first.")
        done: list[rs.Resolved] = []
        refusals: list[str] = []
        for ret in self.returns:
            try:
                done.append(rs.resolve(self.ctx, self.session, ret.rma_id, kind,
                                       amounts=self._amounts_of(ret.rma_id, kind)))
                for ln in done[-1].resolution.lines:  # settled: its amount was used (or is moot)
                    self.amounts.pop((ret.rma_id, ln.line_no), None)
            except rs.ReturnRefused as exc:
                refusals.append(str(exc))
        if not done:
            return Outcome(Verdict.RETURN_REFUSED, " ".join(refusals) or "Nothing to resolve in this parcel.")
        self._reload()
        parts, fresh = [], [r for r in done if r.created]
        for r in done:
            res = r.resolution
            money = f"{res.total} {res.currency}" if res.kind.pays else ""
            what = {ResolutionKind.REFUND: f"refund of {money}",
                    ResolutionKind.CREDIT_NOTE: f"credit note {res.credit_note} ({money}) printing",
                    ResolutionKind.REPLACEMENT: f"replacement order {res.replacement_order} for a bench",
                    ResolutionKind.NONE: "nothing due"}[res.kind]
            parts.append(f"{res.rma_id}: {what}" + ("" if r.created else " (resolved already: nothing new)")
                         + (", return closed" if r.closed else ""))
        text = "; ".join(parts) + "."
        if refusals:
            text += " Not resolved: " + " ".join(refusals)
        data: dict[str, Any] = {"resolutions": [r.resolution.id for r in done], "created": len(fresh),
                                "credit_notes": [r.resolution.credit_note for r in done if r.resolution.credit_note],
                                "replacement_orders": [r.resolution.replacement_order for r in done
                                                       if r.resolution.replacement_order]}
        if not fresh:
            data["headline"] = "ALREADY RESOLVED"
        if self.returns and all(not r.open for r in self.returns):
            rs.close_receipt(self.ctx, self.session, self.receipt)
            closed = [r.rma_id for r in self.returns]
            self._clear()
            self.last_closed = closed
            text += " Every return of the parcel is closed: scan the next parcel."
        return Outcome(Verdict.RETURN_RESOLVED, text, data=data)

    def _done(self) -> Outcome:
        if self.receipt is None:
            return Outcome(Verdict.NO_ORDER, "No parcel open.")
        waiting = [i for i in self.items if i.needs(self.ctx.returns)]
        rs.close_receipt(self.ctx, self.session, self.receipt)
        ids = ", ".join(self.receipt.rma_ids)
        self._clear()
        more = f" {len(waiting)} item(s) still need inspecting: scan their return to go on." if waiting else ""
        return Outcome(Verdict.PARCEL_DONE, f"Parcel of {ids} done.{more} Scan the next parcel.")

    # --- state --------------------------------------------------------------------------------
    def _clear(self) -> None:
        self.receipt, self.returns, self.items, self.current, self.prompt = None, [], [], None, None
        self.last_closed, self.amounts = [], {}
        self.shipped, self.orders = {}, {}

    def _load(self, receipt: Receipt) -> None:
        """Open *receipt* at the desk: its returns, their orders' shipped units (fixed once shipped)."""
        self.receipt = receipt
        with self.ctx.uow(readonly=True) as uow:
            for ret in (uow.returns.get(i) for i in receipt.rma_ids):
                if ret is not None and ret.order_id not in self.shipped:
                    self.shipped[ret.order_id] = rs.shipped_units(self.ctx, uow, ret.order_id)
                    order = uow.orders.get(ret.order_id)
                    if order is not None:
                        self.orders[ret.order_id] = order
                        self.products.update(uow.catalog.products(ln.sku for ln in order.lines))
        if self.ctx.central is not None:  # the bench's carton photos, kept here while the centre answers: the
            for photo_id in sorted({u.carton_photo for units in self.shipped.values()  # evidence shows them offline
                                    for u in units if u.carton_photo}):
                photo_data(self.ctx, self.session, photo_id)
        self.index = build_barcode_index(self.products.values())
        self._reload()
        waiting = [i for i in self.items if i.needs(self.ctx.returns)]
        if self.current is None or self.current_item is None:
            self.current = waiting[0].id if waiting else None

    def _received(self, result: rs.Received) -> None:
        """The stored item in the desk's picture (as a reload would show it, without one)."""
        item, line = result.item, result.line
        assert item is not None and line is not None
        ret = self.return_of(item.rma_id)
        if ret is None:
            self._reload()
            return
        shown = ret.line(line.line_no)
        if shown is None:
            ret.lines.append(replace(line, received=item.qty))
        else:
            shown.qty, shown.received = line.qty, shown.received + item.qty
        if result.status is not None:
            ret.status = result.status
        self.items.append(item)

    def _reload(self) -> None:
        assert self.receipt is not None
        with self.ctx.uow(readonly=True) as uow:
            self.returns = [r for r in (uow.returns.get(i) for i in self.receipt.rma_ids) if r is not None]
            self.items = uow.returns.items(list(self.receipt.rma_ids))

    def _item(self, item_id: str) -> ReceivedItem:
        item = next((i for i in self.items if i.id == item_id), None)
        if item is None:
            raise rs.ReturnRefused("That item is not in this parcel any more: scan it again.")
        return item

    def _name(self, sku: str) -> str:
        product = self.products.get(sku)
        return product.name if product else sku


def card_sections(policy: ReturnsPolicy) -> list[tuple[str, list[tuple[str, str]]]]:
    """What the returns desk card prints: (section, [(barcode value, caption)])."""
    return [
        ("Parcel and item", [(code, caption[0].upper() + caption[1:]) for code, caption in DESK_CODES.items()]
         + [("CMD-UNDO", "Cancel the prompt"), ("CMD-LOGOUT", "Log out")]),
        ("Grade", [(f"{GRADE_PREFIX}{g.code}", f"{g.code}: {g.label}") for g in policy.grades]),
        ("Disposition", [(code, d.label[0].upper() + d.label[1:]) for code, d in DISPOSITION_CODES.items()]),
        ("Resolve the parcel's returns", [(code, k.label[0].upper() + k.label[1:]) for code, k in RESOLUTION_CODES.items()]),
        ("Reason (opening a return)", [(str(n), r) for n, r in enumerate(policy.reasons, 1)]),
    ]


def returns_desk_factory(camera: Camera | None = None) -> Callable[[Context, Session], ReturnsDesk]:
    """The desk factory bootstrap registers for Desk.RETURNS."""
    def make(ctx: Context, session: Session) -> ReturnsDesk:
        return ReturnsDesk(ctx, session, camera=camera)

    return make


__all__ = ["DESK_CODES", "DISPOSITION_CODES", "GRADE_PREFIX", "RESOLUTION_CODES", "Prompt", "ReturnsDesk",
           "card_sections", "returns_desk_factory"]
