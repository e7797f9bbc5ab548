"""The status bar: one entry per device (scanners, scale, printers, database, sound).

Each entry carries a symbol and words as well as a colour: ✔ ready, ✖ failed (with the
reason), ○ not connected yet. Every entry has the same bounded width, its text elided to it;
the full text is in the tooltip, so one long reason (a file path) can never squeeze the others
into "Scanner wedge: r".
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

from packstation.adapters.devices.state import DeviceState, Status
from packstation.ui import theme

_LOOK = {
    Status.CONNECTED: ("✔", "#1b5e20"),
    Status.DISCONNECTED: ("○", "#5f6b73"),
    Status.ERROR: ("✖", "#b71c1c"),
}
_TITLES = {"scale": "Scale", "label printer": "Label printer", "document printer": "Slip printer",
           "database": "Database", "sound": "Sound", "central": "Central"}
MAX_REASON = 40
ENTRY_WIDTH = 200  # px, every entry: seven of them fit a 1280 px bench screen


def title_of(slot: str) -> str:
    if slot.startswith("scanner:"):
        return f"Scanner {slot.split(':', 1)[1]}"
    return _TITLES.get(slot, slot.capitalize())


class DeviceStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.entries: dict[str, QLabel] = {}
        self.states: dict[str, DeviceState] = {}

    def show_state(self, slot: str, state: DeviceState) -> None:
        label = self.entries.get(slot)
        if label is None:
            label = QLabel()
            label.setObjectName(f"status:{slot}")
            label.setFont(theme.font(10))
            # one width for all: a long reason is elided (full text in the tooltip), never
            # squeezing the other entries nor widening the window
            label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
            label.setFixedWidth(ENTRY_WIDTH)
            self.addPermanentWidget(label) if slot == "database" else self.addWidget(label)
            self.entries[slot] = label
        self.states[slot] = state
        symbol, colour = _LOOK[state.status]
        reason = state.reason
        short = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
        word = {Status.CONNECTED: "", Status.DISCONNECTED: "off: ",
                Status.ERROR: "FAILED: "}[state.status]
        full = f"{symbol} {title_of(slot)}: {word}{short}".rstrip(": ")
        label.setText(label.fontMetrics().elidedText(full, Qt.TextElideMode.ElideRight, ENTRY_WIDTH - 10))
        label.setToolTip(f"{title_of(slot)}: {word}{reason}".rstrip(": ") if reason else title_of(slot))
        label.setStyleSheet(f"color: {colour}; padding: 0 4px;")
