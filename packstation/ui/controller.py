"""The window's single path to the bench: every scan, PIN and weight goes through here.

The controller owns the :class:`Bench` and the weigher. It calls ``bench.scan`` on the GUI
thread (one short SQLite transaction), starts a weight read when the bench asks for one, and
emits ``outcome`` after the bench state changed, so views redraw from ``bench`` itself.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from packstation.domain.barcodes import RawScan
from packstation.domain.packing import Verdict
from packstation.services.bench import Bench
from packstation.services.packing import Outcome
from packstation.ui.weighing import Weigher


class StationController(QObject):
    outcome = Signal(object)  # Outcome, after the bench state changed

    def __init__(self, bench: Bench, weigher: Weigher, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bench = bench
        self.weigher = weigher
        self.weighing = False
        self.last: Outcome | None = None
        weigher.weighed.connect(self._on_weighed)
        weigher.failed.connect(self._on_weigh_failed)

    # --- inputs ---------------------------------------------------------------------------
    def scan(self, scan: RawScan | str) -> Outcome:
        if isinstance(scan, str):
            scan = RawScan.from_wire(scan.strip(), source="keyboard")
        outcome = self.bench.scan(scan)
        if outcome.verdict is Verdict.NEEDS_WEIGHT:
            self.weighing = True
            self._emit(outcome)
            self.weigher.request(int(outcome.data.get("expected_g", 0)))
            return outcome
        if outcome.verdict is Verdict.LOGGED_OUT:
            self.weighing = False
        return self._emit(outcome)

    def enter_pin(self, pin: str) -> Outcome:
        return self._emit(self.bench.enter_pin(pin))

    def logout(self) -> Outcome:
        self.weighing = False
        return self._emit(self.bench.logout())

    def idle_logout(self, idle_s: int) -> Outcome:
        """Log out after *idle_s* seconds without a scan; the order stays claimed for this bench."""
        self.weighing = False
        name = self.bench.user.name if self.bench.user else "nobody"
        order = self.bench.session.order.order_id if self.bench.session else None
        self.bench.logout()
        minutes = f"{idle_s // 60} min" if idle_s >= 60 else f"{idle_s} s"
        keep = f" Order {order} stays with this bench: log in to continue it." if order else ""
        return self._emit(Outcome(Verdict.LOGGED_OUT, f"{name} logged out after {minutes} without a scan.{keep}"))

    def close_with_weight(self, grams: int) -> Outcome:
        """A weight typed or read by hand (e.g. the lead view's close button)."""
        self.weighing = False
        return self._emit(self.bench.close_with_weight(grams))

    # --- weight ---------------------------------------------------------------------------
    def _on_weighed(self, grams: int) -> None:
        if not self.weighing or not self.bench.awaiting_weight:
            return  # stale: the packer logged out or moved on
        self.close_with_weight(grams)

    def _on_weigh_failed(self, reason: str) -> None:
        if not self.weighing:
            return
        self.weighing = False
        self.bench.awaiting_weight = False
        self._emit(Outcome(Verdict.NOT_ALLOWED,
                           f"Scale: {reason} Check the scale, then scan CMD-CLOSE-CARTON again.",
                           data={"headline": "SCALE ERROR"}))

    def _emit(self, outcome: Outcome) -> Outcome:
        self.last = outcome
        self.outcome.emit(outcome)
        return outcome

    def close(self) -> None:
        self.weighing = False
        self.weigher.close()
