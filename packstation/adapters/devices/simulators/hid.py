"""A fake HID POS scale: writes 6-byte input reports into a FIFO the app reads as /dev/hidrawN."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from packstation.adapters.devices.hid_scale import (
    IN_MOTION,
    OVER_WEIGHT,
    STABLE,
    STABLE_ZERO,
    UNDER_ZERO,
    encode_report,
)


class FakeHidScale:
    """Streams reports every *period_s* like a DYMO scale; weight in grams (unit 2, exp 0)."""

    def __init__(self, grams: int = 0, period_s: float = 0.02) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="packstation-hid-"))
        self.path = str(self._dir / "hidraw0")
        os.mkfifo(self.path)
        # O_RDWR on a FIFO never blocks and keeps it open even when the reader goes away
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self.grams = grams
        self.status: int | None = None  # force a status code (e.g. 1 = fault); None = derived
        self.motion = False
        self.over = False
        self.silent = False
        self.unit = 2  # grams
        self.period_s = period_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-hid-scale", daemon=True)
        self._thread.start()

    def set_weight(self, grams: int) -> None:
        with self._lock:  # a report built from the old weight is fully written before we return
            self.grams = grams

    def set(self, **state: object) -> None:
        """Change grams / unit / status / motion / over / silent atomically between reports."""
        with self._lock:
            for name, value in state.items():
                if name not in ("grams", "unit", "status", "motion", "over", "silent"):
                    raise AttributeError(f"FakeHidScale has no setting {name!r}")
                setattr(self, name, value)

    def report(self) -> bytes:
        if self.status is not None:
            return encode_report(self.status, self.unit, 0, 0)
        if self.over:
            return encode_report(OVER_WEIGHT, self.unit, 0, 0)
        if self.grams < 0:
            return encode_report(UNDER_ZERO, self.unit, 0, 0)
        if self.unit == 11:  # ounces in tenths: exponent -1, as DYMO scales send them
            raw = round(self.grams / 28.349523125 * 10)
            status = IN_MOTION if self.motion else STABLE
            return encode_report(status, self.unit, -1, raw)
        status = IN_MOTION if self.motion else (STABLE_ZERO if self.grams == 0 else STABLE)
        return encode_report(status, self.unit, 0, self.grams)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            if self.silent:
                continue
            with self._lock:
                try:
                    os.write(self._fd, self.report())
                except BlockingIOError:
                    pass  # nobody reads and the pipe is full: a real device drops reports too

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._fd)
        os.unlink(self.path)
        self._dir.rmdir()

    def __enter__(self) -> FakeHidScale:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
