"""The spooler records a job before sending, marks failures with the reason, and retries."""

from __future__ import annotations

import pytest

from packstation.adapters.devices.printing import (
    DONE,
    FAILED,
    PENDING,
    MemoryJournal,
    PrintFailed,
    Spooler,
)
from packstation.adapters.devices.transports import PrinterError, open_transport

LABEL = b"^XA^FDcarton 1^FS^XZ"


def test_job_is_recorded_before_it_is_sent(printer_sim):
    journal = MemoryJournal()
    seen_at_send: list[list[str]] = []

    class Watching:
        url = "watch://"

        def send(self, data: bytes, timeout_s: float = 10) -> None:
            seen_at_send.append([j.status for j in journal.jobs.values()])
            open_transport(printer_sim.url).send(data, timeout_s)

        def query(self, *a, **k):  # pragma: no cover - not used
            raise NotImplementedError

    spooler = Spooler(journal, {"label": Watching()})
    job_id = spooler.submit("label", "shipping_label", LABEL, ref="00340123450000000017")
    assert seen_at_send == [[PENDING]]
    assert journal.jobs[job_id].status == DONE
    assert journal.pending() == []
    assert printer_sim.wait_for_jobs(1) == [LABEL]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("refuse", "refused"), ("hang", "stopped taking data"), ("drop", "mid-job")],
)
def test_failure_is_marked_then_done_on_retry(printer_sim, fault, reason):
    journal = MemoryJournal()
    spooler = Spooler(journal, {"label": open_transport(printer_sim.url)}, timeout_s=0.5)
    printer_sim.set_fault(fault)
    with pytest.raises(PrintFailed, match=reason) as info:
        spooler.submit("label", "shipping_label", LABEL * 40, ref="SSCC-1")
    job = journal.jobs[info.value.job_id]
    assert job.status == FAILED and reason in job.reason
    assert [j.id for j in journal.pending()] == [job.id]
    assert printer_sim.jobs == []

    printer_sim.set_fault(None)
    assert spooler.retry_pending() == []
    assert journal.jobs[job.id].status == DONE
    assert journal.pending() == []
    assert printer_sim.wait_for_jobs(1) == [LABEL * 40]


def test_retry_by_id_and_unknown_job(printer_sim):
    journal = MemoryJournal()
    spooler = Spooler(journal, {"label": open_transport(printer_sim.url)}, timeout_s=0.5)
    printer_sim.set_fault("refuse")
    with pytest.raises(PrintFailed) as info:
        spooler.submit("label", "shipping_label", LABEL, ref="A")
    with pytest.raises(PrintFailed):
        spooler.retry(info.value.job_id)  # still refused: stays failed
    assert journal.jobs[info.value.job_id].attempts == 2
    printer_sim.set_fault(None)
    spooler.retry(info.value.job_id)
    assert journal.jobs[info.value.job_id].status == DONE
    with pytest.raises(PrinterError, match="not waiting for a retry"):
        spooler.retry(info.value.job_id)


def test_unconfigured_printer_is_a_failed_job_not_a_lost_one():
    journal = MemoryJournal()
    spooler = Spooler(journal, {})
    with pytest.raises(PrintFailed, match="no document printer is configured"):
        spooler.submit("document", "packing_slip", b"%PDF-1.4", ref="ORD-1")
    assert [j.kind for j in journal.pending()] == ["packing_slip"]
