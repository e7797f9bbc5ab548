"""The login screen: scan your badge; a PIN field appears when the badge has one."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

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
        self.pin_ok = QPushButton("OK")
        self.pin_ok.setFont(theme.font(18))
        pin_row = QHBoxLayout(self.pin_box)
        pin_row.addStretch(1)
        pin_row.addWidget(self.pin_label)
        pin_row.addWidget(self.pin)
        pin_row.addWidget(self.pin_ok)
        pin_row.addStretch(1)
        self.pin_box.setVisible(False)
        self.pin.returnPressed.connect(self._submit_pin)
        self.pin_ok.clicked.connect(self._submit_pin)
        box = QVBoxLayout(self)
        box.addStretch(1)
        box.addWidget(self.title)
        box.addSpacing(16)
        box.addWidget(self.pin_box)
        box.addWidget(self.demo_hint)
        box.addStretch(2)

    def ask_pin(self, name: str | None) -> None:
        """Show the PIN field for *name*, or hide it (None)."""
        self.pin.clear()
        self.pin_box.setVisible(name is not None)
        if name is not None:
            self.title.setText(f"{name}: enter your PIN")
            self.pin.setFocus()
        else:
            self.title.setText("Scan your badge")

    def _submit_pin(self) -> None:
        pin = self.pin.text()
        self.pin.clear()
        if pin:
            self.pin_entered.emit(pin)
