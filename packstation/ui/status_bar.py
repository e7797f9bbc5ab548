"""The status bar: one entry per device (scanners, scale, printers, database, sound).

Each entry carries a symbol and words as well as a colour: ✔ ready, ✖ failed (with the
reason), ○ not connected yet.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

from packstation.adapters.devices.state import DeviceState, Status
from packstation.ui import theme

_LOOK = {
    Status.CONNECTED: ("✔", "#1b5e20"),
    Status.DISCONNECTED: ("○", "#5f6b73"),
    Status.ERROR: ("✖", "#b71c1c"),
}
_TITLES = {"scale": "Scale", "label printer": "Label printer", "document printer": "Slip printer",
           "database": "Database", "sound": "Sound"}
MAX_REASON = 40


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
            # a long reason may shrink (the full text is in the tooltip); it never widens the window
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(60)
            self.addPermanentWidget(label) if slot == "database" else self.addWidget(label)
            self.entries[slot] = label
        self.states[slot] = state
        symbol, colour = _LOOK[state.status]
        reason = state.reason
        short = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
        word = {Status.CONNECTED: "", Status.DISCONNECTED: "off: ",
                Status.ERROR: "FAILED: "}[state.status]
        label.setText(f"{symbol} {title_of(slot)}: {word}{short}".rstrip(": "))
        label.setToolTip(str(state))
        label.setStyleSheet(f"color: {colour}; padding: 0 4px;")
