"""Returns (RMAs): what the customer sends back, and what the returns desk finds and decides.

The rules here are plain Python, like the packing rules: :func:`evaluate_receive` says what a
scanned returned item means given what shipped in the order (the bench's scans: carton, lot,
serial) and what already came back; :func:`plan_resolution` says what a refund, a replacement
or a credit note of a return comes to. The services store the decision; nothing here changes.

A return's lines are what the customer announced (an import) or, for a return the desk opened
without notice, what arrived. Every unit that arrives is a :class:`ReceivedItem`, matched to the
scan it left in; it is graded (a configurable list, photo required below the first grade),
given a disposition, and finally each line is resolved once (refund, replacement, credit note,
or nothing due). A return closes when every line is resolved.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.model import Product, Tracking
from packstation.domain.packing import Verdict

CENT = Decimal("0.01")
_AMOUNT = re.compile(r"-?\d{1,9}(\.\d{1,2})?")
CREDIT_NOTE_SERIES = "credit-note:"  # + legal entity + ":" + station id: one series per station and entity

# the reasons a desk asks for (by number) when it opens a return the customer did not announce
RETURN_REASONS = ("damaged in transit", "wrong item sent", "not as described", "no longer needed",
                  "arrived too late", "other")


class Disposition(StrEnum):
    """Where a returned unit goes after inspection."""

    RESTOCK = "restock"  # back to a bin: an inventory movement (now, or later)
    B_STOCK = "b_stock"  # sold as second quality
    REFURBISH = "refurbish"
    QUARANTINE = "quarantine"  # held for a closer look (safety, suspected fraud)
    RETURN_TO_VENDOR = "return_to_vendor"
    SCRAP = "scrap"

    @property
    def label(self) -> str:
        return _DISPOSITION_LABELS[self]


_DISPOSITION_LABELS = {
    Disposition.RESTOCK: "restock", Disposition.B_STOCK: "B-stock", Disposition.REFURBISH: "refurbish",
    Disposition.QUARANTINE: "quarantine", Disposition.RETURN_TO_VENDOR: "return to vendor",
    Disposition.SCRAP: "scrap",
}


class ResolutionKind(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"  # a new order, packed at a bench like any other
    CREDIT_NOTE = "credit_note"  # printed, numbered without gaps per legal entity
    NONE = "none"  # nothing due (the unit never came, or came back wrong)

    @property
    def label(self) -> str:
        return {"refund": "refund", "replacement": "replacement", "credit_note": "credit note",
                "none": "nothing due"}[self.value]

    @property
    def pays(self) -> bool:
        """Money goes back to the customer: only for units that were received."""
        return self in (ResolutionKind.REFUND, ResolutionKind.CREDIT_NOTE)


@dataclass(frozen=True)
class Grade:
    code: str  # "A", "B", ..., "MISSING", "WRONG": what the desk card's GRADE-<code> barcode says
    label: str


DEFAULT_GRADES = (
    Grade("A", "new / resealable"),
    Grade("B", "opened, as new"),
    Grade("C", "used or damaged, repairable"),
    Grade("D", "unusable"),
    Grade("MISSING", "missing"),
    Grade("WRONG", "wrong item"),
)


def parse_grade(text: str) -> Grade:
    """``"B opened, as new"`` (code, a space or a colon, the label) as in ``[returns] grades``."""
    text = text.strip()
    code, _, label = text.replace(":", " ", 1).partition(" ")
    code = code.strip().upper()
    if not code or not code.isascii() or not all(ch.isalnum() or ch in "-_" for ch in code) or len(code) > 16:
        raise ValueError(f"a grade starts with its code (letters and digits, at most 16), got {text!r}")
    return Grade(code, label.strip() or code)


@dataclass(frozen=True)
class ReturnsPolicy:
    """How this warehouse grades and settles returns (``[returns]`` of the config)."""

    grades: tuple[Grade, ...] = DEFAULT_GRADES
    photo_required_below: str = "A"  # grades listed after this one need a photo; "": never
    no_refund_grades: tuple[str, ...] = ("MISSING", "WRONG")  # units so graded earn no money back
    restocking_fee_pct: Decimal = Decimal("0")  # of each refunded or credited line
    legal_entity: str = "MAIN"  # whose credit notes this station issues (one series per entity)
    credit_note_prefix: str = "CN"
    tax_rate: Decimal = Decimal("0")  # printed on credit notes (order prices taken as net)
    reasons: tuple[str, ...] = RETURN_REASONS

    def grade(self, code: str) -> Grade | None:
        code = code.strip().upper()
        return next((g for g in self.grades if g.code == code), None)

    def needs_photo(self, code: str) -> bool:
        if not self.photo_required_below:
            return False
        codes = [g.code for g in self.grades]
        bar, code = self.photo_required_below.upper(), code.upper()
        if bar not in codes or code not in codes:
            return False  # (the config check refuses a bar that is no grade)
        return codes.index(code) > codes.index(bar)

    def refundable(self, grade: str | None) -> bool:
        return (grade or "").upper() not in {g.upper() for g in self.no_refund_grades}

    def fee(self, amount: Decimal) -> Decimal:
        return (amount * self.restocking_fee_pct / 100).quantize(CENT, ROUND_HALF_UP)

    def series(self, station_id: str) -> str:
        """The number series of this station's credit notes (see :func:`credit_note_number`)."""
        return f"{CREDIT_NOTE_SERIES}{self.legal_entity}:{station_id}"

    def credit_note_number(self, station_id: str, n: int) -> str:
        """``CN-MAIN-BENCH-01-000042``: the entity, the issuing station and its own sequence.

        Each station numbers its own credit notes, without gaps: the number is drawn in the
        transaction that stores the credit note (a rolled-back one gives its number back), from
        a series only this station draws from, so blocks never interleave with another
        station's. The station is part of the number, so two stations never issue the same one.
        """
        return f"{self.credit_note_prefix}-{self.legal_entity}-{station_id}-{n:06d}"


