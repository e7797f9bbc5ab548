"""Serial barcode scanners (device path or any pyserial URL) read on a plain thread.

The thread reports scans, rejected lines and device state through callbacks; the UI wraps
them in Qt signals. An unplugged scanner (read error, vanished port) is reopened with
exponential backoff, so plugging it back in is all a packer has to do.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable

import serial

from packstation.adapters.devices.scan_framing import LineFramer, Rejected
from packstation.adapters.devices.state import DeviceState, StateCallback, Status, ignore_state
from packstation.domain.barcodes import RawScan

log = logging.getLogger(__name__)

ScanCallback = Callable[[RawScan], None]
RejectCallback = Callable[[Rejected], None]


class SerialScannerReader:
    """Reads one serial scanner until :meth:`stop`. Callbacks run on the reader thread."""

    def __init__(
        self,
        url: str,
        on_scan: ScanCallback,
        *,
        baudrate: int = 9600,
        on_state: StateCallback = ignore_state,
        on_reject: RejectCallback | None = None,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.on_scan = on_scan
        self.on_state = on_state
        self.on_reject = on_reject
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.name = f"scanner {url}"
        self._stop = threading.Event()
        self._port: serial.SerialBase | None = None
        self._thread = threading.Thread(target=self._run, name=f"scanner-{url}", daemon=True)

    def start(self) -> SerialScannerReader:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        port = self._port
        if port is not None and hasattr(port, "cancel_read"):
            try:
                port.cancel_read()
            except Exception:  # noqa: BLE001 - best effort wake-up; the timeout catches the rest
                pass
        self._thread.join(timeout_s)

    def _state(self, status: Status, reason: str = "") -> None:
        try:
            self.on_state(DeviceState(self.name, status, reason))
        except Exception:
            log.exception("state callback failed")

    def _run(self) -> None:
        delay = self.backoff_s
        last_reason = None
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(
                    self.url, baudrate=self.baudrate, timeout=0.25, exclusive=True
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                reason = _reason(exc)
                if reason != last_reason:
                    status = Status.DISCONNECTED if _is_gone(exc) else Status.ERROR
                    self._state(status, reason)
                    log.warning("%s: %s; retrying", self.name, reason)
                    last_reason = reason
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            self._port = port
            delay = self.backoff_s
            last_reason = None
            self._state(Status.CONNECTED)
            try:
                self._read_loop(port)
            except (serial.SerialException, OSError) as exc:
                reason = _reason(exc)
                log.warning("%s: %s; reconnecting", self.name, reason)
                self._state(Status.DISCONNECTED, reason)
                last_reason = reason
            finally:
                self._port = None
                port.close()
        self._state(Status.DISCONNECTED, "stopped")

    def _read_loop(self, port: serial.SerialBase) -> None:
        framer = LineFramer(source="serial")
        while not self._stop.is_set():
            data = port.read(port.in_waiting or 1)
            if not data:
                continue
            for item in framer.feed(data):
                if isinstance(item, Rejected):
                    log.warning("%s: rejected %r: %s", self.name, item.data, item.reason)
                    if self.on_reject is not None:
                        self.on_reject(item)
                    continue
                try:
                    self.on_scan(item)
                except Exception:
                    log.exception("%s: scan callback failed for %r", self.name, item)


def _is_gone(exc: BaseException) -> bool:
    err = getattr(exc, "errno", None)
    return err in (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO) or "No such file" in str(exc)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
        return f"{text} (add the station user to the 'dialout' group)"
    return text
