"""The returns desk page: the parcel's returns and their lines, the items received, and next to the
item in hand what the bench recorded when it left (packer, time, carton, weight, lot/serial, the
carton's photo), with the photos taken of it here.

It only shows: scans reach the desk through the controller like everywhere else; a click on an
item selects it (the next grade, photo or disposition is for it). The lead view's *Returns* tab
(:class:`ReturnsFigures`) shows the figures: by reason, grade, SKU and packer of the outbound carton.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from packstation.domain.identity import Session
from packstation.domain.returns import Disposition, ReceivedItem
from packstation.services import returns as rs
from packstation.services.context import Context
from packstation.services.photos import photo_data
from packstation.services.ports import StorageError
from packstation.services.returns_desk import ReturnsDesk
from packstation.ui import theme

_DISPOSITIONS = {d.value: d.label for d in Disposition}
THUMB = 100  # photos of the returned item
CARTON_THUMB = 220  # the sealed carton's photo from the bench


def _label(size: int = 14, bold: bool = False) -> QLabel:
    label = QLabel()
    label.setFont(theme.font(size, bold=bold))
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return label


def _caption(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setFont(theme.font(10, bold=True))
    label.setStyleSheet("color: #5f6b73;")
    return label


def _table(headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setFont(theme.font(11, bold=True))
    table.setFont(theme.font(13))
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _pixmap(ctx: Context, session: Session, photo_id: str | None, size: int = THUMB) -> QPixmap | None:
    if not photo_id:
        return None
    try:
        found = photo_data(ctx, session, photo_id)
    except StorageError:
        return None
    if found is None:
        return None
    pix = QPixmap()
    if not pix.loadFromData(found[1]):
        return None
    return pix.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class EvidencePanel(QScrollArea):
    """The item in hand, and what the bench recorded for it when it left (scrolls when long)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evidencePanel")
        self.setWidgetResizable(True)
        self.setMinimumWidth(360)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self.setWidget(inner)
        self.item = _label(17, bold=True)
        self.state = _label(13)
        self.left = _label(13)
        self.carton_photo = QLabel()
        self.carton_photo.setObjectName("cartonPhoto")
        self.photos = QHBoxLayout()
        self.photos.setAlignment(Qt.AlignmentFlag.AlignLeft)
        self.photo_labels: list[QLabel] = []
        box = QVBoxLayout(inner)
        box.addWidget(_caption("Item in hand"))
        box.addWidget(self.item)
        box.addWidget(self.state)
        box.addSpacing(8)
        box.addWidget(_caption("When it left (the bench's record)"))
        box.addWidget(self.left)
        box.addWidget(self.carton_photo)
        box.addSpacing(8)
        box.addWidget(_caption("Photos taken here"))
        box.addLayout(self.photos)
        box.addStretch(1)

    def show_item(self, ctx: Context, session: Session, desk: ReturnsDesk, item: ReceivedItem | None) -> None:
        for label in self.photo_labels:
            self.photos.removeWidget(label)
            label.hide()  # (deleteLater waits for the event loop: never shown meanwhile)
            label.deleteLater()
        self.photo_labels = []
        if item is None:
            self.item.setText("No item selected")
            self.state.setText("Scan an item of the parcel.")
            self.left.setText("")
            self.carton_photo.clear()
            return
        product = desk.products.get(item.sku)
        self.item.setText(f"{product.name if product else item.sku} ({item.sku})"
                          + (f"\nserial {item.serial}" if item.serial else "") + (f"\nlot {item.lot}" if item.lot else ""))
        grade = ctx.returns.grade(item.grade) if item.grade else None
        parts = [f"{item.rma_id}, line {item.line_no}" + (" — NOT ANNOUNCED" if item.unexpected else ""),
                 f"Grade: {grade.code} ({grade.label})" if grade else "Grade: —",
                 f"Disposition: {_DISPOSITIONS.get(item.disposition or '', '—')}"
                 + (f" → {item.location}" if item.location else "")
                 + (" (restocked)" if item.restocked_at else " (to restock)" if item.restock_pending else "")]
        if item.notes:
            parts.append(f"Notes: {item.notes}")
        need = item.needs(ctx.returns)
        if need:
            parts.append(f"Next: {'a photo' if need == 'photo' else need}")
        self.state.setText("\n".join(parts))
        unit = desk.evidence(item)
        if unit is None:
            self.left.setText("No scan of the bench matches it.")
            self.carton_photo.clear()
        else:
            weight = f"{unit.weight_g} g" if unit.weight_g is not None else "—"
            self.left.setText(
                f"Packed by {unit.packer} at {unit.station_id}, {_when(unit.scanned_at)}\n"
                f"Carton {unit.carton_seq}: SSCC {unit.sscc or '—'}, {weight}, sealed {_when(unit.sealed_at)}\n"
                + (f"Tracking {unit.tracking_number}\n" if unit.tracking_number else "")
                + (f"Lot {unit.lot}  " if unit.lot else "") + (f"Serial {unit.serial}" if unit.serial else ""))
            pix = _pixmap(ctx, session, unit.carton_photo, CARTON_THUMB)
            if pix is not None:
                self.carton_photo.setPixmap(pix)
            else:
                self.carton_photo.setText("(no carton photo)" if not unit.carton_photo else "(photo unreadable)")
        for photo_id in item.photos:
            label = QLabel()
            label.setObjectName("itemPhoto")
            pix = _pixmap(ctx, session, photo_id)
            if pix is not None:
                label.setPixmap(pix)
            else:
                label.setText("(photo)")
            self.photos.addWidget(label)
            self.photo_labels.append(label)


