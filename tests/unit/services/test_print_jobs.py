"""Printing as use cases (``services.printing``) on the fake storage and fake printers.

A seal writes its label job (and the packing slip's, when it completes the order) in its own
transaction; the worker sends jobs one by one; jobs a stopped station left half-sent become
*interrupted* and wait for a lead; a reprint needs a reason and a lead's approval, and is
audited with its jobs.
"""

from __future__ import annotations

import pytest
from fakes import FakeDatabase, FakeDocuments, FakePrinters, fake_context
from warehouse import TEE, claim_with_items

from packstation.domain.barcodes import sscc18
from packstation.domain.identity import ActorKind, Session
from packstation.domain.packing import CartonStatus, PackSession, Verdict
from packstation.domain.print_jobs import JobStatus, PrintJob
from packstation.services import packing, printing
from packstation.services.auth import NotAllowed
from packstation.services.context import Context

FIRST_SSCC = sscc18(0, "0614141", 1)


@pytest.fixture
def worker(ctx: Context) -> Session:
    """The print worker's own session."""
    return ctx.auth.system(ActorKind.SYSTEM, "print-worker")


@pytest.fixture
def printers() -> FakePrinters:
    return FakePrinters()


def jobs(ctx: Context) -> list[PrintJob]:
    with ctx.uow(readonly=True) as uow:
        return uow.print_jobs.waiting(ctx.station_id)


def job(ctx: Context, job_id: str) -> PrintJob:
    with ctx.uow(readonly=True) as uow:
        found = uow.print_jobs.get(job_id)
    assert found is not None
    return found


def packed_order(ctx: Context, pat: Session) -> PackSession:
    """SO-1 packed at BENCH-01: one carton, its label and the packing slip journaled."""
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    assert packing.close_carton(ctx, pat, pack, 550).verdict is Verdict.ORDER_COMPLETE
    return pack


# --- jobs are decided with their cause --------------------------------------------------------------


def test_the_last_seal_writes_label_and_slip_in_its_own_transaction(db: FakeDatabase, ctx: Context, pat: Session) -> None:
    packed_order(ctx, pat)

    assert db.transactions[-1] == ["carton.closed", "print.queued", "print.queued", "order.packed"]
    label, slip = jobs(ctx)
    assert (label.kind, label.ref, label.reason, label.status) == ("shipping_label", f"SO-1/{FIRST_SSCC}", "sealed",
                                                                  JobStatus.PENDING)
    assert label.payload == f"LABEL SO-1 carton 1/1 550 g SSCC {FIRST_SSCC}".encode()
    assert (slip.kind, slip.ref, slip.reason) == ("packing_slip", "SO-1", "order packed")
    assert slip.payload == b"SLIP SO-1: TS-1 2/2"
    assert ctx.documents.wakes == 1  # the worker is told once it is committed


def test_a_carton_sealed_before_the_order_completes_gets_only_its_label(db: FakeDatabase, ctx: Context,
                                                                      pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)
    packing.close_carton(ctx, pat, pack, 350)

    assert db.transactions[-1] == ["carton.closed", "print.queued"]
    (label,) = jobs(ctx)
    assert label.payload.startswith(b"LABEL SO-1 carton 1/? 350 g")  # how many cartons follow is not known yet


