"""Printing in the flow: a seal writes its print jobs in its own transaction, the print worker
sends them to a real (simulated) TCP printer or writes them to the PDF folder."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest
import sqlalchemy as sa

from packstation import demo
from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator
from packstation.bootstrap import Station, build_station
from packstation.config import Config, PrinterConfig, StationConfig
from packstation.domain.packing import Verdict
from packstation.domain.print_jobs import JobStatus, PrintJob
from packstation.services import printing
from packstation.services.auth import NotAllowed
from packstation.services.packing import reprint_code
from packstation.services.ports import StorageError
from packstation.services.terminal import Terminal


def _need(tool: str, package: str) -> str:
    """The path of *tool*; a missing tool fails the test (scripts/setup installs it)."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing; install the Debian package {package} (scripts/setup does)")
    return path


def _station(tmp_path: Path, station_id: str = "BENCH-T", **printers: PrinterConfig) -> Station:
    config = Config(station=StationConfig(id=station_id, demo=True), data_dir=tmp_path, **printers)
    return build_station(config)


def _lead(station: Station) -> Any:
    return hf.person(station, "LEAD-001", demo.DEMO_LEAD_PIN)


def _answers(station: Station, product: Any, n: int) -> list[str]:
    """What the prompts of one unit of *product* get: a lot the stock knows, an expiry, a serial."""
    with station.uow(readonly=True) as uow:
        lots = [lot for lot in uow.catalog.lots(product.sku) if lot.expiry is None or lot.expiry.year > 2026]
    return [lots[-1].lot if lots else "LOT1", "301231", f"SN-{product.sku}-{n}"]


def _pack_lines(station: Station, bench: Terminal, lines: list[Any]) -> None:
    pack = hf.pack_of(bench)
    for line in lines:
        product = pack.products[line.sku]
        for n in range(line.qty):
            out = bench.scan(product.barcodes[0])
            answers = iter(_answers(station, product, n))
            while out.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                out = bench.scan(next(answers))
            assert out.verdict is Verdict.ACCEPTED, out.message


def _seal(bench: Terminal, expected: Verdict) -> Any:
    pack = hf.pack_of(bench)
    assert bench.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    carton = pack.open_carton
    done = hf.close_with_weight(bench, pack.expected_weight(carton))
    assert done.verdict is expected, done.message
    return carton, done


def _pack_one_carton(station: Station, order_id: str = "SO-10002"):  # type: ignore[no-untyped-def]
    """Pack a whole demo order into one carton by scans; return the packed session, the carton, the seal."""
    bench = hf.login(station, "PACKER-001")
    assert bench.scan(order_id).verdict is Verdict.ORDER_OPENED
    pack = hf.pack_of(bench)
    assert bench.scan("BOX-L").verdict is Verdict.CARTON_OPENED
    _pack_lines(station, bench, pack.order.lines)
    carton, done = _seal(bench, Verdict.ORDER_COMPLETE)
    return pack, carton, done


def _jobs(station: Station) -> list[dict[str, Any]]:
    return hf.rows(station, "print_jobs", order_by="created_at")


def test_without_printers_documents_are_saved_as_pdf_and_journaled(tmp_path: Path) -> None:
    station = _station(tmp_path)
    pack, carton, sealed = _pack_one_carton(station)
    # the seal's own transaction wrote both jobs: nothing is printed yet, nothing can be lost
    assert [(j["kind"], j["target"], j["status"]) for j in _jobs(station)] == [
        ("shipping_label", "folder:labels", "pending"), ("packing_slip", "folder:slips", "pending")]
    assert [j["id"] for j in _jobs(station)] == sealed.data["jobs"]
    results = station.print_worker.drain()
    assert [r.ok for r in results] == [True, True]
    label, slip = (Path(r.where) for r in results)
    assert label.parent == tmp_path / "documents" / "labels" and slip.parent == tmp_path / "documents" / "slips"
    assert label.read_bytes().startswith(b"%PDF") and slip.read_bytes().startswith(b"%PDF")
    assert str(label) in results[0].message and "no printer configured" in results[0].message
    assert [j["status"] for j in _jobs(station)] == ["done", "done"]
    kinds = hf.event_kinds(station, pack.order.order_id)
    assert kinds.count("print.queued") == 2 and kinds.count("print.done") == 2
    [done] = [e for e in hf.rows(station, "events", order_by="seq") if e["kind"] == "print.done"][:1]
    assert json.loads(done["payload"])["where"] == str(label) and done["actor"] == "system:print-worker"
    # the GS1-128 SSCC barcode reads back: AI (00) and the carton's SSCC
    pdftoppm, zbarimg = _need("pdftoppm", "poppler-utils"), _need("zbarimg", "zbar-tools")
    subprocess.run([pdftoppm, "-r", "300", "-png", str(label), str(tmp_path / "label")], check=True)
    decoded = subprocess.run([zbarimg, "-q", str(tmp_path / "label-1.png")], capture_output=True, text=True)
    assert decoded.returncode == 0, decoded.stderr  # 4 would mean: no barcode found
    assert f"CODE-128:00{carton.sscc}" in decoded.stdout.splitlines()
    station.close()


