"""A print job: a rendered document on its way to a printer (or a PDF folder).

Jobs are written in the same transaction as what caused them (a sealed carton, a completed
order, an approved reprint) and carried out afterwards by the print worker; so a label is
never decided without its job, and a job is never sent twice without anyone knowing.

    pending --send--> sending --ok--> done
                         \\--error--> failed --retry--> sending ...
    sending (the station stopped mid-send) --start--> interrupted: a person checks the label
    and retries it; it is never resent on its own, which could print it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"  # committed, not sent yet (resumed at start)
    SENDING = "sending"  # the worker is talking to the printer
    DONE = "done"
    FAILED = "failed"  # the printer refused or timed out: a lead retries it
    INTERRUPTED = "interrupted"  # the station stopped while sending: may or may not have printed

    @property
    def waiting(self) -> bool:
        """Shown in the lead's print-job list until it prints."""
        return self in (JobStatus.PENDING, JobStatus.FAILED, JobStatus.INTERRUPTED)


@dataclass(frozen=True)
class PrintJob:
    id: str
    printer: str  # the station's printer slot: "label" or "document"
    target: str  # where it goes: the printer URL, or "folder:labels" for a saved PDF
    kind: str  # "shipping_label", "packing_slip", "test"
    ref: str  # what it belongs to: "ORDER/SSCC" for a label, "ORDER" for a slip
    payload: bytes = field(repr=False)
    file_name: str = ""  # for folder targets: the safe file name to write
    status: JobStatus = JobStatus.PENDING
    error: str = ""
    attempts: int = 0
    created_at: datetime | None = None
    reason: str = ""  # why it was printed: "sealed", "order packed", or a reprint's reason

    @property
    def order_id(self) -> str | None:
        return self.ref.split("/", 1)[0] or None


__all__ = ["JobStatus", "PrintJob"]
