"""The carrier is never asked on the GUI thread (ARCHITECTURE: the GUI thread never blocks on the network).

A seal whose label comes from a carrier account, the lead view's "Ask the carrier again now" and
the dock's close (the carrier's end-of-day close) each wait for a carrier that is slow here: the
simulated carrier, held at the call until the test lets it answer (a subclass of the real simulated
carrier, so the wait is the test's to end, not a sleep). Meanwhile the window's event loop runs (a
QTimer fires), a scan typed then is answered at once and counts nothing, and in the end the carton is
sealed once, with one label printed; the manifest is closed once.
"""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QTimer

from packstation.adapters.carriers.simulated import SimulatedCarrier
from packstation.bootstrap import Station, build_station
from packstation.config import CarrierConfig, Config, StationConfig
from packstation.demo import DEMO_LEAD_PIN, plain_orders
from packstation.domain.packing import Verdict
from packstation.services.carriers import CarrierClose, CreatedLabel, ShipmentRequest
from packstation.services.reports import order_status


class HeldCarrier(SimulatedCarrier):
    """The simulated carrier, answering only once the test lets it (``answer()``): a slow carrier.

    Records the thread each call ran on: none may be the GUI's."""

    def __init__(self, cfg: CarrierConfig) -> None:
        super().__init__(cfg)
        self.asked = threading.Event()
        self._go = threading.Event()
        self.threads: list[int] = []

    def answer(self) -> None:
        self._go.set()

    def _hold(self) -> None:
        self.threads.append(threading.get_ident())
        self.asked.set()
        if not self._go.wait(30):  # the test failed to let it answer: as a carrier that never does
            from packstation.services.carriers import CarrierTimeout

            raise CarrierTimeout(f"{self.code} held for 30 s by the test")

    def create_shipment(self, request: ShipmentRequest) -> CreatedLabel:
        self._hold()
        return super().create_shipment(request)

    def close_manifest(self, shipment_ids: list[str], tracking_numbers: list[str]) -> CarrierClose:
        self._hold()
        return super().close_manifest(shipment_ids, tracking_numbers)


@pytest.fixture
def slow_station(tmp_path):
    """The demo station whose DHL account is a held simulated carrier (timeout 30 s)."""
    cfg = CarrierConfig(code="DHL", connector="simulated", tracking_prefix="00340434", timeout_s=30)
    station = build_station(Config(station=StationConfig(demo=True), data_dir=tmp_path, carriers=(cfg,)))
    held = HeldCarrier(cfg)
    station.ctx.carriers.accounts["DHL"] = held
    yield station, held
    held.answer()  # never leave a worker thread waiting
    station.close()


