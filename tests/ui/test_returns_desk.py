"""The returns desk in the station window, driven by typed scans (pytest-qt): the parcel, its lines and
items, the bench's evidence next to the item in hand (with the carton's photo), the verdicts and
their own sounds, a click that picks an item, and the lead's returns figures."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from packstation.bootstrap import Station, build_station
from packstation.config import BenchConfig, Config, ReturnsConfig, StationConfig
from packstation.domain.identity import ActorKind
from packstation.domain.packing import Tone, Verdict
from packstation.services.imports import import_records
from packstation.ui import sounds

ORDER = "SO-10004"  # a demo order: a toy, a shirt, a mug (lot) and a camera (serial), one each


def png(seed: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes((seed * 60 % 256, 120, 40)) * 16 for _ in range(12))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 12, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def desk_station(tmp_path: Path) -> Station:
    """The demo station with a bench camera (a photo of each sealed carton) and a desk camera."""
    for name in ("bench-cam", "desk-cam"):
        (tmp_path / name).mkdir()
        for n in range(2):
            (tmp_path / name / f"{n}.png").write_bytes(png(n + (5 if name == "desk-cam" else 0)))
    st = build_station(Config(station=StationConfig(demo=True), data_dir=tmp_path / "data",
                              bench=BenchConfig(camera=f"folder:{tmp_path / 'bench-cam'}"),
                              returns=ReturnsConfig(camera=f"folder:{tmp_path / 'desk-cam'}")))
    yield st
    st.close()


def shipped_and_returned(station: Station) -> dict[str, str]:
    """Pack ORDER at a bench (answering lot and serial), seal it, deliver it, announce its return.

    Returns the barcode of each line's product, by tracking kind, and the serial that left."""
    bench = station.terminal()
    bench.scan("PACKER-001")
    bench.scan(ORDER)
    bench.scan("BOX-L")
    with station.uow(readonly=True) as uow:
        order = uow.orders.get(ORDER)
        products = uow.catalog.products(ln.sku for ln in order.lines)
        lots = {ln.sku: [lot.lot for lot in uow.catalog.lots(ln.sku) if lot.expiry is None
                         or lot.expiry >= station.ctx.clock().date()] for ln in order.lines}
    codes: dict[str, str] = {}
    for ln in order.lines:
        product = products[ln.sku]
        codes[product.tracking.value] = product.barcodes[0]
        codes[f"sku:{product.tracking.value}"] = ln.sku
        outcome = bench.scan(product.barcodes[0])
        if outcome.verdict is Verdict.NEEDS_LOT:
            outcome = bench.scan(lots[ln.sku][0])
        if outcome.verdict is Verdict.NEEDS_SERIAL:
            outcome = bench.scan("SN-UI-1")
        assert outcome.verdict is Verdict.ACCEPTED, outcome.message
    asked = bench.scan("CMD-CLOSE-CARTON")
    sealed = bench.handler.close_with_weight(int(asked.data["expected_g"]))
    assert sealed.verdict is Verdict.ORDER_COMPLETE, sealed.message
    assert bool(sealed.data.get("carton_photo")) is (station.cameras.bench is not None)
    importer = station.system_session(ActorKind.IMPORT, "shop")
    for kind, record in (("tracking", {"order_id": ORDER, "status": "delivered", "at": "2026-12-01T12:00:00Z"}),
                         ("returns", {"rma_id": "RMA-UI", "order_id": ORDER, "reason": "not as described",
                                      "status": "picked", "lines": [{"sku": codes["sku:none"], "qty": 1},
                                                                    {"sku": codes["sku:serial"], "qty": 1}]})):
        assert import_records(station.ctx, importer, kind, [("record 1", record)], "test").ok
    return codes


