"""The print-job journal on the station database (the ``print_jobs`` table).

Implements :class:`packstation.adapters.devices.printing.PrintJournal`: a job is stored
before a byte goes to the printer, so a label is never silently lost — after a crash or a
printer fault it is still there to retry. Each change is its own short transaction, with an
event row, so the lead's audit trail shows what printed where and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from packstation.adapters.db import tables as t
from packstation.adapters.db.store import SqlUnitOfWork
from packstation.adapters.devices.printing import DONE, FAILED, PENDING, Job


class SqlPrintJournal:
    def __init__(self, engine: Engine, station_id: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._engine = engine
        self._station = station_id
        self._clock = clock

    def _uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, self._station, self._clock)

    def record(self, printer: str, kind: str, payload: bytes, ref: str) -> str:
        job_id = str(uuid.uuid4())
        now = self._clock()
        with self._uow() as uow:
            uow.conn.execute(insert(t.print_jobs).values(
                id=job_id, printer=printer, station_id=self._station, kind=kind, ref=ref, payload=payload,
                status=PENDING,
                attempts=0, created_at=now, updated_at=now,
            ))
            uow.add_event("print.queued", _order_ref(ref), None, {"job": job_id, "printer": printer, "kind": kind, "ref": ref})
            uow.commit()
        return job_id

    def _mark(self, job_id: str, status: str, reason: str | None) -> None:
        c = t.print_jobs.c
        with self._uow() as uow:
            row = uow.conn.execute(select(c.ref, c.kind, c.printer).where(c.id == job_id)).one()
            uow.conn.execute(
                update(t.print_jobs).where(c.id == job_id)
                .values(status=status, error=reason, attempts=c.attempts + 1, updated_at=self._clock())
            )
            uow.add_event(f"print.{status}", _order_ref(row.ref), None,
                          {"job": job_id, "printer": row.printer, "kind": row.kind, "ref": row.ref, "reason": reason})
            uow.commit()

    def mark_done(self, job_id: str) -> None:
        self._mark(job_id, DONE, None)

    def mark_failed(self, job_id: str, reason: str) -> None:
        self._mark(job_id, FAILED, reason)

    def pending(self) -> list[Job]:
        c = t.print_jobs.c
        with SqlUnitOfWork(self._engine, self._station, self._clock, readonly=True) as uow:
            rows = uow.conn.execute(
                select(t.print_jobs)
                .where(c.status != DONE, c.station_id == self._station)  # this bench's printers only
                .order_by(c.created_at, c.id)
            ).mappings().all()
        return [
            Job(id=r["id"], printer=r["printer"], kind=r["kind"], payload=bytes(r["payload"]), ref=r["ref"],
                status=r["status"], reason=r["error"] or "", attempts=r["attempts"], created_at=r["created_at"])
            for r in rows
        ]


def _order_ref(ref: str) -> str | None:
    """Jobs are referenced as 'ORDER_ID' or 'ORDER_ID/SSCC'; events hang off the order."""
    return ref.split("/", 1)[0] or None
