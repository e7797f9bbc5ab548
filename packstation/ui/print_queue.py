"""Printing in the flow, off the GUI thread: each sealed carton's label, the slip, reprints, retries.

Rendering and sending a label can take seconds (a printer that is off waits for its timeout),
so every job runs on a one-thread pool through the station's :class:`OutputDesk`, which records
the job in the journal before sending it. The packing session is copied on the GUI thread
first, so the next scans can change it while the label is being rendered.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from packstation.domain.packing import Carton, PackSession
from packstation.ui.background import run_in_pool


class PrintQueue(QObject):
    printed = Signal(object)  # packstation.printing.Printed, on the GUI thread
    busy_changed = Signal(int)  # jobs not finished yet

    def __init__(self, desk_factory: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._desk_factory = desk_factory
        self._desk: Any = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one printer conversation at a time, in order
        self._pool.setExpiryTimeout(0)
        self.busy = 0
        self.results: list[Any] = []  # every Printed, for the status bar and tests
        self._closed = False

    def _desk_on_worker(self) -> Any:
        if self._desk is None:
            self._desk = self._desk_factory()
        return self._desk

    def _submit(self, job: Callable[[Any], Any]) -> None:
        if self._closed:
            return
        self.busy += 1
        self.busy_changed.emit(self.busy)
        run_in_pool(self._pool, self, lambda: job(self._desk_on_worker()), self._done)

    def _done(self, result: Any, error: BaseException | None) -> None:
        self.busy -= 1
        self.busy_changed.emit(self.busy)
        if error is not None:  # a bug or a broken installation, not a printer fault
            from packstation.printing import Printed

            result = Printed("print_job", "", error=f"{type(error).__name__}: {error}")
        self.results.append(result)
        if not self._closed:
            self.printed.emit(result)

    # --- what the bench asks for --------------------------------------------------------------
    def carton_sealed(self, session: PackSession, carton: Carton) -> None:
        snapshot = copy.deepcopy(session)
        sealed = snapshot.carton(carton.seq)
        self._submit(lambda desk: desk.label(snapshot, sealed))

    def order_complete(self, session: PackSession) -> None:
        snapshot = copy.deepcopy(session)
        self._submit(lambda desk: desk.packing_slip(snapshot))

    def reprint(self, plan: Any) -> None:
        """A lead-approved :class:`ReprintPlan`: its cartons' labels, then the slip if asked."""
        snapshot = copy.deepcopy(plan.session)
        for carton in plan.cartons:
            sealed = snapshot.carton(carton.seq)
            self._submit(lambda desk, c=sealed: desk.label(snapshot, c))
        if plan.slip:
            self._submit(lambda desk: desk.packing_slip(snapshot))

    def retry(self, job_id: str) -> None:
        self._submit(lambda desk: desk.retry(job_id))

    def pending_jobs(self) -> list[Any]:
        """Jobs the journal still holds (failed or never sent); a quick read of the database."""
        return list(self._desk_factory().journal.pending())

    def close(self) -> None:
        self._closed = True
        self._pool.waitForDone(60_000)
