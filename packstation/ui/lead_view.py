"""The lead view: release a stuck claim, the shift's figures per packer, and the users.

Opened from the pack window by a logged-in lead (or admin). Every action goes through the
same use cases as the CLI (``release_claim``, ``add_user``, ``disable_user``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from packstation.bootstrap import Station
from packstation.domain.model import Role, User
from packstation.domain.packing import Tone
from packstation.services import packing, users
from packstation.services.stats import claimed_orders, shift_figures
from packstation.ui import theme
from packstation.ui.print_queue import PrintQueue

SHIFT_HOURS = 12


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setFont(theme.font(13))
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))


class _Message(QLabel):
    def say(self, tone: Tone, text: str) -> None:
        style = theme.TONES[tone]
        self.setText(f"{style.word}: {text}")
        self.setStyleSheet(f"background: {style.background}; color: {style.foreground}; padding: 6px;")


class LeadView(QDialog):
    def __init__(self, station: Station, lead: User, *, printer: PrintQueue | None = None,
                 now: datetime | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station, self.lead = station, lead
        self.printer = printer
        self.now = now
        self.setWindowTitle(f"Lead view — {lead.name}")
        self.resize(1100, 650)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._claims_tab(), "Stuck orders")
        self.tabs.addTab(self._shift_tab(), "Shift figures")
        self.tabs.addTab(self._users_tab(), "Users")
        self.jobs = _table(["Job", "Kind", "For", "Status", "Tries", "Why"])
        if printer is not None:
            self.tabs.addTab(self._jobs_tab(), "Print jobs")
            printer.printed.connect(self._printed)
        self.message = _Message()
        self.message.setFont(theme.font(13, bold=True))
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(self.tabs, 1)
        box.addWidget(self.message)
        box.addWidget(close)
        self.reload()

    # --- claims ---------------------------------------------------------------------------
    def _claims_tab(self) -> QWidget:
        page = QWidget()
        self.claims = _table(["Order", "Bench", "Packer", "Claimed at", "Status"])
        self.release_reason = QLineEdit("bench left unattended")
        self.release_button = QPushButton("Release the selected order")
        self.release_button.clicked.connect(self.release_selected)
        row = QHBoxLayout()
        row.addWidget(QLabel("Reason:"))
        row.addWidget(self.release_reason, 1)
        row.addWidget(self.release_button)
        box = QVBoxLayout(page)
        box.addWidget(QLabel("Orders held by a bench. Release one so any bench can continue it "
                             "(its scans and cartons are kept)."))
        box.addWidget(self.claims, 1)
        box.addLayout(row)
        return page

    def release_selected(self) -> None:
        row = self.claims.currentRow()
        if row < 0:
            self._say(Tone.WARNING, "Select an order first.")
            return
        order_id = self.claims.item(row, 0).text()
        reason = self.release_reason.text().strip()
        if not reason:
            self._say(Tone.ERROR, "Give a reason: it is recorded with the release.")
            return
        outcome = packing.release_claim(self.station.ctx, order_id, self.lead, reason)
        self._say(outcome.verdict.tone, outcome.message)
        self.reload()

    # --- shift ----------------------------------------------------------------------------
    def _shift_tab(self) -> QWidget:
        page = QWidget()
        self.shift = _table(["Person", "Orders", "Items", "Cartons", "Scans / hour", "Errors by kind"])
        box = QVBoxLayout(page)
        self.shift_caption = QLabel()
        box.addWidget(self.shift_caption)
        box.addWidget(self.shift, 1)
        return page

    # --- users ----------------------------------------------------------------------------
    def _users_tab(self) -> QWidget:
        page = QWidget()
        self.users = _table(["Name", "Role", "Badge", "PIN", "Active"])
        self.new_name = QLineEdit()
        self.new_role = QComboBox()
        self.new_role.addItems([r.value for r in Role])
        self.new_badge = QLineEdit()
        self.new_pin = QLineEdit()
        self.new_pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_pin.setPlaceholderText("optional, 4 to 12 digits")
        add = QPushButton("Add user")
        add.clicked.connect(self.add_user)
        self.disable_button = QPushButton("Disable the selected user")
        self.disable_button.clicked.connect(self.disable_selected)
        form = QFormLayout()
        form.addRow("Name", self.new_name)
        form.addRow("Role", self.new_role)
        form.addRow("Badge", self.new_badge)
        form.addRow("PIN", self.new_pin)
        form.addRow(add)
        box = QHBoxLayout(page)
        left = QVBoxLayout()
        left.addWidget(self.users, 1)
        left.addWidget(self.disable_button)
        box.addLayout(left, 2)
        box.addLayout(form, 1)
        return page

    def add_user(self) -> None:
        try:
            user = users.add_user(self.station.ctx.uow, self.new_name.text(), self.new_role.currentText(),
                                  self.new_badge.text(), self.new_pin.text() or None)
        except users.UserError as exc:
            self._say(Tone.ERROR, str(exc))
            return
        self.new_pin.clear()
        self._say(Tone.OK, f"{user.name} added ({user.role.value}, badge {user.badge}).")
        self.reload()

    def disable_selected(self) -> None:
        row = self.users.currentRow()
        if row < 0:
            self._say(Tone.WARNING, "Select a user first.")
            return
        name = self.users.item(row, 0).text()
        if name == self.lead.name:
            self._say(Tone.ERROR, "You cannot disable yourself: ask another lead.")
            return
        try:
            users.disable_user(self.station.ctx.uow, name)
        except users.UserError as exc:
            self._say(Tone.ERROR, str(exc))
            return
        self._say(Tone.OK, f"{name} is disabled: their badge no longer logs in.")
        self.reload()

    # --- print jobs -----------------------------------------------------------------------
    def _jobs_tab(self) -> QWidget:
        page = QWidget()
        self.retry_button = QPushButton("Retry the selected job")
        self.retry_button.clicked.connect(self.retry_selected)
        box = QVBoxLayout(page)
        box.addWidget(QLabel("Labels and slips that did not print. Fix the printer, then retry."))
        box.addWidget(self.jobs, 1)
        box.addWidget(self.retry_button)
        return page

    def retry_selected(self) -> None:
        row = self.jobs.currentRow()
        if row < 0 or self.printer is None:
            self._say(Tone.WARNING, "Select a job first.")
            return
        self.printer.retry(self.jobs.item(row, 0).text())
        self._say(Tone.PROMPT, "Printing again…")

    def _printed(self, result: object) -> None:
        self._say(Tone.OK if result.ok else Tone.ERROR, result.message)  # type: ignore[attr-defined]
        self.reload()

    # --- common ---------------------------------------------------------------------------
    def reload(self) -> None:
        if self.printer is not None:
            _fill(self.jobs, [[j.id, j.kind, j.ref, j.status, str(j.attempts), j.reason]
                              for j in self.printer.pending_jobs()])
        _fill(self.claims, [[c["order_id"], c["station"], c["user"],
                             c["since"].strftime("%Y-%m-%d %H:%M") if c["since"] else "", c["status"]]
                            for c in claimed_orders(self.station.ctx.uow)])
        now = self.now or self.station.ctx.clock()
        since = now - timedelta(hours=SHIFT_HOURS)
        self.shift_caption.setText(f"Last {SHIFT_HOURS} hours (since {since:%Y-%m-%d %H:%M} UTC), all benches.")
        rows = []
        for fig in shift_figures(self.station.ctx.uow, since):
            if not (fig.scans or fig.orders or fig.cartons or fig.errors):
                continue  # logged in, did nothing to count (e.g. a lead who only approved)
            rate = fig.scans_per_hour
            errors = ", ".join(f"{what}: {n}" for what, n in sorted(fig.errors.items())) or "none"
            rows.append([fig.user, str(fig.orders), str(fig.items), str(fig.cartons),
                         f"{rate:.0f}" if rate is not None else "—", errors])
        _fill(self.shift, rows)
        _fill(self.users, [[u.name, u.role.value, u.badge, "yes" if u.has_pin else "no",
                            "yes" if u.active else "DISABLED"]
                           for u in users.list_users(self.station.ctx.uow)])

    def _say(self, tone: Tone, text: str) -> None:
        self.message.say(tone, text)
        self.message.setVisible(True)


__all__ = ["LeadView"]