def plain_order(station: Station, carrier: str, skip: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """A released demo order of *carrier* whose products need no lot or serial: (id, barcodes to scan)."""
    with station.uow(readonly=True) as uow:
        found = plain_orders(uow, carrier, skip=skip)
    assert found, f"no plain {carrier} order in the demo data"
    order, products = found[0]
    return order.order_id, [products[ln.sku].barcodes[0] for ln in order.lines for _ in range(ln.qty)]


def type_in(qtbot, window, code: str) -> None:
    window.scan_edit.clear()
    qtbot.keyClicks(window.scan_edit, code)
    qtbot.keyClick(window.scan_edit, Qt.Key.Key_Return)


class Ticks:
    """A QTimer on the GUI thread, counting how often it fired while *busy()* was true."""

    def __init__(self, busy) -> None:
        self.busy, self.count = busy, 0
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        if self.busy():
            self.count += 1


def shipping_labels(results, sscc: str) -> list:
    return [r for r in results if r.job.kind == "shipping_label" and r.job.ref.endswith(sscc)]


def test_a_seal_asks_the_carrier_off_the_gui_thread_and_scans_meanwhile_count_nothing(qtbot, make_window,
                                                                                       slow_station):
    station, held = slow_station
    order_id, barcodes = plain_order(station, "DHL")
    window = make_window(station, install_wedge=False, start_workers=False)
    controller = window.controller
    for code in ("PACKER-001", order_id, "BOX-XL", *barcodes):
        type_in(qtbot, window, code)
    assert controller.last.verdict is Verdict.ACCEPTED, controller.last.message
    type_in(qtbot, window, "CMD-CLOSE-CARTON")  # the simulated scale answers; the seal asks DHL
    qtbot.waitUntil(held.asked.is_set, timeout=10_000)
    assert controller.asking_carrier and controller.last.verdict is Verdict.CREATING_LABEL
    assert window.band.headline.text() == "CREATING DHL LABEL…"
    # the event loop runs while DHL has not answered
    ticks = Ticks(lambda: controller.asking_carrier)
    qtbot.waitUntil(lambda: ticks.count >= 3, timeout=10_000)
    ticks.timer.stop()
    # a scan meanwhile is answered at once and counts nothing; nor can the carton be sealed twice or the
    # packer log out from under the seal
    packed_before = [ln.packed for ln in controller.bench.pack.order.lines]
    for code in (barcodes[0], "CMD-CLOSE-CARTON", "CMD-UNDO", "CMD-LOGOUT"):
        type_in(qtbot, window, code)
        assert controller.last.verdict is Verdict.WEIGHING and controller.last.data["headline"] == \
            "CREATING LABEL — WAIT", code
        assert "nothing was counted" in window.band.message.text()
    assert controller.terminal.session is not None and controller.asking_carrier
    assert [ln.packed for ln in controller.bench.pack.order.lines] == packed_before
    controller.close_with_weight(500)  # a late weight (a second reading) seals nothing either
    assert controller.last.verdict is Verdict.NOT_ALLOWED
    held.answer()
    qtbot.waitUntil(lambda: not controller.asking_carrier, timeout=10_000)
    done = controller.last
    assert done.verdict is Verdict.ORDER_COMPLETE, done.message
    assert threading.main_thread().ident not in held.threads and len(held.threads) == 1
    [carton] = order_status(station.ctx, station.system_session(), order_id)["cartons"]
    assert carton["status"] == "closed" and carton["label_carrier"] == "DHL"
    assert carton["tracking_number"] and carton["tracking_number"] in done.message  # the verdict names it
    assert len(held.shipments) == 1  # one shipment: the carrier was asked once
    results = station.print_worker.drain()
    [label] = shipping_labels(results, carton["sscc"])
    assert label.ok and station.print_worker.drain() == []  # printed once
    # scans are taken again
    type_in(qtbot, window, "CMD-LOGOUT")
    assert controller.last.verdict is Verdict.LOGGED_OUT


def test_a_lead_override_seals_through_the_worker_too(qtbot, make_window, slow_station):
    """A blocked carton a lead accepts (badge + PIN off the GUI thread): the seal's carrier call as well."""
    station, held = slow_station
    order_id, barcodes = plain_order(station, "DHL")
    window = make_window(station, install_wedge=False, start_workers=False)
    window.controller.weigher.offset_g = 900  # the scale reads far too much: blocked
    controller = window.controller
    for code in ("PACKER-001", order_id, "BOX-XL", *barcodes, "CMD-CLOSE-CARTON"):
        type_in(qtbot, window, code)
    qtbot.waitUntil(lambda: controller.last.verdict is Verdict.CARTON_BLOCKED, timeout=10_000)
    for code in ("1", "LEAD-001"):
        type_in(qtbot, window, code)
    qtbot.keyClicks(window.approval.pin, DEMO_LEAD_PIN)
    qtbot.keyClick(window.approval.pin, Qt.Key.Key_Return)
    qtbot.waitUntil(held.asked.is_set, timeout=10_000)
    assert controller.asking_carrier
    type_in(qtbot, window, barcodes[0])
    assert controller.last.data.get("headline") == "CREATING LABEL — WAIT"
    held.answer()
    qtbot.waitUntil(lambda: not controller.asking_carrier, timeout=10_000)
    assert controller.last.verdict is Verdict.ORDER_COMPLETE, controller.last.message
    assert threading.main_thread().ident not in held.threads
    [carton] = order_status(station.ctx, station.system_session(), order_id)["cartons"]
    assert carton["status"] == "closed" and carton["override_by"] == "Lee Lead" and carton["tracking_number"]
    assert len(shipping_labels(station.print_worker.drain(), carton["sscc"])) == 1


def test_closing_the_window_during_a_seal_stores_the_seal_once_the_carrier_answers(qtbot, make_window, slow_station):
    station, held = slow_station
    order_id, barcodes = plain_order(station, "DHL")
    window = make_window(station, install_wedge=False, start_workers=False)
    for code in ("PACKER-001", order_id, "BOX-XL", *barcodes, "CMD-CLOSE-CARTON"):
        type_in(qtbot, window, code)
    qtbot.waitUntil(held.asked.is_set, timeout=10_000)
    threading.Timer(0.2, held.answer).start()  # DHL answers while the window is closing
    window.shutdown()
    [carton] = order_status(station.ctx, station.system_session(), order_id)["cartons"]
    assert carton["status"] == "closed" and carton["tracking_number"] and len(held.shipments) == 1
    assert len(shipping_labels(station.print_worker.drain(), carton["sscc"])) == 1


def test_the_lead_view_asks_the_carrier_again_off_the_gui_thread(qtbot, tmp_path):
    from packstation.ui.lead_view import LeadView

    refusing = CarrierConfig(code="DHL", connector="simulated", simulate="error", timeout_s=30)
    station = build_station(Config(station=StationConfig(demo=True), data_dir=tmp_path, carriers=(refusing,)))
    held = HeldCarrier(CarrierConfig(code="DHL", connector="simulated", timeout_s=30))
    try:
        order_id, barcodes = plain_order(station, "DHL")
        terminal = station.terminal()
        for code in ("PACKER-001", order_id, "BOX-XL", *barcodes, "CMD-CLOSE-CARTON"):
            terminal.scan(code)
        bench = terminal.handler
        assert bench.close_with_weight(bench.pack.expected_weight(bench.pack.open_carton)).verdict is \
            Verdict.LABEL_NOT_CREATED
        station.ctx.carriers.accounts["DHL"] = held  # DHL is back, slowly
        lead = station.ctx.auth.login("LEAD-001", DEMO_LEAD_PIN)
        view = LeadView(station, lead)
        qtbot.addWidget(view)
        view.labels.selectRow(0)
        view.label_retry_button.click()
        qtbot.waitUntil(held.asked.is_set, timeout=10_000)
        assert "Asking DHL" in view.message.text() and not view.label_retry_button.isEnabled()
        ticks = Ticks(lambda: not held._go.is_set())
        qtbot.waitUntil(lambda: ticks.count >= 3, timeout=10_000)  # the dialog's event loop runs meanwhile
        ticks.timer.stop()
        held.answer()
        qtbot.waitUntil(lambda: "label created" in view.message.text(), timeout=10_000)
        assert view.labels.rowCount() == 0 and view.label_retry_button.isEnabled()
        assert threading.main_thread().ident not in held.threads
        [carton] = order_status(station.ctx, station.system_session(), order_id)["cartons"]
        assert carton["tracking_number"] and carton["label_carrier"] == "DHL"
        assert len(shipping_labels(station.print_worker.drain(), carton["sscc"])) == 1
    finally:
        held.answer()
        station.close()


def test_the_dock_close_asks_for_the_end_of_day_close_off_the_gui_thread(qtbot, make_window, slow_station):
    station, held = slow_station
    order_id, barcodes = plain_order(station, "DHL")
    terminal = station.terminal()
    for code in ("PACKER-001", order_id, "BOX-XL", *barcodes, "CMD-CLOSE-CARTON"):
        terminal.scan(code)
    bench = terminal.handler
    held.answer()  # the seal's label comes at once here; the close below is held
    assert bench.close_with_weight(bench.pack.expected_weight(bench.pack.open_carton)).verdict is \
        Verdict.ORDER_COMPLETE
    terminal.logout()
    held.asked.clear()  # from here on the carrier is held again, and only the window asks it
    held._go.clear()
    held.threads.clear()
    [carton] = order_status(station.ctx, station.system_session(), order_id)["cartons"]
    window = make_window(station, install_wedge=False, start_workers=False)
    controller = window.controller
    for code in ("DISPATCH-001", "CARRIER-DHL", carton["sscc"]):
        type_in(qtbot, window, code)
    assert controller.last.verdict is Verdict.CARTON_LOADED
    type_in(qtbot, window, "CMD-CLOSE-MANIFEST")
    qtbot.waitUntil(held.asked.is_set, timeout=10_000)
    assert controller.asking_carrier and window.band.headline.text() == "CLOSING THE MANIFEST…"
    ticks = Ticks(lambda: controller.asking_carrier)
    qtbot.waitUntil(lambda: ticks.count >= 3, timeout=10_000)
    ticks.timer.stop()
    for code in ("CMD-CLOSE-MANIFEST", "CMD-UNDO"):  # a second close, an unload: both wait, nothing changes
        type_in(qtbot, window, code)
        assert controller.last.data.get("headline") == "CLOSING — WAIT", code
    held.answer()
    qtbot.waitUntil(lambda: not controller.asking_carrier, timeout=10_000)
    assert controller.last.verdict is Verdict.MANIFEST_CLOSED, controller.last.message
    assert threading.main_thread().ident not in held.threads
    assert len(held.closes) == 1  # one end-of-day close
    status = order_status(station.ctx, station.system_session(), order_id)
    assert status["status"] == "handed_over"
    from packstation.services.dock import list_manifests

    closed = [m for m in list_manifests(station.ctx, station.system_session()) if m.status.value == "closed"]
    assert len(closed) == 1 and closed[0].carrier_ref == held.closes[0].reference
    assert window.dock.cartons.rowCount() == 0  # the page redrawn after the close


@pytest.fixture
def demo_carriers_station(tmp_path):
    """The demo station as ``scripts/run-station`` opens it: simulated DHL, UPS and PostNL accounts."""
    from packstation.config import DEMO_CARRIERS

    station = build_station(Config(station=StationConfig(demo=True), data_dir=tmp_path, carriers=DEMO_CARRIERS))
    yield station
    station.close()


def test_the_bench_shows_the_carriers_tracking_number_in_the_verdict_and_the_carton_list(qtbot, make_window,
                                                                                          demo_carriers_station):
    """The demo's simulated DHL labels each carton: its tracking number is on the band and in the sealed list."""
    station = demo_carriers_station
    with station.uow(readonly=True) as uow:
        found = plain_orders(uow, "DHL", min_lines=2)
    assert found, "no plain two-line DHL order in the demo data"
    order, products = found[0]
    first = [products[order.lines[0].sku].barcodes[0]] * order.lines[0].qty
    window = make_window(station, install_wedge=False, start_workers=False)
    controller = window.controller
    for code in ("PACKER-001", order.order_id, "BOX-XL", *first, "CMD-CLOSE-CARTON"):
        type_in(qtbot, window, code)
    qtbot.waitUntil(lambda: controller.last.verdict is Verdict.CARTON_CLOSED, timeout=10_000)
    [carton] = [c for c in order_status(station.ctx, station.system_session(), order.order_id)["cartons"]
                if c["status"] == "closed"]
    number = carton["tracking_number"]
    assert number and carton["label_carrier"] == "DHL"
    assert f"SSCC {carton['sscc']}, DHL tracking {number}." in window.band.message.text()
    sealed = window.pack.cartons.closed.text()
    assert f"SSCC {carton['sscc']}" in sealed and f"DHL tracking {number}" in sealed
    # the carton list says it again after a restart of the bench (the carton read back from the database)
    type_in(qtbot, window, "CMD-LOGOUT")
    type_in(qtbot, window, "PACKER-001")
    assert f"DHL tracking {number}" in window.pack.cartons.closed.text()
