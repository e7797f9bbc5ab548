"""The station window: verdict band on top, login or pack view below, a scan line at the bottom,
device states in the status bar.

Scans reach the station through the application-wide keyboard-wedge filter (whichever widget
has focus), the serial/evdev scanner readers, or the scan line (typed by hand, Enter submits).
The window never changes state itself: it hands inputs to the :class:`StationController` and
redraws from its ``terminal`` (who is logged in, at which desk, what the desk shows) whenever an
outcome arrives. The page follows the desk: login, desk choice (leads, admins), the pack bench,
or a desk this station does not run yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from packstation.adapters.devices.state import DeviceState, Status
from packstation.bootstrap import Station
from packstation.domain.barcodes import RawScan
from packstation.domain.identity import Desk
from packstation.domain.packing import Tone, Verdict
from packstation.services.dock import Dock
from packstation.services.outcome import Outcome
from packstation.services.ports import StorageError
from packstation.services.returns_desk import ReturnsDesk
from packstation.services.stats import ready_orders
from packstation.ui import theme
from packstation.ui.controller import StationController
from packstation.ui.device_manager import DeviceManager
from packstation.ui.device_signals import DeviceSignals
from packstation.ui.dock_view import DockPage
from packstation.ui.keypad import PinPad
from packstation.ui.login_view import DeskChooser, DeskPlaceholder, LoginView
from packstation.ui.pack_view import PackView
from packstation.ui.returns_view import ReturnsView
from packstation.ui.sounds import SoundPlayer
from packstation.ui.status_bar import DeviceStatusBar
from packstation.ui.verdict_band import VerdictBand
from packstation.ui.wedge import WedgeFilter

if TYPE_CHECKING:
    from packstation.services.printing import JobResult

_USER_INPUT = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)


class MainWindow(QMainWindow):
    first_exposed = Signal()

    def __init__(self, station: Station, controller: StationController, *,
                 signals: DeviceSignals, devices: DeviceManager, sounds: SoundPlayer,
                 install_wedge: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.controller = controller
        self.terminal = controller.terminal
        self.signals = signals
        self.devices = devices
        self.sounds = sounds
        info = station.info
        self.demo = info.demo
        self._exposed = False
        self._closed = False
        self.setWindowTitle(f"packstation — {info.name} ({info.id})")
        self.resize(1280, 860)

        self.station_label = QLabel(f"{info.name} · {info.id}" + (" · DEMO" if self.demo else ""))
        self.station_label.setFont(theme.font(13, bold=True))
        self.user_label = QLabel()
        self.user_label.setObjectName("userLabel")
        self.user_label.setFont(theme.font(13))
        self.lead_button = QPushButton("Lead view…")
        self.settings_button = QPushButton("Devices…")
        for button in (self.lead_button, self.settings_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setVisible(False)
        top = QHBoxLayout()
        top.addWidget(self.station_label)
        top.addStretch(1)
        top.addWidget(self.user_label)
        top.addWidget(self.lead_button)
        top.addWidget(self.settings_button)

        self.band = VerdictBand()
        self.approval = PinPad("Lead's PIN", compact=True)  # a lead approving on the spot: badge, then PIN
        self.approval.setObjectName("approvalPad")
        self.approval.setVisible(False)
        self.login = LoginView(demo=self.demo)
        self.desks = DeskChooser()
        self.pack = PackView()
        self.placeholder = DeskPlaceholder()
        self.dock = DockPage()  # the dispatch dock (issue 11)
        self.returns_page = ReturnsView()  # the returns desk (issue 12)
        self.pages = QStackedWidget()
        for page in (self.login, self.desks, self.pack, self.placeholder, self.dock, self.returns_page):
            self.pages.addWidget(page)

        self.scan_edit = QLineEdit()
        self.scan_edit.setObjectName("scanEdit")
        self.scan_edit.setFont(theme.font(18))
        self.scan_edit.setPlaceholderText("Scan, or type a code and press Enter")
        self.scan_edit.setClearButtonEnabled(True)
        scan_caption = QLabel("SCAN")
        scan_caption.setFont(theme.font(14, bold=True))
        scan_row = QHBoxLayout()
        scan_row.addWidget(scan_caption)
        scan_row.addWidget(self.scan_edit, 1)

        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(12, 8, 12, 8)
        box.addLayout(top)
        box.addWidget(self.band)
        box.addWidget(self.approval)
        box.addWidget(self.pages, 1)
        box.addLayout(scan_row)
        self.setCentralWidget(central)

        self.status = DeviceStatusBar()
        self.setStatusBar(self.status)
        for slot, state in devices.states.items():
            self.status.show_state(slot, state)
        devices.state_changed.connect(self.status.show_state)
        self.status.show_state("sound", DeviceState(
            "sound", Status.CONNECTED if sounds.available else Status.DISCONNECTED,
            "on" if sounds.available else sounds.reason))

        self.scan_edit.returnPressed.connect(self._typed_scan)
        self.login.pin_entered.connect(self.controller.enter_pin)
        self.approval.entered.connect(self.controller.enter_pin)
        self.desks.chosen.connect(self.controller.choose_desk)
        self.pack.lead.reason_chosen.connect(self.controller.pick_reason)
        self.dock.reason_chosen.connect(self.controller.pick_reason)
        self.returns_page.item_selected.connect(self.controller.select_return_item)
        self.controller.outcome.connect(self._on_outcome)
        self.controller.printed.connect(self._on_printed)
        self.controller.interrupted.connect(self._on_interrupted)
        self.controller.busy_changed.connect(self._on_busy)
        self.controller.carrier_busy.connect(self._on_carrier_busy)
        self.controller.synced.connect(lambda _result: self.devices.check_sync())
        self.signals.scanned.connect(self.on_scan)
        self.signals.scan_rejected.connect(self._scan_rejected)
        self.lead_button.clicked.connect(self.open_lead_view)
        self.settings_button.clicked.connect(self.open_settings)

        idle_s = info.idle_logout_s
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.setInterval(max(0, idle_s) * 1000)
        self.idle_timer.timeout.connect(self._idle)
        self._idle_enabled = idle_s > 0

        self.wedge: WedgeFilter | None = None
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # any key or click counts as activity (idle logout)
            if install_wedge:
                self.wedge = WedgeFilter.from_config(station.devices.scanner, parent=self,
                                                     accepts=lambda receiver: receiver.window() is self)
                self.wedge.scanned.connect(self.on_scan)
                app.installEventFilter(self.wedge)

        self.printers_are_folders = not (station.devices.label_printer.url and station.devices.document_printer.url)
        self.band.show_text(Tone.INFO, "READY", "Scan your badge to log in.")
        self.refresh()

    # --- inputs -----------------------------------------------------------------------------
    def on_scan(self, scan: RawScan) -> None:
        """A scan from any scanner (wedge burst, serial, evdev)."""
        data = scan.data.strip()
        if self.terminal.pin_wait is not None and data.isdigit():
            self.controller.enter_pin(data)  # a PIN typed fast into the PIN field
            return
        self.controller.scan(scan)

    def _typed_scan(self) -> None:
        text = self.scan_edit.text().strip()
        self.scan_edit.clear()
        if not text:
            return
        if self.terminal.pin_wait is not None and text.isdigit():
            self.controller.enter_pin(text)
            return
        self.controller.scan(RawScan.from_wire(text, source="typed"))

    def _scan_rejected(self, reason: str) -> None:
        self.band.show_text(Tone.ERROR, "SCAN NOT READ", f"{reason} Scan again.")
        self.sounds.play(Tone.ERROR)

    def _on_busy(self, busy: bool) -> None:
        self.login.pad.set_busy(busy)
        self.approval.set_busy(busy)
        if busy:
            self.band.show_text(Tone.PROMPT, "CHECKING PIN…", "One moment.")

    def _on_carrier_busy(self, what: str) -> None:
        """A carrier is asked on the worker (a seal's label: its CREATING LABEL outcome says so)."""
        if what and self.controller.asking_carrier and isinstance(self.terminal.handler, Dock):
            self.band.show_text(Tone.PROMPT, "CLOSING THE MANIFEST…",
                                f"Asking for the {what}: the window stays live; scans wait until it answers.")

    def _on_printed(self, result: JobResult) -> None:
        slot = "document printer" if result.job.printer == "document" else "label printer"
        what = "SLIP" if result.job.kind == "packing_slip" else "LABEL"
        if result.ok:
            # where a PDF went: the tooltip and the idle page say it (the entry stays short)
            how = f"PDF saved: {result.where}" if result.job.target.startswith("folder:") else "last one sent"
            self.devices.report(slot, DeviceState(slot, Status.CONNECTED, how))
            return
        self.devices.report(slot, DeviceState(slot, Status.ERROR, result.error or "failed"))
        self.band.show_text(Tone.ERROR, f"{what} NOT PRINTED",
                            f"{result.message} The job is kept: fix the printer, then a lead retries it "
                            "(Lead view → Print jobs).")
        self.sounds.play(Tone.ERROR)

    def _on_interrupted(self, jobs: list[object]) -> None:
        self.band.show_text(Tone.WARNING, "PRINT JOBS INTERRUPTED",
                            f"{len(jobs)} label(s) or slip(s) were being sent when the station stopped: they may or "
                            "may not have printed. A lead checks them (Lead view → Print jobs) and retries.")
        self.sounds.play(Tone.WARNING)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in _USER_INPUT:
            self._touch()
        return False

    def _touch(self) -> None:
        if self._idle_enabled and self.terminal.session is not None:
            self.idle_timer.start()

    def _idle(self) -> None:
        if self.terminal.session is None:
            return
        if self.controller.weighing or self.controller.checking_pin or self.controller.asking_carrier:
            # never in the middle of a weighing, a PIN check, a seal or a close
            self.idle_timer.start()
            return
        self.controller.idle_logout(self.idle_timer.interval() // 1000)

    # --- output -----------------------------------------------------------------------------
    def _on_outcome(self, outcome: Outcome) -> None:
        # The band (and the sound) first: show_verdict paints the band synchronously, before the
        # slower redraw below (lines table, cartons) and the layout passes it causes (issue 9).
        custom = outcome.data.get("headline") if outcome.data else None
        self.band.show_verdict(outcome.verdict, outcome.message, str(custom) if custom else None)
        if outcome.verdict.tone is not Tone.INFO:
            self.sounds.play_verdict(outcome.verdict)
        if custom == "SCALE ERROR":  # the status bar says so too, until the scale gives a weight
            reason = outcome.message.removeprefix("Scale: ")  # the entry names the scale itself
            self.devices.report("scale", DeviceState("scale", Status.ERROR, reason))
        elif outcome.verdict in (Verdict.CARTON_CLOSED, Verdict.CARTON_BLOCKED, Verdict.ORDER_COMPLETE) \
                and "measured_g" in outcome.data and self.devices.states.get("scale") is not None \
                and self.devices.states["scale"].status is Status.ERROR:
            self.devices.report("scale", DeviceState("scale", Status.CONNECTED,
                                                     f"read {outcome.data['measured_g']} g"))
        if outcome.verdict is Verdict.STORAGE_FAILED:
            self.devices.database_failed(outcome.message)
        elif self.devices.states.get("database", None) is not None and \
                self.devices.states["database"].status is Status.ERROR:
            self.devices.check_database()
        self.refresh(outcome)
        self._touch()

    def refresh(self, outcome: Outcome | None = None) -> None:
        terminal = self.terminal
        session = terminal.session
        lead = session is not None and session.role.can_authorise
        self.lead_button.setVisible(lead)
        self.settings_button.setVisible(lead)
        wait = terminal.pin_wait
        approving = wait is not None and wait.purpose == "approve"
        self.approval.setVisible(approving)
        if approving:
            assert wait is not None
            self.approval.caption.setText(f"{wait.name}'s PIN")
            self.approval.clear()
            self.approval.pin.setFocus()
        if session is None:
            self.idle_timer.stop()
            self.user_label.setText("Not logged in")
            self.login.ask_pin(wait.name if wait is not None and wait.purpose == "login" else None)
            self.pages.setCurrentWidget(self.login)
        else:
            desk = f" · {terminal.desk.label}" if terminal.desk else ""
            self.user_label.setText(f"{session.name} ({session.role.value}){desk}")
            bench = self.controller.bench
            if terminal.choosing or terminal.handler is None:
                self.desks.show_for(session.name, session.role.desks)
                self.pages.setCurrentWidget(self.desks)
            elif isinstance(terminal.handler, Dock):  # the dispatch dock (issue 11)
                try:
                    if not self.controller.asking_carrier:  # a close on the worker owns the dock meanwhile
                        self.dock.show_view(terminal.handler.view(), session.name)
                except StorageError:  # the band says why; the page keeps what it showed
                    pass
                self.pages.setCurrentWidget(self.dock)
            elif isinstance(terminal.handler, ReturnsDesk):  # the returns desk (issue 12)
                self.returns_page.show_desk(terminal.handler)
                self.pages.setCurrentWidget(self.returns_page)
            elif bench is None:
                self.placeholder.show_desk(terminal.desk or Desk.DOCK, session.name)
                self.pages.setCurrentWidget(self.placeholder)
            elif bench.pack is None:
                try:
                    hints = ready_orders(self.station.ctx) if self.demo else []
                except StorageError:  # only a hint; the status bar shows the database state
                    hints = []
                folder = f"{self.station.info.documents_dir}" if self.printers_are_folders else ""
                self.pack.show_idle(session.name, hints, documents=folder)
                self.pages.setCurrentWidget(self.pack)
            else:
                self.pack.show_session(bench.pack, outcome.sku if outcome else None, bench.lead_request,
                                       pin_for=wait.name if approving and wait is not None else None)
                self.pages.setCurrentWidget(self.pack)
        if wait is None:
            self.scan_edit.setFocus()

    # --- lead tools -------------------------------------------------------------------------
    def open_lead_view(self) -> None:
        from packstation.ui.lead_view import LeadView

        session = self.terminal.session
        if session is None or not session.role.can_authorise:
            return
        dialog = LeadView(self.station, session, controller=self.controller, parent=self)
        dialog.exec()
        self.refresh()

    def open_settings(self) -> None:
        from packstation.ui.settings_dialog import SettingsDialog

        session = self.terminal.session
        if session is None or not session.role.can_authorise:
            return
        SettingsDialog(self.station.settings, parent=self).exec()

    # --- lifecycle --------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        result = super().event(event)
        if not self._exposed and event.type() in (QEvent.Type.Paint, QEvent.Type.Expose):
            self._exposed = True
            self.first_exposed.emit()
        return result

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.idle_timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
            if self.wedge is not None:
                app.removeEventFilter(self.wedge)
                self.wedge = None
        self.controller.close()
        self.devices.close()
