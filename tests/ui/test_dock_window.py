"""The dispatch dock in the station window (pytest-qt): typed scans, the page, the band, the sounds,
a split approved on the spot with the lead's PIN on the keypad."""

from __future__ import annotations

from PySide6.QtCore import Qt

from packstation.demo import DEMO_LEAD_PIN, plain_orders
from packstation.domain.packing import Verdict
from packstation.services.reports import order_status
from packstation.ui.sounds import VERDICT_PATTERNS


def pack_plain_orders(station, carrier: str, count: int, cartons: int = 2) -> list[str]:
    """Pack *count* demo orders of *carrier* whose products need no lot or serial, in *cartons* cartons."""
    terminal = station.terminal()
    terminal.scan("PACKER-001")
    packed = []
    with station.uow(readonly=True) as uow:
        candidates = [(order.order_id, products) for order, products in plain_orders(uow, carrier, min_lines=cartons)]
    for order_id, products in candidates[:count]:
        terminal.scan(order_id)
        pack = terminal.handler.pack
        lines = list(pack.order.lines)
        for n, line in enumerate(lines):
            if n < cartons:
                if n:
                    terminal.scan("CMD-CLOSE-CARTON")
                    terminal.handler.close_with_weight(pack.expected_weight(pack.open_carton))
                terminal.scan("BOX-XL")
            for _ in range(line.qty):
                assert terminal.scan(products[line.sku].barcodes[0]).verdict is Verdict.ACCEPTED
        terminal.scan("CMD-CLOSE-CARTON")
        out = terminal.handler.close_with_weight(pack.expected_weight(pack.open_carton))
        assert out.verdict is Verdict.ORDER_COMPLETE or out.data.get("order_complete"), out.message
        packed.append(order_id)
    terminal.logout()
    assert len(packed) == count
    return packed


def type_scan(qtbot, window, code: str) -> None:
    window.scan_edit.clear()
    qtbot.keyClicks(window.scan_edit, code)
    qtbot.keyClick(window.scan_edit, Qt.Key.Key_Return)


def ssccs(station, order_id: str) -> list[str]:
    return [c["sscc"] for c in order_status(station.ctx, station.system_session(), order_id)["cartons"]]


def test_the_dock_page_loads_refuses_and_closes_with_a_lead_approving_a_split(qtbot, make_window, station):
    [second] = pack_plain_orders(station, "DHL", 1, cartons=2)
    [first] = pack_plain_orders(station, "DHL", 1, cartons=1)
    window = make_window(install_wedge=False)
    type_scan(qtbot, window, "DISPATCH-001")
    assert window.pages.currentWidget() is window.dock
    assert window.user_label.text().endswith("Dispatch dock")
    type_scan(qtbot, window, "CARRIER-DHL")
    assert window.band.headline.text() == "DHL — MANIFEST OPEN"
    for sscc in ssccs(station, first) + ssccs(station, second)[:1]:
        type_scan(qtbot, window, sscc)
        assert window.band.headline.text() == "LOADED"
    assert window.dock.cartons.rowCount() == 2
    assert window.dock.cartons.item(0, 1).text() == ssccs(station, second)[0]  # the last loaded on top
    assert "Not whole yet: 1 order(s)" in window.dock.missing_title.text()
    # at the screenshots' 1400 x 900 every column of the carton table shows whole (no scrolling)
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.width() == 1400)
    table = window.dock.cartons
    header = table.horizontalHeader()
    needed = sum(table.sizeHintForColumn(c) for c in range(table.columnCount()))
    assert needed <= table.viewport().width(), (needed, table.viewport().width())
    assert header.sectionSize(table.columnCount() - 1) >= table.sizeHintForColumn(table.columnCount() - 1)
    # a refused scan: its own headline, tone and sound
    type_scan(qtbot, window, "006141419999999997")
    assert window.band.headline.text() == "UNKNOWN CODE" and window.band.verdict is Verdict.UNKNOWN_CODE
    assert window.sounds.played_verdicts[-2:] == [Verdict.CARTON_LOADED, Verdict.UNKNOWN_CODE]
    assert Verdict.UNKNOWN_CODE in VERDICT_PATTERNS and Verdict.WRONG_CARRIER in VERDICT_PATTERNS
    type_scan(qtbot, window, ssccs(station, first)[0])
    assert window.band.headline.text() == "ALREADY LOADED" and window.dock.cartons.rowCount() == 2
    # closing with a carton of the second order missing: the reasons appear; a lead approves
    type_scan(qtbot, window, "CMD-CLOSE-MANIFEST")
    assert window.band.headline.text() == "ORDERS WOULD BE SPLIT"
    assert window.dock.reasons.isVisible()
    qtbot.mouseClick(window.dock.reason_buttons[1], Qt.MouseButton.LeftButton)  # "carton missing at the dock"
    assert window.controller.last.verdict is Verdict.NEEDS_LEAD
    type_scan(qtbot, window, "LEAD-001")
    assert window.approval.isVisible()
    qtbot.keyClicks(window.approval.pin, DEMO_LEAD_PIN)
    qtbot.keyClick(window.approval.pin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.MANIFEST_CLOSED, timeout=10_000)
    assert window.band.headline.text() == "MANIFEST M-000001 CLOSED"
    assert "carton missing at the dock" in window.band.message.text()
    assert window.dock.cartons.rowCount() == 0 and "No manifest open" in window.dock.summary.text()
    assert order_status(station.ctx, station.system_session(), first)["status"] == "handed_over"


