"""Bridge from device reader threads to the GUI thread: plain callbacks in, Qt signals out.

Create one :class:`DeviceSignals` in the GUI thread and hand its ``on_*`` methods to the
readers as callbacks. Emitting from a reader thread queues the signal to receivers in the
GUI thread (Qt's auto connection), so widgets update safely and the GUI never waits on a port.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from packstation.adapters.devices.scan_framing import Rejected
from packstation.adapters.devices.state import DeviceState
from packstation.domain.barcodes import RawScan


class DeviceSignals(QObject):
    scanned = Signal(object)  # RawScan, from serial / evdev readers (the wedge has its own)
    scan_rejected = Signal(str)  # why a line from a scanner was dropped
    weight = Signal(int)  # a stable weight in grams
    reading = Signal(object)  # a live Reading (may be unstable)
    scale_error = Signal(str)  # a ScaleError message the packer can act on
    state_changed = Signal(object)  # DeviceState

    def on_scan(self, scan: RawScan) -> None:
        self.scanned.emit(scan)

    def on_reject(self, rejected: Rejected) -> None:
        self.scan_rejected.emit(rejected.reason)

    def on_weight(self, grams: int) -> None:
        self.weight.emit(grams)

    def on_reading(self, reading: object) -> None:
        self.reading.emit(reading)

    def on_scale_error(self, error: BaseException) -> None:
        self.scale_error.emit(str(error))

    def on_state(self, state: DeviceState) -> None:
        self.state_changed.emit(state)
