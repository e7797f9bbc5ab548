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
    c.scan("CMD-CLOSE-CARTON")  # type: ignore[attr-defined]
    c.close_with_weight(pack.expected_weight(pack.open_carton))  # type: ignore[attr-defined]


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
    window.refresh(c.last)  # type: ignore[attr-defined]
    shot("dock-split.png")
    c.scan("CMD-UNDO")  # type: ignore[attr-defined]
    c.scan(ssccs(dhl[1])[1])  # type: ignore[attr-defined]
    c.scan("CMD-CLOSE-MANIFEST")  # type: ignore[attr-defined]
    window.refresh(c.last)  # type: ignore[attr-defined]
    shot("dock-closed.png")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from packstation.bootstrap import build_station
    from packstation.config import Config, StationConfig
    from packstation.ui import theme
    from packstation.ui.app import create_window
    from packstation.ui.weighing import SimulatedWeigher

    app = QApplication.instance() or QApplication(["packstation"])
    app.setStyle("Fusion")
    theme.load_fonts()
    app.setFont(theme.font(12))
    with tempfile.TemporaryDirectory() as tmp:
        from packstation.config import DEMO_CARRIERS

        station = build_station(Config(station=StationConfig(demo=True), data_dir=Path(tmp), carriers=DEMO_CARRIERS))
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
        window.shutdown()
        window.close()
        station.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
