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


def _wait(app: object, cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not cond():
        app.processEvents()  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not reach the expected state")
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from packstation.bootstrap import build_station
    from packstation.config import Config, StationConfig
    from packstation.ui import theme
    from packstation.ui.station_window import create_window
    from packstation.ui.weighing import SimulatedWeigher

    app = QApplication.instance() or QApplication(["packstation"])
    app.setStyle("Fusion")
    theme.load_fonts()
    app.setFont(theme.font(12))
    with tempfile.TemporaryDirectory() as tmp:
        station = build_station(Config(station=StationConfig(demo=True), data_dir=Path(tmp)))
        window = create_window(station, weigher=SimulatedWeigher(delay_ms=1, noise_g=0), install_wedge=False)
        window.resize(1400, 900)
        window.show()
        app.processEvents()

        def shot(name: str) -> None:
            app.processEvents()
            window.grab().save(str(out / name))
            print(out / name)

        shot("login.png")
        bench = window.controller
        for code in ("PACKER-001", "SO-10009", "BOX-M", "05900001000007", "05900001000007"):
            bench.scan(code)
        shot("pack-view.png")
        bench.scan("05900001000014")  # a product that is not on SO-10009
        shot("wrong-item.png")
        window.shutdown()
        window.close()
        station.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
