"""The pack view: order header, the lines to scan, and the cartons (open one with its expected weight)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from packstation.domain.packing import Carton, CartonStatus, PackSession
from packstation.services.bench import LeadRequest
from packstation.services.carriers import MARKETPLACE
from packstation.ui import theme
from packstation.ui.lines_model import COLUMNS, LinesModel


def _value_label(bold: bool = False, size: int = 15) -> QLabel:
    label = QLabel()
    label.setFont(theme.font(size, bold=bold))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    label.setWordWrap(True)
    return label


def _grams(value: int) -> str:
    """2516 -> '2 516 g' with no-break spaces, so a weight never wraps."""
    return f"{value:,}\u00a0g".replace(",", "\u00a0")


class OrderHeader(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orderHeader")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(24)
        self.order_id = _value_label(bold=True, size=24)
        self.channel = _value_label()
        self.carrier = _value_label()
        self.ship_to = _value_label()
        self.payment = _value_label(bold=True)
        grid.addWidget(self.order_id, 0, 0, 2, 1)
        for col, (title, widget) in enumerate(
            (("Channel", self.channel), ("Carrier", self.carrier), ("Ship to", self.ship_to),
             ("Payment", self.payment)), start=1):
            caption = QLabel(title.upper())
            caption.setFont(theme.font(10, bold=True))
            caption.setStyleSheet("color: #5f6b73;")
            grid.addWidget(caption, 0, col)
            grid.addWidget(widget, 1, col)
        grid.setColumnStretch(3, 2)

    def show_session(self, session: PackSession) -> None:
        o = session.order
        self.order_id.setText(o.order_id)
        self.channel.setText(o.channel)
        self.carrier.setText(f"{o.carrier} {o.service}".strip())
        a = o.ship_to
        place = " ".join(x for x in (a.postcode, a.city) if x)
        self.ship_to.setText(", ".join(x for x in (a.name, a.line1, a.line2, place, a.country) if x))
        cod = o.cod_amount
        if cod is not None:
            self.payment.setText(f"CASH ON DELIVERY — collect {o.currency} {cod:.2f}")
            self.payment.setStyleSheet("color: #8a1c00;")
        else:
            self.payment.setText(f"Prepaid ({o.payment_status})")
            self.payment.setStyleSheet("")


class CartonPanel(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cartonPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(280)
        box = QVBoxLayout(self)
        title = QLabel("CARTONS")
        title.setFont(theme.font(10, bold=True))
        title.setStyleSheet("color: #5f6b73;")
        self.open_carton = _value_label(bold=True, size=18)
        self.expected = _value_label(bold=True, size=22)
        self.contents = _value_label(size=13)
        self.closed = _value_label(size=13)
        for label in (self.contents, self.closed):  # plain labels: a selectable one costs a text layout per scan
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        box.addWidget(title)
        box.addWidget(self.open_carton)
        box.addWidget(self.expected)
        # What is in the carton and the sealed cartons grow with the order: they scroll inside the
        # panel, so a carton of 100 different items cannot make the window taller than the screen
        # (and every scan re-measure a window-high label, as it did before: issue 9).
        lists = QWidget()
        lists_box = QVBoxLayout(lists)
        lists_box.setContentsMargins(0, 0, 0, 0)
        lists_box.addWidget(self.contents)
        lists_box.addSpacing(12)
        lists_box.addWidget(self.closed)
        lists_box.addStretch(1)
        self.lists = QScrollArea()
        self.lists.setObjectName("cartonLists")
        self.lists.setWidget(lists)
        self.lists.setWidgetResizable(True)
        self.lists.setFrameShape(QFrame.Shape.NoFrame)
        self.lists.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lists.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        box.addWidget(self.lists, 1)

    def show_session(self, session: PackSession) -> None:
        carton = session.open_carton
        if carton is None:
            self.open_carton.setText("No carton open")
            self.expected.setText("Scan a carton barcode (BOX-S, BOX-M, …)")
            self.expected.setFont(theme.font(14))
            self.contents.setText("")
        else:
            state = " — BLOCKED" if carton.status is CartonStatus.BLOCKED else ""
            self.open_carton.setText(f"Carton {carton.seq}: {carton.type.name} ({carton.type.code}){state}")
            self.expected.setFont(theme.font(22, bold=True))
            expected = session.expected_weight(carton)
            text = f"Expected {_grams(expected)}"
            if carton.measured_g is not None:
                text += f"\nMeasured {_grams(carton.measured_g)}"
            self.expected.setText(text)
            counts: dict[str, int] = {}
            for item in carton.items:
                counts[item.sku] = counts.get(item.sku, 0) + item.qty
            self.contents.setText(
                # the SKU too: two products may share a name
                "\n".join(f"{qty} × {sku}  {session.products[sku].name}" for sku, qty in counts.items())
                or "Empty: scan the items."
            )
        sealed = [c for c in session.cartons if c.status is CartonStatus.CLOSED]
        self.closed.setText("\n".join(_sealed_line(c) for c in sealed))


def _sealed_line(carton: Carton) -> str:
    """A sealed carton: weight and SSCC, and the carrier's tracking number its label carries."""
    line = f"✔ Carton {carton.seq} {carton.type.code}: {carton.measured_g} g, SSCC {carton.sscc}"
    if carton.tracking_number:
        who = "marketplace label" if carton.label_carrier == MARKETPLACE else (carton.label_carrier or "carrier")
        line += f"\n      {who} tracking {carton.tracking_number}"
    return line


