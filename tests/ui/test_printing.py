"""Labels and slips print from the window without blocking it: PDFs in the demo, ZPL over TCP,
a refusing printer keeps the job for a lead to retry, reprints need a lead and a reason."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from packstation.adapters.devices.state import Status
from packstation.bootstrap import build_station
from packstation.config import PrinterConfig
from packstation.domain.packing import Tone, Verdict
from packstation.services import reports, users
from packstation.ui.lead_view import LeadView


def scan_all_items(window, type_scan) -> None:
    model = window.pack.model
    for r in range(model.rowCount()):
        code = model.data(model.index(r, 2))
        for _ in range(int(model.data(model.index(r, 5))) - int(model.data(model.index(r, 6)))):
            out = type_scan(window, code)
            while out.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                out = type_scan(window, "2099-12-31" if out.verdict is Verdict.NEEDS_EXPIRY else f"L{r}X")
            assert out.verdict is Verdict.ACCEPTED, out.message


def test_demo_station_saves_label_and_slip_as_pdf_after_the_order(qtbot, type_scan, window, station):
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10009")
    type_scan(window, "BOX-M")
    scan_all_items(window, type_scan)
    type_scan(window, "CMD-CLOSE-CARTON")
    printer = window.controller.printer
    qtbot.waitUntil(lambda: len(printer.results) == 2, timeout=30_000)
    label, slip = sorted(printer.results, key=lambda p: p.kind != "shipping_label")
    assert label.ok and slip.ok, (label.message, slip.message)
    sscc = reports.order_status(station.ctx.uow, "SO-10009")["cartons"][0]["sscc"]
    assert label.path.read_bytes().startswith(b"%PDF") and sscc in label.path.name
    assert slip.path.read_bytes().startswith(b"%PDF")
    assert station.config.documents_dir in label.path.parents
    entry = window.status.entries["label printer"]  # the window says where the PDF went
    assert entry.text().startswith("✔ Label printer: no printer: saved as PDF")
    assert str(label.path) in entry.text() + entry.toolTip()
    assert window.band.headline.text() == "ORDER COMPLETE"  # a good print does not hide the verdict


def test_refusing_printer_keeps_the_job_and_a_lead_retries_it(qtbot, type_scan, make_window, station, tmp_path):
    from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator

    with TcpPrinterSimulator() as printer:
        config = replace(station.config, data_dir=tmp_path / "zpl",
                         label_printer=PrinterConfig(url=printer.url, language="zpl"))
        st = build_station(config)
        try:
            window = make_window(st)
            printer.set_fault("refuse")
            type_scan(window, "LEAD-001")
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
            qtbot.waitUntil(lambda: len(window.controller.printer.results) == 2, timeout=30_000)

            lead = next(u for u in users.list_users(st.ctx.uow) if u.name == "Lee Lead")
            view = LeadView(st, lead, printer=window.controller.printer)
            qtbot.addWidget(view)
            rows = [[view.jobs.item(r, c).text() for c in range(view.jobs.columnCount())]
                    for r in range(view.jobs.rowCount())]
            assert [(r[1], r[3]) for r in rows] == [("shipping_label", "failed")]
            printer.set_fault(None)
            view.jobs.selectRow(0)
            qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: view.jobs.rowCount() == 0, timeout=30_000)
            assert "Label sent to the printer" in view.message.text()
            sscc = reports.order_status(st.ctx.uow, "SO-10009")["cartons"][0]["sscc"]
            assert sscc in printer.wait_for_jobs(1)[0].decode()
            window.shutdown()
        finally:
            st.close()


def test_reprint_needs_a_lead_and_records_the_chosen_reason(qtbot, type_scan, window, station):
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10009")
    type_scan(window, "BOX-M")
    first = window.pack.model.data(window.pack.model.index(0, 2))
    assert type_scan(window, first).verdict is Verdict.ACCEPTED
    type_scan(window, "CMD-CLOSE-CARTON")
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.CARTON_CLOSED, timeout=10_000)
    printer = window.controller.printer
    qtbot.waitUntil(lambda: len(printer.results) == 1, timeout=30_000)

    assert type_scan(window, "CMD-REPRINT").verdict is Verdict.NEEDS_LEAD
    panel = window.pack.lead
    assert panel.isVisible() and "Reprint" in panel.title.text()
    item = panel.reasons.findItems("2  label lost", Qt.MatchFlag.MatchExactly)[0]
    qtbot.mouseClick(panel.reasons.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.reasons.visualItemRect(item).center())
    done = type_scan(window, "LEAD-001")
    assert done.verdict is Verdict.REPRINT_REQUESTED
    assert "label lost" in done.message and "1 label(s)" in done.message
    qtbot.waitUntil(lambda: len(printer.results) == 3, timeout=30_000)  # label + slip again
    assert all(p.ok for p in printer.results)
    events = reports.order_status(station.ctx.uow, "SO-10009")["events"]
    audit = [e for e in events if e["kind"] == "label.reprinted"]
    assert [(e["user"], e["data"]["reason"]) for e in audit] == [("Lee Lead", "label lost")]


def test_a_lead_reprints_a_sealed_cartons_label_by_scanning_it_after_the_order_is_done(
        qtbot, type_scan, window, station):
    type_scan(window, "PACKER-001")
    type_scan(window, "SO-10009")
    type_scan(window, "BOX-M")
    model = window.pack.model
    for row in range(model.rowCount()):
        code = model.data(model.index(row, 2))
        needed = int(model.data(model.index(row, 5)))
        for _ in range(needed):
            outcome = type_scan(window, code)
            answers = iter(["LOT-9", "301231", f"SN-{row}-{_}"])
            while outcome.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                outcome = type_scan(window, next(answers))
            assert outcome.verdict is Verdict.ACCEPTED, outcome.message
    type_scan(window, "CMD-CLOSE-CARTON")
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.ORDER_COMPLETE, timeout=10_000)
    printer = window.controller.printer
    qtbot.waitUntil(lambda: len(printer.results) == 2, timeout=30_000)  # label and slip
    sscc = reports.order_status(station.ctx.uow, "SO-10009")["cartons"][0]["sscc"]

    assert window.bench.session is None
    assert type_scan(window, "CMD-REPRINT").verdict is Verdict.NEEDS_LEAD
    assert type_scan(window, "LEAD-001").verdict is Verdict.NEEDS_REPRINT_TARGET
    assert window.band.headline.text() == "SCAN WHAT TO REPRINT"
    done = type_scan(window, "]C100" + sscc)  # the GS1-128 barcode on the carton's label
    assert done.verdict is Verdict.REPRINT_REQUESTED, done.message
    assert "1 label(s)" in done.message and "slip" not in done.message
    qtbot.waitUntil(lambda: len(printer.results) == 3, timeout=30_000)
    assert printer.results[-1].kind == "shipping_label" and printer.results[-1].ok
    audit = [e for e in reports.order_status(station.ctx.uow, "SO-10009")["events"] if e["kind"] == "label.reprinted"]
    assert [(e["user"], e["data"]["sscc"]) for e in audit] == [("Lee Lead", [sscc])]
