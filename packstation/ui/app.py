"""Start the station window: ``packstation`` (no subcommand) and ``python main.py`` end here.

With ``PACKSTATION_QUIT_AFTER_SHOWN=1`` the window quits right after it is first painted and
prints ``window shown after N.NNN s`` (seconds since the process started), for the start-up
benchmark.
"""

from __future__ import annotations

import os
import sys
import time

from packstation.config import Config

_IMPORTED_AT = time.perf_counter()


def process_age_s() -> float:
    """Seconds since this process started (from /proc; else since this module was imported)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 overall: starttime, in clock ticks since boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _IMPORTED_AT


def run_station(config: Config) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from packstation.bootstrap import build_station
    from packstation.ui import theme
    from packstation.ui.main_window import MainWindow
    from packstation.ui.station_window import create_window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("packstation")
    app.setStyle("Fusion")
    theme.load_fonts()
    app.setFont(theme.font(12))
    probe = os.environ.get("PACKSTATION_QUIT_AFTER_SHOWN") == "1"
    try:
        station = build_station(config)
    except Exception as exc:  # noqa: BLE001 - shown to the person at the bench, then exit
        text = (f"The station database could not be opened: {exc}\n"
                f"Database: {config.database_url}\n"
                "Check [database] in the config file, or the data folder's permissions and free space.")
        print(f"packstation: cannot start. {text}", file=sys.stderr)
        if not probe:  # a person is watching: say it on the screen too
            QMessageBox.critical(None, "packstation cannot start", text)
        return 1
    window: MainWindow = create_window(station)
    if probe:
        def shown() -> None:
            print(f"window shown after {process_age_s():.3f} s", flush=True)
            QTimer.singleShot(0, app.quit)  # let the paint finish first

        window.first_exposed.connect(shown)
    window.show()
    try:
        return app.exec()
    finally:
        window.shutdown()
        station.close()
