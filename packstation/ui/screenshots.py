"""Render the README screenshots of the window on demo data: ``python -m packstation.ui.screenshots docs/img``.

Runs offscreen (no display needed) against a throwaway database, drives the window with the
same scans a packer would make, and saves PNGs with ``QWidget.grab``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from packstation.demo import DEMO_LEAD_PIN


def _wait(app: object, cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not cond():
        app.processEvents()  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not reach the expected state")
        time.sleep(0.01)


def _settled(c: object) -> None:
    """Wait (the event loop running) until no carrier is being asked: a seal's label or a dock's close
    runs on the controller's worker, and scans wait for it."""
    from PySide6.QtWidgets import QApplication

    _wait(QApplication.instance(), lambda: not c.asking_carrier)  # type: ignore[attr-defined]


_PROMPTS = ("needs_lot", "needs_expiry", "needs_serial")


def _answer_prompts(c: object, station: object) -> None:
    """Answer lot / serial prompts the way a packer would: a lot the stock knows, a fresh serial."""
    import itertools

    serials = getattr(_answer_prompts, "serials", None) or itertools.count(1)
    _answer_prompts.serials = serials  # type: ignore[attr-defined]
    while c.last.verdict.value in _PROMPTS:  # type: ignore[attr-defined]
        pack = c.bench.pack  # type: ignore[attr-defined]
        sku = pack.pending.sku
        if c.last.verdict.value == "needs_serial":  # type: ignore[attr-defined]
            c.scan(f"SN{next(serials):06d}")  # type: ignore[attr-defined]
            continue
        with station.ctx.uow(readonly=True) as uow:  # type: ignore[attr-defined]
            lots = uow.catalog.lots(sku)
        today = station.ctx.clock().date()  # type: ignore[attr-defined]
        fresh = [lot for lot in lots if lot.expiry is None or lot.expiry >= today]
        c.scan(fresh[0].lot if fresh else "L2611-A")  # type: ignore[attr-defined]


def _pack_all(controller: object, station: object, order_id: str, carton: str, undo: bool = False) -> None:
    c = controller
    c.scan(order_id)  # type: ignore[attr-defined]
    c.scan(carton)  # type: ignore[attr-defined]
    pack = c.bench.pack  # type: ignore[attr-defined]
    for line in pack.order.lines:
        code = pack.products[line.sku].barcodes[0]
        for _ in range(line.qty):
            c.scan(code)  # type: ignore[attr-defined]
            _answer_prompts(c, station)
            if undo:
                undo = False
                c.scan("CMD-UNDO")  # type: ignore[attr-defined]
                c.scan(code)  # type: ignore[attr-defined]
                _answer_prompts(c, station)
    c.scan("05900001000014")  # type: ignore[attr-defined]  # one wrong item, for the figures
    c.scan("CMD-CLOSE-CARTON")  # type: ignore[attr-defined]


def _approve(c: object, app: object, reason_number: str) -> None:
    """A lead approves on the spot: the reason by number, then badge and PIN."""
    c.scan(reason_number)  # type: ignore[attr-defined]
    c.scan("LEAD-001")  # type: ignore[attr-defined]
    c.enter_pin_now(DEMO_LEAD_PIN)  # type: ignore[attr-defined]
    _settled(c)


