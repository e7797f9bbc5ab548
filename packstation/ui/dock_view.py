"""The dispatch dock's page: the open manifest and its cartons, orders not yet whole, cartons to pull.

Everything at the dock is a scan (``CARRIER-<CODE>``, carton labels, ``CMD-UNDO``,
``CMD-CLOSE-MANIFEST``); this page only shows what the desk (``services.dock.Dock``) holds, redrawn
after every outcome. A split waiting for a lead lists its reasons as buttons (or scan the number).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from packstation.domain.shipping import SPLIT_REASONS
from packstation.services.dock import DockView
from packstation.ui import theme


def _label(size: int, bold: bool = False) -> QLabel:
    label = QLabel()
    label.setFont(theme.font(size, bold=bold))
    label.setWordWrap(True)
    return label


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setFont(theme.font(14))
    table.horizontalHeader().setFont(theme.font(12, bold=True))
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))


class DockPage(QWidget):
    reason_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dockPage")
        self.title = _label(26, bold=True)
        self.title.setObjectName("dockTitle")
        self.summary = _label(16)
        self.summary.setObjectName("dockSummary")
        self.cartons = _table(["#", "SSCC", "Order", "Tracking number", "Service", "Weight", "Loaded by"])
        self.cartons.setObjectName("dockCartons")
        self.missing_title = _label(15, bold=True)
        self.missing = _label(14)
        self.missing.setObjectName("dockMissing")
        self.pull_frame = QFrame()
        self.pull_frame.setObjectName("dockPull")
        self.pull_frame.setStyleSheet("QFrame#dockPull { background: #fde2e1; border: 2px solid #b3261e; "
                                      "border-radius: 6px; } QLabel { color: #410e0b; background: transparent; }")
        self.pull_title = _label(15, bold=True)
        self.pull_list = _label(14)
        self.pull_list.setObjectName("dockPullList")
        pull_box = QVBoxLayout(self.pull_frame)
        pull_box.addWidget(self.pull_title)
        pull_box.addWidget(self.pull_list)
        self.reasons = QWidget()
        self.reasons.setObjectName("dockReasons")
        reason_box = QHBoxLayout(self.reasons)
        reason_box.setContentsMargins(0, 0, 0, 0)
        self.reason_buttons: list[QPushButton] = []
        for n, reason in enumerate(SPLIT_REASONS, 1):
            button = QPushButton(f"{n}  {reason}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setFont(theme.font(13))
            button.clicked.connect(lambda _=False, r=reason: self.reason_chosen.emit(r))
            self.reason_buttons.append(button)
            reason_box.addWidget(button)
        self.hint = _label(13)
        self.hint.setText("Scan CARRIER-… to open or continue a manifest · each carton's label to load it · "
                          "CMD-UNDO unloads the last · CMD-CLOSE-MANIFEST hands over.")
        side = QVBoxLayout()
        side.addWidget(self.missing_title)
        side.addWidget(self.missing)
        side.addWidget(self.pull_frame)
        side.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.cartons, 5)  # the seven columns fit whole at 1400 px
        body.addLayout(side, 2)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addWidget(self.summary)
        box.addWidget(self.reasons)
        box.addLayout(body, 1)
        box.addWidget(self.hint)
        self.show_view(DockView(None), "")

    def show_view(self, view: DockView, name: str) -> None:
        m = view.manifest
        if m is None:
            self.title.setText(f"Dispatch dock{' — ' + name if name else ''}")
            self.summary.setText("No manifest open. Scan a carrier from the dock card (CARRIER-DHL, …).")
            _fill(self.cartons, [])
        else:
            self.title.setText(f"Manifest {m.label} — open")
            self.summary.setText(f"{len(m.cartons)} carton(s) of {len(m.order_ids)} order(s), {m.weight_g / 1000:.2f} kg · "
                                 f"opened {m.opened_at:%H:%M} by {m.opened_by.split(':', 1)[-1]}")
            rows = []
            for c in sorted(m.cartons, key=lambda c: c.load_seq, reverse=True):
                rows.append([str(c.load_seq), c.sscc, c.order_id, c.tracking_number or "—", c.service,
                             f"{c.weight_g / 1000:.2f} kg", c.loaded_by.split(":", 1)[-1]])
            _fill(self.cartons, rows)
        if view.missing:
            self.missing_title.setText(f"Not whole yet: {len(view.missing)} order(s)")
            self.missing.setText("\n".join(f"{x.order_id}: {x.loaded} of {x.total} cartons — missing "
                                           f"{', '.join(x.missing[:3])}{' …' if len(x.missing) > 3 else ''}"
                                           for x in view.missing[:8]))
        else:
            self.missing_title.setText("Every loaded order is whole." if m is not None and m.cartons else "")
            self.missing.setText("")
        self.pull_frame.setVisible(bool(view.pull))
        if view.pull:
            orders = sorted({c.order_id for c in view.pull})
            self.pull_title.setText(f"TO BE PULLED: {len(view.pull)} carton(s) of {len(orders)} order(s) "
                                    "cancelled after packing")
            by_order: dict[str, list[str]] = {}
            for c in view.pull:
                by_order.setdefault(c.order_id, []).append(c.sscc or f"carton {c.seq}")
            self.pull_list.setText("\n".join(f"{o} ({next(c.order_status.value for c in view.pull if c.order_id == o)})"
                                             f": {', '.join(s)}" for o, s in list(by_order.items())[:10]))
        self.reasons.setVisible(view.split_request and view.split_reason is None)


__all__ = ["DockPage"]