def test_a_cancelled_order_shows_at_the_dock_to_be_pulled(qtbot, make_window, station):
    from packstation.services.orders import cancel_order

    [order_id] = pack_plain_orders(station, "UPS", 1, cartons=1)
    cancel_order(station.ctx, station.system_session(), order_id, "customer cancelled")
    window = make_window(install_wedge=False)
    type_scan(qtbot, window, "DISPATCH-001")
    assert window.dock.pull_frame.isVisible()
    assert order_id in window.dock.pull_list.text() and "cancelled" in window.dock.pull_list.text()
    type_scan(qtbot, window, "CARRIER-UPS")
    type_scan(qtbot, window, ssccs(station, order_id)[0])
    assert window.band.verdict is Verdict.ORDER_PULLED and window.band.headline.text() == "PULL — ORDER CANCELLED"
    assert not window.dock.pull_frame.isVisible()  # pulled: recorded, off the list


def test_the_lead_view_lists_carrier_labels_not_created_and_asks_again(qtbot, tmp_path):
    """A carrier that refuses at the seal: the label request is listed for the lead and retried."""
    from packstation.bootstrap import build_station
    from packstation.config import CarrierConfig, Config, StationConfig
    from packstation.ui.lead_view import LeadView

    refusing = CarrierConfig(code="DHL", connector="simulated", simulate="error")
    station = build_station(Config(station=StationConfig(demo=True), data_dir=tmp_path, carriers=(refusing,)))
    try:
        [order_id] = pack_plain_orders(station, "DHL", 1, cartons=1)
        lead = station.ctx.auth.login("LEAD-001", DEMO_LEAD_PIN)
        view = LeadView(station, lead)
        qtbot.addWidget(view)
        assert view.labels.rowCount() == 1
        assert view.labels.item(0, 1).text() == order_id and "could not be verified" in view.labels.item(0, 7).text()
        station.ctx.carriers.for_carrier("DHL").cfg = CarrierConfig(code="DHL", connector="simulated")  # DHL is back
        view.labels.selectRow(0)
        view.retry_label_selected()  # asked on the pool (tests/ui/test_carrier_async.py): the answer comes back here
        qtbot.waitUntil(lambda: "label created" in view.message.text(), timeout=10_000)
        assert view.labels.rowCount() == 0
        [carton] = order_status(station.ctx, station.system_session(), order_id)["cartons"]
        assert carton["tracking_number"] and carton["label_carrier"] == "DHL"
    finally:
        station.close()
