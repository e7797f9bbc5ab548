"""USB HID point-of-sale scales (DYMO, Stamps.com, Mettler USB...) read from /dev/hidrawN.

Each input report is 6 bytes: report id, status, unit, exponent (signed), weight (uint16,
little-endian). Status and unit values follow the HID Point of Sale usage tables (page 0x8D,
"Scale Status" 0x70-0x77 and "Weight Unit" 0x51-0x5C, sent as 1-based indexes).
The device is read as a plain file, so tests feed it reports through a FIFO.
"""

from __future__ import annotations

import errno
import os
import select
import struct
import time
from dataclasses import dataclass
from fractions import Fraction

from packstation.adapters.devices.scale_errors import (
    ScaleBelowZero,
    ScaleDisconnected,
    ScaleFault,
    ScaleNoAnswer,
    ScaleNotSettled,
    ScaleOverCapacity,
    ScaleUnsupported,
)
from packstation.adapters.devices.scales import Reading
from packstation.adapters.devices.units import to_grams

REPORT = struct.Struct("<BBBbH")

# status (HID POS usages 0x70..0x77 as 1-based index)
FAULT, STABLE_ZERO, IN_MOTION, STABLE, UNDER_ZERO, OVER_WEIGHT, NEEDS_CALIBRATION, NEEDS_REZERO = (
    range(1, 9)
)
# unit (usages 0x51..0x5C as 1-based index); only the ones a parcel scale uses
UNITS = {1: "mg", 2: "g", 3: "kg", 11: "oz", 12: "lb"}


@dataclass(frozen=True)
class HidReport:
    report_id: int
    status: int
    unit: int
    exponent: int
    raw: int

    @classmethod
    def parse(cls, data: bytes) -> HidReport:
        if len(data) != REPORT.size:
            raise ScaleFault(f"HID scale report has {len(data)} bytes, expected {REPORT.size}")
        return cls(*REPORT.unpack(data))

    def grams(self) -> int:
        unit = UNITS.get(self.unit)
        if unit is None:
            raise ScaleFault(
                f"the USB scale reports weight unit code {self.unit}, which we cannot convert: "
                "set the scale to g, kg, oz or lb"
            )
        return to_grams(Fraction(self.raw) * Fraction(10) ** self.exponent, unit)


def encode_report(status: int, unit: int, exponent: int, raw: int, report_id: int = 3) -> bytes:
    return REPORT.pack(report_id, status, unit, exponent, raw)


class HidPosScale:
    """A HID POS scale behind a hidraw file (or a FIFO in tests)."""

    answer_timeout_s = 1.0

    def __init__(self, path: str, *, stable_timeout_s: float = 5.0) -> None:
        self.path = path
        self.stable_timeout_s = stable_timeout_s
        self._buf = b""
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            hint = (
                " (add your user to the group owning it, or a udev rule)"
                if exc.errno in (errno.EACCES, errno.EPERM)
                else ""
            )
            raise ScaleDisconnected(
                f"cannot open the USB scale {path}: {exc.strerror}{hint}"
            ) from exc

    def _drain(self) -> None:
        """Drop reports the kernel buffered while nobody was reading: they are stale."""
        self._buf = b""
        while True:
            try:
                if not os.read(self._fd, REPORT.size * 680):  # whole reports only
                    return
            except BlockingIOError:
                return
            except OSError as exc:  # ENODEV: unplugged while nobody was reading
                raise ScaleDisconnected(f"the USB scale {self.path} vanished: {exc.strerror}") from exc

    def _next_report(self, deadline: float) -> HidReport | None:
        while len(self._buf) < REPORT.size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if not ready:
                return None
            try:
                chunk = os.read(self._fd, REPORT.size * 10)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise ScaleDisconnected(
                    f"the USB scale {self.path} vanished: {exc.strerror}"
                ) from exc
            if not chunk:  # FIFO with no writer: nothing is sending reports
                time.sleep(min(0.02, max(0.0, remaining)))
                continue
            self._buf += chunk
        data, self._buf = self._buf[: REPORT.size], self._buf[REPORT.size :]
        return HidReport.parse(data)

    def _interpret(self, report: HidReport) -> Reading:
        if report.status == OVER_WEIGHT:
            raise ScaleOverCapacity()
        if report.status == UNDER_ZERO:
            raise ScaleBelowZero()
        if report.status in (FAULT, NEEDS_CALIBRATION, NEEDS_REZERO):
            what = {
                FAULT: "a fault",
                NEEDS_CALIBRATION: "that it needs calibration",
                NEEDS_REZERO: "that it needs re-zeroing",
            }[report.status]
            raise ScaleFault(
                f"the USB scale reports {what}: empty it, switch it off and on, press zero"
            )
        if report.status == STABLE_ZERO:
            return Reading(0, True)
        if report.status == IN_MOTION:
            return Reading(report.grams(), False)
        if report.status == STABLE:
            return Reading(report.grams(), True)
        raise ScaleFault(f"the USB scale sent an unknown status code {report.status}")

    def read(self) -> Reading:
        self._drain()
        report = self._next_report(time.monotonic() + self.answer_timeout_s)
        if report is None:
            raise ScaleNoAnswer(self.path, self.answer_timeout_s)
        return self._interpret(report)

    def read_stable(self, timeout_s: float | None = None) -> int:
        timeout = self.stable_timeout_s if timeout_s is None else timeout_s
        start = time.monotonic()
        deadline = start + timeout
        self._drain()
        answered = False
        while True:
            report = self._next_report(min(deadline, time.monotonic() + self.answer_timeout_s))
            if report is None:
                if answered and time.monotonic() >= deadline:
                    raise ScaleNotSettled(timeout)
                raise ScaleNoAnswer(self.path, round(time.monotonic() - start, 2))
            answered = True
            reading = self._interpret(report)
            if reading.stable and reading.grams is not None:
                return reading.grams

    def zero(self) -> None:
        raise ScaleUnsupported("USB scales zero on their own button: press ZERO on the scale")

    def tare(self) -> None:
        raise ScaleUnsupported("USB scales tare on their own button: press TARE on the scale")

    def close(self) -> None:
        os.close(self._fd)