def test_label_goes_through_the_journal_to_the_printer(tmp_path: Path) -> None:
    with TcpPrinterSimulator() as printer:
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        pack, carton, _ = _pack_one_carton(station)
        assert printer.jobs == []  # sealed: the job waits for the worker
        results = station.print_worker.drain()
        assert all(r.ok for r in results), [r.message for r in results]
        jobs = printer.wait_for_jobs(1)
        assert len(jobs) == 1 and carton.sscc in jobs[0].decode() and b"^XA" in jobs[0]
        assert [(r["status"], r["kind"], r["target"]) for r in _jobs(station)] == [
            ("done", "shipping_label", printer.url), ("done", "packing_slip", "folder:slips")]
        kinds = hf.event_kinds(station, pack.order.order_id)
        assert "print.queued" in kinds and "print.done" in kinds
        station.close()


def test_printer_off_keeps_the_job_and_a_lead_retry_prints_it(tmp_path: Path) -> None:
    printer = TcpPrinterSimulator()
    station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
    pack, carton, _ = _pack_one_carton(station)
    printer.set_fault("refuse")
    failed = next(r for r in station.print_worker.drain() if r.job.kind == "shipping_label")
    assert not failed.ok and "NOT printed" in failed.message and "refused the connection" in failed.message
    waiting = printing.waiting_jobs(station.ctx, hf.person(station, "PACKER-001"))
    assert [(j.id, j.status) for j in waiting] == [(failed.job.id, JobStatus.FAILED)]
    # a new station object (e.g. after a restart) still sees the job, and a lead retries it
    station.close()
    station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
    printer.set_fault(None)
    with pytest.raises(NotAllowed):
        printing.retry(station.ctx, hf.person(station, "PACKER-001"), failed.job.id)
    printing.retry(station.ctx, _lead(station), failed.job.id)
    [retried] = station.print_worker.drain()
    assert retried.ok, retried.message
    assert carton.sscc in printer.wait_for_jobs(1)[0].decode()
    assert printing.waiting_jobs(station.ctx, _lead(station)) == []
    assert [e for e in hf.event_kinds(station, pack.order.order_id) if e.startswith("print.")] == [
        "print.queued", "print.queued", "print.failed", "print.done", "print.retried", "print.done"]
    printer.stop()
    station.close()


def test_reprint_needs_a_lead_and_a_reason_and_is_audited(tmp_path: Path) -> None:
    station = _station(tmp_path)
    pack, carton, _ = _pack_one_carton(station)
    packer = hf.person(station, "PACKER-001")
    lead = _lead(station)
    with pytest.raises(NotAllowed, match="lead"):
        reprint_code(station.ctx, packer, packer, carton.sscc, "label damaged")
    refused = reprint_code(station.ctx, packer, lead, carton.sscc, " ")
    assert refused.verdict is Verdict.NOT_ALLOWED and "reason" in refused.message
    one = reprint_code(station.ctx, packer, lead, "00" + carton.sscc, "label damaged")
    assert one.verdict is Verdict.REPRINT_REQUESTED and "1 label(s)" in one.message and "slip" not in one.message
    whole = reprint_code(station.ctx, packer, lead, pack.order.order_id, "label lost")
    assert "1 label(s) and the packing slip" in whole.message
    audit = [e for e in hf.rows(station, "events", order_by="seq") if e["kind"] == "label.reprinted"]
    data = [json.loads(e["payload"]) for e in audit]
    assert [(e["actor"], d["reason"], d["printer"], d["sscc"], d["slip"]) for e, d in zip(audit, data, strict=True)] == [
        ("person:Lee Lead", "label damaged", "folder:labels", [carton.sscc], False),
        ("person:Lee Lead", "label lost", "folder:labels", [carton.sscc], True)]
    assert [d["jobs"] for d in data] == [one.data["jobs"], whole.data["jobs"]]
    assert all(d["for"] == "person:Pat Packer" for d in data)
    station.close()


def test_printer_config_errors_are_reported_not_raised(tmp_path: Path) -> None:
    station = _station(tmp_path, label_printer=PrinterConfig(url="bogus://x", language="zpl"))
    _pack_one_carton(station)
    label = next(r for r in station.print_worker.drain() if r.job.kind == "shipping_label")
    assert not label.ok and "not understood" in label.error
    assert [j["status"] for j in _jobs(station) if j["kind"] == "shipping_label"] == ["failed"]
    station.close()


