"""The login screen: scan your badge; a PIN field and an on-screen keypad appear when it has a PIN;
a lead or admin then chooses the desk (:class:`DeskChooser`)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from packstation.domain.identity import Desk
from packstation.ui import theme
from packstation.ui.keypad import PinPad

# (badge, who, PIN): only ever shown on the embedded demo station
DEMO_BADGES = (("PACKER-001", "packer (Pat Packer)", ""), ("LEAD-001", "lead (Lee Lead)", "1234"),
               ("DISPATCH-001", "dispatch (Dan Dispatch)", ""), ("RETURNS-001", "returns (Rita Returns)", ""))


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
            rows = "".join(f"<tr><td><b><tt>{badge}</tt></b></td><td>&nbsp;&nbsp;{who}</td>"
                           f"<td>&nbsp;&nbsp;{'PIN <b><tt>' + pin + '</tt></b>' if pin else ''}</td></tr>"
                           for badge, who, pin in DEMO_BADGES)
            self.demo_hint.setText(
                "<p>Demo station — no badge scanner? Type a badge below and press Enter:</p>"
                f"<table align='center'>{rows}</table>")
        self.demo_hint.setVisible(demo)
        self.pad = PinPad()
        self.pad.setVisible(False)
        self.pad.entered.connect(self.pin_entered)
        self.pin = self.pad.pin  # the PIN field (tests and the wedge reach it here)
        self.keys = self.pad.keys
        box = QVBoxLayout(self)
        box.addStretch(1)
        box.addWidget(self.title)
        box.addSpacing(16)
        box.addWidget(self.pad)
        box.addWidget(self.demo_hint)
        box.addStretch(2)

    @property
    def pin_panel(self) -> QWidget:
        return self.pad

    def ask_pin(self, name: str | None) -> None:
        """Show the PIN field for *name*, or hide it (None)."""
        self.pad.clear()
        self.pad.setVisible(name is not None)
        if name is not None:
            self.title.setText(f"{name}: enter your PIN")
            self.pad.pin.setFocus()
        else:
            self.title.setText("Scan your badge")


class DeskChooser(QWidget):
    """After a lead's or admin's login: which desk now (scan DESK-… or press a button)."""

    chosen = Signal(object)  # Desk

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setFont(theme.font(32, bold=True))
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = QLabel("Scan DESK-BENCH, DESK-DOCK or DESK-RETURNS from the card, or press a button.")
        self.hint.setFont(theme.font(16))
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.buttons: dict[Desk, QPushButton] = {}
        row = QHBoxLayout()
        row.addStretch(1)
        for desk in Desk:
            button = QPushButton(desk.label)
            button.setObjectName(f"desk-{desk.value}")
            button.setFont(theme.font(22, bold=True))
            button.setMinimumSize(260, 120)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, d=desk: self.chosen.emit(d))
            self.buttons[desk] = button
            row.addWidget(button)
        row.addStretch(1)
        box = QVBoxLayout(self)
        box.addStretch(1)
        box.addWidget(self.title)
        box.addWidget(self.hint)
        box.addSpacing(24)
        box.addLayout(row)
        box.addStretch(2)

    def show_for(self, name: str, desks: tuple[Desk, ...]) -> None:
        self.title.setText(f"{name}: choose your desk")
        for desk, button in self.buttons.items():
            button.setVisible(desk in desks)


class DeskPlaceholder(QWidget):
    """A desk this station does not run yet: says so (never the pack bench instead)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setFont(theme.font(32, bold=True))
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel()
        self.detail.setFont(theme.font(16))
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box = QVBoxLayout(self)
        box.addStretch(1)
        box.addWidget(self.title)
        box.addWidget(self.detail)
        box.addStretch(2)

    def show_desk(self, desk: Desk, name: str) -> None:
        self.title.setText(desk.label)
        self.detail.setText(f"{name}, the {desk.label.lower()} is not available at this station yet. "
                            "Scan CMD-LOGOUT to log out.")
