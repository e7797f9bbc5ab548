"""Weighing off the GUI thread: requests go in, results come back through callbacks.

``request_stable()`` returns at once; the worker thread calls ``on_weight(grams)`` or
``on_error(exc)`` when the scale has answered, so the window never waits on a port.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from packstation.adapters.devices.scale_errors import (
    ScaleDisconnected,
    ScaleError,
    ScaleFault,
    ScaleGarbage,
    ScaleNoAnswer,
)
from packstation.adapters.devices.scales import Scale
from packstation.adapters.devices.state import DeviceState, StateCallback, Status, ignore_state

log = logging.getLogger(__name__)


class ScaleWorker:
    def __init__(
        self,
        scale: Scale,
        on_weight: Callable[[int], None],
        on_error: Callable[[ScaleError], None],
        *,
        name: str = "scale",
        on_state: StateCallback = ignore_state,
    ) -> None:
        self.scale = scale
        self.on_weight = on_weight
        self.on_error = on_error
        self.on_state = on_state
        self.name = name
        self._requests: queue.Queue[tuple[str, float | None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="scale-worker", daemon=True)

    def start(self) -> ScaleWorker:
        self._thread.start()
        return self

    def request_stable(self, timeout_s: float | None = None) -> None:
        self._requests.put(("stable", timeout_s))

    def request_zero(self) -> None:
        self._requests.put(("zero", None))

    def request_tare(self) -> None:
        self._requests.put(("tare", None))

    def stop(self, timeout_s: float = 10.0) -> None:
        self._requests.put(None)
        self._thread.join(timeout_s)
        self.scale.close()

    def _run(self) -> None:
        while (request := self._requests.get()) is not None:
            what, timeout = request
            try:
                if what == "stable":
                    grams = self.scale.read_stable(timeout)
                    self.on_state(DeviceState(self.name, Status.CONNECTED))
                    self.on_weight(grams)
                elif what == "zero":
                    self.scale.zero()
                else:
                    self.scale.tare()
            except ScaleDisconnected as exc:
                self.on_state(DeviceState(self.name, Status.DISCONNECTED, str(exc)))
                self.on_error(exc)
            except (ScaleNoAnswer, ScaleGarbage, ScaleFault) as exc:
                self.on_state(DeviceState(self.name, Status.ERROR, str(exc)))
                self.on_error(exc)
            except ScaleError as exc:  # moving, over capacity, below zero: the scale works
                self.on_state(DeviceState(self.name, Status.CONNECTED))
                self.on_error(exc)
            except Exception as exc:  # noqa: BLE001 - never let the worker die silently
                log.exception("scale worker: unexpected error")
                self.on_state(DeviceState(self.name, Status.ERROR, repr(exc)))
                self.on_error(ScaleError(f"unexpected scale error: {exc!r}"))