class LeadPanel(QFrame):
    """Shown while the bench waits for a lead: what for, and (short-ship) the reason to record."""

    reason_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("leadPanel")
        self.setStyleSheet("QFrame#leadPanel { border: 3px solid #1565c0; border-radius: 6px; }")
        self.title = _value_label(bold=True, size=20)
        self.detail = _value_label(size=14)
        self.reasons = QListWidget()
        self.reasons.setObjectName("shortReasons")
        self.reasons.setFont(theme.font(15))
        self.reasons.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reasons.setMaximumHeight(150)
        self.choices: tuple[str, ...] = ()
        self.reasons.itemClicked.connect(lambda item: self._row_changed(self.reasons.row(item)))
        box = QHBoxLayout(self)
        words = QVBoxLayout()
        words.addWidget(self.title)
        words.addWidget(self.detail)
        words.addStretch(1)
        box.addLayout(words, 2)
        box.addWidget(self.reasons, 1)

    def show_request(self, title: str, detail: str, *, reasons: tuple[str, ...] = (), picked: str | None = None) -> None:
        self.title.setText(title)
        self.detail.setText(detail)
        if self.choices != reasons:
            self.choices = ()
            self.reasons.clear()
            self.choices = reasons
            self.reasons.addItems([f"{n}  {reason}" for n, reason in enumerate(reasons, 1)])
        row = reasons.index(picked) if picked in reasons else -1
        if self.reasons.currentRow() != row:
            self.choices, keep = (), self.choices  # selecting the row must not emit a pick
            self.reasons.setCurrentRow(row)
            self.choices = keep
        self.reasons.setVisible(bool(reasons))
        self.setVisible(True)


    def current_reason(self) -> str:
        row = self.reasons.currentRow()
        return self.choices[row] if 0 <= row < len(self.choices) else ""

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self.choices):
            self.reason_chosen.emit(self.choices[row])


_LATER_STATES = ("✔ complete", "waiting: lot, expiry", "short 9999")