# --- what the return is ---------------------------------------------------------------------


@dataclass
class ReturnLine:
    line_no: int
    sku: str
    qty: int  # expected back (for a return the desk opened unannounced: what arrived)
    grade: str | None = None  # kept as imported (older data); the items carry the grades
    disposition: str | None = None
    unit_price: Decimal | None = None  # the order line's price, when the return was opened
    unexpected: bool = False  # units that came back on no announced line
    resolution_id: str | None = None  # set once, when the line is resolved
    received: int = 0  # units received on this line (read from the items)


@dataclass
class Return:
    rma_id: str
    order_id: str
    reason: str
    status: ReturnStatus
    lines: list[ReturnLine] = field(default_factory=list)
    origin: str = "import"  # import | desk (opened at the returns desk without notice)
    # the return parcel, when the shop's record names it: its carrier's tracking moves the return to picked
    tracking_number: str | None = None
    carrier: str | None = None  # the carrier account that carries it (the order's carrier unless the record says)

    @property
    def open(self) -> bool:
        return self.status not in (ReturnStatus.CLOSED, ReturnStatus.CANCELLED)

    @property
    def announced(self) -> bool:
        """Its lines say what to expect (an import); a desk-opened return takes what comes."""
        return self.origin != "desk"

    def line(self, line_no: int) -> ReturnLine | None:
        return next((ln for ln in self.lines if ln.line_no == line_no), None)

    def next_line_no(self) -> int:
        return max((ln.line_no for ln in self.lines), default=0) + 1

    @property
    def resolved(self) -> bool:
        return bool(self.lines) and all(ln.resolution_id for ln in self.lines)


