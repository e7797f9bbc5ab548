"""An on-screen PIN keypad: benches have touch screens and often no keyboard."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from packstation.ui import theme


class PinPad(QWidget):
    entered = Signal(str)

    def __init__(self, caption: str = "PIN", parent: QWidget | None = None, *, compact: bool = False) -> None:
        """*compact*: one row (field and keys side by side), for an approval above the pack view
        that must not push the lines table off the screen."""
        super().__init__(parent)
        self.caption = QLabel(caption)
        self.caption.setFont(theme.font(20, bold=True))
        self.pin = QLineEdit()
        self.pin.setObjectName("pinEdit")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setFont(theme.font(22))
        self.pin.setMaxLength(12)
        # compact: field, caption and twelve keys in one row that fits a 1280 px bench screen
        self.pin.setFixedWidth(200 if compact else 260)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.caption)
        row.addWidget(self.pin)
        row.addStretch(1)
        self.keypad = QWidget()
        self.keypad.setObjectName("pinKeypad")
        grid = QGridLayout(self.keypad)
        grid.setContentsMargins(0, 0, 0, 0)
        self.keys: dict[str, QPushButton] = {}
        keys = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "⌫", "OK") if compact else \
            ("1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0", "OK")
        for n, key in enumerate(keys):
            button = QPushButton(key)
            button.setFont(theme.font(20 if compact else 24, bold=True))
            button.setMinimumSize(*((56, 52) if compact else (96, 72)))
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep the focus (and the wedge) on the PIN field
            button.clicked.connect(lambda _=False, k=key: self._key(k))
            grid.addWidget(button, *((0, n) if compact else (n // 3, n % 3)))
            self.keys[key] = button
        if compact:
            line = QHBoxLayout(self)
            line.setContentsMargins(0, 4, 0, 4)
            line.addLayout(row)
            line.addWidget(self.keypad)
            line.addStretch(1)
        else:
            box = QVBoxLayout(self)
            box.addLayout(row)
            box.addWidget(self.keypad, 0, Qt.AlignmentFlag.AlignHCenter)
        self.pin.returnPressed.connect(self._submit)

    def clear(self) -> None:
        self.pin.clear()

    def set_busy(self, busy: bool) -> None:
        """While the PIN is being checked: nothing more can be typed."""
        self.pin.setEnabled(not busy)
        self.keypad.setEnabled(not busy)
        if not busy:
            self.pin.setFocus()

    def _key(self, key: str) -> None:
        if key == "OK":
            self._submit()
        elif key == "⌫":
            self.pin.backspace()
        elif len(self.pin.text()) < self.pin.maxLength():
            self.pin.insert(key)
        self.pin.setFocus()

    def _submit(self) -> None:
        pin = self.pin.text()
        self.pin.clear()
        if pin:
            self.entered.emit(pin)