def _query_only(station: Station) -> None:
    def pragma(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    engine = hf.engine_of(station)
    sa.event.listen(engine, "connect", pragma)
    engine.dispose()


def test_a_seal_the_database_refuses_writes_no_job_and_prints_nothing(tmp_path: Path) -> None:
    """(Was: a label the journal cannot record is not sent.) The job is part of the seal: no seal, no job."""
    with TcpPrinterSimulator() as printer:
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        bench = hf.login(station, "PACKER-001")
        assert bench.scan("SO-10002").verdict is Verdict.ORDER_OPENED
        assert bench.scan("BOX-L").verdict is Verdict.CARTON_OPENED
        _pack_lines(station, bench, hf.pack_of(bench).order.lines)
        _query_only(station)
        assert bench.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
        pack = hf.pack_of(bench)
        out = hf.close_with_weight(bench, pack.expected_weight(pack.open_carton))
        assert out.verdict is Verdict.STORAGE_FAILED and "read-only" in out.message
        station.close()
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        assert _jobs(station) == [] and station.print_worker.drain() == []
        assert printer.jobs == []  # never sent: so never printed twice by a later reprint
        station.close()


class _ThenReadOnly(printing.Printers):
    """Sends the job, then the station's database refuses every write (as a disk filling up)."""

    def __init__(self, station: Station) -> None:
        self.station, self.sent = station, 0

    def send(self, job: PrintJob) -> str:
        where = self.station.printers.send(job)
        self.sent += 1
        _query_only(self.station)
        return where


def test_a_label_that_printed_is_not_reported_failed_when_marking_it_done_fails(tmp_path: Path) -> None:
    with TcpPrinterSimulator() as printer:
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        _, carton, _ = _pack_one_carton(station)
        station.print_worker.printers = _ThenReadOnly(station)
        with pytest.raises(StorageError):  # the worker retries later; the job was not marked
            station.print_worker.drain()
        assert carton.sscc in printer.wait_for_jobs(1)[0].decode()
        station.close()
        station = _station(tmp_path, label_printer=PrinterConfig(url=printer.url, language="zpl"))
        [label] = [j for j in _jobs(station) if j["kind"] == "shipping_label"]
        assert label["status"] == "sending"  # never 'failed': it did print
        station.print_worker.resume()
        assert [j["status"] for j in _jobs(station)] == ["interrupted", "pending"]  # a lead checks it
        assert "print.failed" not in hf.event_kinds(station)
        station.close()


def test_a_label_printed_before_the_last_carton_does_not_claim_a_total(tmp_path: Path) -> None:
    from packstation.services.documents import label_data

    station = _station(tmp_path)
    bench = hf.login(station, "PACKER-001")
    order = next(o["order_id"] for o in demo.orders(demo.catalog())
                 if len(o["lines"]) > 1 and o["payment"]["status"] == "paid")
    assert bench.scan(order).verdict is Verdict.ORDER_OPENED
    pack = hf.pack_of(bench)
    frm = station.ctx.documents.ship_from
    bench.scan("BOX-L")
    _pack_lines(station, bench, pack.order.lines[:1])
    first, _ = _seal(bench, Verdict.CARTON_CLOSED)
    early = label_data(pack, first, frm, company_prefix_length=7)
    assert early.carton_of == "1" and early.carton_count is None  # more cartons may follow
    bench.scan("BOX-L")
    _pack_lines(station, bench, pack.order.lines[1:])
    last, _ = _seal(bench, Verdict.ORDER_COMPLETE)
    assert label_data(pack, last, frm, company_prefix_length=7).carton_of == "2 of 2"
    assert label_data(pack, first, frm, company_prefix_length=7).carton_of == "1 of 2"  # a reprint
    results = station.print_worker.drain()
    assert [r.job.kind for r in results] == ["shipping_label", "shipping_label", "packing_slip"]
    assert all(r.ok and order in Path(r.where).name for r in results)
    station.close()


def test_each_bench_sees_only_its_own_waiting_jobs(tmp_path: Path) -> None:
    station = _station(tmp_path)
    other = _station(tmp_path, "BENCH-B")
    ids = []
    for st in (station, other):
        with st.uow() as uow:
            job = printing.add_job(uow, st.ctx, st.system_session(), PrintJob(
                id="", printer="label", target="tcp://127.0.0.1:9", kind="shipping_label", ref="SO-1/0",
                payload=b"^XA^XZ"))
            uow.commit()
        ids.append(job.id)
    assert [j.id for j in printing.waiting_jobs(station.ctx, _lead(station))] == [ids[0]]
    assert [j.id for j in printing.waiting_jobs(other.ctx, _lead(other))] == [ids[1]]
    other.close()
    station.close()
