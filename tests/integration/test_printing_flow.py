"""Printing in the flow: labels and slips go through the journal to a real (simulated) TCP printer."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from packstation.adapters.devices.printing import MemoryJournal
from packstation.printing import OutputDesk
from sqlalchemy import select

from packstation.adapters.db import tables as t
from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator
from packstation.bootstrap import Station, build_station
from packstation.config import Config, PrinterConfig, StationConfig
from packstation.domain.packing import Verdict
from packstation.services.packing import OrderRefused, plan_reprint
from packstation.services.ports import StorageError
from packstation.services.users import find_by_badge


def _need(tool: str, package: str) -> str:
    """The path of *tool*; a missing tool fails the test (scripts/setup installs it)."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing; install the Debian package {package} (scripts/setup does)")
    return path


def _station(tmp_path: Path, **printers: PrinterConfig) -> Station:
    config = Config(station=StationConfig(id="BENCH-T", demo=True), data_dir=tmp_path, **printers)
    return build_station(config)


def _pack_one_carton(station: Station, order_id: str = "SO-10002"):  # type: ignore[no-untyped-def]
    """Pack a whole demo order into one carton by scans; return the sealed session and carton."""
    bench = station.bench()
    assert bench.scan("PACKER-001").verdict is Verdict.LOGGED_IN
    assert bench.scan(order_id).verdict is Verdict.ORDER_OPENED
    session = bench.session
    assert bench.scan("BOX-L").verdict is Verdict.CARTON_OPENED
    for line in session.order.lines:
        product = session.products[line.sku]
        for n in range(line.qty):
            out = bench.scan(product.barcodes[0])
            answers = iter(["LOT1", "301231", f"SN-{line.sku}-{n}"])
            while out.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                out = bench.scan(next(answers))
            assert out.verdict is Verdict.ACCEPTED, out.message
    assert bench.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    carton = session.open_carton
    done = bench.close_with_weight(session.expected_weight(carton))
    assert done.verdict is Verdict.ORDER_COMPLETE, done.message
    return session, carton


def test_without_printers_documents_are_saved_as_pdf(tmp_path: Path) -> None:
    station = _station(tmp_path)
    session, carton = _pack_one_carton(station)
    desk = station.output_desk()
    label = desk.label(session, carton)
    slip = desk.packing_slip(session)
    assert label.ok and slip.ok
    assert label.path is not None and label.path.read_bytes().startswith(b"%PDF")
    assert slip.path is not None and slip.path.read_bytes().startswith(b"%PDF")
    assert str(label.path) in label.message
    # the GS1-128 SSCC barcode reads back: AI (00) and the carton's SSCC
    pdftoppm, zbarimg = _need("pdftoppm", "poppler-utils"), _need("zbarimg", "zbar-tools")
    subprocess.run([pdftoppm, "-r", "300", "-png", str(label.path), str(tmp_path / "label")], check=True)
    decoded = subprocess.run([zbarimg, "-q", str(tmp_path / "label-1.png")], capture_output=True, text=True)
    assert decoded.returncode == 0, decoded.stderr  # 4 would mean: no barcode found
    assert f"CODE-128:00{carton.sscc}" in decoded.stdout.splitlines()
    station.close()


def test_label_goes_through_the_journal_to_the_printer(tmp_path: Path) -> None:
    with TcpPrinterSimulator() as printer:
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        session, carton = _pack_one_carton(station)
        result = station.output_desk().label(session, carton)
        assert result.ok, result.message
        jobs = printer.wait_for_jobs(1)
        assert carton.sscc in jobs[0].decode()
        assert b"^XA" in jobs[0]
        with station.uow(readonly=True) as uow:
            rows = uow.conn.execute(select(t.print_jobs)).mappings().all()
            kinds = [e["kind"] for e in uow.events_for(session.order.order_id)]
        assert [(r["status"], r["kind"]) for r in rows] == [("done", "shipping_label")]
        assert "print.queued" in kinds and "print.done" in kinds
        station.close()


def test_printer_off_keeps_the_job_and_a_retry_prints_it(tmp_path: Path) -> None:
    printer = TcpPrinterSimulator()
    station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
    session, carton = _pack_one_carton(station)
    printer.set_fault("refuse")
    desk = station.output_desk()
    failed = desk.label(session, carton)
    assert not failed.ok and failed.job_id
    assert "NOT printed" in failed.message
    pending = desk.journal.pending()
    assert [j.id for j in pending] == [failed.job_id] and pending[0].status == "failed"
    # a new station object (e.g. after a restart) still sees the job and can retry it
    station.close()
    station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
    printer.set_fault(None)
    retried = station.output_desk().retry(failed.job_id)
    assert retried.ok, retried.message
    assert carton.sscc in printer.wait_for_jobs(1)[0].decode()
    assert station.output_desk().journal.pending() == []
    printer.stop()
    station.close()