@dataclass(frozen=True)
class ShippedUnit:
    """What the bench recorded for an item scan that left in an order: the evidence."""

    scan_id: str
    order_id: str
    sku: str
    qty: int
    carton_seq: int
    packer: str
    station_id: str
    scanned_at: datetime | None
    lot: str | None = None
    serial: str | None = None
    sscc: str | None = None
    weight_g: int | None = None
    sealed_at: datetime | None = None
    tracking_number: str | None = None
    carton_photo: str | None = None  # photo id of the sealed carton, when the bench has a camera


@dataclass(frozen=True)
class ReceivedItem:
    """One returned unit (or pack) counted in at the desk, matched to the scan it left in."""

    id: str
    rma_id: str
    order_id: str
    line_no: int
    sku: str
    qty: int
    barcode: str
    received_by: str
    station_id: str
    received_at: datetime | None = None
    receipt_id: str | None = None
    lot: str | None = None
    serial: str | None = None
    unexpected: bool = False
    matched_scan: str | None = None
    carton_seq: int | None = None
    sscc: str | None = None
    packer: str | None = None  # who packed the unit it matched (the lead's figures)
    grade: str | None = None
    notes: str = ""
    disposition: str | None = None
    location: str | None = None  # restock: the bin
    restocked_at: datetime | None = None
    photos: tuple[str, ...] = ()  # photo ids

    def needs(self, policy: ReturnsPolicy) -> str | None:
        """What the desk still has to do with it: ``grade``, ``photo``, ``disposition`` or nothing."""
        if self.grade is None:
            return "grade"
        if policy.needs_photo(self.grade) and not self.photos:
            return "photo"
        if self.disposition is None:
            return "disposition"
        return None

    @property
    def restock_pending(self) -> bool:
        return self.disposition == Disposition.RESTOCK.value and self.restocked_at is None


@dataclass(frozen=True)
class Receipt:
    """One parcel being opened at a desk: it may hold items of several returns of one customer."""

    id: str
    station_id: str
    customer: str  # the key that says two returns are the same customer's
    opened_by: str
    opened_at: datetime
    rma_ids: tuple[str, ...] = ()
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Photo:
    id: str
    owner_kind: str  # "return_item" | "carton"
    owner_ref: str  # the item id, or "ORDER/SEQ" for a carton
    mime: str
    sha256: str
    size: int
    taken_by: str
    station_id: str
    taken_at: datetime | None = None


@dataclass(frozen=True)
class ResolvedLine:
    line_no: int
    qty: int  # units it covers
    amount: Decimal  # what the customer gets back for it (after the fee); 0 for replacement / none
    fee: Decimal = Decimal("0")


@dataclass(frozen=True)
class Resolution:
    id: str
    rma_id: str
    kind: ResolutionKind
    lines: tuple[ResolvedLine, ...]
    currency: str
    key: str  # the same submission twice has the same key: it resolves once
    by: str = ""
    at: datetime | None = None
    credit_note: str | None = None  # its number
    replacement_order: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0"))

    @property
    def fees(self) -> Decimal:
        return sum((ln.fee for ln in self.lines), Decimal("0"))


@dataclass(frozen=True)
class CreditNote:
    number: str
    legal_entity: str
    station_id: str
    rma_id: str
    order_id: str
    resolution_id: str
    currency: str
    total: Decimal
    issued_at: datetime | None = None


def customer_key(email: str, name: str) -> str:
    """Two returns are the same customer's when their orders' e-mail (else name) agree."""
    return (email.strip() or name.strip()).casefold()


# --- receiving: what a returned item means --------------------------------------------------


@dataclass(frozen=True)
class ReceiveDecision:
    verdict: Verdict
    message: str
    sku: str | None = None
    rma_id: str | None = None
    order_id: str | None = None
    line: ReturnLine | None = None  # the line to count it on (new when line_no not on the return yet)
    new_line: bool = False
    grow_line: bool = False  # a desk-opened return: the line expects what arrives
    unexpected: bool = False
    matched: ShippedUnit | None = None
    data: dict[str, object] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.verdict in (Verdict.ITEM_RECEIVED, Verdict.UNEXPECTED_ITEM)


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().upper() == (b or "").strip().upper()


