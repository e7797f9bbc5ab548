"""The scale worker weighs on its own thread and reports results and device state."""

from __future__ import annotations

import queue

from packstation.adapters.devices.scale_errors import ScaleNoAnswer, ScaleNotSettled
from packstation.adapters.devices.scale_protocols import MT_SICS
from packstation.adapters.devices.scale_worker import ScaleWorker
from packstation.adapters.devices.serial_scale import SerialScale
from packstation.adapters.devices.state import Status


def test_worker_reports_weight_errors_and_state(scale_sim):
    sim = scale_sim("mt-sics", 1800)
    results: queue.Queue = queue.Queue()
    states: queue.Queue = queue.Queue()
    worker = ScaleWorker(
        SerialScale(sim.port, MT_SICS), results.put, results.put, on_state=states.put
    ).start()
    try:
        worker.request_stable(2.0)  # returns at once: the caller never waits on the port
        assert results.get(timeout=5) == 1800
        assert states.get(timeout=5).status is Status.CONNECTED

        sim.set_motion(True)
        worker.request_stable(0.3)
        assert isinstance(results.get(timeout=5), ScaleNotSettled)
        assert states.get(timeout=5).status is Status.CONNECTED  # moving, but the scale works

        sim.set_motion(False)
        sim.set_silent(True)
        worker.request_stable(1.5)
        assert isinstance(results.get(timeout=5), ScaleNoAnswer)
        state = states.get(timeout=5)
        assert state.status is Status.ERROR and "no answer" in state.reason

        sim.set_silent(False)
        worker.request_tare()
        worker.request_stable(2.0)
        assert results.get(timeout=5) == 0
    finally:
        worker.stop()
