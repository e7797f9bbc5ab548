"""The lead view: release a stuck claim, the shift's figures per packer, the users, the print jobs,
carrier labels, returns figures, the sync with the centre and the status push endpoints.

Opened from the window by a logged-in lead (or admin). Every action goes through the same use
cases as the CLI, with the lead's session (``release_claim``, ``add_user``, ``disable_user``,
``unlock_user``, ``printing.retry``), which check the role themselves. Badges are shown masked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QThreadPool
from PySide6.QtGui import QBrush, QColor
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
from packstation.domain.identity import Role, Session, mask_badge
from packstation.domain.packing import Tone
from packstation.services import carriers, packing, printing, status_push, users
from packstation.services.auth import NotAllowed
from packstation.services.ports import StorageError
from packstation.services.stats import claimed_orders, shift_figures
from packstation.ui import theme
from packstation.ui.background import run_in_pool
from packstation.ui.controller import StationController

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
    def __init__(self, station: Station, lead: Session, *, controller: StationController | None = None,
                 now: datetime | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station, self.lead = station, lead
        self.ctx = station.ctx
        self.controller = controller
        self.now = now
        self.setWindowTitle(f"Lead view — {lead.name}")
        # what the central database and the carriers answer is asked on this pool, never on the GUI
        # thread: an unreachable centre takes its connect timeout to say so, a slow carrier its
        # account's timeout_s, and the dialog stays usable
        # (the application's pool: closing the dialog never waits for an answer, which is dropped)
        self._central_pool = QThreadPool.globalInstance()
        self._asked = {"conflicts": 0, "push": 0}  # the latest request of each: older answers are dropped
        self.resize(1100, 650)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._claims_tab(), "Stuck orders")
        self.tabs.addTab(self._shift_tab(), "Shift figures")
        self.tabs.addTab(self._users_tab(), "Users")
        self.jobs = _table(["Job", "Kind", "For", "Status", "Tries", "Why"])
        self.tabs.addTab(self._jobs_tab(), "Print jobs")
        self.labels = _table(["Request", "Order", "SSCC", "Carrier", "Status", "Tries", "Next try", "Why"])
        self.tabs.addTab(self._labels_tab(), "Carrier labels")
        from packstation.ui.returns_view import ReturnsFigures

        self.returns_figures = ReturnsFigures(self.ctx, lead, now=now)
        self.tabs.addTab(self.returns_figures, "Returns")
        self.sync_table = _table(["#", "Kind", "Order", "State", "Why"])
        self.conflict_table = _table(["Conflict", "Station", "Order", "Why", "Since"])
        if self.ctx.central is not None:
            self.tabs.addTab(self._sync_tab(), "Sync")
        self.push_table = _table(["#", "State", "Endpoint", "Waiting", "Failed", "Tries", "Failing since",
                                  "Next retry", "Last error"])
        self.push_page = self._push_tab()
        self.tabs.addTab(self.push_page, "Status push")
        # read when shown (and by its Refresh button): on a synced station it asks the centre
        self.tabs.currentChanged.connect(self._tab_shown)
        if controller is not None:
            controller.printed.connect(self._printed)
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
        outcome = packing.release_claim(self.ctx, self.lead, order_id, reason)
        self._say(outcome.verdict.tone, outcome.message)
        self.reload()

    # --- shift ----------------------------------------------------------------------------
    def _shift_tab(self) -> QWidget:
        page = QWidget()
        self.shift = _table(["Person", "Orders", "Items", "Cartons", "Scans / hour", "Typed", "Errors by kind"])
        box = QVBoxLayout(page)
        self.shift_caption = QLabel()
        box.addWidget(self.shift_caption)
        box.addWidget(self.shift, 1)
        return page

    # --- users ----------------------------------------------------------------------------
    def _users_tab(self) -> QWidget:
        page = QWidget()
        self.users = _table(["Name", "Role", "Badge", "PIN", "State"])
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
        self.unlock_button = QPushButton("Unlock the selected badge")
        self.unlock_button.clicked.connect(self.unlock_selected)
        form = QFormLayout()
        form.addRow("Name", self.new_name)
        form.addRow("Role", self.new_role)
        form.addRow("Badge", self.new_badge)
        form.addRow("PIN", self.new_pin)
        form.addRow(add)
        box = QHBoxLayout(page)
        left = QVBoxLayout()
        left.addWidget(self.users, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.disable_button)
        buttons.addWidget(self.unlock_button)
        left.addLayout(buttons)
        box.addLayout(left, 2)
        box.addLayout(form, 1)
        return page

    def add_user(self) -> None:
        try:
            user = users.add_user(self.ctx, self.lead, self.new_name.text(), self.new_role.currentText(),
                                  self.new_badge.text(), self.new_pin.text() or None)
        except (users.UserError, NotAllowed, StorageError) as exc:
            self._say(Tone.ERROR, str(exc))
            return
        self.new_pin.clear()
        self.new_badge.clear()
        self._say(Tone.OK, f"{user.name} added ({user.role.value}, badge {mask_badge(user.badge)}).")
        self.reload()

    def _selected_user(self) -> str | None:
        row = self.users.currentRow()
        if row < 0:
            self._say(Tone.WARNING, "Select a user first.")
            return None
        return self.users.item(row, 0).text()

    def disable_selected(self) -> None:
        name = self._selected_user()
        if name is None:
            return
        try:
            users.disable_user(self.ctx, self.lead, name)
        except (users.UserError, NotAllowed, StorageError) as exc:
            self._say(Tone.ERROR, str(exc))
            return
        self._say(Tone.OK, f"{name} is disabled: their badge no longer logs in.")
        self.reload()

    def unlock_selected(self) -> None:
        name = self._selected_user()
        if name is None:
            return
        try:
            users.unlock_user(self.ctx, self.lead, name)
        except (users.UserError, NotAllowed, StorageError) as exc:
            self._say(Tone.ERROR, str(exc))
            return
        self._say(Tone.OK, f"{name}'s badge is unlocked: they can log in again.")
        self.reload()

    # --- print jobs -----------------------------------------------------------------------
    def _jobs_tab(self) -> QWidget:
        page = QWidget()
        self.retry_button = QPushButton("Retry the selected job")
        self.retry_button.clicked.connect(self.retry_selected)
        box = QVBoxLayout(page)
        box.addWidget(QLabel("Labels and slips not printed yet: failed ones (fix the printer, then retry) and "
                             "interrupted ones (the station stopped while sending: check whether they printed)."))
        box.addWidget(self.jobs, 1)
        box.addWidget(self.retry_button)
        return page

    def retry_selected(self) -> None:
        row = self.jobs.currentRow()
        if row < 0:
            self._say(Tone.WARNING, "Select a job first.")
            return
        try:
            printing.retry(self.ctx, self.lead, self.jobs.item(row, 0).text())
        except (ValueError, NotAllowed, StorageError) as exc:
            self._say(Tone.ERROR, str(exc))
            return
        self._say(Tone.PROMPT, "Printing again…")
        self.reload()

    def _printed(self, result: object) -> None:
        self._say(Tone.OK if result.ok else Tone.ERROR, result.message)  # type: ignore[attr-defined]
        self.reload()

    # --- carrier labels not created yet (issue 11) --------------------------------------------
    def _labels_tab(self) -> QWidget:
        page = QWidget()
        self.label_retry_button = QPushButton("Ask the carrier again now")
        self.label_retry_button.clicked.connect(self.retry_label_selected)
        box = QVBoxLayout(page)
        box.addWidget(QLabel("Sealed cartons whose carrier did not give a label (it failed or did not answer): "
                             "asked again automatically; set the cartons aside until their labels print."))
        box.addWidget(self.labels, 1)
        box.addWidget(self.label_retry_button)
        return page

    def retry_label_selected(self) -> None:
        """Ask the carrier again on the pool (it may take the account's timeout_s); the answer shows here."""
        row = self.labels.currentRow()
        if row < 0:
            self._say(Tone.WARNING, "Select a carton first.")
            return
        request_id, carrier = self.labels.item(row, 0).text(), self.labels.item(row, 3).text()
        self.label_retry_button.setEnabled(False)
        self._say(Tone.PROMPT, f"Asking {carrier} for the label of carton {self.labels.item(row, 2).text()}…")

        def answered(result: carriers.LabelResult | None, error: BaseException | None) -> None:
            self.label_retry_button.setEnabled(True)
            if isinstance(error, NotAllowed | StorageError):
                self._say(Tone.ERROR, str(error))
                return
            if error is not None:
                self._say(Tone.ERROR, f"{carrier} could not be asked: {error}")
            elif result is None:
                self._say(Tone.WARNING, "That label is being asked for right now, or is done.")
            else:
                self._say(Tone.OK if result.ok else Tone.ERROR, result.message)
            self.reload()

        self._ask(lambda: carriers.retry_now(self.ctx, self.lead, request_id), answered)

    # --- common ---------------------------------------------------------------------------
    # --- sync with the central database -----------------------------------------------------
    def _sync_tab(self) -> QWidget:
        page = QWidget()
        self.sync_caption = QLabel()
        self.sync_caption.setWordWrap(True)  # a reason from the centre can be long
        self.resolve_note = QLineEdit()
        self.resolve_note.setPlaceholderText("what you decided (recorded with the resolution)")
        self.resolve_button = QPushButton("Resolve the selected conflict")
        self.resolve_button.clicked.connect(self.resolve_selected)
        row = QHBoxLayout()
        row.addWidget(self.resolve_note, 1)
        row.addWidget(self.resolve_button)
        box = QVBoxLayout(page)
        box.addWidget(self.sync_caption)
        box.addWidget(QLabel("This station's events the central database refused, or holds back behind a "
                             "refused one of the same order (never dropped):"))
        box.addWidget(self.sync_table, 1)
        box.addWidget(QLabel("Conflicts at the central database (both sides kept): decide, then resolve; the "
                             "order's later events apply again."))
        box.addWidget(self.conflict_table, 1)
        box.addLayout(row)
        return page

    def _reload_sync(self) -> None:
        from packstation.adapters.central.outbox import central_outbox
        from packstation.services.sync.push import list_conflicts, refused_events
        from packstation.services.sync.status import status_line, sync_status

        status = sync_status(self.ctx, self.lead)
        self.sync_caption.setText(f"Central database: {status_line(status)}"
                                  + (f" — {status.last_error}" if status.last_error else "")
                                  + (f"\n{status.clock_warning}" if status.clock_warning else ""))
        _fill(self.sync_table, [[str(e.station_seq), e.event.kind, e.event.order_id or "", e.state.value,
                                 e.reason or ""] for e in refused_events(self.ctx, self.lead)])
        outbox = central_outbox(self.ctx.central)
        if outbox is None:
            return
        caption = self.sync_caption.text()
        self.sync_caption.setText(caption + "\nConflicts: asking the central database…")
        self._asked["conflicts"] += 1
        asked = self._asked["conflicts"]

        def shown(conflicts: Any, error: BaseException | None) -> None:
            if asked != self._asked["conflicts"]:
                return  # a newer request is under way
            if error is not None:
                self.sync_caption.setText(caption + f"\nConflicts not shown: {error}")
                conflicts = []
            else:
                self.sync_caption.setText(caption)
            _fill(self.conflict_table, [[str(c.id), c.station_id, c.order_id or "", c.reason,
                                         f"{c.created_at:%Y-%m-%d %H:%M}"] for c in conflicts])

        self._ask(lambda: list_conflicts(self.ctx, self.lead, outbox), shown)

    def resolve_selected(self) -> None:
        from packstation.adapters.central.outbox import central_outbox
        from packstation.services.sync.push import resolve_conflict

        row = self.conflict_table.currentRow()
        note = self.resolve_note.text().strip()
        if row < 0 or not note:
            self._say(Tone.WARNING, "Select a conflict and say what you decided.")
            return
        outbox = central_outbox(self.ctx.central)
        assert outbox is not None
        try:
            resolve_conflict(self.ctx, self.lead, outbox, int(self.conflict_table.item(row, 0).text()), note)
        except (NotAllowed, StorageError, ValueError) as exc:
            self._say(Tone.ERROR, str(exc))
            return
        self.resolve_note.clear()
        self._say(Tone.OK, "Conflict resolved: the order's later events apply at the next sync.")
        self.reload()

    # --- status push endpoints (issue 13) ----------------------------------------------------
    def _push_tab(self) -> QWidget:
        page = QWidget()
        self.push_caption = QLabel()
        self.push_caption.setWordWrap(True)
        self.push_refresh = QPushButton("Refresh")
        self.push_refresh.clicked.connect(self._reload_push)
        box = QVBoxLayout(page)
        box.addWidget(self.push_caption)
        box.addWidget(self.push_table, 1)
        box.addWidget(QLabel("Endpoints are never switched off: their deliveries are retried for days, then "
                             "kept as failed. Fix the endpoint; failed ones go again with "
                             "'packstation webhooks retry'."))
        box.addWidget(self.push_refresh)
        return page

    def _tab_shown(self, index: int) -> None:
        if self.tabs.widget(index) is self.push_page:
            self._reload_push()

    def _reload_push(self) -> None:
        """Read where the push runs: at the centre on a synced station (on the pool), else here."""
        if self.ctx.central is None:
            try:
                self._show_push(status_push.push_overview(self.ctx, self.lead), None)
            except (NotAllowed, StorageError) as exc:
                self._show_push(None, exc)
            return
        self.push_caption.setText("Status push endpoints: asking the central database…")
        self._asked["push"] += 1
        asked = self._asked["push"]

        def shown(view: Any, error: BaseException | None) -> None:
            if asked == self._asked["push"]:
                self._show_push(view, error)

        self._ask(lambda: status_push.push_overview(self.ctx, self.lead), shown)

    def _ask(self, question: Callable[[], Any], shown: Callable[[Any, BaseException | None], None]) -> None:
        """*question* on the pool; *shown* with its answer here, if this dialog is still open."""
        def answered(result: Any, error: BaseException | None) -> None:
            if shiboken6.isValid(self):
                shown(result, error)

        run_in_pool(self._central_pool, QCoreApplication.instance() or self, question, answered)

    def _show_push(self, view: status_push.PushOverview | None, exc: BaseException | None) -> None:
        if view is None:
            hint = ""
            if "permission denied" in str(exc).lower():
                hint = (" This station's central database role may not read the status push endpoints: the "
                        "central database was set up before it could; run 'packstation central init' there again "
                        "(it grants the endpoints' columns, never their secrets).")
            self.push_caption.setText(f"Status push endpoints not shown: {exc}{hint}")
            _fill(self.push_table, [])
            return
        where = "the central database" if view.source == "central" else "this station's database"
        failing = len(view.failing)
        self.push_caption.setText(
            f"Status push endpoints ({where}): {len(view.endpoints)}, "
            + (f"{failing} FAILING (listed first)." if failing else "none failing."))
        rows = []
        for e in view.endpoints:
            st = e.stats
            if e.next_retry_at is not None:
                nxt = f"{e.next_retry_at:%Y-%m-%d %H:%M:%S}"
            elif st.failed:
                nxt = "gave up: 'webhooks retry'"
            else:
                nxt = ""
            rows.append([str(st.subscription.id), "FAILING" if e.failing else "ok", st.subscription.url,
                         str(st.pending), str(st.failed), str(st.attempts) if e.failing else "",
                         f"{st.failing_since:%Y-%m-%d %H:%M:%S}" if st.failing_since else "", nxt,
                         st.last_error or (f"HTTP {st.last_status}" if st.last_status else "")])
        _fill(self.push_table, rows)
        style = theme.TONES[Tone.ERROR]
        for r, e in enumerate(view.endpoints):
            if e.failing:
                for c in range(self.push_table.columnCount()):
                    item = self.push_table.item(r, c)
                    item.setBackground(QBrush(QColor(style.background)))
                    item.setForeground(QBrush(QColor(style.foreground)))

    def reload(self) -> None:
        try:
            if self.ctx.central is not None:
                self._reload_sync()
            self._reload()
        except (NotAllowed, StorageError) as exc:
            self._say(Tone.ERROR, str(exc))
        if self.tabs.currentWidget() is self.push_page:
            self._reload_push()

    def _reload(self) -> None:
        _fill(self.jobs, [[j.id, j.kind, j.ref, j.status.value, str(j.attempts), j.error]
                          for j in printing.waiting_jobs(self.ctx, self.lead)])
        _fill(self.labels, [[r.id, r.order_id, r.sscc, r.carrier, r.status.value, str(r.attempts),
                             r.next_try_at.strftime("%H:%M:%S") if r.next_try_at else "", r.error]
                            for r in carriers.waiting_labels(self.ctx, self.lead)])
        _fill(self.claims, [[c.order_id, c.station_id or "", c.user or "",
                             c.since.strftime("%Y-%m-%d %H:%M") if c.since else "", c.status.value]
                            for c in claimed_orders(self.ctx, self.lead)])
        now = self.now or self.ctx.clock()
        since = now - timedelta(hours=SHIFT_HOURS)
        self.shift_caption.setText(f"Last {SHIFT_HOURS} hours (since {since:%Y-%m-%d %H:%M} UTC), all benches.")
        rows = []
        for fig in shift_figures(self.ctx, self.lead, since):
            if not (fig.scans or fig.orders or fig.cartons or fig.errors):
                continue  # logged in, did nothing to count (e.g. a lead who only approved)
            rate = fig.scans_per_hour
            errors = ", ".join(f"{what}: {n}" for what, n in sorted(fig.errors.items())) or "none"
            rows.append([fig.user, str(fig.orders), str(fig.items), str(fig.cartons),
                         f"{rate:.0f}" if rate is not None else "—", str(fig.typed), errors])
        _fill(self.shift, rows)

        def state(u: object) -> str:
            if not u.active:  # type: ignore[attr-defined]
                return "DISABLED"
            locked = u.locked_until  # type: ignore[attr-defined]
            return "LOCKED (wrong PINs)" if locked is not None and locked > now else "active"

        _fill(self.users, [[u.name, u.role.value, mask_badge(u.badge), "yes" if u.has_pin else "no", state(u)]
                           for u in users.list_users(self.ctx, self.lead)])
        self.returns_figures.reload()

    def _say(self, tone: Tone, text: str) -> None:
        self.message.say(tone, text)
        self.message.setVisible(True)


__all__ = ["LeadView"]
