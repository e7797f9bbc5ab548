"""Print jobs on SQLite or PostgreSQL: written with their cause, carried out by the print worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from packstation.adapters.db import tables as t
from packstation.domain.print_jobs import JobStatus, PrintJob
from packstation.services.ports import PrintJobRepository

j = t.print_jobs.c
_WAITING = [s.value for s in JobStatus if s.waiting]


class SqlPrintJobs(PrintJobRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, job: PrintJob, station_id: str, at: datetime) -> None:
        self.conn.execute(insert(t.print_jobs).values(
            id=job.id, printer=job.printer, target=job.target, file_name=job.file_name, station_id=station_id,
            kind=job.kind, ref=job.ref, payload=job.payload, status=job.status.value, error=job.error or None,
            reason=job.reason, attempts=job.attempts, created_at=job.created_at or at, updated_at=at,
        ))

    def get(self, job_id: str) -> PrintJob | None:
        r = self.conn.execute(select(t.print_jobs).where(j.id == job_id)).mappings().first()
        return _job(r) if r else None

    def waiting(self, station_id: str) -> list[PrintJob]:
        rows = self.conn.execute(
            select(t.print_jobs).where(and_(j.station_id == station_id, j.status.in_(_WAITING)))
            .order_by(j.created_at, j.id)).mappings()
        return [_job(r) for r in rows]

    def next_pending(self, station_id: str) -> PrintJob | None:
        r = self.conn.execute(
            select(t.print_jobs).where(and_(j.station_id == station_id, j.status == JobStatus.PENDING.value))
            .order_by(j.created_at, j.id).limit(1)).mappings().first()
        return _job(r) if r else None

    def requeue(self, job_id: str, at: datetime) -> bool:
        res = self.conn.execute(update(t.print_jobs).where(and_(
            j.id == job_id, j.status.in_([JobStatus.FAILED.value, JobStatus.INTERRUPTED.value])))
            .values(status=JobStatus.PENDING.value, updated_at=at))
        return res.rowcount == 1

    def start(self, job_id: str, at: datetime) -> bool:
        res = self.conn.execute(update(t.print_jobs).where(and_(j.id == job_id, j.status == JobStatus.PENDING.value))
                                .values(status=JobStatus.SENDING.value, updated_at=at))
        return res.rowcount == 1

    def finish(self, job_id: str, status: JobStatus, error: str, at: datetime) -> None:
        self.conn.execute(update(t.print_jobs).where(j.id == job_id)
                          .values(status=status.value, error=error or None, attempts=j.attempts + 1, updated_at=at))

    def interrupt_sending(self, station_id: str, at: datetime) -> list[PrintJob]:
        ids = [r[0] for r in self.conn.execute(select(j.id).where(
            and_(j.station_id == station_id, j.status == JobStatus.SENDING.value)))]
        if not ids:
            return []
        self.conn.execute(update(t.print_jobs).where(j.id.in_(ids))
                          .values(status=JobStatus.INTERRUPTED.value, updated_at=at,
                                  error="the station stopped while sending it: check whether it printed, then retry or discard"))
        # as they are now (interrupted, with the reason), not as they were before the change
        rows = self.conn.execute(select(t.print_jobs).where(j.id.in_(ids)).order_by(j.created_at, j.id)).mappings()
        return [_job(r) for r in rows]


def _job(r: Any) -> PrintJob:
    return PrintJob(
        id=r["id"], printer=r["printer"], target=r["target"], kind=r["kind"], ref=r["ref"],
        payload=bytes(r["payload"]), file_name=r["file_name"], status=JobStatus(r["status"]), error=r["error"] or "",
        attempts=r["attempts"], created_at=r["created_at"], reason=r["reason"],
    )
