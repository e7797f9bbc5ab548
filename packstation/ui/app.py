"""Start the station window: ``packstation`` (no subcommand) and ``python main.py`` end here.

:func:`create_window` is the Qt half of the composition root: it wires the window's Qt pieces
(device signals, weigher, controller, device manager, sounds) to what ``bootstrap`` built. The
app, the tests and the screenshot script all build windows here, so they get the same wiring.

With ``PACKSTATION_QUIT_AFTER_SHOWN=1`` the window quits right after it is first painted and
prints ``window shown after N.NNN s`` (seconds since the process started), for the start-up
benchmark.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from packstation.config import Config

if TYPE_CHECKING:
    from packstation.bootstrap import Station
    from packstation.ui.main_window import MainWindow
    from packstation.ui.sounds import SoundPlayer
    from packstation.ui.weighing import Weigher

_IMPORTED_AT = time.perf_counter()


def create_window(station: Station, *, weigher: Weigher | None = None, sounds: SoundPlayer | None = None,
                  install_wedge: bool = True, start_readers: bool = True, start_workers: bool = True) -> MainWindow:
    from packstation.services.photos import CameraSlot
    from packstation.ui.camera import QtCamera
    from packstation.ui.controller import StationController
    from packstation.ui.device_manager import DeviceManager
    from packstation.ui.device_signals import DeviceSignals
    from packstation.ui.main_window import MainWindow
    from packstation.ui.sounds import SoundPlayer
    from packstation.ui.weighing import make_weigher

    for slot in (station.cameras.returns, station.cameras.bench):
        if isinstance(slot, CameraSlot) and slot.backend is None:  # "qt" cameras need the window
            slot.install(QtCamera(slot.spec.removeprefix("qt").removeprefix(":")))
    signals = DeviceSignals()
    weigher = weigher or make_weigher(station.devices, signals)
    controller = StationController(station.terminal(), weigher)
    station.print_worker.on_result = controller.relay_printed
    station.print_worker.on_interrupted = controller.relay_interrupted
    devices = DeviceManager(station, signals, start_readers=start_readers)
    window = MainWindow(station, controller, signals=signals, devices=devices,
                        sounds=sounds or SoundPlayer(), install_wedge=install_wedge)
    for child in (signals, controller, devices, window.sounds):
        child.setParent(window)
    weigher.setParent(controller)
    if station.sync_worker is not None:
        # a committed change wakes the sync at once; each round's outcome reaches the status bar
        controller.outcome.connect(lambda _outcome: station.sync_worker.wake())
        station.sync_worker.on_round = controller.relay_sync
        devices.watch_sync(lambda: station.sync_status())
    if start_workers:
        station.start_workers()  # after the relays are set: interrupted jobs reach the window
    return window


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
    from packstation.bootstrap import StationBusy

    try:
        station.occupy()
    except StationBusy as exc:
        print(f"packstation: cannot start. {exc}", file=sys.stderr)
        if not probe:
            QMessageBox.critical(None, "packstation is already running", str(exc))
        station.close()
        return 1
    window = create_window(station)
    if probe:
        def shown() -> None:
            print(f"window shown after {process_age_s():.3f} s", flush=True)
            QTimer.singleShot(0, app.quit)  # let the paint finish first

        window.first_exposed.connect(shown)
    if station.info.fullscreen:
        window.showFullScreen()
    elif probe:
        window.show()
    else:
        window.showMaximized()
    try:
        return app.exec()
    finally:
        window.shutdown()
        station.close()
