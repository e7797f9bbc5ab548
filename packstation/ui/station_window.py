"""Assemble a window for a station: device signals, weigher, controller, devices, sounds.

The app, the tests and the screenshot script all build windows here, so they get the same
wiring.
"""

from __future__ import annotations

from packstation.bootstrap import Station
from packstation.ui.controller import StationController
from packstation.ui.device_manager import DeviceManager
from packstation.ui.device_signals import DeviceSignals
from packstation.ui.main_window import MainWindow
from packstation.ui.print_queue import PrintQueue
from packstation.ui.sounds import SoundPlayer
from packstation.ui.weighing import Weigher, make_weigher


def create_window(station: Station, *, weigher: Weigher | None = None, sounds: SoundPlayer | None = None,
                  install_wedge: bool = True, start_readers: bool = True) -> MainWindow:
    signals = DeviceSignals()
    weigher = weigher or make_weigher(station.config, signals)
    printer = PrintQueue(station.output_desk)
    controller = StationController(station.bench(), weigher, printer)
    devices = DeviceManager(station, signals, start_readers=start_readers)
    window = MainWindow(station, controller, signals=signals, devices=devices,
                        sounds=sounds or SoundPlayer(), install_wedge=install_wedge)
    for child in (signals, controller, devices, window.sounds):
        child.setParent(window)
    weigher.setParent(controller)
    printer.setParent(controller)
    return window
