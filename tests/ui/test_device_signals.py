"""Reader threads reach the GUI thread only through DeviceSignals' queued Qt signals."""

from __future__ import annotations

import threading

from packstation.adapters.devices.scale_errors import ScaleError
from packstation.adapters.devices.scale_worker import ScaleWorker
from packstation.adapters.devices.scales import SimulatedScale
from packstation.adapters.devices.serial_scanner import SerialScannerReader
from packstation.adapters.devices.simulators.pty_scanner import PtyScannerSimulator
from packstation.adapters.devices.state import Status
from packstation.ui.device_signals import DeviceSignals


def test_serial_scans_and_state_arrive_in_the_gui_thread(qtbot):
    signals = DeviceSignals()
    received: list[tuple[object, bool]] = []
    states = []
    gui = threading.current_thread()
    signals.scanned.connect(lambda s: received.append((s, threading.current_thread() is gui)))
    signals.state_changed.connect(states.append)
    with PtyScannerSimulator(terminator="crlf") as sim:
        reader = SerialScannerReader(sim.port, signals.on_scan, on_state=signals.on_state)
        reader.start()
        try:
            qtbot.waitUntil(lambda: any(s.status is Status.CONNECTED for s in states), timeout=5000)
            sim.scan("4006381333931", aim="]E0")
            qtbot.waitUntil(lambda: len(received) == 1, timeout=5000)
        finally:
            reader.stop()
    scan, in_gui_thread = received[0]
    assert scan.data == "4006381333931" and scan.symbology == "]E0" and scan.source == "serial"
    assert in_gui_thread


def test_scale_worker_reports_weight_and_errors_without_blocking_the_gui(qtbot):
    signals = DeviceSignals()
    scale = SimulatedScale(1234)
    worker = ScaleWorker(scale, signals.on_weight, signals.on_scale_error).start()
    try:
        with qtbot.waitSignal(signals.weight, timeout=5000) as blocker:
            worker.request_stable(2.0)
        assert blocker.args == [1234]
        scale.set_motion(True)
        with qtbot.waitSignal(signals.scale_error, timeout=5000) as blocker:
            worker.request_stable(0.1)
        assert "never settled" in blocker.args[0]
    finally:
        worker.stop()
    assert scale.closed


def test_scale_error_is_shown_as_its_message(qtbot):
    signals = DeviceSignals()
    with qtbot.waitSignal(signals.scale_error) as blocker:
        signals.on_scale_error(ScaleError("no answer from the scale"))
    assert blocker.args == ["no answer from the scale"]
