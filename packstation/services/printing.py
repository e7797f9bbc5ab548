"""Printing as use cases: the jobs a seal, a completed order or a reprint decide, and sending them.

A job is written in the same transaction as its cause (``packing._seal`` adds the label, and the
slip when the order completes; :func:`reprint` adds its jobs with the audit event), so a crash
can never leave a sealed carton without its label job. A worker (``packstation.workers``) then
sends jobs one at a time with :func:`send_next`: pending -> sending -> done or failed. Jobs left
'sending' by a stopped station are marked *interrupted* at start (:func:`resume`) and shown to a
lead, never resent on their own: they may have printed already, and a label must not print twice
without someone deciding it should.

A PDF folder (no printer configured) is a printer like any other: its jobs are journaled and
written by the worker, under a safe file name, never over an earlier file.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

from packstation.domain.documents import Address as DocAddress
from packstation.domain.documents import CreditNoteData, LabelData, ManifestData, PackingSlipData
from packstation.domain.identity import Permission, Session
from packstation.domain.packing import Carton, PackSession
from packstation.domain.print_jobs import JobStatus, PrintJob
from packstation.services.context import Context, record
from packstation.services.documents import label_data, packing_slip_data
from packstation.services.ports import StorageError, UnitOfWork

log = logging.getLogger(__name__)

REPRINT_REASONS = ("label damaged", "label lost", "printer jammed", "wrong printer", "carrier asked", "other")


class PrinterFailure(Exception):
    """A printer (or folder) did not take the job; the message says why and what to check."""


class Documents(ABC):
    """Renders the station's documents into print jobs for its configured printers (a port:
    ``adapters.documents.jobs`` implements it from the config)."""

    ship_from: DocAddress

    @abstractmethod
    def label(self, data: LabelData, *, reason: str) -> PrintJob: ...

    @abstractmethod
    def packing_slip(self, data: PackingSlipData, *, reason: str) -> PrintJob: ...

    @abstractmethod
    def credit_note(self, data: CreditNoteData, *, reason: str) -> PrintJob:
        """A credit note of a processed return (PDF; ``ref`` is ``ORDER/NUMBER``)."""

    def wake(self) -> None:  # noqa: B027 - optional: not every renderer has a worker to wake
        """Tell the print worker that jobs are waiting (called after their commit)."""

    @property
    def carrier_label_format(self) -> str:
        """What a carrier's label should come as for this station's label printer: ZPL or PDF."""
        return "PDF"

    def carrier_label(self, order_id: str, sscc: str, payload: bytes, label_format: str, *, reason: str) -> PrintJob:
        """A label a carrier (or a marketplace) made, as a job for the label printer."""
        raise NotImplementedError("this renderer cannot print carriers' labels")

    def manifest(self, data: ManifestData, *, reason: str) -> PrintJob:
        """The carrier manifest signed at hand-over, as a job for the document printer."""
        raise NotImplementedError("this renderer cannot print manifests")


class Printers(ABC):
    """Sends a job's bytes to where its target says (a port: ``adapters.devices.printers``)."""

    @abstractmethod
    def send(self, job: PrintJob) -> str:
        """Send or write the job; returns where it went (a printer, a file path). Raises PrinterFailure."""


def new_job_id() -> str:
    """Sortable by creation (the worker sends in this order), unique across processes."""
    return f"{time.time_ns():016x}-{os.getpid() % 0x10000:04x}{uuid.uuid4().hex[:8]}"


def add_job(uow: UnitOfWork, ctx: Context, session: Session, job: PrintJob) -> PrintJob:
    """Journal *job* in *uow*'s transaction, with its print.queued event."""
    job = replace(job, id=job.id or new_job_id(), status=JobStatus.PENDING, created_at=ctx.clock())
    uow.print_jobs.add(job, ctx.station_id, ctx.clock())
    record(uow, ctx, session, "print.queued", job.order_id,
           {"job": job.id, "printer": job.printer, "target": job.target, "kind": job.kind, "ref": job.ref,
            "reason": job.reason})
    return job


