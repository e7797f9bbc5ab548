"""The window's single path to the bench: every scan, PIN and weight goes through here.

The controller owns the :class:`Bench` and the weigher. It calls ``bench.scan`` on the GUI
thread (one short SQLite transaction), starts a weight read when the bench asks for one, and
emits ``outcome`` after the bench state changed, so views redraw from ``bench`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from packstation.domain.barcodes import RawScan
from packstation.domain.packing import PackSession, Verdict
from packstation.services import packing, users
from packstation.services.bench import Bench
from packstation.services.packing import Outcome
from packstation.services.ports import StorageError
from packstation.ui.weighing import Weigher

if TYPE_CHECKING:
    from packstation.ui.print_queue import PrintQueue


class StationController(QObject):
    outcome = Signal(object)  # Outcome, after the bench state changed

    def __init__(self, bench: Bench, weigher: Weigher, printer: PrintQueue | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bench = bench
        self.weigher = weigher
        self.printer = printer
        self.reprint_reason = packing.REPRINT_REASONS[0]
        self.weighing = False
        self.last: Outcome | None = None
        weigher.weighed.connect(self._on_weighed)
        weigher.failed.connect(self._on_weigh_failed)

    # --- inputs ---------------------------------------------------------------------------
    def scan(self, scan: RawScan | str) -> Outcome:
        if isinstance(scan, str):
            scan = RawScan.from_wire(scan.strip(), source="keyboard")
        session = self.bench.session
        outcome = self._print_after(session, self.bench.scan(scan))
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
        session = self.bench.session
        return self._emit(self._print_after(session, self.bench.close_with_weight(grams)))

    # --- printing -------------------------------------------------------------------------
    def _print_after(self, session: PackSession | None, outcome: Outcome) -> Outcome:
        """Queue the documents an outcome calls for: a sealed carton's label, the slip, a reprint."""
        verdict = outcome.verdict
        if verdict is Verdict.REPRINT_REQUESTED:
            return self._reprint(outcome)
        if self.printer is None or session is None:
            return outcome
        if verdict in (Verdict.CARTON_CLOSED, Verdict.ORDER_COMPLETE) and "seq" in outcome.data:
            self.printer.carton_sealed(session, session.carton(int(outcome.data["seq"])))
        if verdict is Verdict.ORDER_COMPLETE:
            self.printer.order_complete(session)
        return outcome

    def _reprint(self, outcome: Outcome) -> Outcome:
        code = str(outcome.data.get("code") or outcome.data.get("order_id", ""))
        lead_name = outcome.data.get("lead")
        if self.printer is None:
            return Outcome(Verdict.NOT_ALLOWED, "Reprint: this station has no printer output.")
        try:
            lead = next((u for u in users.list_users(self.bench.ctx.uow) if u.name == lead_name), None)
            if lead is None:
                return Outcome(Verdict.NOT_ALLOWED, f"Reprint: no user {lead_name!r}.")
            plan = packing.plan_reprint(self.bench.ctx, code, lead, self.reprint_reason, "label")
        except packing.OrderRefused as exc:
            return Outcome(Verdict.NOT_ALLOWED, f"Reprint refused: {exc}")
        except StorageError as exc:
            return Outcome(Verdict.STORAGE_FAILED, f"Reprint NOT recorded — scan CMD-REPRINT again. {exc}")
        self.printer.reprint(plan)
        what = f"{len(plan.cartons)} label(s)" + (" and the packing slip" if plan.slip else "")
        return Outcome(Verdict.REPRINT_REQUESTED,
                       f"Reprint approved by {lead.name} ({self.reprint_reason}): {what} printing.",
                       data=outcome.data)

    # --- weight ---------------------------------------------------------------------------
    def _on_weighed(self, grams: int) -> None:
        if not self.weighing or not self.bench.awaiting_weight:
            return  # stale: the packer logged out or moved on
        self.close_with_weight(grams)

    def _on_weigh_failed(self, reason: str) -> None:
        if not self.weighing:
            return
        self.weighing = False
        self.bench.weighing_for = None
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
        if self.printer is not None:
            self.printer.close()