def test_a_seal_the_database_refuses_leaves_no_label_and_no_sealed_carton(db: FakeDatabase, ctx: Context,
                                                                         pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    db.refuse_commit(2)  # the SSCC is reserved in a commit of its own, then the seal's commit fails

    outcome = packing.close_carton(ctx, pat, pack, 550)

    assert outcome.verdict is Verdict.STORAGE_FAILED
    assert jobs(ctx) == []
    assert pack.open_carton is not None and pack.open_carton.status is CartonStatus.OPEN
    with ctx.uow(readonly=True) as uow:
        assert uow.shipments.cartons("SO-1", {})[0].status is CartonStatus.OPEN
    again = packing.close_carton(ctx, pat, pack, 550)  # sealing again takes a fresh SSCC, never the same twice
    assert again.data["sscc"] == sscc18(0, "0614141", 2)


def test_a_label_that_cannot_be_made_seals_nothing(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    ctx.documents.refuse_labels = "address too long for the label"

    outcome = packing.close_carton(ctx, pat, pack, 550)

    assert outcome.verdict is Verdict.NOT_ALLOWED and "address too long for the label" in outcome.message
    assert jobs(ctx) == [] and pack.open_carton is not None


def test_a_station_without_printer_output_seals_without_jobs(db: FakeDatabase, pat: Session) -> None:
    quiet = fake_context(db, documents=None)
    pack = claim_with_items(quiet, pat, "SO-1", TEE, TEE)
    assert packing.close_carton(quiet, pat, pack, 550).verdict is Verdict.ORDER_COMPLETE
    assert jobs(quiet) == []


# --- the worker sends them ----------------------------------------------------------------------------


def test_the_worker_sends_jobs_in_order_and_marks_them_done(ctx: Context, pat: Session, worker: Session,
                                                            printers: FakePrinters) -> None:
    packed_order(ctx, pat)
    label, slip = jobs(ctx)

    first = printing.send_next(ctx, worker, printers)
    second = printing.send_next(ctx, worker, printers)

    assert first is not None and first.ok and first.message == "Label sent to the printer."
    assert second is not None and second.job.id == slip.id
    assert [j.id for j in printers.sent] == [label.id, slip.id]
    assert (job(ctx, label.id).status, job(ctx, label.id).attempts) == (JobStatus.DONE, 1)
    assert printing.send_next(ctx, worker, printers) is None  # nothing left
    with ctx.uow(readonly=True) as uow:
        done = [e for e in uow.events.for_order("SO-1") if e.kind == "print.done"]
    assert [(e.actor, e.payload["job"]) for e in done] == [("system:print-worker", label.id),
                                                           ("system:print-worker", slip.id)]


def test_a_printer_that_refuses_leaves_the_job_failed_with_its_reason(ctx: Context, pat: Session, worker: Session,
                                                                      printers: FakePrinters) -> None:
    packed_order(ctx, pat)
    printers.failure = "printer offline (10.0.0.9:9100 refused the connection)"

    result = printing.send_next(ctx, worker, printers)

    assert result is not None and not result.ok
    assert result.message == "Label NOT printed: printer offline (10.0.0.9:9100 refused the connection)"
    failed = job(ctx, result.job.id)
    assert (failed.status, failed.error, failed.attempts) == (JobStatus.FAILED, printers.failure, 1)
    assert failed in printing.waiting_jobs(ctx, pat)  # shown until it prints
    with ctx.uow(readonly=True) as uow:
        assert [e.payload["reason"] for e in uow.events.for_order("SO-1") if e.kind == "print.failed"] == [printers.failure]


def test_at_start_half_sent_jobs_become_interrupted_and_are_not_resent(ctx: Context, pat: Session, worker: Session,
                                                                       printers: FakePrinters) -> None:
    packed_order(ctx, pat)
    label, slip = jobs(ctx)
    with ctx.uow() as uow:  # the station stopped while the label was on its way to the printer
        uow.print_jobs.start(label.id, ctx.clock())
        uow.commit()

    interrupted = printing.resume(ctx, worker)

    assert [(j.id, j.status) for j in interrupted] == [(label.id, JobStatus.INTERRUPTED)]
    assert "check whether it printed" in job(ctx, label.id).error
    printing.send_next(ctx, worker, printers)
    assert printing.send_next(ctx, worker, printers) is None
    assert [j.id for j in printers.sent] == [slip.id]  # the label may have printed: a lead decides


def test_a_lead_retries_a_failed_job_a_packer_cannot(ctx: Context, pat: Session, lee: Session, worker: Session,
                                                     printers: FakePrinters) -> None:
    packed_order(ctx, pat)
    printers.failure = "out of labels"
    failed = printing.send_next(ctx, worker, printers)
    assert failed is not None

    with pytest.raises(NotAllowed):
        printing.retry(ctx, pat, failed.job.id)
    printing.retry(ctx, lee, failed.job.id)

    assert job(ctx, failed.job.id).status is JobStatus.PENDING
    printers.failure = None
    assert printing.send_next(ctx, worker, printers).job.id == failed.job.id
    with pytest.raises(ValueError, match="not waiting for a retry"):
        printing.retry(ctx, lee, failed.job.id)  # printed now: a retry would print it twice


# --- reprints ---------------------------------------------------------------------------------------


def test_a_reprint_records_lead_reason_printer_and_jobs_in_one_transaction(db: FakeDatabase, ctx: Context,
                                                                           pat: Session, lead_approval: Session) -> None:
    packed_order(ctx, pat)

    outcome = packing.reprint_code(ctx, pat, lead_approval, FIRST_SSCC, "label damaged")

    assert outcome.verdict is Verdict.REPRINT_REQUESTED and "1 label(s) printing" in outcome.message
    assert db.transactions[-1] == ["print.queued", "label.reprinted"]
    (reprinted,) = [j for j in jobs(ctx) if j.id in outcome.data["jobs"]]
    assert (reprinted.kind, reprinted.reason) == ("shipping_label", "reprint: label damaged")
    with ctx.uow(readonly=True) as uow:
        (event,) = [e for e in uow.events.for_order("SO-1") if e.kind == "label.reprinted"]
    assert event.actor == "person:Lee Lead"
    assert {k: event.payload[k] for k in ("reason", "printer", "sscc", "slip", "jobs", "for")} == {
        "reason": "label damaged", "printer": "fake://label", "sscc": [FIRST_SSCC], "slip": False,
        "jobs": [reprinted.id], "for": "person:Pat Packer"}


def test_reprinting_a_packed_order_by_its_number_prints_labels_and_slip(ctx: Context, pat: Session,
                                                                        lead_approval: Session) -> None:
    packed_order(ctx, pat)
    outcome = packing.reprint_code(ctx, pat, lead_approval, "SO-1", "carrier asked")
    assert "1 label(s) and the packing slip" in outcome.message and len(outcome.data["jobs"]) == 2


def test_a_reprint_needs_a_reason(db: FakeDatabase, ctx: Context, pat: Session, lead_approval: Session) -> None:
    packed_order(ctx, pat)
    before = len(db.transactions)

    outcome = packing.reprint_code(ctx, pat, lead_approval, FIRST_SSCC, "  ")

    assert outcome.verdict is Verdict.NOT_ALLOWED and "needs a reason" in outcome.message
    assert len(db.transactions) == before


def test_a_reprint_needs_a_leads_approval(db: FakeDatabase, ctx: Context, pat: Session) -> None:
    pack = packed_order(ctx, pat)
    before = len(db.transactions)
    with pytest.raises(NotAllowed, match="A reprint needs a lead"):
        printing.reprint(ctx, pat, pat, pack, pack.cartons, "label lost", slip=False)
    assert len(db.transactions) == before


def test_nothing_to_reprint_before_a_carton_is_sealed(ctx: Context, pat: Session, lead_approval: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE)
    outcome = packing.reprint_code(ctx, pat, lead_approval, "", "label lost", pack=pack)
    assert "no sealed carton yet" in outcome.message


def test_retrying_wakes_the_worker(ctx: Context, pat: Session, lee: Session, worker: Session,
                                   printers: FakePrinters) -> None:
    packed_order(ctx, pat)
    printers.failure = "jammed"
    failed = printing.send_next(ctx, worker, printers)
    docs = ctx.documents
    assert isinstance(docs, FakeDocuments) and failed is not None
    wakes = docs.wakes
    printing.retry(ctx, lee, failed.job.id)
    assert docs.wakes == wakes + 1


def test_jobs_the_centre_holds_for_this_station_come_into_its_journal_once() -> None:
    """A use case that works on the centre (the dock's close) writes its print job there, for this
    station; take_from_centre brings it into the station's journal and marks the centre's copy done.
    A station that stopped between the two finds the centre's copy still pending: not added twice."""
    from datetime import UTC, datetime

    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    centre = FakeDatabase(central=True)
    ctx = fake_context(station_id="DOCK-01", central=centre)
    assert ctx.central is not None
    manifest = PrintJob(id="J-1", printer="document", target="fake://document", kind="manifest", ref="M-000001",
                        payload=b"%PDF manifest", reason="manifest closed")
    with ctx.central() as u:
        u.print_jobs.add(manifest, "DOCK-01", now)
        u.print_jobs.add(PrintJob(id="J-2", printer="document", target="fake://document", kind="manifest",
                                  ref="M-000002", payload=b"%PDF other"), "DOCK-02", now)  # another dock's
        u.commit()

    [taken] = printing.take_from_centre(ctx)

    assert (taken.id, taken.payload, taken.status) == ("J-1", b"%PDF manifest", JobStatus.PENDING)
    assert [j.id for j in jobs(ctx)] == ["J-1"]
    with ctx.central(readonly=True) as u:
        assert u.print_jobs.get("J-1").status is JobStatus.DONE
        assert u.print_jobs.get("J-2").status is JobStatus.PENDING
    assert printing.take_from_centre(ctx) == []

    # stopped after its own commit, before the centre's copy was marked: that copy is still pending
    with ctx.central() as u:
        u.print_jobs.add(PrintJob(id="J-3", printer="document", target="fake://document", kind="manifest",
                                  ref="M-000003", payload=b"%PDF third"), "DOCK-01", now)
        u.commit()
    with ctx.uow() as u:
        u.print_jobs.add(PrintJob(id="J-3", printer="document", target="fake://document", kind="manifest",
                                  ref="M-000003", payload=b"%PDF third"), "DOCK-01", now)
        u.commit()
    assert printing.take_from_centre(ctx) == []
    assert [j.id for j in jobs(ctx)] == ["J-1", "J-3"]
    with ctx.central(readonly=True) as u:
        assert u.print_jobs.get("J-3").status is JobStatus.DONE
