"""Getting a stable carton weight without blocking the GUI thread.

After CMD-CLOSE-CARTON the bench waits for a weight. :class:`SimulatedWeigher` (demo station,
``protocol = "simulated"``) answers with the carton's expected weight plus a few grams of
noise; :class:`ScaleWeigher` reads the real scale on the devices' ScaleWorker thread. Both report through
the same two signals, ``weighed(grams)`` and ``failed(reason)``, always on the GUI thread.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from packstation.adapters.devices.scale_errors import ScaleDisconnected
from packstation.adapters.devices.scale_worker import ScaleWorker
from packstation.adapters.devices.scales import Reading, Scale, open_scale
from packstation.ui.device_signals import DeviceSignals

T = TypeVar("T")


class Weigher(QObject):
    """Interface: ``request(expected_g)`` then exactly one of ``weighed`` / ``failed``."""

    weighed = Signal(int)
    failed = Signal(str)

    def request(self, expected_g: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Stop pending work; no signal is emitted afterwards."""


class SimulatedWeigher(Weigher):
    """The demo scale: the expected weight plus up to ``noise_g`` grams, after ``delay_ms``.

    ``offset_g`` adds a fixed error (to rehearse a blocked carton in the demo and in tests).
    """

    def __init__(self, *, delay_ms: int = 250, noise_g: int = 3, seed: int | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.noise_g = noise_g
        self.offset_g = 0
        self._rnd = random.Random(seed)
        self._expected = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._answer)

    def request(self, expected_g: int) -> None:
        self._expected = expected_g
        self._timer.start()

    def _answer(self) -> None:
        noise = self._rnd.randint(-self.noise_g, self.noise_g) if self.noise_g else 0
        self.weighed.emit(max(0, self._expected + noise + self.offset_g))

    def close(self) -> None:
        self._timer.stop()


class _LazyScale:
    """The configured scale, opened on first use (on the worker thread, never the GUI's)
    and opened again after it was unplugged."""

    def __init__(self, config: object) -> None:
        self.config = config
        self._scale: Scale | None = None

    def _get(self) -> Scale:
        if self._scale is None:
            self._scale = open_scale(self.config)
        return self._scale

    def _drop(self) -> None:
        scale, self._scale = self._scale, None
        if scale is not None:
            scale.close()

    def read(self) -> Reading:
        return self._call(lambda s: s.read())

    def read_stable(self, timeout_s: float | None = None) -> int:
        return self._call(lambda s: s.read_stable(timeout_s))

    def zero(self) -> None:
        self._call(lambda s: s.zero())

    def tare(self) -> None:
        self._call(lambda s: s.tare())

    def _call(self, fn: Callable[[Scale], T]) -> T:
        try:
            return fn(self._get())
        except ScaleDisconnected:
            self._drop()
            raise

    def close(self) -> None:
        self._drop()


class ScaleWeigher(Weigher):
    """A real scale read by the devices' :class:`ScaleWorker` thread.

    Results travel through :class:`DeviceSignals` (queued to the GUI thread); its
    ``state_changed`` signal feeds the status bar.
    """

    def __init__(self, scale_config: object, signals: DeviceSignals | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.signals = signals or DeviceSignals(self)
        port = getattr(scale_config, "port", "") or getattr(scale_config, "protocol", "")
        self.name = f"scale {port}"
        self._closed = False
        self.signals.weight.connect(self._on_weight)
        self.signals.scale_error.connect(self._on_error)
        self.worker = ScaleWorker(
            _LazyScale(scale_config), self.signals.on_weight, self.signals.on_scale_error,
            name=self.name, on_state=self.signals.on_state,
        ).start()

    def request(self, expected_g: int) -> None:
        self.worker.request_stable()

    def _on_weight(self, grams: int) -> None:
        if not self._closed:
            self.weighed.emit(grams)

    def _on_error(self, reason: str) -> None:
        if not self._closed:
            self.failed.emit(reason)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.worker.stop()


def make_weigher(config: object, signals: DeviceSignals | None = None, parent: QObject | None = None) -> Weigher:
    scale = getattr(config, "scale", None)
    protocol = str(getattr(scale, "protocol", "simulated") or "simulated").lower()
    if protocol == "simulated":
        return SimulatedWeigher(parent=parent)
    return ScaleWeigher(scale, signals, parent=parent)
