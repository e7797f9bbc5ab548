"""The station window: verdict band on top, login or pack view below, a scan line at the bottom,
device states in the status bar.

Scans reach the bench through the application-wide keyboard-wedge filter (whichever widget
has focus), the serial/evdev scanner readers, or the scan line (typed by hand, Enter submits).
The window never changes bench state itself: it hands inputs to the :class:`StationController`
and redraws from ``bench`` whenever an outcome arrives.
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
from packstation.domain.packing import Tone, Verdict
from packstation.services.packing import Outcome
from packstation.services.ports import StorageError
from packstation.services.stats import ready_orders
from packstation.ui import theme
from packstation.ui.controller import StationController
from packstation.ui.device_manager import DeviceManager
from packstation.ui.device_signals import DeviceSignals
from packstation.ui.login_view import LoginView
from packstation.ui.pack_view import PackView
from packstation.ui.sounds import SoundPlayer
from packstation.ui.status_bar import DeviceStatusBar
from packstation.ui.verdict_band import VerdictBand
from packstation.ui.wedge import WedgeFilter

if TYPE_CHECKING:
    from packstation.printing import Printed

_USER_INPUT = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)


class MainWindow(QMainWindow):
    first_exposed = Signal()

    def __init__(self, station: Station, controller: StationController, *,
                 signals: DeviceSignals, devices: DeviceManager, sounds: SoundPlayer,
                 install_wedge: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.controller = controller
        self.bench = controller.bench
        self.signals = signals
        self.devices = devices
        self.sounds = sounds
        self.demo = station.config.station.demo
        self._exposed = False
        self._closed = False
        self.setWindowTitle(f"packstation — {station.config.station.name} ({station.config.station.id})")
        self.resize(1280, 860)

        self.station_label = QLabel(f"{station.config.station.name} · {station.config.station.id}"
                                    + (" · DEMO" if self.demo else ""))
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
        self.login = LoginView(demo=self.demo)
        self.pack = PackView()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.login)
        self.pages.addWidget(self.pack)

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
        self.pack.lead.reason_chosen.connect(self._short_reason)
        self.controller.outcome.connect(self._on_outcome)
        self.signals.scanned.connect(self.on_scan)
        self.signals.scan_rejected.connect(self._scan_rejected)
        if controller.printer is not None:
            controller.printer.printed.connect(self._on_printed)
        self.lead_button.clicked.connect(self.open_lead_view)
        self.settings_button.clicked.connect(self.open_settings)

        idle_s = station.config.station.idle_logout_s
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
                self.wedge = WedgeFilter.from_config(station.config.scanner, parent=self)
                self.wedge.scanned.connect(self.on_scan)
                app.installEventFilter(self.wedge)

        self.band.show_text(Tone.INFO, "READY", "Scan your badge to log in.")
        self.refresh()

    # --- inputs -----------------------------------------------------------------------------
    def on_scan(self, scan: RawScan) -> None:
        """A scan from any scanner (wedge burst, serial, evdev)."""
        if self.bench.pin_user is not None and scan.data.strip().isdigit():
            self.controller.enter_pin(scan.data.strip())  # a PIN typed fast into the PIN field
            return
        if self._pick_reason(scan.data.strip()):
            return
        self.controller.scan(scan)

    def _pick_reason(self, text: str) -> bool:
        """While a lead is awaited, a number scanned or typed picks that reason from the list
        (so nobody needs the mouse); anything else goes to the bench as usual."""
        reasons = self.pack.lead.reasons
        if self.bench.lead_request is None or not reasons.isVisible() or not text.isdigit():
            return False
        number = int(text)
        if not 1 <= number <= reasons.count():
            return False
        reasons.setCurrentRow(number - 1)
        self.band.show_text(Tone.PROMPT, "LEAD: SCAN YOUR BADGE",
                            f"Reason {number}: {self.pack.lead.current_reason()}.")
        return True

    def _typed_scan(self) -> None:
        text = self.scan_edit.text().strip()
        self.scan_edit.clear()
        if not text:
            return
        if self.bench.pin_user is not None and text.isdigit():
            self.controller.enter_pin(text)
            return
        if self._pick_reason(text):
            return
        self.controller.scan(RawScan.from_wire(text, source="keyboard"))

    def _scan_rejected(self, reason: str) -> None:
        self.band.show_text(Tone.ERROR, "SCAN NOT READ", f"{reason} Scan again.")
        self.sounds.play(Tone.ERROR)

    def _short_reason(self, reason: str) -> None:
        request = self.bench.lead_request
        if request is None or not reason:
            return
        self.bench.set_lead_reason(reason)
        if request.action == "reprint":
            self.controller.reprint_reason = reason

    def _on_printed(self, result: Printed) -> None:
        slot = "document printer" if result.kind == "packing_slip" else "label printer"
        what = "SLIP" if result.kind == "packing_slip" else "LABEL"
        if result.ok:
            how = f"no printer: saved as PDF {result.path}" if result.path is not None else "last one sent"
            self.devices.report(slot, DeviceState(slot, Status.CONNECTED, how))
            return
        self.devices.report(slot, DeviceState(slot, Status.ERROR, result.error or "failed"))
        then = ("The job is kept: fix the printer, then a lead retries it (Lead view → Print jobs)."
                if result.kept else "Nothing was recorded: once fixed, a lead scans CMD-REPRINT.")
        self.band.show_text(Tone.ERROR, f"{what} NOT PRINTED", f"{result.message} {then}")
        self.sounds.play(Tone.ERROR)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in _USER_INPUT:
            self._touch()
        return False

    def _touch(self) -> None:
        if self._idle_enabled and self.bench.user is not None:
            self.idle_timer.start()

    def _idle(self) -> None:
        if self.bench.user is None:
            return
        if self.controller.weighing:  # never log out in the middle of a weighing
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
            self.sounds.play(outcome.verdict.tone)
        if outcome.verdict is Verdict.STORAGE_FAILED:
            self.devices.database_failed(outcome.message)
        elif self.devices.states.get("database", None) is not None and \
                self.devices.states["database"].status is Status.ERROR:
            self.devices.check_database()
        self.refresh(outcome)
        self._touch()

    def refresh(self, outcome: Outcome | None = None) -> None:
        bench = self.bench
        user = bench.user
        lead = user is not None and user.role.can_authorise
        self.lead_button.setVisible(lead)
        self.settings_button.setVisible(lead)
        if user is None:
            self.idle_timer.stop()
            self.user_label.setText("Not logged in")
            self.login.ask_pin(bench.pin_user.name if bench.pin_user is not None else None)
            self.pages.setCurrentWidget(self.login)
        else:
            self.user_label.setText(f"{user.name} ({user.role.value})")
            if bench.session is None:
                try:
                    hints = ready_orders(self.station.ctx.uow) if self.demo else []
                except StorageError:  # only a hint; the status bar shows the database state
                    hints = []
                self.pack.show_idle(user.name, hints)
            else:
                request = bench.lead_request
                self.pack.show_session(bench.session, outcome.sku if outcome else None,
                                       request.action if request is not None else None)
            self.pages.setCurrentWidget(self.pack)
        if bench.pin_user is None:
            self.scan_edit.setFocus()

    # --- lead tools -------------------------------------------------------------------------
    def open_lead_view(self) -> None:
        from packstation.ui.lead_view import LeadView

        if self.bench.user is None or not self.bench.user.role.can_authorise:
            return
        dialog = LeadView(self.station, self.bench.user, printer=self.controller.printer, parent=self)
        dialog.exec()
        self.refresh()

    def open_settings(self) -> None:
        from packstation.ui.settings_dialog import SettingsDialog

        if self.bench.user is None or not self.bench.user.role.can_authorise:
            return
        SettingsDialog(self.station.config, parent=self).exec()

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