def cells(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_the_desk_receives_grades_and_shows_what_the_bench_recorded(qtbot, make_window, desk_station, type_scan):
    codes = shipped_and_returned(desk_station)
    window = make_window(desk_station, sounds=sounds.SoundPlayer(output_present=lambda: False))
    assert type_scan(window, "RETURNS-001").verdict is Verdict.LOGGED_IN
    page = window.returns_page
    assert window.pages.currentWidget() is page and "scan the returned parcel" in page.greeting.text()
    assert type_scan(window, f"RET-{ORDER}").verdict is Verdict.RETURN_OPENED
    assert [row[0] for row in cells(page.lines)] == ["RMA-UI", "RMA-UI"]
    assert type_scan(window, codes["serial"]).verdict is Verdict.NEEDS_SERIAL
    refused = type_scan(window, "SN-NEVER")
    assert refused.verdict is Verdict.SERIAL_NOT_SHIPPED
    assert window.sounds.played_verdicts[-1] is Verdict.SERIAL_NOT_SHIPPED  # its own sound, not the plain error
    assert window.band.headline.text() == "SERIAL NOT SHIPPED"
    type_scan(window, codes["serial"])
    assert type_scan(window, "SN-UI-1").verdict is Verdict.ITEM_RECEIVED
    assert window.sounds.played[-1] is Tone.OK
    evidence = page.evidence
    assert "Packed by Pat Packer" in evidence.left.text() and "SSCC 00" in evidence.left.text()
    assert evidence.carton_photo.pixmap() is not None and not evidence.carton_photo.pixmap().isNull()
    assert type_scan(window, "GRADE-B").verdict is Verdict.PHOTO_REQUIRED
    assert type_scan(window, "RET-PHOTO").verdict is Verdict.PHOTO_TAKEN
    assert len(evidence.photo_labels) == 1 and not evidence.photo_labels[0].pixmap().isNull()
    assert type_scan(window, "GRADE-B").verdict is Verdict.GRADED
    assert cells(page.items)[0][5] == "B" and page.prompt.text() == "a disposition (DISP-…)"
    assert type_scan(window, "DISP-QUARANTINE").verdict is Verdict.DISPOSITION_SET
    assert type_scan(window, codes["none"]).verdict is Verdict.ITEM_RECEIVED
    assert type_scan(window, codes["none"]).verdict is Verdict.MORE_THAN_SHIPPED
    assert window.sounds.played_verdicts[-1] is Verdict.MORE_THAN_SHIPPED
    # a click picks the first item again
    rect = page.items.visualRect(page.items.model().index(0, 0))
    qtbot.mouseClick(page.items.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.controller.last.data.get("headline") == "ITEM SELECTED"
    assert window.terminal.handler.current == window.terminal.handler.items[0].id
    assert "Grade: B" in evidence.state.text()


def test_a_lead_sees_returns_figures(qtbot, make_window, desk_station, type_scan, login_lead):
    codes = shipped_and_returned(desk_station)
    desk = desk_station.terminal()
    for code in ("RETURNS-001", f"RET-{ORDER}", codes["none"], "GRADE-A", "DISP-RESTOCK", "DISP-RESTOCK"):
        desk.scan(code)
    window = make_window(desk_station)
    login_lead(window, "DESK-RETURNS")
    from packstation.ui.lead_view import LeadView

    view = LeadView(desk_station, window.terminal.session, controller=window.controller, parent=window)
    qtbot.addWidget(view)
    figures = view.returns_figures
    assert "1 return(s), 1 unit(s) received" in figures.caption.text()
    assert cells(figures.tables["reason"]) == [["not as described", "1"]]
    assert cells(figures.tables["grade"]) == [["A", "1"]]
    assert cells(figures.tables["sku"]) == [[codes["sku:none"], "1"]]
    assert cells(figures.tables["packer"]) == [["Pat Packer", "1"]]
    view.close()


def test_a_desk_without_a_camera_says_so(qtbot, make_window, station, type_scan):
    codes = shipped_and_returned(station)
    window = make_window(station)
    type_scan(window, "RETURNS-001")
    type_scan(window, f"RET-{ORDER}")
    type_scan(window, codes["none"])
    outcome = type_scan(window, "RET-PHOTO")
    assert outcome.verdict is Verdict.NOT_ALLOWED and window.band.headline.text() == "NO CAMERA"


def test_the_qt_camera_says_when_there_is_no_camera(qtbot):
    from packstation.services.photos import CameraError
    from packstation.ui.camera import QtCamera

    camera = QtCamera("front", devices_present=lambda: False)
    with pytest.raises(CameraError, match="no camera found"):
        camera.capture()


def test_jpeg_scales_a_large_picture_down(qtbot):
    from PySide6.QtGui import QColor, QImage

    from packstation.ui.camera import MAX_SIDE, jpeg

    image = QImage(4000, 3000, QImage.Format.Format_RGB32)
    image.fill(QColor("#336699"))
    data = jpeg(image)
    back = QImage.fromData(data, "JPEG")
    assert data[:3] == b"\xff\xd8\xff" and (back.width(), back.height()) == (MAX_SIDE, MAX_SIDE * 3 // 4)


class NestedLoopCamera:
    """A camera that behaves like Qt Multimedia's capture: it runs Qt's event loop while the
    picture is being taken (ui/camera.py's QEventLoop), here for 150 ms."""

    name = "nested-loop camera"

    def __init__(self, during=None) -> None:  # type: ignore[no-untyped-def]
        self.during = during  # called inside the capture's event loop (a scanner's scan lands there)

    def capture(self):  # type: ignore[no-untyped-def]
        from PySide6.QtCore import QEventLoop, QTimer

        from packstation.services.photos import Picture

        loop = QEventLoop()
        if self.during is not None:
            QTimer.singleShot(20, self.during)
        QTimer.singleShot(150, loop.quit)
        loop.exec()
        return Picture(png(9), "image/png")


def test_a_scan_during_a_cameras_capture_waits_for_the_photo(qtbot, make_window, tmp_path, type_scan):
    """The desk's camera runs Qt's event loop while it takes the picture: a grade scanned in that
    moment must follow the photo, not be handled in the middle of RET-PHOTO (where it found no
    photo yet: PHOTO REQUIRED, and the photo then landed on an item already graded)."""
    from packstation.domain.barcodes import RawScan
    from packstation.services.photos import CameraSlot

    st = build_station(Config(station=StationConfig(demo=True), data_dir=tmp_path / "data",
                              returns=ReturnsConfig(camera="qt")))
    try:
        codes = shipped_and_returned(st)
        window = make_window(st)
        slot = st.cameras.returns
        assert isinstance(slot, CameraSlot)
        slot.install(NestedLoopCamera(during=lambda: window.controller.scan(RawScan.from_wire("GRADE-B"))))
        seen: list[Verdict] = []
        window.controller.outcome.connect(lambda o: seen.append(o.verdict))
        for code in ("RETURNS-001", f"RET-{ORDER}", codes["none"]):
            type_scan(window, code)
        seen.clear()
        type_scan(window, "RET-PHOTO")
        assert seen == [Verdict.PHOTO_TAKEN, Verdict.GRADED]
        items = window.terminal.handler.items
        assert items[0].grade == "B" and len(items[0].photos) == 1
    finally:
        st.close()


def test_a_scan_during_the_benchs_carton_photo_after_a_leads_override_waits_for_the_seal(
        qtbot, type_scan, make_window, tmp_path, approve):
    """A lead's badge + PIN approving a blocked carton seals it, and the bench camera photographs
    it (Qt's event loop runs meanwhile). A scan in that moment follows the seal, it is not handled
    in its middle (it was: an order scanned then got UNKNOWN BARCODE, before ORDER COMPLETE)."""
    from dataclasses import replace as dc_replace

    from packstation_tests_ui import demo_config, fresh_lot

    from packstation.domain.barcodes import RawScan
    from packstation.ui.weighing import SimulatedWeigher

    st = build_station(dc_replace(demo_config(tmp_path / "d"), bench=BenchConfig(camera="qt")))
    try:
        weigher = SimulatedWeigher(delay_ms=1, noise_g=0)
        weigher.offset_g = 900  # the carton is far too heavy: blocked, a lead overrides
        window = make_window(st, weigher=weigher)
        st.cameras.bench.install(NestedLoopCamera(during=lambda: window.controller.scan(RawScan.from_wire("SO-10009"))))
        type_scan(window, "PACKER-001")
        type_scan(window, "SO-10011")
        type_scan(window, "BOX-M")
        model = window.pack.model
        cols = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
        rows = [{cols[c]: model.data(model.index(r, c)) for c in range(model.columnCount())}
                for r in range(model.rowCount())]
        for row in rows:
            for _ in range(int(row["Needed"])):
                out = type_scan(window, row["Barcode to scan"])
                while out.verdict in (Verdict.NEEDS_LOT, Verdict.NEEDS_EXPIRY, Verdict.NEEDS_SERIAL):
                    out = type_scan(window, "2099-12-31" if out.verdict is Verdict.NEEDS_EXPIRY else
                                    "SN-RE-1" if out.verdict is Verdict.NEEDS_SERIAL else fresh_lot(st, window))
        type_scan(window, "CMD-CLOSE-CARTON")
        qtbot.waitUntil(lambda: window.controller.last.verdict is Verdict.CARTON_BLOCKED, timeout=10_000)
        seen: list[Verdict] = []
        window.controller.outcome.connect(lambda o: seen.append(o.verdict))
        approve(window, "1")
        qtbot.waitUntil(lambda: Verdict.ORDER_OPENED in seen, timeout=10_000)
        assert seen.index(Verdict.ORDER_COMPLETE) < seen.index(Verdict.ORDER_OPENED), seen
        assert Verdict.UNKNOWN_BARCODE not in seen
        assert window.controller.bench.pack.order.order_id == "SO-10009"
    finally:
        st.close()
