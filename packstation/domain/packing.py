"""The packing rules: what a scan means for an order, when a carton may close, when an order is done.

A :class:`PackSession` is the in-memory picture of one order being packed at one bench.
Rules never change it directly: ``evaluate_*`` returns a decision, the service layer makes the
decision durable, and only then ``apply_*`` changes the session. So a scan the database refused
leaves the session exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from packstation.domain.barcodes import Barcode, BarcodeKind, lookup_key
from packstation.domain.model import CartonType, Order, OrderLine, Product, StockLot, Tracking

MAX_QTY = 9999
MAX_LOT_LENGTH = 20  # GS1 AI (10)
MAX_SERIAL_LENGTH = 20  # GS1 AI (21)


class Tone(StrEnum):
    """How a verdict is shown and heard at the bench."""

    OK = "ok"  # green band, accept sound
    ERROR = "error"  # red band, alarm
    WARNING = "warning"  # amber band, already complete / over-scan
    PROMPT = "prompt"  # blue band, the station needs something more
    INFO = "info"  # neutral band


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    UNKNOWN_BARCODE = "unknown_barcode"
    WRONG_ITEM = "wrong_item"
    OVER_SCAN = "over_scan"
    NEEDS_LOT = "needs_lot"
    NEEDS_EXPIRY = "needs_expiry"
    NEEDS_SERIAL = "needs_serial"
    EXPIRED_LOT = "expired_lot"
    SERIAL_ALREADY_SHIPPED = "serial_already_shipped"
    UNKNOWN_LOT = "unknown_lot"  # a lot the warehouse's stock does not know for that product
    INVALID_SCAN = "invalid_scan"
    NO_ORDER = "no_order"
    NEEDS_CARTON = "needs_carton"
    NEEDS_QTY = "needs_qty"
    QTY_SET = "qty_set"
    CARTON_OPENED = "carton_opened"
    CARTON_CLOSED = "carton_closed"
    CARTON_BLOCKED = "carton_blocked"
    NEEDS_WEIGHT = "needs_weight"
    NEEDS_LEAD = "needs_lead"
    NEEDS_PIN = "needs_pin"
    NEEDS_DESK = "needs_desk"  # a lead or admin chooses the desk after login
    NEEDS_REASON = "needs_reason"  # a lead's action waits for its reason (picked by number)
    WEIGHING = "weighing"  # the carton is being sealed (the scale read, its label made): wait for the verdict
    CREATING_LABEL = "creating_label"  # weighed; the carrier is asked for the label, then the carton seals
    LOGIN_REFUSED = "login_refused"
    REPRINT_REQUESTED = "reprint_requested"
    NEEDS_REPRINT_TARGET = "needs_reprint_target"
    UNDONE = "undone"
    NOTHING_TO_UNDO = "nothing_to_undo"
    ORDER_OPENED = "order_opened"
    ORDER_REFUSED = "order_refused"
    ORDER_COMPLETE = "order_complete"
    ORDER_RELEASED = "order_released"
    SHORT_SHIPPED = "short_shipped"
    NOT_ALLOWED = "not_allowed"
    STORAGE_FAILED = "storage_failed"
    LOGGED_IN = "logged_in"
    LOGGED_OUT = "logged_out"
    # a carton sealed, but the carrier gave no label (yet): retried, the lead view lists it
    LABEL_NOT_CREATED = "label_not_created"
    # the dispatch dock (domain.shipping)
    MANIFEST_OPENED = "manifest_opened"
    MANIFEST_CLOSED = "manifest_closed"
    MANIFEST_INCOMPLETE = "manifest_incomplete"  # an order would be split: a lead approves with a reason
    NO_MANIFEST = "no_manifest"
    CARTON_LOADED = "carton_loaded"
    CARTON_UNLOADED = "carton_unloaded"
    UNKNOWN_CODE = "unknown_code"
    NOT_SEALED = "not_sealed"
    ORDER_PULLED = "order_pulled"  # cancelled after packing: pull the cartons
    WRONG_CARRIER = "wrong_carrier"  # another carrier or service
    ALREADY_LOADED = "already_loaded"
    ON_CLOSED_MANIFEST = "on_closed_manifest"
    ON_OTHER_MANIFEST = "on_other_manifest"  # on another open manifest (another dock's, another service's)
    LABEL_MISSING = "label_missing"  # its carrier label is not created yet
    # the returns desk (domain.returns; each refusal of a returned item has its own sound)
    RETURN_OPENED = "return_opened"  # a parcel's return(s) found, or a return opened at the desk
    RETURN_REFUSED = "return_refused"  # no such return / order, or it cannot come back
    ITEM_RECEIVED = "item_received"
    UNEXPECTED_ITEM = "unexpected_item"  # within what shipped, on no announced line: recorded
    NOT_IN_ORDER = "not_in_order"  # the product never left in the order
    SERIAL_NOT_SHIPPED = "serial_not_shipped"
    LOT_NOT_SHIPPED = "lot_not_shipped"
    MORE_THAN_SHIPPED = "more_than_shipped"  # more than shipped minus already returned
    GRADED = "graded"
    PHOTO_TAKEN = "photo_taken"
    PHOTO_REQUIRED = "photo_required"  # a grade below the bar needs a photo first
    NOTE_ADDED = "note_added"
    NEEDS_NOTE = "needs_note"
    DISPOSITION_SET = "disposition_set"
    NEEDS_LOCATION = "needs_location"  # restock: scan the bin
    NEEDS_AMOUNT = "needs_amount"  # the returns desk: type what a line pays back
    AMOUNT_SET = "amount_set"
    RESTOCKED = "restocked"
    RETURN_RESOLVED = "return_resolved"
    PARCEL_DONE = "parcel_done"

    @property
    def tone(self) -> Tone:
        return _TONES.get(self, Tone.INFO)


_TONES = {
    Verdict.ACCEPTED: Tone.OK,
    Verdict.CARTON_CLOSED: Tone.OK,
    Verdict.ORDER_COMPLETE: Tone.OK,
    Verdict.ORDER_OPENED: Tone.OK,
    Verdict.LOGGED_IN: Tone.OK,
    Verdict.UNKNOWN_BARCODE: Tone.ERROR,
    Verdict.WRONG_ITEM: Tone.ERROR,
    Verdict.EXPIRED_LOT: Tone.ERROR,
    Verdict.SERIAL_ALREADY_SHIPPED: Tone.ERROR,
    Verdict.UNKNOWN_LOT: Tone.ERROR,
    Verdict.INVALID_SCAN: Tone.ERROR,
    Verdict.CARTON_BLOCKED: Tone.ERROR,
    Verdict.ORDER_REFUSED: Tone.ERROR,
    Verdict.STORAGE_FAILED: Tone.ERROR,
    Verdict.NOT_ALLOWED: Tone.ERROR,
    Verdict.OVER_SCAN: Tone.WARNING,
    Verdict.NOTHING_TO_UNDO: Tone.WARNING,
    Verdict.NO_ORDER: Tone.WARNING,
    Verdict.NEEDS_LOT: Tone.PROMPT,
    Verdict.NEEDS_EXPIRY: Tone.PROMPT,
    Verdict.NEEDS_SERIAL: Tone.PROMPT,
    Verdict.NEEDS_CARTON: Tone.PROMPT,
    Verdict.NEEDS_QTY: Tone.PROMPT,
    Verdict.QTY_SET: Tone.PROMPT,
    Verdict.NEEDS_WEIGHT: Tone.PROMPT,
    Verdict.NEEDS_LEAD: Tone.PROMPT,
    Verdict.NEEDS_PIN: Tone.PROMPT,
    Verdict.NEEDS_DESK: Tone.PROMPT,
    Verdict.NEEDS_REASON: Tone.PROMPT,
    Verdict.WEIGHING: Tone.WARNING,
    Verdict.CREATING_LABEL: Tone.PROMPT,
    Verdict.NEEDS_REPRINT_TARGET: Tone.PROMPT,
    Verdict.LOGIN_REFUSED: Tone.ERROR,
    Verdict.LABEL_NOT_CREATED: Tone.ERROR,
    Verdict.MANIFEST_OPENED: Tone.OK,
    Verdict.MANIFEST_CLOSED: Tone.OK,
    Verdict.MANIFEST_INCOMPLETE: Tone.PROMPT,
    Verdict.NO_MANIFEST: Tone.WARNING,
    Verdict.CARTON_LOADED: Tone.OK,
    Verdict.CARTON_UNLOADED: Tone.WARNING,
    Verdict.UNKNOWN_CODE: Tone.ERROR,
    Verdict.NOT_SEALED: Tone.ERROR,
    Verdict.ORDER_PULLED: Tone.ERROR,
    Verdict.WRONG_CARRIER: Tone.ERROR,
    Verdict.ALREADY_LOADED: Tone.WARNING,
    Verdict.ON_CLOSED_MANIFEST: Tone.ERROR,
    Verdict.ON_OTHER_MANIFEST: Tone.ERROR,
    Verdict.LABEL_MISSING: Tone.WARNING,
    Verdict.RETURN_OPENED: Tone.OK,
    Verdict.RETURN_REFUSED: Tone.ERROR,
    Verdict.ITEM_RECEIVED: Tone.OK,
    Verdict.UNEXPECTED_ITEM: Tone.WARNING,
    Verdict.NOT_IN_ORDER: Tone.ERROR,
    Verdict.SERIAL_NOT_SHIPPED: Tone.ERROR,
    Verdict.LOT_NOT_SHIPPED: Tone.ERROR,
    Verdict.MORE_THAN_SHIPPED: Tone.ERROR,
    Verdict.GRADED: Tone.OK,
    Verdict.PHOTO_TAKEN: Tone.OK,
    Verdict.PHOTO_REQUIRED: Tone.ERROR,
    Verdict.NOTE_ADDED: Tone.OK,
    Verdict.NEEDS_NOTE: Tone.PROMPT,
    Verdict.DISPOSITION_SET: Tone.OK,
    Verdict.NEEDS_LOCATION: Tone.PROMPT,
    Verdict.NEEDS_AMOUNT: Tone.PROMPT,
    Verdict.AMOUNT_SET: Tone.OK,
    Verdict.RESTOCKED: Tone.OK,
    Verdict.RETURN_RESOLVED: Tone.OK,
    Verdict.PARCEL_DONE: Tone.OK,
}


class CartonStatus(StrEnum):
    OPEN = "open"
    BLOCKED = "blocked"  # weighed out of tolerance: a lead overrides or the packer fixes it
    CLOSED = "closed"


@dataclass(frozen=True)
class PackedItem:
    """One accepted scan: *qty* units of *sku* put into carton *carton_seq*."""

    scan_id: str
    line_no: int
    sku: str
    qty: int
    carton_seq: int
    barcode: str
    user: str
    lot: str | None = None
    expiry: date | None = None
    serial: str | None = None
    source: str = "wedge"  # how the code arrived: wedge (scanner burst), serial, evdev, typed
    scanned_at: datetime | None = None  # set when stored


@dataclass
class Carton:
    seq: int
    type: CartonType
    status: CartonStatus = CartonStatus.OPEN
    items: list[PackedItem] = field(default_factory=list)
    measured_g: int | None = None
    sscc: str | None = None
    override_by: str | None = None
    tracking_number: str | None = None
    expected_g: int | None = None  # tare plus items, when it was weighed
    closed_at: datetime | None = None  # set by the store when sealed
    label_carrier: str | None = None  # the carrier account whose label it carries (None: our own SSCC label)
    shipment_id: str | None = None  # the carrier's id of its shipment (to void it, to track it)

    @property
    def is_open(self) -> bool:
        return self.status is not CartonStatus.CLOSED



@dataclass(frozen=True)
class Tolerance:
    """A carton weight is accepted within the larger of *pct* percent and *grams*."""

    pct: float = 5.0
    grams: int = 20

    def allowed(self, expected_g: int) -> int:
        """The largest whole-gram difference still within tolerance.

        Rounded down, in exact decimal arithmetic: 5 % of 1750 g is 87.5 g, so 87 g is in and
        88 g is out (``round()`` gave 88 here but 62 for 62.5 g: banker's rounding).
        """
        pct = Decimal(str(self.pct)) * expected_g / 100
        return max(int(pct), self.grams)


@dataclass(frozen=True)
class PendingItem:
    """An item scan waiting for its lot, expiry or serial (asked for on the next scan)."""

    sku: str
    line_no: int
    qty: int
    barcode: str
    lot: str | None = None
    expiry: date | None = None
    serial: str | None = None
    source: str = "wedge"  # how the item's own scan arrived


@dataclass(frozen=True)
class ItemDecision:
    verdict: Verdict
    message: str
    item: PackedItem | None = None  # to record when accepted
    pending: PendingItem | None = None  # the new pending state (None clears it)
    sku: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # e.g. {"lot_unverified": True}


@dataclass(frozen=True)
class CloseDecision:
    verdict: Verdict  # CARTON_CLOSED, CARTON_BLOCKED, NEEDS_CARTON, ...
    message: str
    expected_g: int = 0
    measured_g: int = 0
    allowed_g: int = 0


# Each accepted shape with its format; anything else is no date. Shapes are matched whole so
# a six-digit GS1 date can never be misread as a four-digit year ("261332" is not 2613-03-02).
_DATE_SHAPES = (
    (re.compile(r"\d{6}"), "%y%m%d"),
    (re.compile(r"\d{8}"), "%Y%m%d"),
    (re.compile(r"\d{4}-\d{1,2}-\d{1,2}"), "%Y-%m-%d"),
    (re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}"), "%d.%m.%Y"),
    (re.compile(r"\d{1,2}/\d{1,2}/\d{4}"), "%d/%m/%Y"),
)


def parse_expiry(text: str) -> date | None:
    """An expiry date typed or scanned at the prompt (GS1 YYMMDD, ISO, or day-first); None if it is no date."""
    text = text.strip()
    m = re.fullmatch(r"(\d\d)(\d\d)00", text)
    if m:  # GS1: day 00 means the last day of the month
        try:
            first = datetime.strptime(f"{m.group(1)}{m.group(2)}01", "%y%m%d").date()
        except ValueError:
            return None  # month 13 and the like
        nxt = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
        return date.fromordinal(nxt.toordinal() - 1)
    for shape, fmt in _DATE_SHAPES:
        if shape.fullmatch(text):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                return None
    return None


@dataclass
class PackSession:
    """One order being packed at one bench."""

    order: Order
    products: dict[str, Product]  # the products on the order, by sku
    cartons: list[Carton] = field(default_factory=list)
    pending: PendingItem | None = None
    pending_qty: int | None = None
    awaiting_qty: bool = False
    barcode_index: dict[str, tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.barcode_index:
            self.barcode_index = build_barcode_index(self.products.values())

    # --- reading the state -------------------------------------------------------------
    @property
    def open_carton(self) -> Carton | None:
        for carton in reversed(self.cartons):
            if carton.is_open:
                return carton
        return None

    @property
    def items(self) -> list[PackedItem]:
        return [item for carton in self.cartons for item in carton.items]

    def expected_weight(self, carton: Carton) -> int:
        return carton.type.tare_g + sum(
            self.products[item.sku].weight_g * item.qty for item in carton.items
        )

    @property
    def complete(self) -> bool:
        """Every line packed or short-shipped and no carton left open with items in it."""
        return self.order.complete and all(not c.is_open or not c.items for c in self.cartons)

    def serials(self) -> set[tuple[str, str]]:
        return {(i.sku, i.serial) for i in self.items if i.serial}

    def resolve(self, barcode: Barcode) -> tuple[Product, int] | None:
        """The product on this order a barcode stands for, and how many units it counts."""
        hit = self.barcode_index.get(barcode.value)
        if hit is None:
            return None
        sku, multiple = hit
        return self.products[sku], multiple

    # --- item scans ---------------------------------------------------------------------
    def evaluate_item(
        self,
        barcode: Barcode,
        today: date,
        *,
        user: str,
        scan_id: str,
        serial_shipped: bool = False,
        source: str = "wedge",
        known_lots: list[StockLot] | None = None,
        unknown_lot: str = "refuse",
    ) -> ItemDecision:
        """Decide what an item scan does. *serial_shipped*: the scanned serial left in another order.

        *known_lots*: the warehouse's lots of the product (None or empty: none known, the lot
        is taken as scanned and marked unverified); *unknown_lot* says what a lot that is not
        among them gets: ``refuse`` (default) or ``warn`` (accepted, marked unverified)."""
        hit = self.resolve(barcode)
        if hit is None:
            return ItemDecision(Verdict.WRONG_ITEM, "This item is not on the order. Put it aside.")
        product, multiple = hit
        line = self.order.line_for(product.sku)
        assert line is not None  # the index only holds products on the order
        if barcode.count is not None:  # a case label, (02) + (37): it says how many items it holds
            if self.pending_qty is not None:
                return ItemDecision(Verdict.NOT_ALLOWED, f"This label already counts {barcode.count}: "
                                    "scan it without CMD-QTY.", sku=product.sku)
            qty = barcode.count * multiple
        else:
            qty = (self.pending_qty or 1) * multiple
        if product.tracking is Tracking.SERIAL and qty != 1:
            return ItemDecision(
                Verdict.NOT_ALLOWED,
                f"{product.name} is serial-tracked: scan each unit on its own.",
                sku=product.sku,
            )
        if line.remaining <= 0:
            return ItemDecision(
                Verdict.OVER_SCAN,
                f"{product.name}: all {line.qty} already packed. Put this one back.",
                sku=product.sku,
            )
        if qty > line.remaining:
            what = f"this pack counts {qty}" if multiple > 1 else f"the quantity is {qty}"
            return ItemDecision(
                Verdict.OVER_SCAN,
                f"{product.name}: {what}, more than the {line.remaining} still needed. Nothing was counted: "
                "put it back and scan single units" + (" (or CMD-QTY with a smaller number)." if multiple == 1
                                                       else "."),
                sku=product.sku, data={"headline": "TOO MANY"},
            )
        if self.open_carton is None:
            return ItemDecision(
                Verdict.NEEDS_CARTON, "Open a carton first: scan a carton barcode (BOX-…).", sku=product.sku
            )
        pending = PendingItem(
            sku=product.sku,
            line_no=line.line_no,
            qty=qty,
            barcode=barcode.value,
            lot=barcode.lot,
            expiry=barcode.expiry,
            serial=barcode.serial,
            source=source,
        )
        return self._complete_pending(pending, product, today, user, scan_id, serial_shipped, known_lots, unknown_lot)

    def evaluate_detail(
        self, text: str, today: date, *, user: str, scan_id: str, serial_shipped: bool = False,
        known_lots: list[StockLot] | None = None, unknown_lot: str = "refuse",
    ) -> ItemDecision:
        """The answer to a lot / expiry / serial prompt."""
        pending = self.pending
        if pending is None:
            return ItemDecision(Verdict.INVALID_SCAN, "Nothing is waiting for a lot, expiry or serial.")
        product = self.products[pending.sku]
        text = text.strip()
        need = self._missing(pending, product)
        if need is Verdict.NEEDS_LOT:
            if len(text) > MAX_LOT_LENGTH:
                return ItemDecision(Verdict.INVALID_SCAN, f"A lot has at most {MAX_LOT_LENGTH} characters. Scan the lot again.", pending=pending, sku=pending.sku)
            pending = replace(pending, lot=text)
        elif need is Verdict.NEEDS_EXPIRY:
            expiry = parse_expiry(text)
            if expiry is None:
                return ItemDecision(Verdict.INVALID_SCAN, "Not a date. Scan the expiry (YYMMDD or YYYY-MM-DD).", pending=pending, sku=pending.sku)
            pending = replace(pending, expiry=expiry)
        elif need is Verdict.NEEDS_SERIAL:
            if len(text) > MAX_SERIAL_LENGTH:
                return ItemDecision(Verdict.INVALID_SCAN, f"A serial has at most {MAX_SERIAL_LENGTH} characters. Scan it again.", pending=pending, sku=pending.sku)
            pending = replace(pending, serial=text)
        return self._complete_pending(pending, product, today, user, scan_id, serial_shipped, known_lots, unknown_lot)

    def awaiting(self) -> Verdict | None:
        """What the open prompt asks for (NEEDS_LOT, NEEDS_EXPIRY, NEEDS_SERIAL), if any."""
        if self.pending is None:
            return None
        return self._missing(self.pending, self.products[self.pending.sku])

    @staticmethod
    def _missing(pending: PendingItem, product: Product) -> Verdict | None:
        if product.tracking in (Tracking.LOT, Tracking.LOT_EXPIRY) and not pending.lot:
            return Verdict.NEEDS_LOT
        if product.tracking is Tracking.LOT_EXPIRY and pending.expiry is None:
            return Verdict.NEEDS_EXPIRY
        if product.tracking is Tracking.SERIAL and not pending.serial:
            return Verdict.NEEDS_SERIAL
        return None

    def _complete_pending(
        self,
        pending: PendingItem,
        product: Product,
        today: date,
        user: str,
        scan_id: str,
        serial_shipped: bool,
        known_lots: list[StockLot] | None = None,
        unknown_lot: str = "refuse",
    ) -> ItemDecision:
        data: dict[str, Any] = {}
        if pending.lot and product.tracking in (Tracking.LOT, Tracking.LOT_EXPIRY):
            checked = self._check_lot(pending, product, known_lots, unknown_lot, today)
            if isinstance(checked, ItemDecision):
                return checked
            pending, data = checked
        if pending.expiry is not None and pending.expiry < today:
            return ItemDecision(
                Verdict.EXPIRED_LOT,
                f"{product.name}: lot {pending.lot or '?'} expired on {pending.expiry.isoformat()}. Put it aside.",
                sku=product.sku,
            )
        if pending.serial and product.tracking is Tracking.SERIAL:
            if (product.sku, pending.serial) in self.serials() or serial_shipped:
                return ItemDecision(
                    Verdict.SERIAL_ALREADY_SHIPPED,
                    f"{product.name}: serial {pending.serial} was already packed. Put this unit aside.",
                    sku=product.sku,
                )
        need = self._missing(pending, product)
        if need is not None:
            what = {Verdict.NEEDS_LOT: "lot", Verdict.NEEDS_EXPIRY: "expiry date", Verdict.NEEDS_SERIAL: "serial number"}[need]
            return ItemDecision(need, f"{product.name}: scan the {what}.", pending=pending, sku=product.sku, data=data)
        carton = self.open_carton
        if carton is None:  # the carton was sealed while the prompt waited for this answer
            return ItemDecision(
                Verdict.NEEDS_CARTON,
                f"{product.name}: no carton is open. Scan a carton barcode, then scan the item again.",
                sku=product.sku,
            )
        item = PackedItem(
            scan_id=scan_id,
            line_no=pending.line_no,
            sku=product.sku,
            qty=pending.qty,
            carton_seq=carton.seq,
            barcode=pending.barcode,
            user=user,
            lot=pending.lot if product.tracking is not Tracking.NONE or pending.lot else None,
            expiry=pending.expiry,
            serial=pending.serial if product.tracking is Tracking.SERIAL else None,
            source=pending.source,
        )
        line = self._line(pending.line_no)
        after = line.packed + item.qty
        message = f"{product.name}: {after} of {line.qty}"
        if data.get("lot_unverified"):
            message += f" (lot {item.lot} not in the stock records: taken as scanned)"
        return ItemDecision(Verdict.ACCEPTED, message, item=item, sku=product.sku, data=data)

    @staticmethod
    def _check_lot(pending: PendingItem, product: Product, known: list[StockLot] | None,
                   unknown_lot: str, today: date) -> ItemDecision | tuple[PendingItem, dict[str, Any]]:
        """A lot against the warehouse's stock: known lots only, expiry from stock.

        Returns the refusal, or the pending item with the stock's expiry filled in and the
        data to record (``lot_unverified`` when no stock record vouches for the lot)."""
        assert pending.lot is not None
        if not known:
            return pending, {"lot_unverified": True}
        match = next((lot for lot in known if lot.lot.upper() == pending.lot.upper()), None)
        if match is None:
            if unknown_lot == "warn":
                return pending, {"lot_unverified": True}
            listed = ", ".join(lot.lot for lot in known[:5]) + (" …" if len(known) > 5 else "")
            return ItemDecision(Verdict.UNKNOWN_LOT,
                                f"{product.name}: lot {pending.lot} is not one of this warehouse's lots ({listed}). "
                                "Check the lot on the item and scan it again (CMD-UNDO: put the item aside).",
                                pending=replace(pending, lot=None), sku=product.sku)
        pending = replace(pending, lot=match.lot)
        if match.expiry is not None:
            if pending.expiry is not None and pending.expiry != match.expiry and match.expiry >= today:
                # (a stock expiry in the past is refused as an expired lot just after this)
                return ItemDecision(Verdict.INVALID_SCAN,
                                    f"{product.name}: lot {match.lot} expires on {match.expiry.isoformat()} "
                                    f"by the stock records, not {pending.expiry.isoformat()}. Put it aside for a lead.",
                                    sku=product.sku, data={"headline": "EXPIRY DOES NOT MATCH"})
            pending = replace(pending, expiry=match.expiry)
        return pending, {}

    def resolved_by_sku(self, barcode: Barcode) -> bool:
        """The scan named the product by its SKU text rather than by one of its barcodes."""
        hit = self.barcode_index.get(barcode.value)
        if hit is None:
            return False
        product = self.products[hit[0]]
        return barcode.value == product.sku.upper() and barcode.value not in product.barcodes and \
            barcode.value not in {p.barcode for p in product.pack_barcodes}

    def apply_item(self, decision: ItemDecision) -> None:
        """Make a decision visible in the session (call after it was stored)."""
        if decision.item is not None:
            item = decision.item
            carton = self._carton(item.carton_seq)
            carton.items.append(item)
            if carton.status is CartonStatus.BLOCKED:  # the packer is fixing the carton
                carton.status = CartonStatus.OPEN
                carton.measured_g = None
            self._line(item.line_no).packed += item.qty
            self.pending = None
            self.pending_qty = None
        elif decision.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL) or (
            decision.verdict in (Verdict.INVALID_SCAN, Verdict.UNKNOWN_LOT) and decision.pending is not None
        ):
            self.pending = decision.pending
        else:  # a refused scan drops what it was part of
            self.pending = None
            self.pending_qty = None

    # --- quantity -----------------------------------------------------------------------
    def evaluate_quantity(self, barcode: Barcode) -> ItemDecision:
        if barcode.kind is not BarcodeKind.NUMBER:
            return ItemDecision(Verdict.INVALID_SCAN, "Scan or type a number for the quantity.")
        qty = int(barcode.value)
        if not 1 <= qty <= MAX_QTY:
            return ItemDecision(Verdict.INVALID_SCAN, f"Quantity must be 1 to {MAX_QTY}.")
        return ItemDecision(Verdict.QTY_SET, f"Quantity {qty}: scan the item.")

    # --- cartons ------------------------------------------------------------------------
    def evaluate_close(self, measured_g: int, tolerance: Tolerance) -> CloseDecision:
        carton = self.open_carton
        if carton is None:
            return CloseDecision(Verdict.NEEDS_CARTON, "No carton is open.")
        if not carton.items:
            return CloseDecision(Verdict.NOT_ALLOWED, "The carton is empty: scan items into it first.")
        expected = self.expected_weight(carton)
        allowed = tolerance.allowed(expected)
        diff = measured_g - expected
        if carton.type.max_weight_g and measured_g > carton.type.max_weight_g:
            return CloseDecision(
                Verdict.CARTON_BLOCKED,
                f"{measured_g} g is over the {carton.type.name} limit of {carton.type.max_weight_g} g. "
                "Repack into a bigger carton or ask a lead.",
                expected,
                measured_g,
                allowed,
            )
        if abs(diff) > allowed:
            direction = "heavier" if diff > 0 else "lighter"
            return CloseDecision(
                Verdict.CARTON_BLOCKED,
                f"Carton weighs {measured_g} g, expected {expected} g ± {allowed} g "
                f"({abs(diff)} g {direction}). Check the contents, or ask a lead to override.",
                expected,
                measured_g,
                allowed,
            )
        return CloseDecision(Verdict.CARTON_CLOSED, f"Carton {carton.seq} closed at {measured_g} g.", expected, measured_g, allowed)

    def next_carton_seq(self) -> int:
        return max((c.seq for c in self.cartons), default=0) + 1

    def _carton(self, seq: int) -> Carton:
        for carton in self.cartons:
            if carton.seq == seq:
                return carton
        raise KeyError(f"no carton {seq}")

    def _line(self, line_no: int) -> OrderLine:
        for line in self.order.lines:
            if line.line_no == line_no:
                return line
        raise KeyError(f"no line {line_no}")

    def carton(self, seq: int) -> Carton:
        return self._carton(seq)

    def line(self, line_no: int) -> OrderLine:
        return self._line(line_no)

    # --- undo ---------------------------------------------------------------------------
    def last_undoable(self, user: str, *, any_user: bool = False) -> PackedItem | None:
        """The newest scan still in an unsealed carton, if it is *user*'s (or any, for a lead)."""
        for carton in reversed(self.cartons):
            if not carton.is_open:
                continue
            for item in reversed(carton.items):
                if any_user or item.user == user:
                    return item
                return None
        return None

    def apply_undo(self, item: PackedItem) -> None:
        carton = self._carton(item.carton_seq)
        carton.items = [i for i in carton.items if i.scan_id != item.scan_id]
        if carton.status is CartonStatus.BLOCKED:
            carton.status = CartonStatus.OPEN
            carton.measured_g = None
        self._line(item.line_no).packed -= item.qty
        self.pending = None
        self.pending_qty = None

    # --- short ship ---------------------------------------------------------------------
    def short_lines(self) -> list[OrderLine]:
        return [line for line in self.order.lines if line.remaining > 0]


def build_barcode_index(products: Iterable[Product]) -> dict[str, tuple[str, int]]:
    """Lookup key -> (sku, units per scan) for every unit and pack barcode of *products*."""
    index: dict[str, tuple[str, int]] = {}
    for product in products:
        for code in product.barcodes:
            index[lookup_key(code)] = (product.sku, 1)
        for pack in product.pack_barcodes:
            index[lookup_key(pack.barcode)] = (product.sku, pack.qty)
        index.setdefault(product.sku.upper(), (product.sku, 1))
    return index
