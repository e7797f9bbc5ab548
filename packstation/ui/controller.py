"""The window's single path to the station: every scan, PIN and weight goes through here.

The controller owns the :class:`Terminal` (login, desk, and the desk's handler) and the weigher.
Scans are handled on the GUI thread (one short transaction each); PIN checks (argon2, ~0.1 s)
run on a worker thread and their result is applied back on the GUI thread, so the window never
freezes and no write lock is held while a PIN is hashed. Scans that arrive meanwhile wait in
order and are handled right after. ``outcome`` is emitted after the state changed, so views
redraw from ``terminal`` itself. Print results come from the station's print worker thread
through ``printed``.

**The carrier is never asked on the GUI thread.** A seal whose label comes from a carrier account
(``services.packing.PendingSeal``) is weighed and numbered here, the carrier is asked on the worker
thread (bounded by the account's ``timeout_s``) while the band says CREATING LABEL…, and the seal
is stored back here, in one transaction as before. A dock close whose carrier has an end-of-day
close runs on the worker whole. Meanwhile the window stays live and every scan is answered at once
with "wait, nothing was counted" (it would race the seal or the close); the one worker thread
keeps seals, closes and PIN checks in order, so nothing is sealed or closed twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, overload

from PySide6.QtCore import QObject, QThreadPool, Signal

from packstation.domain.barcodes import BarcodeError, BarcodeKind, RawScan, interpret
from packstation.domain.identity import Desk
from packstation.domain.packing import Verdict
from packstation.services.bench import Bench
from packstation.services.dock import Dock
from packstation.services.outcome import Outcome, storage_failed
from packstation.services.packing import PendingSeal
from packstation.services.ports import StorageError
from packstation.services.terminal import PinCheck, Terminal
from packstation.ui.background import run_in_pool
from packstation.ui.weighing import Weigher

RECENT_PRINT_RESULTS = 50
_T = TypeVar("_T")


class StationController(QObject):
    outcome = Signal(object)  # Outcome, after the terminal's state changed
    printed = Signal(object)  # services.printing.JobResult, from the print worker
    interrupted = Signal(object)  # print jobs found half-sent at start (list)
    busy_changed = Signal(bool)  # a PIN is being checked
    carrier_busy = Signal(str)  # what the worker asks a carrier for ("" when done)
    synced = Signal(object)  # services.sync.status.RoundResult, from the sync worker

    def __init__(self, terminal: Terminal, weigher: Weigher, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.terminal = terminal
        terminal.labels_in_background = True  # seals hand their carrier call back (see above)
        self.weigher = weigher
        self.last: Outcome | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(0)
        self._checking = False
        self._sealing: PendingSeal | None = None  # a seal whose carrier is being asked on the worker
        self._closing = ""  # a dock close running on the worker: its carrier
        self._waiting: deque[RawScan] = deque(maxlen=50)
        self._handling = False  # a scan is being handled (on this thread; see scan())
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

    @property
    def asking_carrier(self) -> bool:
        """A seal's label or a dock's end-of-day close is being asked of a carrier on the worker."""
        return self._sealing is not None or bool(self._closing)

    # --- inputs ---------------------------------------------------------------------------
    def scan(self, scan: RawScan | str) -> Outcome | None:
        if isinstance(scan, str):
            scan = RawScan.from_wire(scan.strip(), source="typed")
        if self._checking:  # the PIN is being checked: this scan follows right after
            self._waiting.append(scan)
            return None
        if self.asking_carrier:
            return self._emit(self._wait_for_carrier())
        if self._handling:
            # a scan arriving while another is being handled: a camera's capture runs Qt's event
            # loop inside the RET-PHOTO / seal it serves, and a scanner's burst or line can land
            # there. It follows right after, in order, never in the middle of the other.
            self._waiting.append(scan)
            return None
        if self._dock_closes(scan):
            self._dock_in_background(lambda: self.terminal.scan(scan))
            return None
        outcome = self._emit(self._guarded(lambda: self.terminal.scan(scan)))
        if outcome.verdict is Verdict.NEEDS_WEIGHT:
            self.weigher.request(int(outcome.data.get("expected_g", 0)))
        self._drain()
        return outcome

    def _guarded(self, handle: Callable[[], _T]) -> _T:
        """Run one input's use case; scans that arrive meanwhile (see scan()) wait for its end.
        Every input that may seal (and photograph) a carton or take a photo runs through here."""
        self._handling = True
        try:
            return handle()
        finally:
            self._handling = False

    @overload
    def _run(self, handle: Callable[[], Outcome]) -> Outcome: ...
    @overload
    def _run(self, handle: Callable[[], Outcome | None]) -> Outcome | None: ...

    def _run(self, handle: Callable[[], Outcome | None]) -> Outcome | None:
        """An input other than a scan: its use case guarded, its outcome shown, then the scans that waited."""
        outcome = self._guarded(handle)
        if outcome is not None:
            self._emit(outcome)
        self._drain()
        return outcome

    def _drain(self) -> None:
        """The scans that waited (for a PIN check, or for the input being handled), in order."""
        while self._waiting and not self._checking and not self._handling:
            self.scan(self._waiting.popleft())

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
        return self._run(lambda: self.terminal.enter_pin(pin))

    def _pin_checked(self, result: PinCheck | None, error: BaseException | None) -> None:
        self._set_checking(False)
        if self._closed:
            return
        if error is not None or result is None:
            self._emit(Outcome(Verdict.LOGIN_REFUSED, f"The PIN could not be checked ({error}). Scan your badge again."))
        elif result.wait.purpose == "approve" and self._dock_close_account() is not None:
            self._dock_in_background(lambda: self.terminal.finish_pin(result))  # a split approved: the close
        else:  # an approval may seal (and photograph) a carton: scans meanwhile wait for it
            self._emit(self._guarded(lambda: self.terminal.finish_pin(result)))
        self._drain()

    def _set_checking(self, value: bool) -> None:
        self._checking = value
        self.busy_changed.emit(value)

    def choose_desk(self, desk: Desk) -> Outcome:
        if self.asking_carrier:
            return self._emit(self._wait_for_carrier())
        return self._run(lambda: self.terminal.choose_desk(desk))

    def pick_reason(self, reason: str) -> Outcome | None:
        bench = self.bench
        handler = self.terminal.handler
        if self.asking_carrier:
            return None
        if bench is None and isinstance(handler, Dock):  # a split at the dock: its reason
            if handler.session.role.can_authorise and handler.split is not None \
                    and self._dock_close_account() is not None:  # a lead's own reason closes at once
                self._dock_in_background(lambda: self._dock_reason(handler, reason))
                return None
            return self._run(lambda: self._dock_reason(handler, reason))
        if bench is None:
            return None
        return self._run(lambda: bench.set_lead_reason(reason))  # a lead's own reason may seal

    def _dock_reason(self, handler: Dock, reason: str) -> Outcome | None:
        picked = handler.set_split_reason(reason)
        awaited = picked.data.get("await_pin") if picked is not None else None
        if awaited is not None:
            self.terminal.pin_wait = awaited
        return picked

    def select_return_item(self, item_id: str) -> Outcome | None:
        """A click on a returned item at the returns desk: the next grade / photo / disposition is for it."""
        from packstation.services.returns_desk import ReturnsDesk

        handler = self.terminal.handler
        if not isinstance(handler, ReturnsDesk):
            return None
        return self._run(lambda: handler.select(item_id))

    def logout(self) -> Outcome:
        if self.asking_carrier:
            return self._emit(self._wait_for_carrier())
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
        if bench is None or self._sealing is not None:
            return self._emit(Outcome(Verdict.NOT_ALLOWED, "No carton is waiting for its weight."))
        return self._run(lambda: bench.close_with_weight(grams))

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

    # --- the carrier, on the worker thread ------------------------------------------------------
    def _wait_for_carrier(self) -> Outcome:
        """The answer to a scan while a carrier is asked: it would race the seal or the close."""
        seal = self._sealing
        if seal is not None:
            return seal.wait_outcome()
        return Outcome(Verdict.WEIGHING, f"The {self._closing} manifest is closing ({self._closing}'s end-of-day close "
                       "is asked for). Wait for its verdict; nothing was counted: scan again then.",
                       data={"headline": "CLOSING — WAIT"})

    def _start_seal(self, seal: PendingSeal) -> None:
        self._sealing = seal
        self.carrier_busy.emit(f"{seal.carrier} label for carton {seal.carton.seq}")
        run_in_pool(self._pool, self, seal.ask_carrier, self._seal_asked)

    def _seal_asked(self, result: PendingSeal | None, error: BaseException | None) -> None:
        seal = self._sealing
        if seal is None or (result is not None and result is not seal):
            return  # finished already (the window closed meanwhile)
        self._sealing = None
        self.carrier_busy.emit("")
        if error is not None:  # ask_carrier keeps its errors; this is a last resort: never lose the seal
            from packstation.services.carriers import deferred_label

            seal.label = deferred_label(seal.ctx, seal.carrier or "carrier", seal.after.order, seal.sealed, str(error))
            seal.asked = True
        if self._closed:
            return
        self._run(lambda: self._finish_seal(seal))

    def _finish_seal(self, seal: PendingSeal) -> Outcome:
        from packstation.services.packing import finish_seal

        bench = self.bench
        try:
            if bench is not None and bench.sealing is seal:
                return bench.finish_seal(seal)
            return finish_seal(seal)  # the bench was left meanwhile: the carton is sealed all the same
        except StorageError as exc:
            return storage_failed(exc)

    def _dock_close_account(self) -> str | None:
        """The carrier of the dock's open manifest, when closing it asks that carrier (its end-of-day close)."""
        handler = self.terminal.handler
        if not isinstance(handler, Dock) or handler.manifest is None or self.terminal.ctx.carriers is None:
            return None
        account = self.terminal.ctx.carriers.for_carrier(handler.manifest.carrier)
        return account.code if account is not None and account.supports_close else None

    def _dock_closes(self, scan: RawScan) -> bool:
        """Would this scan (may it) close the dock's manifest and so wait for the carrier?"""
        handler = self.terminal.handler
        if not isinstance(handler, Dock) or self.terminal.pin_wait is not None or self._dock_close_account() is None:
            return False
        try:
            bc = interpret(scan)
        except BarcodeError:
            return False
        if bc.is_command:
            return bc.value == "CMD-CLOSE-MANIFEST"  # (CMD-UNDO cancels a split: no close)
        if handler.split == "":  # the split's reason by number: a lead at the dock closes with it at once
            return bc.kind is BarcodeKind.NUMBER and handler.session.role.can_authorise
        return handler.split is not None  # a lead's badge for the split: one without a PIN closes at once

    def _dock_in_background(self, fn: Callable[[], Outcome | None]) -> None:
        """Run a dock input that may close the manifest on the worker; its outcome is shown here."""
        code = self._dock_close_account() or "carrier"
        self._closing = code
        self.carrier_busy.emit(f"{code} end-of-day close")

        def done(result: Any, error: BaseException | None) -> None:
            self._closing = ""
            self.carrier_busy.emit("")
            if self._closed:
                return
            if isinstance(error, StorageError):
                self._emit(storage_failed(error))
            elif error is not None:
                self._emit(Outcome(Verdict.NOT_ALLOWED, f"The manifest was not closed: {error}",
                                   data={"headline": "MANIFEST NOT CLOSED"}))
            elif isinstance(result, Outcome):
                self._emit(result)

        run_in_pool(self._pool, self, fn, done)

    def _emit(self, outcome: Outcome) -> Outcome:
        self.last = outcome
        seal = outcome.data.get("seal") if outcome.data else None
        if isinstance(seal, PendingSeal) and self._sealing is None and not self._closed:
            self._start_seal(seal)  # before the views redraw: they see the seal under way
        self.outcome.emit(outcome)
        return outcome

    def close(self) -> None:
        self._closed = True
        self.weigher.close()
        seal = self._sealing
        # a carrier being asked is bounded by its account's timeout_s (at most 60 s): wait for it,
        # so that a seal whose label came is stored (and one that could not be, voided)
        self._pool.waitForDone(-1 if seal is not None or self._closing else 10_000)
        if seal is not None and self._sealing is seal and seal.asked:
            self._sealing = None
            self._finish_seal(seal)
