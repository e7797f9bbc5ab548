"""The window's single path to the station: every scan, PIN and weight goes through here.

The controller owns the :class:`Terminal` (login, desk, and the desk's handler) and the weigher.
Scans are handled on the GUI thread (one short transaction each); PIN checks (argon2, ~0.1 s)
run on a worker thread and their result is applied back on the GUI thread, so the window never
freezes and no write lock is held while a PIN is hashed. Scans that arrive meanwhile wait in
order and are handled right after. ``outcome`` is emitted after the state changed, so views
redraw from ``terminal`` itself. Print results come from the station's print worker thread
through ``printed``.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QObject, QThreadPool, Signal

from packstation.domain.barcodes import RawScan
from packstation.domain.identity import Desk
from packstation.domain.packing import Verdict
from packstation.services.bench import Bench
from packstation.services.dock import Dock
from packstation.services.outcome import Outcome
from packstation.services.terminal import PinCheck, Terminal
from packstation.ui.background import run_in_pool
from packstation.ui.weighing import Weigher

RECENT_PRINT_RESULTS = 50


class StationController(QObject):
    outcome = Signal(object)  # Outcome, after the terminal's state changed
    printed = Signal(object)  # services.printing.JobResult, from the print worker
    interrupted = Signal(object)  # print jobs found half-sent at start (list)
    busy_changed = Signal(bool)  # a PIN is being checked
    synced = Signal(object)  # services.sync.status.RoundResult, from the sync worker

    def __init__(self, terminal: Terminal, weigher: Weigher, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.terminal = terminal
        self.weigher = weigher
        self.last: Outcome | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(0)
        self._checking = False
        self._waiting: deque[RawScan] = deque(maxlen=50)
        self._closed = False
        # The last print results this window saw (status bar, tests). Bounded: each holds its job,
        # document bytes and all, and a bench prints two documents an order all shift long.
        self.results: deque[object] = deque(maxlen=RECENT_PRINT_RESULTS)
        self.printed.connect(self.results.append)
        weigher.weighed.connect(self._on_weighed)
        weigher.failed.connect(self._on_weigh_failed)

    @property
    def bench(self) -> Bench | None:
        handler = self.terminal.handler
        return handler if isinstance(handler, Bench) else None

    @property
    def checking_pin(self) -> bool:
        return self._checking

    # --- inputs ---------------------------------------------------------------------------
    def scan(self, scan: RawScan | str) -> Outcome | None:
        if isinstance(scan, str):
            scan = RawScan.from_wire(scan.strip(), source="typed")
        if self._checking:  # the PIN is being checked: this scan follows right after
            self._waiting.append(scan)
            return None
        outcome = self.terminal.scan(scan)
        if outcome.verdict is Verdict.NEEDS_WEIGHT:
            self._emit(outcome)
            self.weigher.request(int(outcome.data.get("expected_g", 0)))
            return outcome
        return self._emit(outcome)

    def enter_pin(self, pin: str) -> None:
        """Check a PIN off the GUI thread; the outcome is emitted when the check is done."""
        check = self.terminal.begin_pin(pin)
        if isinstance(check, Outcome):
            self._emit(check)
            return
        self._set_checking(True)
        ctx = self.terminal.ctx
        run_in_pool(self._pool, self, lambda: check.run(ctx), self._pin_checked)

    def enter_pin_now(self, pin: str) -> Outcome:
        """The same on this thread (tests that do not run an event loop)."""
        return self._emit(self.terminal.enter_pin(pin))

    def _pin_checked(self, result: PinCheck | None, error: BaseException | None) -> None:
        self._set_checking(False)
        if self._closed:
            return
        if error is not None or result is None:
            self._emit(Outcome(Verdict.LOGIN_REFUSED, f"The PIN could not be checked ({error}). Scan your badge again."))
        else:
            self._emit(self.terminal.finish_pin(result))
        while self._waiting and not self._checking:
            self.scan(self._waiting.popleft())

    def _set_checking(self, value: bool) -> None:
        self._checking = value
        self.busy_changed.emit(value)

    def choose_desk(self, desk: Desk) -> Outcome:
        return self._emit(self.terminal.choose_desk(desk))

    def pick_reason(self, reason: str) -> Outcome | None:
        bench = self.bench
        handler = self.terminal.handler
        if bench is None and isinstance(handler, Dock):  # a split at the dock: its reason
            picked = handler.set_split_reason(reason)
            awaited = picked.data.get("await_pin") if picked is not None else None
            if awaited is not None:
                self.terminal.pin_wait = awaited
            return self._emit(picked) if picked is not None else None
        if bench is None:
            return None
        outcome = bench.set_lead_reason(reason)
        return self._emit(outcome) if outcome is not None else None

    def select_return_item(self, item_id: str) -> Outcome | None:
        """A click on a returned item at the returns desk: the next grade / photo / disposition is for it."""
        from packstation.services.returns_desk import ReturnsDesk

        handler = self.terminal.handler
        if not isinstance(handler, ReturnsDesk):
            return None
        return self._emit(handler.select(item_id))

    def logout(self) -> Outcome:
        return self._emit(self.terminal.logout())

    def idle_logout(self, idle_s: int) -> Outcome:
        """Log out after *idle_s* seconds without a scan; an order stays claimed for this bench."""
        session = self.terminal.session
        name = session.name if session else "nobody"
        bench = self.bench
        order = bench.pack.order.order_id if bench is not None and bench.pack is not None else None
        minutes = f"{idle_s // 60} min" if idle_s >= 60 else f"{idle_s} s"
        keep = f" Order {order} stays with this bench: log in to continue it." if order else ""
        return self._emit(self.terminal.logout(f"{name} logged out after {minutes} without a scan.{keep}"))

    def close_with_weight(self, grams: int) -> Outcome:
        """A weight read (or typed by a lead) for the carton CMD-CLOSE-CARTON named."""
        bench = self.bench
        if bench is None:
            return self._emit(Outcome(Verdict.NOT_ALLOWED, "No carton is waiting for its weight."))
        return self._emit(bench.close_with_weight(grams))

    @property
    def weighing(self) -> bool:
        bench = self.bench
        return bench is not None and bench.awaiting_weight

    # --- weight ---------------------------------------------------------------------------
    def _on_weighed(self, grams: int) -> None:
        if not self.weighing:
            return  # stale: the packer logged out or cancelled the seal
        self.close_with_weight(grams)

    def _on_weigh_failed(self, reason: str) -> None:
        bench = self.bench
        if bench is None or not bench.awaiting_weight:
            return
        bench.weighing_failed()
        self._emit(Outcome(Verdict.NOT_ALLOWED, f"Scale: {reason.rstrip('.')}. Check the scale, then scan "
                           "CMD-CLOSE-CARTON again.", data={"headline": "SCALE ERROR"}))

    # --- print results (from the worker thread; the signal queues them to the GUI) -------------
    def relay_printed(self, result: object) -> None:
        if not self._closed:
            self.printed.emit(result)

    def relay_sync(self, result: object) -> None:
        if not self._closed:
            self.synced.emit(result)

    def relay_interrupted(self, jobs: list[object]) -> None:
        if not self._closed:
            self.interrupted.emit(jobs)

    def _emit(self, outcome: Outcome) -> Outcome:
        self.last = outcome
        self.outcome.emit(outcome)
        return outcome

    def close(self) -> None:
        self._closed = True
        self.weigher.close()
        self._pool.waitForDone(10_000)