def test_reprint_needs_a_lead_and_a_reason_and_is_audited(tmp_path: Path) -> None:
    station = _station(tmp_path)
    session, carton = _pack_one_carton(station)
    with station.uow(readonly=True) as uow:
        packer = find_by_badge(uow, "PACKER-001")
        lead = find_by_badge(uow, "LEAD-001")
    with pytest.raises(OrderRefused, match="not a lead"):
        plan_reprint(station.ctx, carton.sscc, packer, "label damaged", "label")
    with pytest.raises(OrderRefused, match="reason"):
        plan_reprint(station.ctx, carton.sscc, lead, " ", "label")
    plan = plan_reprint(station.ctx, "00" + carton.sscc, lead, "label damaged", "label")
    assert [c.sscc for c in plan.cartons] == [carton.sscc] and not plan.slip
    whole = plan_reprint(station.ctx, session.order.order_id, lead, "label lost", "label")
    assert whole.slip and [c.sscc for c in whole.cartons] == [carton.sscc]
    with station.uow(readonly=True) as uow:
        audit = [e for e in uow.events_for(session.order.order_id) if e["kind"] == "label.reprinted"]
    assert [(e["user"], e["data"]["reason"], e["data"]["printer"]) for e in audit] == [
        ("Lee Lead", "label damaged", "label"), ("Lee Lead", "label lost", "label")]
    # serialisable for the lead view and the central sync: JSON gives back exactly what was stored
    assert json.loads(json.dumps(audit)) == audit
    station.close()


def test_printer_config_errors_are_reported_not_raised(tmp_path: Path) -> None:
    station = _station(tmp_path, label_printer=PrinterConfig(url="bogus://x", language="zpl"))
    session, carton = _pack_one_carton(station)
    result = station.output_desk().label(session, carton)
    assert not result.ok and "not understood" in (result.error or "")
    station.close()



class _BrokenJournal(MemoryJournal):
    """A journal whose database refuses writes (read-only or full disk)."""

    def __init__(self, fail: str) -> None:
        super().__init__()
        self.fail = fail

    def record(self, printer: str, kind: str, payload: bytes, ref: str) -> str:
        if self.fail == "record":
            raise StorageError("The disk is full. Ask IT to free space on this station.")
        return super().record(printer, kind, payload, ref)

    def mark_done(self, job_id: str) -> None:
        if self.fail == "mark_done":
            raise StorageError("The database is busy. Scan again in a moment.")
        super().mark_done(job_id)


def test_a_label_the_journal_cannot_record_is_not_sent_and_says_so(tmp_path: Path) -> None:
    with TcpPrinterSimulator() as printer:
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        session, carton = _pack_one_carton(station)
        result = OutputDesk(station.config, _BrokenJournal("record")).label(session, carton)
        assert not result.ok and not result.kept
        assert "could not be recorded" in result.message and "disk is full" in result.message
        assert printer.jobs == []  # never sent: so never printed twice by a later reprint
        station.close()


def test_a_label_that_printed_is_not_reported_failed_when_marking_it_done_fails(tmp_path: Path) -> None:
    with TcpPrinterSimulator() as printer:
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        session, carton = _pack_one_carton(station)
        result = OutputDesk(station.config, _BrokenJournal("mark_done")).label(session, carton)
        assert result.ok, result.message
        assert carton.sscc in printer.wait_for_jobs(1)[0].decode()
        station.close()


def test_a_label_printed_before_the_last_carton_does_not_claim_a_total(tmp_path: Path) -> None:
    from packstation.printing import ship_from

    from packstation.services.documents import label_data

    station = _station(tmp_path)
    bench = station.bench()
    bench.scan("PACKER-001")
    from packstation import demo

    order = next(o["order_id"] for o in demo.orders(demo.catalog())
                 if len(o["lines"]) > 1 and o["payment"]["status"] == "paid")
    assert bench.scan(order).verdict is Verdict.ORDER_OPENED
    session = bench.session

    def pack_line(line):  # type: ignore[no-untyped-def]
        product = session.products[line.sku]
        for n in range(line.qty):
            out = bench.scan(product.barcodes[0])
            answers = iter(["LOT1", "301231", f"SN-{line.sku}-{n}"])
            while out.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                out = bench.scan(next(answers))
            assert out.verdict is Verdict.ACCEPTED, out.message

    def seal(expected):  # type: ignore[no-untyped-def]
        assert bench.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
        carton = session.open_carton
        assert bench.close_with_weight(session.expected_weight(carton)).verdict is expected
        return carton

    frm = ship_from(station.config)
    bench.scan("BOX-L")
    pack_line(session.order.lines[0])
    first = seal(Verdict.CARTON_CLOSED)
    early = label_data(session, first, frm, company_prefix_length=7)
    assert early.carton_of == "1" and early.carton_count is None  # more cartons may follow
    bench.scan("BOX-L")
    for line in session.order.lines[1:]:
        pack_line(line)
    last = seal(Verdict.ORDER_COMPLETE)
    assert label_data(session, last, frm, company_prefix_length=7).carton_of == "2 of 2"
    assert label_data(session, first, frm, company_prefix_length=7).carton_of == "1 of 2"  # a reprint
    pdf = station.output_desk().label(session, first)
    assert pdf.ok and order in str(pdf.path)
    station.close()


def test_each_bench_sees_and_retries_only_its_own_failed_jobs(tmp_path: Path) -> None:
    from dataclasses import replace

    from packstation.adapters.db.print_journal import SqlPrintJournal

    station = _station(tmp_path)
    other = build_station(replace(station.config, station=replace(station.config.station, id="BENCH-B")))
    mine = SqlPrintJournal(station.engine, "BENCH-T")
    theirs = SqlPrintJournal(other.engine, "BENCH-B")
    job_a = mine.record("label", "shipping_label", b"^XA^XZ", "SO-1/0")
    job_b = theirs.record("label", "shipping_label", b"^XA^XZ", "SO-2/0")
    mine.mark_failed(job_a, "printer off")
    theirs.mark_failed(job_b, "printer off")
    assert [j.id for j in mine.pending()] == [job_a]
    assert [j.id for j in theirs.pending()] == [job_b]
    other.close()
    station.close()
