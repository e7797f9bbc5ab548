"""The station window: verdict band on top, login or pack view below, a scan line at the bottom.

Scans reach the bench through the application-wide keyboard-wedge filter (whichever widget
has focus) or, when typed by hand, through the scan line (Enter submits). The window never
changes bench state itself: it hands inputs to the :class:`StationController` and redraws from
``bench`` whenever an outcome arrives.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from packstation.bootstrap import Station
from packstation.domain.barcodes import RawScan
from packstation.services.packing import Outcome
from packstation.ui import theme
from packstation.ui.controller import StationController
from packstation.ui.login_view import LoginView
from packstation.ui.pack_view import PackView
from packstation.ui.queries import ready_orders
from packstation.ui.verdict_band import VerdictBand
from packstation.ui.wedge import WedgeFilter


class MainWindow(QMainWindow):
    first_exposed = Signal()

    def __init__(self, station: Station, controller: StationController, *,
                 install_wedge: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.controller = controller
        self.bench = controller.bench
        self.demo = station.config.station.demo
        self._exposed = False
        self.setWindowTitle(f"packstation — {station.config.station.name} ({station.config.station.id})")
        self.resize(1280, 860)

        self.station_label = QLabel(f"{station.config.station.name} · {station.config.station.id}"
                                    + (" · DEMO" if self.demo else ""))
        self.station_label.setFont(theme.font(13, bold=True))
        self.user_label = QLabel()
        self.user_label.setObjectName("userLabel")
        self.user_label.setFont(theme.font(13))
        top = QHBoxLayout()
        top.addWidget(self.station_label)
        top.addStretch(1)
        top.addWidget(self.user_label)

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

        self.scan_edit.returnPressed.connect(self._typed_scan)
        self.login.pin_entered.connect(self.controller.enter_pin)
        self.controller.outcome.connect(self._on_outcome)

        self.wedge: WedgeFilter | None = None
        app = QApplication.instance()
        if install_wedge and app is not None:
            self.wedge = WedgeFilter.from_config(station.config.scanner, parent=self)
            self.wedge.scanned.connect(self.on_scan)
            app.installEventFilter(self.wedge)

        self.band.show_text(self.band.tone, "READY", "Scan your badge to log in.")
        self.refresh()

    # --- inputs -----------------------------------------------------------------------------
    def on_scan(self, scan: RawScan) -> None:
        """A scan from any scanner (wedge burst, serial, evdev)."""
        if self.bench.pin_user is not None and scan.data.strip().isdigit():
            self.controller.enter_pin(scan.data.strip())  # a PIN typed fast into the PIN field
            return
        self.controller.scan(scan)

    def _typed_scan(self) -> None:
        text = self.scan_edit.text().strip()
        self.scan_edit.clear()
        if not text:
            return
        if self.bench.pin_user is not None and text.isdigit():
            self.controller.enter_pin(text)
            return
        self.controller.scan(RawScan.from_wire(text, source="keyboard"))

    # --- output -----------------------------------------------------------------------------
    def _on_outcome(self, outcome: Outcome) -> None:
        self.band.show_verdict(outcome.verdict, outcome.message)
        custom = outcome.data.get("headline") if outcome.data else None
        if custom:
            self.band.headline.setText(str(custom))
        self.refresh(outcome)

    def refresh(self, outcome: Outcome | None = None) -> None:
        bench = self.bench
        if bench.user is None:
            self.user_label.setText("Not logged in")
            self.login.ask_pin(bench.pin_user.name if bench.pin_user is not None else None)
            self.pages.setCurrentWidget(self.login)
        else:
            self.user_label.setText(f"{bench.user.name} ({bench.user.role.value})")
            if bench.session is None:
                hints = ready_orders(self.station.ctx.uow) if self.demo else []
                self.pack.show_idle(bench.user.name, hints)
            else:
                self.pack.show_session(bench.session, outcome.sku if outcome else None)
            self.pages.setCurrentWidget(self.pack)
        if bench.pin_user is None:
            self.scan_edit.setFocus()

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
        app = QApplication.instance()
        if self.wedge is not None and app is not None:
            app.removeEventFilter(self.wedge)
            self.wedge = None
        self.controller.close()