def evaluate_receive(product: Product, units: int, returns: Sequence[Return], shipped: Mapping[str, Sequence[ShippedUnit]],
                     received: Iterable[ReceivedItem], *, lot: str | None = None, serial: str | None = None,
                     serial_left_in: str | None = None) -> ReceiveDecision:
    """What one scanned returned item means for the open returns of a parcel.

    *shipped*: order id -> the units that left in it (live scans); *received*: every item already
    counted in against those orders, on any return. *serial_left_in*: the order a serial left in,
    when it is another one (for the message). Asks for a lot or serial the product needs
    (NEEDS_LOT / NEEDS_SERIAL) and refuses, each with its own verdict: a product that never
    shipped in the order, a serial or a lot that never left in it, more than shipped minus
    already returned. A unit within what shipped but on no announced line is UNEXPECTED_ITEM
    (recorded as such).
    """
    sku = product.sku
    received = list(received)
    orders = list(dict.fromkeys(r.order_id for r in returns if r.open))
    having = [o for o in orders if any(u.sku == sku for u in shipped.get(o, ()))]
    named = ", ".join(orders) or "?"
    if not having:
        return ReceiveDecision(Verdict.NOT_IN_ORDER, f"{product.name} ({sku}) never left in order {named}: it is not "
                               "from this return. Put it aside for a lead (recorded).", sku=sku,
                               data={"headline": "NOT FROM THIS ORDER"})
    if product.tracking is Tracking.SERIAL:
        if units != 1:
            return ReceiveDecision(Verdict.NOT_ALLOWED, f"{product.name} is serial-tracked: scan each unit on its own.",
                                   sku=sku)
        if not serial:
            return ReceiveDecision(Verdict.NEEDS_SERIAL, f"{product.name}: scan the serial number on the unit.", sku=sku)
        units_of = {o: [u for u in shipped.get(o, ()) if u.sku == sku and _same(u.serial, serial)] for o in having}
        having = [o for o in having if units_of[o]]
        if not having:
            where = f" (it left in order {serial_left_in})" if serial_left_in and serial_left_in not in orders else ""
            return ReceiveDecision(Verdict.SERIAL_NOT_SHIPPED, f"{product.name}: serial {serial} never shipped in order "
                                   f"{named}{where}. Put it aside for a lead (recorded).", sku=sku,
                                   data={"serial": serial, "left_in": serial_left_in})
        back = next((i for i in received if i.sku == sku and _same(i.serial, serial)), None)
        if back is not None:
            return ReceiveDecision(Verdict.MORE_THAN_SHIPPED, f"{product.name}: serial {serial} was already returned "
                                   f"({back.rma_id}). Put it aside for a lead (recorded).", sku=sku,
                                   data={"serial": serial, "headline": "ALREADY RETURNED"})
    else:
        units_of = {o: [u for u in shipped.get(o, ()) if u.sku == sku] for o in having}
    if product.tracking in (Tracking.LOT, Tracking.LOT_EXPIRY):
        if not lot:
            return ReceiveDecision(Verdict.NEEDS_LOT, f"{product.name}: scan the lot printed on the item.", sku=sku)
        shipped_lots = sorted({u.lot for o in having for u in units_of[o] if u.lot})
        units_of = {o: [u for u in units_of[o] if _same(u.lot, lot)] for o in having}
        having = [o for o in having if units_of[o]]
        if not having:
            left = ", ".join(shipped_lots) or "none recorded"
            return ReceiveDecision(Verdict.LOT_NOT_SHIPPED, f"{product.name}: lot {lot} never left in order {named} "
                                   f"(it shipped lot {left}). Put it aside for a lead (recorded).", sku=sku,
                                   data={"lot": lot, "shipped_lots": shipped_lots})

    def back_of(order_id: str) -> list[ReceivedItem]:
        return [i for i in received if i.order_id == order_id and i.sku == sku
                and (not lot or product.tracking is Tracking.NONE or _same(i.lot, lot))]

    def room(order_id: str) -> int:
        return sum(u.qty for u in units_of[order_id]) - sum(i.qty for i in back_of(order_id))

    def expecting(order_id: str) -> bool:
        return any(ln.sku == sku and not ln.unexpected and not ln.resolution_id and ln.received + units <= ln.qty
                   for r in returns if r.order_id == order_id and r.open for ln in r.lines)

    fits = [o for o in having if room(o) >= units]
    if not fits:
        o = having[0]
        shipped_n = sum(u.qty for u in units_of[o])
        back_n = sum(i.qty for i in back_of(o))
        what = f"lot {lot} of " if lot and product.tracking is not Tracking.NONE else ""
        return ReceiveDecision(Verdict.MORE_THAN_SHIPPED, f"{product.name}: order {o} shipped {shipped_n} of {what}it "
                               f"and {back_n} already came back; this would be {back_n + units}. Nothing was counted: "
                               "put it aside for a lead (recorded).", sku=sku,
                               data={"shipped": shipped_n, "returned": back_n, "headline": "MORE THAN SHIPPED"})
    order_id = next((o for o in fits if expecting(o)), fits[0])
    # the unit it left as: a serial's own scan, else the first scan of the product not yet matched
    matched_count: dict[str, int] = {}
    for i in received:
        if i.matched_scan:
            matched_count[i.matched_scan] = matched_count.get(i.matched_scan, 0) + i.qty
    matched = next((u for u in units_of[order_id] if u.qty > matched_count.get(u.scan_id, 0)), units_of[order_id][0])
    mine = [r for r in returns if r.order_id == order_id and r.open]
    for r in mine:
        for ln in r.lines:
            if ln.sku == sku and not ln.unexpected and not ln.resolution_id and ln.received + units <= ln.qty:
                return ReceiveDecision(Verdict.ITEM_RECEIVED, f"{product.name}: {ln.received + units} of {ln.qty} "
                                       f"back ({r.rma_id}, line {ln.line_no}). Grade it.", sku=sku, rma_id=r.rma_id,
                                       order_id=order_id, line=ln, matched=matched)
    desk = next((r for r in mine if not r.announced), None)
    if desk is not None:
        grown = next((x for x in desk.lines if x.sku == sku and not x.resolution_id), None)
        if grown is None:
            line = ReturnLine(desk.next_line_no(), sku, units)
            return ReceiveDecision(Verdict.ITEM_RECEIVED, f"{product.name}: {units} back ({desk.rma_id}, line "
                                   f"{line.line_no}). Grade it.", sku=sku, rma_id=desk.rma_id, order_id=order_id,
                                   line=line, new_line=True, matched=matched)
        return ReceiveDecision(Verdict.ITEM_RECEIVED, f"{product.name}: {grown.received + units} back ({desk.rma_id}, "
                               f"line {grown.line_no}). Grade it.", sku=sku, rma_id=desk.rma_id, order_id=order_id,
                               line=grown, grow_line=True, matched=matched)
    first = mine[0]
    extra = next((x for x in first.lines if x.sku == sku and x.unexpected and not x.resolution_id), None)
    new = extra is None
    ln = extra if extra is not None else ReturnLine(first.next_line_no(), sku, 0, unexpected=True)
    return ReceiveDecision(Verdict.UNEXPECTED_ITEM, f"{product.name} is on no line of {first.rma_id}: recorded as "
                           "unexpected. Grade it like any other.", sku=sku, rma_id=first.rma_id, order_id=order_id,
                           line=ln, new_line=new, unexpected=True, matched=matched,
                           data={"headline": "NOT ANNOUNCED — RECORDED"})