def seal_jobs(ctx: Context, pack: PackSession, carton: Carton, *, completes: bool) -> list[PrintJob]:
    """The label of *carton* as sealed (and the packing slip if the seal completes the order).

    *pack* and *carton* show the state after the seal (a copy the caller prepared); rendering
    happens here, before the seal's transaction begins, so no write lock waits on it.
    """
    if ctx.documents is None:
        return []
    jobs = [label_job(ctx, pack, carton, reason="sealed")]
    if completes:
        jobs.append(slip_job(ctx, pack, reason="order packed"))
    return jobs


def label_job(ctx: Context, pack: PackSession, carton: Carton, *, reason: str) -> PrintJob:
    assert ctx.documents is not None
    data = label_data(pack, carton, ctx.documents.ship_from, company_prefix_length=len(ctx.packing.gs1_company_prefix))
    return ctx.documents.label(data, reason=reason)


def slip_job(ctx: Context, pack: PackSession, *, reason: str) -> PrintJob:
    assert ctx.documents is not None
    return ctx.documents.packing_slip(packing_slip_data(pack, ctx.documents.ship_from), reason=reason)


@dataclass(frozen=True)
class ReprintResult:
    order_id: str
    jobs: tuple[PrintJob, ...]
    slip: bool

    @property
    def message(self) -> str:
        labels = sum(1 for j in self.jobs if j.kind == "shipping_label")
        return f"{labels} label(s)" + (" and the packing slip" if self.slip else "")


def reprint(ctx: Context, session: Session, approval: Session, pack: PackSession, cartons: list[Carton],
            reason: str, *, slip: bool) -> ReprintResult:
    """Reprint the labels of *cartons* (sealed ones of *pack*), and the slip if *slip*; audited.

    The event names the approving lead, the reason, the printer and the jobs, in the same
    transaction as the jobs. A slip is printed only for a packed order: before that it would
    tell the customer that unpacked items "could not be shipped".
    """
    ctx.auth.require(session, Permission.PACK, "A reprint")
    ctx.auth.require(approval, Permission.APPROVE, "A reprint")
    reason = reason.strip()
    if not reason:
        raise ValueError("A reprint needs a reason: pick one from the list.")
    if ctx.documents is None:
        raise ValueError("This station has no printer output.")
    order_id = pack.order.order_id
    sealed = [c for c in cartons if c.sscc]
    if not sealed:
        raise ValueError(f"Order {order_id} has no sealed carton yet: nothing to reprint.")
    slip = slip and pack.complete
    snapshot = copy.deepcopy(pack)
    jobs = [label_job(ctx, snapshot, snapshot.carton(c.seq), reason=f"reprint: {reason}") for c in sealed]
    if slip:
        jobs.append(slip_job(ctx, snapshot, reason=f"reprint: {reason}"))
    with ctx.uow() as uow:
        stored = [add_job(uow, ctx, approval, job) for job in jobs]
        record(uow, ctx, approval, "label.reprinted", order_id, {
            "reason": reason, "printer": stored[0].target, "sscc": [c.sscc for c in sealed], "slip": slip,
            "jobs": [j.id for j in stored], "station": ctx.station_id, "for": session.actor,
        })
        uow.commit()
    ctx.documents.wake()
    return ReprintResult(order_id, tuple(stored), slip)


# --- the worker's side -----------------------------------------------------------------------


@dataclass(frozen=True)
class JobResult:
    job: PrintJob
    error: str = ""
    where: str = ""  # the printer, or the file written

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def message(self) -> str:
        what = {"shipping_label": "Label", "packing_slip": "Packing slip", "manifest": "Manifest",
                "credit_note": "Credit note"}.get(self.job.kind, "Print job")
        if self.error:
            return f"{what} NOT printed: {self.error}"
        if self.job.target.startswith("folder:"):
            return f"{what} saved as {self.where} (no printer configured)."
        return f"{what} sent to the printer."