class ReturnsView(QWidget):
    """The returns desk: idle (scan a return) or a parcel being worked."""

    item_selected = Signal(str)  # an item id, clicked

    LINE_HEADERS = ["Return", "Line", "SKU", "Product", "Expected", "Received", "Grades", "Dispositions", "Resolution"]
    ITEM_HEADERS = ["#", "Return", "SKU", "Product", "Lot / serial", "Grade", "Photos", "Disposition", "Next"]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._item_ids: list[str] = []
        self.stack = QStackedWidget()
        self.idle = QWidget()
        self.greeting = _label(28, bold=True)
        self.greeting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = _label(16)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        idle = QVBoxLayout(self.idle)
        idle.addStretch(1)
        idle.addWidget(self.greeting)
        idle.addWidget(self.hint)
        idle.addStretch(2)
        self.parcel = QWidget()
        self.header = QFrame()
        self.header.setObjectName("parcelHeader")
        self.header.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self.header)
        self.rmas = _label(18, bold=True)
        self.customer = _label(14)
        self.status = _label(14)
        self.prompt = _label(14, bold=True)
        self.prompt.setObjectName("deskPrompt")
        grid.addWidget(self.rmas, 0, 0, 2, 1)
        for col, (title, widget) in enumerate((("Order and customer", self.customer), ("State", self.status),
                                                ("The desk waits for", self.prompt)), start=1):
            grid.addWidget(_caption(title), 0, col)
            grid.addWidget(widget, 1, col)
        grid.setColumnStretch(3, 2)
        self.lines = _table(self.LINE_HEADERS, "returnLines")
        self.items = _table(self.ITEM_HEADERS, "returnItems")
        self.items.cellClicked.connect(self._clicked)
        self.evidence = EvidencePanel()
        tables = QVBoxLayout()
        tables.addWidget(_caption("Lines"))
        tables.addWidget(self.lines, 1)
        tables.addWidget(_caption("Items received (click one to work on it)"))
        tables.addWidget(self.items, 1)
        body = QHBoxLayout()
        body.addLayout(tables, 3)
        body.addWidget(self.evidence, 1)
        parcel = QVBoxLayout(self.parcel)
        parcel.setContentsMargins(0, 0, 0, 0)
        parcel.addWidget(self.header)
        parcel.addLayout(body, 1)
        self.stack.addWidget(self.idle)
        self.stack.addWidget(self.parcel)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    def _clicked(self, row: int, column: int) -> None:
        if 0 <= row < len(self._item_ids):
            self.item_selected.emit(self._item_ids[row])

    def show_desk(self, desk: ReturnsDesk) -> None:
        ctx, session = desk.ctx, desk.session
        prompt = desk.prompt
        if desk.receipt is None:
            self.greeting.setText(f"{session.name}: scan the returned parcel")
            hint = ("Scan the return code on the packing slip (RET-…), the RMA number, the order number, or the "
                    "label on the carton (SSCC or tracking barcode).")
            if prompt is not None and prompt.kind == "reason":
                hint = (f"Order {prompt.order_id} has no return yet. Scan the number of the reason:\n"
                        + "\n".join(f"{n}  {r}" for n, r in enumerate(ctx.returns.reasons, 1)))
            self.hint.setText(hint)
            self.stack.setCurrentWidget(self.idle)
            return
        orders = {r.order_id for r in desk.returns}
        self.rmas.setText("\n".join(desk.receipt.rma_ids))
        people = sorted({o.customer_name for o in desk.orders.values() if o.order_id in orders})
        self.customer.setText(f"{', '.join(sorted(orders))}\n{', '.join(people)}")
        self.status.setText("\n".join(f"{r.rma_id}: {r.status.value}" for r in desk.returns))
        self.prompt.setText(self._prompt_text(desk))
        policy = ctx.returns
        rows = []
        for r in desk.returns:
            mine = [i for i in desk.items if i.rma_id == r.rma_id]
            for ln in r.lines:
                here = [i for i in mine if i.line_no == ln.line_no]
                product = desk.products.get(ln.sku)
                rows.append([r.rma_id, str(ln.line_no), ln.sku, product.name if product else "",
                             "—" if ln.unexpected else str(ln.qty), str(ln.received),
                             ", ".join(i.grade for i in here if i.grade) or "—",
                             ", ".join(_DISPOSITIONS.get(i.disposition or "", "") for i in here if i.disposition) or "—",
                             "resolved" if ln.resolution_id else "open"])
        _fill(self.lines, rows)
        self._item_ids = [i.id for i in desk.items]
        item_rows = []
        for n, i in enumerate(desk.items, 1):
            product = desk.products.get(i.sku)
            need = i.needs(policy)
            item_rows.append([str(n), i.rma_id + (" (not announced)" if i.unexpected else ""), i.sku,
                              product.name if product else "", i.serial or i.lot or "", i.grade or "—",
                              str(len(i.photos)), _DISPOSITIONS.get(i.disposition or "", "—"),
                              {"grade": "grade", "photo": "photo", "disposition": "disposition"}.get(need or "", "done")])
        _fill(self.items, item_rows)
        current = desk.current_item
        if current is not None and current.id in self._item_ids:
            self.items.selectRow(self._item_ids.index(current.id))
        else:
            self.items.clearSelection()
        self.evidence.show_item(ctx, session, desk, current)
        self.stack.setCurrentWidget(self.parcel)

    @staticmethod
    def _prompt_text(desk: ReturnsDesk) -> str:
        prompt = desk.prompt
        if prompt is None:
            item = desk.current_item
            if item is None:
                return "the next item"
            need = item.needs(desk.ctx.returns)
            return {"grade": "a grade (GRADE-…)", "photo": "a photo (RET-PHOTO)",
                    "disposition": "a disposition (DISP-…)"}.get(need or "", "the next item, or RES-… / RET-DONE")
        return {"lot": "the lot of the item", "serial": "the serial of the item", "location": "the bin (or RET-LATER)",
                "note": "the note: type it, then Enter", "reason": "the reason's number"}.get(prompt.kind, prompt.kind)