# --- resolving: what a refund, replacement or credit note comes to ------------------------------


class ResolutionRefused(ValueError):
    """The resolution cannot be made as asked; the message says why."""


def parse_amount(text: str) -> Decimal:
    """What a line pays back, as a person types it (``15``, ``15.5``, ``15.00``); ValueError says why not."""
    text = text.strip()
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"the amount is a number with at most two decimals and a point, e.g. 15.00; got {text!r}")
    amount = Decimal(text)
    if amount < 0:
        raise ValueError("an amount cannot be negative (0 pays nothing back for the line)")
    return amount


@dataclass(frozen=True)
class ResolutionPlan:
    rma_id: str
    kind: ResolutionKind
    lines: tuple[ResolvedLine, ...]
    key: str
    existing: Resolution | None = None  # the same submission was made already: nothing to do


def resolution_key(rma_id: str, kind: ResolutionKind, line_nos: Iterable[int]) -> str:
    text = f"{rma_id}\x1f{kind.value}\x1f{','.join(str(n) for n in sorted(line_nos))}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def refundable_units(line: ReturnLine, items: Iterable[ReceivedItem], policy: ReturnsPolicy) -> int:
    return sum(i.qty for i in items if i.line_no == line.line_no and policy.refundable(i.grade))


def plan_resolution(ret: Return, items: Sequence[ReceivedItem], kind: ResolutionKind, policy: ReturnsPolicy,
                    resolutions: Sequence[Resolution] = (), *, line_nos: Sequence[int] | None = None,
                    amounts: dict[int, Decimal] | None = None) -> ResolutionPlan:
    """The lines a resolution covers and what each comes to; raises ResolutionRefused.

    Default lines: every unresolved line with units to settle (for ``none``: every unresolved
    line). A refund or credit is only for received units (not those graded missing or wrong);
    amounts default to the line price times the units, less the restocking fee. The same
    submission twice gives the resolution already made (``existing``) instead of a second one.
    """
    items = [i for i in items if i.rma_id == ret.rma_id]
    if ret.status is ReturnStatus.CLOSED and line_nos is None:
        same = [r for r in resolutions if r.kind is kind and r.rma_id == ret.rma_id]
        if same:  # submitted again after it closed: the resolution already made
            return ResolutionPlan(ret.rma_id, kind, same[-1].lines, same[-1].key, existing=same[-1])
    if ret.status not in (ReturnStatus.INSPECTED, ReturnStatus.PROCESSED):
        todo = [i for i in items if i.needs(policy)]
        if ret.status in (ReturnStatus.INITIATED, ReturnStatus.PICKED):
            raise ResolutionRefused(f"Return {ret.rma_id} is {ret.status.value}: nothing has been received yet. "
                                    "Receive and inspect it first.")
        if ret.status is ReturnStatus.CLOSED:
            raise ResolutionRefused(f"Return {ret.rma_id} is closed: every line is resolved already.")
        raise ResolutionRefused(f"Return {ret.rma_id} is {ret.status.value}: {len(todo)} item(s) still need a grade, "
                                "a photo or a disposition.")
    units = {ln.line_no: (refundable_units(ln, items, policy) if kind is not ResolutionKind.NONE else 0)
             for ln in ret.lines}
    if line_nos is None:
        wanted = [ln for ln in ret.lines if not ln.resolution_id
                  and (kind is ResolutionKind.NONE or units[ln.line_no] > 0)]
        if not wanted:
            same = [r for r in resolutions if r.kind is kind and r.rma_id == ret.rma_id]
            if same:
                return ResolutionPlan(ret.rma_id, kind, same[-1].lines, same[-1].key, existing=same[-1])
            open_lines = [ln for ln in ret.lines if not ln.resolution_id]
            if not open_lines:
                raise ResolutionRefused(f"Return {ret.rma_id}: every line is resolved already.")
            raise ResolutionRefused(f"Return {ret.rma_id}: nothing received to give a {kind.label} for "
                                    f"({', '.join(f'line {ln.line_no}' for ln in open_lines)}): a {kind.label} is only "
                                    "for received items. RES-NONE closes lines with nothing due.")
    else:
        wanted = []
        for n in line_nos:
            ln = ret.line(n)
            if ln is None:
                raise ResolutionRefused(f"Return {ret.rma_id} has no line {n}.")
            wanted.append(ln)
    if amounts:
        _check_amounts(ret, kind, wanted, amounts)
    key = resolution_key(ret.rma_id, kind, [ln.line_no for ln in wanted])
    prior = next((r for r in resolutions if r.key == key), None)
    if prior is not None:
        return ResolutionPlan(ret.rma_id, kind, prior.lines, key, existing=prior)
    out: list[ResolvedLine] = []
    for ln in wanted:
        if ln.resolution_id:
            done = next((r for r in resolutions if r.id == ln.resolution_id), None)
            how = done.kind.label if done else "resolved"
            raise ResolutionRefused(f"Return {ret.rma_id} line {ln.line_no} is resolved already ({how}).")
        n = units[ln.line_no]
        if kind is not ResolutionKind.NONE and n <= 0:
            raise ResolutionRefused(f"Return {ret.rma_id} line {ln.line_no} ({ln.sku}): nothing received that can be "
                                    f"settled: a {kind.label} is only for received items.")
        if not kind.pays:
            out.append(ResolvedLine(ln.line_no, n, Decimal("0")))
            continue
        price = ln.unit_price if ln.unit_price is not None else Decimal("0")
        gross = (price * n).quantize(CENT, ROUND_HALF_UP)
        given = (amounts or {}).get(ln.line_no)
        if given is not None:
            if not isinstance(given, Decimal) or given < 0 or given > gross:
                raise ResolutionRefused(f"Line {ln.line_no}: the amount must be between 0 and {gross} (the price of "
                                        f"{n} unit(s)); got {given}.")
            out.append(ResolvedLine(ln.line_no, n, given.quantize(CENT, ROUND_HALF_UP), gross - given))
            continue
        fee = policy.fee(gross)
        out.append(ResolvedLine(ln.line_no, n, gross - fee, fee))
    return ResolutionPlan(ret.rma_id, kind, tuple(out), key)


