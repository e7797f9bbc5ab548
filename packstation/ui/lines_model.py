"""The order lines as a table model: what to scan, where it is, and how far along each line is."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from packstation.domain.model import Tracking
from packstation.domain.packing import PackSession, Verdict

COLUMNS = ("Product", "SKU", "Barcode to scan", "Bin", "Lot / serial", "Needed", "Scanned", "State")
_TRACKING = {
    Tracking.NONE: "—",
    Tracking.LOT: "lot",
    Tracking.LOT_EXPIRY: "lot + expiry",
    Tracking.SERIAL: "serial per unit",
}
_DONE = QColor("#d7f0dc")
_SHORT = QColor("#fde9c4")
_WAITING = QColor("#d6e6fb")

Index = QModelIndex | QPersistentModelIndex


class LinesModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._order_id: str | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._states: list[str] = []

    def set_session(self, session: PackSession | None) -> list[int] | None:
        """Show *session*'s lines. Returns the rows that changed, or None after a full reset.

        A scan changes one or two lines: for the same order only those rows are updated
        (dataChanged), so the view does not re-measure every cell of a long order per scan.
        """
        rows, states = _rows(session)
        order_id = session.order.order_id if session is not None else None
        if order_id is not None and order_id == self._order_id and len(rows) == len(self._rows):
            changed = [i for i, (old, new) in enumerate(zip(self._rows, rows, strict=True)) if old != new]
            self._rows, self._states = rows, states
            for i in changed:
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
            return changed
        self.beginResetModel()
        self._order_id, self._rows, self._states = order_id, rows, states
        self.endResetModel()
        return None

    def row_of_sku(self, sku: str) -> int:
        for i, row in enumerate(self._rows):
            if row[1] == sku:
                return i
        return -1

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (5, 6):
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            state = self._states[index.row()]
            if state.startswith("✔"):
                return QBrush(_DONE)
            if state.startswith("short"):
                return QBrush(_SHORT)
            if state.startswith("waiting"):
                return QBrush(_WAITING)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


def _rows(session: PackSession | None) -> tuple[list[tuple[Any, ...]], list[str]]:
    rows: list[tuple[Any, ...]] = []
    states: list[str] = []
    if session is None:
        return rows, states
    pending = session.pending
    for line in session.order.lines:
        product = session.products[line.sku]
        barcode = _typed(product.barcodes[0]) if product.barcodes else line.sku
        if pending is not None and pending.line_no == line.line_no:
            awaited = session.awaiting()  # what is still missing, not all the product tracks
            state = "waiting: " + {Verdict.NEEDS_LOT: "lot", Verdict.NEEDS_EXPIRY: "expiry",
                                   Verdict.NEEDS_SERIAL: "serial"}.get(awaited, "details") if awaited else "waiting"
        elif line.short and line.remaining <= 0:
            state = f"short {line.short}"
        elif line.remaining <= 0:
            state = "✔ complete"
        else:
            state = f"{line.remaining} to scan"
        rows.append((product.name, line.sku, barcode, product.location,
                     _TRACKING[product.tracking], line.qty, line.packed, state))
        states.append(state)
    return rows, states


def _typed(code: str) -> str:
    """The code as printed under the barcode: a GTIN-14 with a leading 0 is an EAN-13."""
    return code[1:] if len(code) == 14 and code.isdigit() and code.startswith("0") else code
