"""A serial barcode scanner on a pty: write scans with a chosen terminator and AIM prefix,
garbage bytes, and unplug / replug it under the same stable name."""

from __future__ import annotations

import threading

from packstation.adapters.devices.simulators.pty_link import PtyLink

TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}


class PtyScannerSimulator:
    def __init__(self, terminator: str = "cr", aim: str | None = None) -> None:
        self.terminator = TERMINATORS[terminator]
        self.aim = aim  # e.g. "]C1" for GS1-128, "]E0" for EAN-13
        self._lock = threading.Lock()
        self._link = PtyLink(name="scanner")

    @property
    def port(self) -> str:
        return self._link.path

    @property
    def connected(self) -> bool:
        return self._link.connected

    def scan(self, text: str, *, aim: str | None = None, terminator: str | None = None) -> None:
        prefix = aim if aim is not None else (self.aim or "")
        end = TERMINATORS[terminator] if terminator else self.terminator
        self.write((prefix + text).encode("utf-8") + end)

    def write(self, data: bytes) -> None:
        with self._lock:
            self._link.write(data)

    def unplug(self) -> None:
        with self._lock:
            self._link.unplug()

    def replug(self) -> None:
        with self._lock:
            self._link.plug()

    def stop(self) -> None:
        with self._lock:
            self._link.close()

    def __enter__(self) -> PtyScannerSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