def _check_amounts(ret: Return, kind: ResolutionKind, wanted: Sequence[ReturnLine], amounts: Mapping[int, Decimal]) -> None:
    """Amounts given per line: only for money back, only for lines this resolution settles."""
    if not kind.pays:
        raise ResolutionRefused(f"A {kind.label} pays no money: an amount is only for a refund or a credit note.")
    covered = {ln.line_no for ln in wanted}
    for n in sorted(amounts):
        if ret.line(n) is None:
            raise ResolutionRefused(f"Return {ret.rma_id} has no line {n} (its lines: "
                                    f"{', '.join(str(ln.line_no) for ln in ret.lines) or 'none'}).")
        if n not in covered:
            raise ResolutionRefused(f"Return {ret.rma_id} line {n} is not settled by this {kind.label} (it is resolved "
                                    "already, or nothing that can be paid for was received on it): no amount for it.")


def status_after_inspection(ret: Return, items: Sequence[ReceivedItem], policy: ReturnsPolicy) -> ReturnStatus:
    """received -> inspected once every received item of the return is graded and decided."""
    mine = [i for i in items if i.rma_id == ret.rma_id]
    if ret.status is ReturnStatus.RECEIVED and mine and all(i.needs(policy) is None for i in mine):
        return ReturnStatus.INSPECTED
    return ret.status


__all__ = [
    "CREDIT_NOTE_SERIES", "DEFAULT_GRADES", "RETURN_REASONS", "CreditNote", "Disposition", "Grade", "Photo", "Receipt", "ReceiveDecision",
    "ReceivedItem", "Resolution", "ResolutionKind", "ResolutionPlan", "ResolutionRefused", "ResolvedLine", "Return",
    "ReturnLine", "ReturnsPolicy", "ShippedUnit", "customer_key", "evaluate_receive", "parse_amount", "parse_grade",
    "plan_resolution",
    "refundable_units", "resolution_key", "status_after_inspection",
]
