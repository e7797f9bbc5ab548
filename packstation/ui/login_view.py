"""The login screen: scan your badge; a PIN field and an on-screen keypad appear when it has a PIN."""

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

DEMO_BADGES = (("PACKER-001", "packer (Pat Packer)"), ("LEAD-001", "lead (Lee Lead)"))


class LoginView(QWidget):
    pin_entered = Signal(str)

    def __init__(self, *, demo: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Scan your badge")
        self.title.setObjectName("loginTitle")
        self.title.setFont(theme.font(40, bold=True))
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_hint = QLabel()
        self.demo_hint.setObjectName("demoBadges")
        self.demo_hint.setFont(theme.font(16))
        self.demo_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if demo:
            rows = "".join(f"<tr><td><b><tt>{badge}</tt></b></td><td>&nbsp;&nbsp;{who}</td></tr>"
                           for badge, who in DEMO_BADGES)
            self.demo_hint.setText(
                "<p>Demo station — no badge scanner? Type a badge below and press Enter:</p>"
                f"<table align='center'>{rows}</table>")
        self.demo_hint.setVisible(demo)
        # PIN
        self.pin_box = QWidget()
        self.pin_label = QLabel("PIN")
        self.pin_label.setFont(theme.font(20, bold=True))
        self.pin = QLineEdit()
        self.pin.setObjectName("pinEdit")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setFont(theme.font(22))
        self.pin.setMaxLength(12)
        self.pin.setFixedWidth(260)
        pin_row = QHBoxLayout(self.pin_box)
        pin_row.addStretch(1)
        pin_row.addWidget(self.pin_label)
        pin_row.addWidget(self.pin)
        pin_row.addStretch(1)
        # the on-screen keypad: benches have touch screens and no keyboard
        self.keypad = QWidget()
        self.keypad.setObjectName("pinKeypad")
        grid = QGridLayout(self.keypad)
        self.keys: dict[str, QPushButton] = {}
        for n, key in enumerate(("1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0", "OK")):
            button = QPushButton(key)
            button.setFont(theme.font(24, bold=True))
            button.setMinimumSize(96, 72)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep the focus (and the wedge) on the PIN field
            button.clicked.connect(lambda _=False, k=key: self._key(k))
            grid.addWidget(button, n // 3, n % 3)
            self.keys[key] = button
        pin_column = QVBoxLayout()
        pin_column.addWidget(self.pin_box)
        pin_column.addWidget(self.keypad, 0, Qt.AlignmentFlag.AlignHCenter)
        self.pin_panel = QWidget()
        self.pin_panel.setLayout(pin_column)
        self.pin_panel.setVisible(False)
        self.pin.returnPressed.connect(self._submit_pin)
        box = QVBoxLayout(self)
        box.addStretch(1)
        box.addWidget(self.title)
        box.addSpacing(16)
        box.addWidget(self.pin_panel)
        box.addWidget(self.demo_hint)
        box.addStretch(2)

    def ask_pin(self, name: str | None) -> None:
        """Show the PIN field for *name*, or hide it (None)."""
        self.pin.clear()
        self.pin_panel.setVisible(name is not None)
        if name is not None:
            self.title.setText(f"{name}: enter your PIN")
            self.pin.setFocus()
        else:
            self.title.setText("Scan your badge")

    def _key(self, key: str) -> None:
        if key == "OK":
            self._submit_pin()
        elif key == "⌫":
            self.pin.backspace()
        elif len(self.pin.text()) < self.pin.maxLength():
            self.pin.insert(key)
        self.pin.setFocus()

    def _submit_pin(self) -> None:
        pin = self.pin.text()
        self.pin.clear()
        if pin:
            self.pin_entered.emit(pin)
