"""Labels and slips print from the window without blocking it: PDFs in the demo, ZPL over TCP,
a refusing printer keeps the job for a lead to retry, reprints need a lead and a reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt

from packstation.adapters.devices.state import Status
from packstation.bootstrap import build_station
from packstation.config import PrinterConfig
from packstation.domain.packing import Tone, Verdict
from packstation.services import reports
from packstation.ui.lead_view import LeadView

from packstation_tests_ui import answer_prompts  # isort: skip


def status_of(station, order_id: str) -> dict:
    return reports.order_status(station.ctx, station.system_session(), order_id)


def scan_all_items(window, type_scan) -> None:
    model = window.pack.model
    for r in range(model.rowCount()):
        code = model.data(model.index(r, 2))
        for _ in range(int(model.data(model.index(r, 5))) - int(model.data(model.index(r, 6)))):
            out = answer_prompts(window.station, window, type_scan, type_scan(window, code), serial=f"SN{r}")
            assert out.verdict is Verdict.ACCEPTED, out.message


def test_demo_station_saves_label_and_slip_as_pdf_after_the_order(qtbot, type_scan, window, station):
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10009")
    type_scan(window, "BOX-M")
    scan_all_items(window, type_scan)
    type_scan(window, "CMD-CLOSE-CARTON")
    results = window.controller.results
    qtbot.waitUntil(lambda: len(results) == 2, timeout=30_000)
    label, slip = sorted(results, key=lambda r: r.job.kind != "shipping_label")
    assert label.ok and slip.ok, (label.message, slip.message)
    sscc = status_of(station, "SO-10009")["cartons"][0]["sscc"]
    label_path, slip_path = Path(label.where), Path(slip.where)
    assert label_path.read_bytes().startswith(b"%PDF") and sscc in label_path.name
    assert slip_path.read_bytes().startswith(b"%PDF")
    assert station.info.documents_dir in label_path.parents
    entry = window.status.entries["label printer"]  # the window says where the PDF went
    assert entry.text().startswith("✔ Label printer: PDF saved")
    assert str(label_path) in entry.toolTip()  # the full path on hover; the entry itself stays short
    assert entry.width() == window.status.entries["scale"].width()
    assert window.band.headline.text() == "ORDER COMPLETE"  # a good print does not hide the verdict
    with station.uow(readonly=True) as uow:  # a PDF folder is a printer like any other: journaled
        assert uow.print_jobs.waiting(station.info.id) == []
    kinds = [e["kind"] for e in status_of(station, "SO-10009")["events"]]
    assert kinds.count("print.queued") == 2 and kinds.count("print.done") == 2


def test_refusing_printer_keeps_the_job_and_a_lead_retries_it(qtbot, type_scan, make_window, station, tmp_path,
                                                             login_lead):
    from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator

    with TcpPrinterSimulator() as printer:
        config = replace(station.settings.config, data_dir=tmp_path / "zpl",
                         label_printer=PrinterConfig(url=printer.url, language="zpl"))
        st = build_station(config)
        try:
            window = make_window(st)
            printer.set_fault("refuse")
            login_lead(window)
            type_scan(window, "SO-10009")
            type_scan(window, "BOX-M")
            scan_all_items(window, type_scan)
            type_scan(window, "CMD-CLOSE-CARTON")
            qtbot.waitUntil(lambda: window.band.headline.text() == "LABEL NOT PRINTED", timeout=30_000)
            assert window.band.tone is Tone.ERROR
            assert "Lead view → Print jobs" in window.band.message.text()
            assert window.status.states["label printer"].status is Status.ERROR
            # the slip (saved as PDF) is still on the print thread: let it finish, or its result
            # would land in the lead view's message after the retry below
            qtbot.waitUntil(lambda: len(window.controller.results) == 2, timeout=30_000)

            view = LeadView(st, window.terminal.session, controller=window.controller)
            qtbot.addWidget(view)
            rows = [[view.jobs.item(r, c).text() for c in range(view.jobs.columnCount())]
                    for r in range(view.jobs.rowCount())]
            assert [(r[1], r[3]) for r in rows] == [("shipping_label", "failed")]
            printer.set_fault(None)
            view.jobs.selectRow(0)
            qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)
            # the job may be done (the table empty) a moment before its result reaches the window
            qtbot.waitUntil(lambda: view.jobs.rowCount() == 0 and "Label sent to the printer" in view.message.text(),
                            timeout=30_000)
            sscc = status_of(st, "SO-10009")["cartons"][0]["sscc"]
            assert sscc in printer.wait_for_jobs(1)[0].decode()
            assert len(printer.wait_for_jobs(1)) == 1  # printed once: the refused attempt sent nothing
            window.shutdown()
        finally:
            st.close()


def test_reprint_needs_a_lead_and_records_the_chosen_reason(qtbot, type_scan, window, station, approve):
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10009")
    type_scan(window, "BOX-M")
    first = window.pack.model.data(window.pack.model.index(0, 2))
    assert type_scan(window, first).verdict is Verdict.ACCEPTED
    type_scan(window, "CMD-CLOSE-CARTON")
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.CARTON_CLOSED, timeout=10_000)
    results = window.controller.results
    qtbot.waitUntil(lambda: len(results) == 1, timeout=30_000)

    assert type_scan(window, "CMD-REPRINT").verdict is Verdict.NEEDS_REASON
    panel = window.pack.lead
    assert panel.isVisible() and "Reprint" in panel.title.text()
    item = panel.reasons.findItems("2  label lost", Qt.MatchFlag.MatchExactly)[0]
    qtbot.mouseClick(panel.reasons.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.reasons.visualItemRect(item).center())
    done = approve(window, reason=None)
    assert done.verdict is Verdict.REPRINT_REQUESTED
    # mid-order: the sealed carton's label only; no slip (it would call unpacked items "not shipped")
    assert "label lost" in done.message and "1 label(s)" in done.message and "slip" not in done.message
    qtbot.waitUntil(lambda: len(results) == 2, timeout=30_000)
    assert all(r.ok for r in results) and results[-1].job.kind == "shipping_label"
    assert Path(results[0].where) != Path(results[1].where)  # the reprint did not overwrite the first PDF
    assert Path(results[0].where).exists()
    events = status_of(station, "SO-10009")["events"]
    audit = [e for e in events if e["kind"] == "label.reprinted"]
    assert [(e["actor"], e["data"]["reason"]) for e in audit] == [("person:Lee Lead", "label lost")]
    assert audit[0]["data"]["printer"] == "folder:labels" and len(audit[0]["data"]["jobs"]) == 1


def test_a_lead_reprints_a_sealed_cartons_label_by_scanning_it_after_the_order_is_done(
        qtbot, type_scan, window, station, approve):
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10009")
    type_scan(window, "BOX-M")
    scan_all_items(window, type_scan)
    type_scan(window, "CMD-CLOSE-CARTON")
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=10_000)
    results = window.controller.results
    qtbot.waitUntil(lambda: len(results) == 2, timeout=30_000)  # label and slip
    sscc = status_of(station, "SO-10009")["cartons"][0]["sscc"]

    assert window.controller.bench.pack is None
    assert type_scan(window, "CMD-REPRINT").verdict is Verdict.NEEDS_REASON
    assert approve(window, "3").verdict is Verdict.NEEDS_REPRINT_TARGET  # reason 3: printer jammed
    assert window.band.headline.text() == "SCAN WHAT TO REPRINT"
    done = type_scan(window, "]C100" + sscc)  # the GS1-128 barcode on the carton's label
    assert done.verdict is Verdict.REPRINT_REQUESTED, done.message
    assert "1 label(s)" in done.message and "slip" not in done.message
    qtbot.waitUntil(lambda: len(results) == 3, timeout=30_000)
    assert results[-1].job.kind == "shipping_label" and results[-1].ok
    audit = [e for e in status_of(station, "SO-10009")["events"] if e["kind"] == "label.reprinted"]
    assert [(e["actor"], e["data"]["sscc"], e["data"]["reason"]) for e in audit] == [
        ("person:Lee Lead", [sscc], "printer jammed")]


def test_the_window_keeps_only_the_latest_print_results_not_every_document_of_the_shift(window):
    """Each result holds its job's document bytes: a window that kept them all grew by ~100 KB an
    order (bench/bench_ui.py memory: +48 MiB over 500 orders before, +7 MiB after)."""
    from packstation.domain.print_jobs import PrintJob
    from packstation.services.printing import JobResult
    from packstation.ui.controller import RECENT_PRINT_RESULTS

    window.controller.results.clear()
    for n in range(RECENT_PRINT_RESULTS + 30):
        job = PrintJob(id=f"job-{n}", printer="document", target="file:///dev/null", kind="packing_slip",
                       ref=f"SO-{n}", payload=b"%PDF" + b"x" * 50_000, reason="bench")
        window.controller.relay_printed(JobResult(job, where=f"/tmp/SO-{n}.pdf"))
    results = list(window.controller.results)
    assert len(results) == RECENT_PRINT_RESULTS
    assert [r.job.ref for r in results][-1] == f"SO-{RECENT_PRINT_RESULTS + 29}"  # the newest kept
    assert results[0].job.ref == "SO-30"  # the oldest dropped