def _demo_photos(folder: Path, kind: str) -> None:
    """Drawn stand-ins for camera pictures (a sealed carton on the scale, a returned shirt): the
    folder camera hands them out as a real camera's pictures."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPolygonF

    folder.mkdir(parents=True, exist_ok=True)
    for n, shade in enumerate(("#2f5d8a", "#6b3f8a")):
        image = QImage(640, 480, QImage.Format.Format_RGB32)
        image.fill(QColor("#d9d4c7"))
        p = QPainter(image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if kind == "carton":
            p.fillRect(QRectF(60, 380, 520, 60), QColor("#555a5f"))  # the scale
            p.fillRect(QRectF(120, 150, 400, 240), QColor("#b0834f"))
            p.fillRect(QRectF(300, 150, 40, 240), QColor("#8a6a3a"))  # tape
            p.fillRect(QRectF(150, 190, 130, 90), QColor("#ffffff"))
            for i in range(12):
                p.fillRect(QRectF(160 + i * 9, 250, 4 + i % 3, 22), QColor("#000000"))
            p.setFont(QFont("DejaVu Sans", 12, QFont.Weight.Bold))
            p.drawText(QRectF(158, 196, 120, 40), Qt.AlignmentFlag.AlignLeft, "SHIP TO\nJan de Vries")
        else:
            p.setBrush(QColor(shade))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawPolygon(QPolygonF([QPointF(x, y) for x, y in (
                (230, 90), (410, 90), (520, 160), (470, 220), (430, 190), (430, 420), (210, 420), (210, 190),
                (170, 220), (120, 160))]))
            p.setBrush(QColor("#d9d4c7"))
            p.drawEllipse(QRectF(285, 70, 70, 50))
            if n:
                p.setPen(QColor("#7a4a10"))
                p.setFont(QFont("DejaVu Sans", 28, QFont.Weight.Bold))
                p.drawText(QRectF(250, 260, 160, 60), Qt.AlignmentFlag.AlignCenter, "stain")
        p.end()
        image.save(str(folder / f"{kind}-{n + 1}.png"))


def _returns_shots(app: object, window: object, station: object, out: Path, shot: Callable[[str], None]) -> None:
    """A delivered order comes back: the desk finds it, receives, refuses a serial that never left
    in it, grades with photos next to the bench's evidence; the lead's returns figures."""
    from packstation.domain.identity import ActorKind
    from packstation.services.imports import import_records

    c = window.controller  # type: ignore[attr-defined]
    c.scan("PACKER-001")
    if c.bench.pack is not None:  # the order left open at this bench for the earlier shots
        c.scan("CMD-CANCEL")
    with station.uow(readonly=True) as uow:  # type: ignore[attr-defined]
        # a released order with a serial-tracked product and a shirt (SO-10004 in the demo data)
        for n in range(10001, 10063):
            order = uow.orders.get(f"SO-{n}")
            if order is None or order.status.value != "released" or order.payment_method != "prepaid":
                continue
            kinds = {p.sku[:2]: p.tracking.value for p in uow.catalog.products(ln.sku for ln in order.lines).values()}
            if "serial" in kinds.values() and kinds.get("TS") == "none":
                break
    order_id = order.order_id
    _pack_all(c, station, order_id, "BOX-L")
    _wait(app, lambda: c.bench is not None and c.bench.pack is None)
    c.scan("CMD-LOGOUT")
    ctx = station.ctx  # type: ignore[attr-defined]
    importer = station.system_session(ActorKind.IMPORT, "demo")  # type: ignore[attr-defined]
    with station.uow(readonly=True) as uow:  # type: ignore[attr-defined]
        order = uow.orders.get(order_id)
        products = uow.catalog.products(ln.sku for ln in order.lines)
        scans = [s.item for s in uow.shipments.scans(order_id) if s.undone_at is None]
    shirt = next(s for s in scans if products[s.sku].tracking.value == "none" and s.sku.startswith("TS"))
    buds = next(s for s in scans if s.serial)
    for kind, record in (("tracking", {"order_id": order_id, "status": "delivered", "at": "2026-12-03T14:00:00Z"}),
                         ("returns", {"rma_id": "RMA-20417", "order_id": order_id, "reason": "not as described",
                                      "status": "picked", "lines": [{"sku": shirt.sku, "qty": 1}, {"sku": buds.sku,
                                                                                                    "qty": 1}]})):
        report = import_records(ctx, importer, kind, [("record 1", record)], "demo")
        assert report.ok, report.rejected
    c.scan("RETURNS-001")
    c.scan(f"RET-{order_id}")
    c.scan(products[buds.sku].barcodes[0])
    c.scan("SN999999")  # a serial that never left in this order
    window.refresh(c.last)  # type: ignore[attr-defined]
    shot("returns-refused.png")
    c.scan(products[buds.sku].barcodes[0])
    c.scan(buds.serial)
    for code in ("RET-PHOTO", "GRADE-B", "DISP-RESTOCK", "DISP-RESTOCK"):
        c.scan(code)
    c.scan(products[shirt.sku].barcodes[0])
    c.scan("RET-PHOTO")
    c.scan("RET-PHOTO")
    c.scan("GRADE-D")
    shot("returns-desk.png")
    c.scan("DISP-SCRAP")
    c.scan("RES-CREDIT")
    shot("returns-credited.png")
    c.scan("CMD-LOGOUT")
def _pack_in_cartons(c: object, station: object, order_id: str, cartons: int) -> None:
    """Pack *order_id* at the bench in *cartons* cartons (one line per carton, the rest in the last)."""
    c.scan(order_id)  # type: ignore[attr-defined]
    pack = c.bench.pack  # type: ignore[attr-defined]
    lines = list(pack.order.lines)
    for n, line in enumerate(lines):
        if n < cartons:
            c.scan("BOX-L")  # type: ignore[attr-defined]
        code = pack.products[line.sku].barcodes[0]
        for _ in range(line.qty):
            c.scan(code)  # type: ignore[attr-defined]
            _answer_prompts(c, station)
        if n < cartons - 1 and n < len(lines) - 1:
            c.scan("CMD-CLOSE-CARTON")  # type: ignore[attr-defined]
            c.close_with_weight(pack.expected_weight(pack.open_carton))  # type: ignore[attr-defined]
            _settled(c)
    c.scan("CMD-CLOSE-CARTON")  # type: ignore[attr-defined]
    c.close_with_weight(pack.expected_weight(pack.open_carton))  # type: ignore[attr-defined]
    _settled(c)


def _dock_shots(c: object, station: object, window: object, shot: Callable[[str], None]) -> None:
    """The dispatch dock: a DHL manifest being loaded, a carton of another carrier refused, a close
    that would split an order waiting for a lead."""
    from packstation.services.orders import cancel_order

    c.scan("CMD-LOGOUT")  # type: ignore[attr-defined]
    c.scan("PACKER-001")  # type: ignore[attr-defined]
    if c.bench.pack is not None:  # type: ignore[attr-defined]  # the order left open above: put it back
        c.scan("CMD-CANCEL")  # type: ignore[attr-defined]
    with station.ctx.uow(readonly=True) as uow:  # type: ignore[attr-defined]
        dhl = [f"SO-{n}" for n in range(10002, 10061)
               if (o := uow.orders.get(f"SO-{n}")) is not None and o.carrier == "DHL" and o.status.value == "released"
               and len(o.lines) >= 2]
        ups = next(f"SO-{n}" for n in range(10002, 10061)
                   if (o := uow.orders.get(f"SO-{n}")) is not None and o.carrier == "UPS"
                   and o.status.value == "released")
    for order_id, cartons in ((dhl[0], 2), (dhl[1], 2), (dhl[2], 1), (ups, 1)):
        _pack_in_cartons(c, station, order_id, cartons)
    station.print_worker.drain()  # type: ignore[attr-defined]
    cancel_order(station.ctx, station.system_session(), dhl[2], "customer cancelled by phone")  # type: ignore[attr-defined]
    c.scan("CMD-LOGOUT")  # type: ignore[attr-defined]
    c.scan("DISPATCH-001")  # type: ignore[attr-defined]

    def ssccs(order_id: str) -> list[str]:
        from packstation.services.reports import order_status

        status = order_status(station.ctx, station.system_session(), order_id)  # type: ignore[attr-defined]
        return [x["sscc"] for x in status["cartons"]]

    c.scan("CARRIER-DHL")  # type: ignore[attr-defined]
    for sscc in ssccs(dhl[0]) + ssccs(dhl[1])[:1]:
        c.scan(sscc)  # type: ignore[attr-defined]
    window.refresh(c.last)  # type: ignore[attr-defined]
    shot("dock-loading.png")
    c.scan(ssccs(ups)[0])  # type: ignore[attr-defined]
    window.refresh(c.last)  # type: ignore[attr-defined]
    shot("dock-wrong-carrier.png")
    c.scan("CMD-CLOSE-MANIFEST")  # type: ignore[attr-defined]
    _settled(c)
    window.refresh(c.last)  # type: ignore[attr-defined]
    shot("dock-split.png")
    c.scan("CMD-UNDO")  # type: ignore[attr-defined]
    c.scan(ssccs(dhl[1])[1])  # type: ignore[attr-defined]
    c.scan("CMD-CLOSE-MANIFEST")  # type: ignore[attr-defined]
    _settled(c)
    window.refresh(c.last)  # type: ignore[attr-defined]
    shot("dock-closed.png")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from packstation.bootstrap import build_station
    from packstation.config import BenchConfig, Config, ReturnsConfig, StationConfig
    from packstation.ui import theme
    from packstation.ui.app import create_window
    from packstation.ui.weighing import SimulatedWeigher

    app = QApplication.instance() or QApplication(["packstation"])
    app.setStyle("Fusion")
    theme.load_fonts()
    app.setFont(theme.font(12))
    with tempfile.TemporaryDirectory() as tmp:
        from packstation.config import DEMO_CARRIERS

        _demo_photos(Path(tmp) / "bench-camera", "carton")
        _demo_photos(Path(tmp) / "returns-camera", "item")
        station = build_station(Config(station=StationConfig(demo=True), data_dir=Path(tmp), carriers=DEMO_CARRIERS,
                                       bench=BenchConfig(camera=f"folder:{tmp}/bench-camera"),
                                       returns=ReturnsConfig(camera=f"folder:{tmp}/returns-camera")))
        weigher = SimulatedWeigher(delay_ms=1, noise_g=0)
        window = create_window(station, weigher=weigher, install_wedge=False)
        window.resize(1400, 900)
        window.show()
        app.processEvents()

        def shot(name: str) -> None:
            app.processEvents()
            window.grab().save(str(out / name))
            print(out / name)

        shot("login.png")
        bench = window.controller
        bench.scan("PACKER-001")
        # a finished order first, so the lead view has figures to show
        _pack_all(bench, station, "SO-10009", "BOX-M")
        _wait(app, lambda: bench.bench is not None and bench.bench.pack is None)
        # a second packer with an undo and a carton that weighed wrong, for the shift figures
        from packstation.services import users

        users.add_user(station.ctx, station.system_session(), "Sam Packer", "packer", "PACKER-002")
        bench.scan("CMD-LOGOUT")
        bench.scan("PACKER-002")
        weigher.offset_g = 400
        _pack_all(bench, station, "SO-10011", "BOX-S", undo=True)
        _wait(app, lambda: bench.last is not None and bench.last.verdict.value == "carton_blocked")
        weigher.offset_g = 0
        _approve(bench, app, "1")  # the lead overrides on the spot
        bench.scan("CMD-LOGOUT")
        bench.scan("PACKER-001")
        for code in ("SO-10001", "BOX-L"):
            bench.scan(code)
        lines = bench.bench.pack.order.lines
        products = bench.bench.pack.products
        first = products[lines[0].sku].barcodes[0]
        for _ in range(2):
            bench.scan(first)
            _answer_prompts(bench, station)
        bench.scan("05900001000014")  # a product that is not on the order
        shot("wrong-item.png")
        second = products[lines[1].sku].barcodes[0]
        bench.scan(second)
        shot("pack-view.png")  # mid-order, the band asking for the lot
        bench.scan("CMD-UNDO")
        bench.scan("CMD-SHORT")
        bench.scan("1")
        bench.scan("LEAD-001")
        window.refresh(bench.last)
        shot("short-ship-lead.png")
        bench.scan("CMD-UNDO")
        bench.scan("CMD-LOGOUT")
        bench.scan("LEAD-001")
        bench.enter_pin_now(DEMO_LEAD_PIN)
        shot("desk-choice.png")
        bench.scan("DESK-BENCH")
        from packstation.ui.lead_view import LeadView

        view = LeadView(station, bench.terminal.session, controller=bench, parent=window)
        view.tabs.setCurrentIndex(1)
        view.resize(1100, 520)
        view.show()
        app.processEvents()
        view.grab().save(str(out / "lead-view.png"))
        print(out / "lead-view.png")
        view.close()
        _dock_shots(bench, station, window, shot)
        bench.scan("CMD-LOGOUT")
        _returns_shots(app, window, station, out, shot)
        bench.scan("LEAD-001")
        bench.enter_pin_now(DEMO_LEAD_PIN)
        bench.scan("DESK-RETURNS")
        view = LeadView(station, bench.terminal.session, controller=bench, parent=window)
        view.tabs.setCurrentWidget(view.returns_figures)
        view.resize(1100, 520)
        view.show()
        app.processEvents()
        view.grab().save(str(out / "lead-returns.png"))
        print(out / "lead-returns.png")
        view.close()
        window.shutdown()
        window.close()
        station.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