def resume(ctx: Context, session: Session) -> list[PrintJob]:
    """At start: jobs a stopped station left half-sent become interrupted (shown to a lead); jobs the
    centre holds for this station come into its journal (:func:`take_from_centre`)."""
    with ctx.uow() as uow:
        jobs = uow.print_jobs.interrupt_sending(ctx.station_id, ctx.clock())
        for job in jobs:
            record(uow, ctx, session, "print.interrupted", job.order_id, {"job": job.id, "ref": job.ref})
        uow.commit()
    try:
        take_from_centre(ctx)
    except StorageError as exc:
        log.warning("print jobs held at the central database for %s not taken yet: %s", ctx.station_id, exc)
    return jobs


def take_from_centre(ctx: Context) -> list[PrintJob]:
    """Jobs the centre holds for this station into its own journal, where the print worker sends them.

    A use case that works on the centre (the dock's close) writes its print job there, in its own
    commit, for this station (its printers); this takes each pending one into the local journal
    (same id: one already there is not added again), then marks the centre's copy done. A stop
    between the two leaves the centre's pending, and the next call finds it: nothing is lost, nothing
    printed twice. Returns the jobs added here. Raises StorageError when a database cannot be reached."""
    if ctx.central is None:
        return []
    with ctx.central(readonly=True) as central:
        held = [j for j in central.print_jobs.waiting(ctx.station_id) if j.status is JobStatus.PENDING]
    if not held:
        return []
    with ctx.uow() as uow:
        new = [j for j in held if uow.print_jobs.get(j.id) is None]
        for job in new:
            uow.print_jobs.add(job, ctx.station_id, ctx.clock())
        uow.commit()
    with ctx.central() as central:
        for job in held:
            central.print_jobs.finish(job.id, JobStatus.DONE, "", ctx.clock())
        central.commit()
    return new


def send_next(ctx: Context, session: Session, printers: Printers) -> JobResult | None:
    """Send this station's oldest pending job; None when nothing is pending."""
    with ctx.uow() as uow:
        job = uow.print_jobs.next_pending(ctx.station_id)
        if job is None or not uow.print_jobs.start(job.id, ctx.clock()):
            return None
        uow.commit()
    try:
        where = printers.send(job)
    except PrinterFailure as exc:
        result = JobResult(job, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug must not leave the job 'sending' for ever
        result = JobResult(job, error=f"unexpected error: {exc!r}")
    else:
        result = JobResult(job, where=where)
    status = JobStatus.DONE if result.ok else JobStatus.FAILED
    # A label that printed is never reported failed: if this mark cannot be stored, the job
    # stays 'sending' and becomes 'interrupted' at the next start (a lead checks it).
    with ctx.uow() as uow:
        uow.print_jobs.finish(job.id, status, result.error, ctx.clock())
        record(uow, ctx, session, f"print.{status.value}", job.order_id,
               {"job": job.id, "ref": job.ref, "kind": job.kind, "where": where if result.ok else "",
                "reason": result.error or None})
        uow.commit()
    return result


def waiting_jobs(ctx: Context, session: Session) -> list[PrintJob]:
    ctx.auth.require(session, Permission.PACK, "The print-job list")
    with ctx.uow(readonly=True) as uow:
        return uow.print_jobs.waiting(ctx.station_id)


def retry(ctx: Context, session: Session, job_id: str) -> PrintJob:
    """A lead sends a failed or interrupted job again (after checking the printer / the label)."""
    ctx.auth.require(session, Permission.APPROVE, "Retrying a print job")
    with ctx.uow() as uow:
        job = uow.print_jobs.get(job_id)
        if job is None or not uow.print_jobs.requeue(job_id, ctx.clock()):
            raise ValueError(f"Print job {job_id} is not waiting for a retry.")
        record(uow, ctx, session, "print.retried", job.order_id, {"job": job_id, "ref": job.ref})
        uow.commit()
    if ctx.documents is not None:
        ctx.documents.wake()
    return job


__all__ = [
    "REPRINT_REASONS", "Documents", "JobResult", "PrinterFailure", "Printers", "ReprintResult", "add_job",
    "label_job", "new_job_id", "reprint", "resume", "retry", "seal_jobs", "send_next", "slip_job", "take_from_centre",
    "waiting_jobs",
]
