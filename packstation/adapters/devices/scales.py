"""The scale port the app uses: ``open_scale(config.scale)`` and the :class:`Scale` protocol.

Weights are integer grams. Only :meth:`Scale.read_stable` gives a weight that may be used
for a carton; :meth:`Scale.read` is for live display (may be unstable).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from packstation.adapters.devices.scale_errors import (
    ScaleBelowZero,
    ScaleConfigError,
    ScaleNotSettled,
    ScaleOverCapacity,
)


@dataclass(frozen=True)
class Reading:
    grams: int | None  # None when the scale reports motion without a weight (Toledo 8217)
    stable: bool


class Scale(Protocol):
    def read(self) -> Reading: ...

    def read_stable(self, timeout_s: float | None = None) -> int: ...

    def zero(self) -> None: ...

    def tare(self) -> None: ...

    def close(self) -> None: ...


class SimulatedScale:
    """An in-process scale for the demo station and tests of the packing flow.

    The app (or a test) sets what lies on the platform with :meth:`set_weight`; motion,
    overload and below-zero can be switched on to rehearse the error paths.
    """

    def __init__(self, grams: int = 0, stable_timeout_s: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._gross = grams
        self._tare = 0
        self._offset = 0
        self._motion = False
        self._over = False
        self.stable_timeout_s = stable_timeout_s
        self.closed = False

    def set_weight(self, grams: int) -> None:
        with self._lock:
            self._gross = int(grams)

    def set_motion(self, moving: bool) -> None:
        with self._lock:
            self._motion = moving

    def set_overload(self, over: bool) -> None:
        with self._lock:
            self._over = over

    def read(self) -> Reading:
        with self._lock:
            if self._over:
                raise ScaleOverCapacity()
            net = self._gross - self._offset - self._tare
            return Reading(net, not self._motion)

    def read_stable(self, timeout_s: float | None = None) -> int:
        timeout = self.stable_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while True:
            reading = self.read()
            if reading.stable and reading.grams is not None:
                if reading.grams < 0:
                    raise ScaleBelowZero()
                return reading.grams
            if time.monotonic() >= deadline:
                raise ScaleNotSettled(timeout)
            time.sleep(0.02)

    def zero(self) -> None:
        with self._lock:
            self._offset = self._gross
            self._tare = 0

    def tare(self) -> None:
        with self._lock:
            self._tare = self._gross - self._offset

    def close(self) -> None:
        self.closed = True


def open_scale(config: object) -> Scale:
    """Open the scale described by a ``ScaleConfig`` (port, protocol, baudrate, unit, timeout).

    ``simulated`` (or no port) gives an in-process :class:`SimulatedScale`; ``hid-pos`` reads
    a ``/dev/hidrawN`` file; every other protocol goes through pyserial on *port*.
    """
    protocol = str(getattr(config, "protocol", "simulated") or "simulated").lower()
    port = str(getattr(config, "port", "") or "")
    timeout = float(getattr(config, "stable_timeout_s", 5.0))
    if protocol == "simulated":
        return SimulatedScale(stable_timeout_s=timeout)
    if not port:
        raise ScaleConfigError(
            f'[scale] protocol is {protocol!r} but no port is set: add port = "/dev/ttyUSB0" '
            '(or a pyserial URL), or use protocol = "simulated"'
        )
    if protocol == "hid-pos":
        from packstation.adapters.devices.hid_scale import HidPosScale

        return HidPosScale(port, stable_timeout_s=timeout)
    from packstation.adapters.devices.scale_protocols import PROTOCOLS
    from packstation.adapters.devices.serial_scale import SerialScale

    if protocol not in PROTOCOLS:
        known = ", ".join([*PROTOCOLS, "hid-pos", "simulated"])
        raise ScaleConfigError(f"[scale] protocol {protocol!r} is unknown; use one of: {known}")
    proto = PROTOCOLS[protocol]
    unit = str(getattr(config, "unit", "") or "") if proto.unit else None
    return SerialScale(
        port,
        proto,
        baudrate=int(getattr(config, "baudrate", proto.baudrate) or proto.baudrate),
        unit=unit or None,
        stable_timeout_s=timeout,
    )