class ReturnsFigures(QWidget):
    """The lead view's returns figures: units received by reason, grade, SKU and packer."""

    DAYS = 30

    def __init__(self, ctx: Context, lead: Session, *, now: datetime | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.lead, self.now = ctx, lead, now
        self.caption = QLabel()
        self.tables = {key: _table([title, "Units"], f"returnsBy{key.title()}") for key, title in
                       (("reason", "Reason"), ("grade", "Grade"), ("sku", "SKU"), ("packer", "Packer of the carton"))}
        grid = QGridLayout()
        for n, table in enumerate(self.tables.values()):
            grid.addWidget(table, n // 2, n % 2)
        box = QVBoxLayout(self)
        box.addWidget(self.caption)
        box.addLayout(grid, 1)

    def reload(self) -> None:
        since = (self.now or self.ctx.clock()) - timedelta(days=self.DAYS)
        fig = rs.figures(self.ctx, self.lead, since)
        self.caption.setText(f"Last {self.DAYS} days: {fig.returns} return(s), {fig.units} unit(s) received, "
                             f"{fig.unexpected} not announced.")
        for key, table in self.tables.items():
            counts: dict[str, int] = getattr(fig, f"by_{key}")
            _fill(table, [[k, str(v)] for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))])


__all__ = ["EvidencePanel", "ReturnsFigures", "ReturnsView"]