class PackView(QWidget):
    """The order being packed; when none is open, an invitation to scan one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stack = QStackedWidget()
        # no order
        self.idle = QWidget()
        idle_box = QVBoxLayout(self.idle)
        self.greeting = _value_label(bold=True, size=28)
        self.greeting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = _value_label(size=16)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        idle_box.addStretch(1)
        idle_box.addWidget(self.greeting)
        idle_box.addWidget(self.hint)
        idle_box.addStretch(2)
        # an order
        self.order = QWidget()
        self.header = OrderHeader()
        self.model = LinesModel()
        self.table = QTableView()
        self.table.setObjectName("linesTable")
        self.table.setModel(self.model)
        self.table.setFont(theme.font(15))
        self.table.horizontalHeader().setFont(theme.font(12, bold=True))
        self.table.verticalHeader().setVisible(False)
        # sized to the contents once per order (see show_session), not re-measured on every scan
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(True)  # a long product name wraps rather than being cut
        # ... in rows as tall as it needs at the product column's real width: that column
        # stretches, and its width is known only once the table is laid out on the screen (an
        # order's rows are first sized while the pack page is still hidden), or changes with the
        # window; a row sized for another width cut the name ("Glass foo…", issue 9)
        self._rewrap = QTimer(self)  # after the resize is done (sizing rows inside it saw the old state)
        self._rewrap.setSingleShot(True)
        self._rewrap.setInterval(0)
        self._rewrap.timeout.connect(self.table.resizeRowsToContents)
        self.table.horizontalHeader().sectionResized.connect(self._column_resized)
        self.cartons = CartonPanel()
        self.lead = LeadPanel()
        self.lead.setVisible(False)
        body = QHBoxLayout()
        body.addWidget(self.table, 4)
        body.addWidget(self.cartons, 1)
        order_box = QVBoxLayout(self.order)
        order_box.setContentsMargins(0, 0, 0, 0)
        order_box.addWidget(self.header)
        order_box.addWidget(self.lead)
        order_box.addLayout(body, 1)
        self.stack.addWidget(self.idle)
        self.stack.addWidget(self.order)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    def _column_resized(self, index: int, _old: int, _new: int) -> None:
        if index == 0 and self.model.rowCount():
            self._rewrap.start()

    def show_idle(self, user_name: str, suggestions: list[tuple[str, str]], *, documents: str = "") -> None:
        self.model.set_session(None)
        self.greeting.setText(f"{user_name}: scan an order number or tote")
        hint = "Scan the order number on the picklist, or the tote barcode."
        if documents:
            hint += f"\n\nNo printer is configured: labels and slips are saved as PDF files in {documents}."
        if suggestions:
            hint += "\n\nDemo orders ready to pack (type one, then Enter):\n" + "\n".join(
                f"{order_id}   (tote {tote})" for order_id, tote in suggestions)
        self.hint.setText(hint)
        self.stack.setCurrentWidget(self.idle)

    def show_session(self, session: PackSession, last_sku: str | None,
                     request: LeadRequest | None = None, *, pin_for: str | None = None) -> None:
        self.header.show_session(session)
        carton = session.open_carton
        then = (f"{pin_for}: enter your PIN on the keypad." if pin_for else
                "Then a lead scans their badge and enters their PIN." if request and request.reason else
                "Pick the reason: scan its number (or touch it). Then a lead scans their badge and enters their PIN.")
        if request is not None and request.action == "short":
            missing = ", ".join(f"{ln.remaining} × {session.products[ln.sku].name}" for ln in session.short_lines())
            self.lead.show_request("Short-ship: a lead approves", f"Missing: {missing}. {then}", reasons=request.reasons,
                                   picked=request.reason)
        elif request is not None and request.action == "reprint":
            self.lead.show_request("Reprint: a lead approves",
                                   "The labels of the sealed cartons print again (the packing slip only once the "
                                   f"order is packed); recorded with the lead's name and the reason. {then}",
                                   reasons=request.reasons, picked=request.reason)
        elif carton is not None and carton.status is CartonStatus.BLOCKED:
            self.lead.show_request(
                f"Carton {carton.seq} is BLOCKED (weighed {carton.measured_g} g, expected "
                f"{session.expected_weight(carton)} g)",
                "Fix the carton (CMD-UNDO, or scan the missing item) and scan CMD-CLOSE-CARTON again — or a lead "
                f"overrides: {then[0].lower()}{then[1:]}",
                reasons=request.reasons if request is not None else (), picked=request.reason if request else None)
        else:
            self.lead.setVisible(False)
        changed = self.model.set_session(session)
        if changed is None:  # a new order: size the table to it once
            self.table.resizeColumnsToContents()
            # the state column must also fit what it will say later, not just "n to scan"
            metrics = self.table.fontMetrics()
            widest = max(metrics.horizontalAdvance(t) for t in _LATER_STATES) + 16
            state = len(COLUMNS) - 1
            self.table.setColumnWidth(state, max(self.table.columnWidth(state), widest))
            self.table.resizeRowsToContents()
        else:
            for r in changed:  # a line's state text can wrap onto another line
                self.table.resizeRowToContents(r)
        self.cartons.show_session(session)
        row = self.model.row_of_sku(last_sku) if last_sku else -1
        if row >= 0:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        else:
            self.table.clearSelection()
        self.stack.setCurrentWidget(self.order)
