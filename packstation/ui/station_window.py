"""Assemble a window for a station: bench, weigher, controller and the window itself.

The app, the tests and the screenshot script all build windows here, so they get the same
wiring.
"""

from __future__ import annotations

from packstation.bootstrap import Station
from packstation.ui.controller import StationController
from packstation.ui.main_window import MainWindow
from packstation.ui.weighing import Weigher, make_weigher


def create_window(station: Station, *, weigher: Weigher | None = None,
                  install_wedge: bool = True) -> MainWindow:
    weigher = weigher or make_weigher(station.config)
    controller = StationController(station.bench(), weigher)
    window = MainWindow(station, controller, install_wedge=install_wedge)
    controller.setParent(window)
    weigher.setParent(controller)
    return window
