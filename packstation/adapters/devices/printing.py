"""Print jobs that are never silently lost: a journal and a spooler.

A job is recorded in the journal BEFORE any byte goes to the printer and marked done only
after the transport confirms; a failure marks it failed with the reason, and it stays in
:meth:`PrintJournal.pending` until a retry succeeds. The journal is a Protocol so the
database-backed one (written against it elsewhere) and :class:`MemoryJournal` are
interchangeable.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from packstation.adapters.devices.transports import DEFAULT_TIMEOUT_S, PrinterError, Transport

log = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass(frozen=True)
class Job:
    id: str
    printer: str  # "label" / "document" (the config section), not a device path
    kind: str  # "shipping_label", "packing_slip", "test", ...
    payload: bytes
    ref: str  # what it belongs to (carton SSCC, order id) so a lead can find it
    status: str = PENDING
    reason: str = ""
    attempts: int = 0
    created_at: datetime | None = None


class PrintJournal(Protocol):
    def record(self, printer: str, kind: str, payload: bytes, ref: str) -> str: ...

    def mark_done(self, job_id: str) -> None: ...

    def mark_failed(self, job_id: str, reason: str) -> None: ...

    def pending(self) -> list[Job]: ...


class MemoryJournal:
    """In-memory journal for tests, the demo and ``devices test-print``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.jobs: dict[str, Job] = {}

    def record(self, printer: str, kind: str, payload: bytes, ref: str) -> str:
        with self._lock:
            job_id = f"job-{next(self._ids)}"
            self.jobs[job_id] = Job(
                job_id, printer, kind, bytes(payload), ref, created_at=datetime.now(UTC)
            )
            return job_id

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self.jobs[job_id]
            self.jobs[job_id] = replace(job, attempts=job.attempts + 1, **changes)  # type: ignore[arg-type]

    def mark_done(self, job_id: str) -> None:
        self._update(job_id, status=DONE, reason="")

    def mark_failed(self, job_id: str, reason: str) -> None:
        self._update(job_id, status=FAILED, reason=reason)

    def pending(self) -> list[Job]:
        with self._lock:
            return [j for j in self.jobs.values() if j.status != DONE]


class PrintFailed(PrinterError):
    """Raised by the spooler after the job was marked failed; it can be retried by id."""

    def __init__(self, job_id: str, cause: PrinterError) -> None:
        super().__init__(f"{cause} (print job {job_id} kept; retry it from the print queue)")
        self.job_id = job_id
        self.cause = cause


class Spooler:
    """Records, sends and marks jobs. Call it off the GUI thread: sending can take seconds."""

    def __init__(
        self,
        journal: PrintJournal,
        printers: Mapping[str, Transport] | Callable[[str], Transport],
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.journal = journal
        self._printers = printers
        self.timeout_s = timeout_s
        self._lock = threading.Lock()  # one job at a time per spooler keeps labels in order

    def _transport(self, printer: str) -> Transport:
        if callable(self._printers):
            return self._printers(printer)
        try:
            return self._printers[printer]
        except KeyError:
            raise PrinterError(f"no {printer} printer is configured") from None

    def submit(self, printer: str, kind: str, payload: bytes, ref: str) -> str:
        """Record then send one job. Returns its id; raises PrintFailed if sending failed."""
        job_id = self.journal.record(printer, kind, payload, ref)
        self._send(job_id, printer, payload)
        return job_id

    def _send(self, job_id: str, printer: str, payload: bytes) -> None:
        with self._lock:
            try:
                self._transport(printer).send(payload, self.timeout_s)
            except PrinterError as exc:
                log.warning("print job %s failed: %s", job_id, exc)
                self.journal.mark_failed(job_id, str(exc))
                raise PrintFailed(job_id, exc) from exc
            except Exception as exc:
                self.journal.mark_failed(job_id, f"unexpected error: {exc!r}")
                raise
            try:
                self.journal.mark_done(job_id)
            except Exception:  # printed all the same: a failure here must not say "not printed"
                log.exception("print job %s was sent but could not be marked done", job_id)

    def retry(self, job_id: str) -> None:
        job = next((j for j in self.journal.pending() if j.id == job_id), None)
        if job is None:
            raise PrinterError(f"print job {job_id} is not waiting for a retry")
        self._send(job.id, job.printer, job.payload)

    def retry_pending(self) -> list[PrintFailed]:
        """Retry every job not yet done, oldest first; returns the failures (not raised)."""
        failures = []
        for job in self.journal.pending():
            try:
                self._send(job.id, job.printer, job.payload)
            except PrintFailed as exc:
                failures.append(exc)
        return failures
