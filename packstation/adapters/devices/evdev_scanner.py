"""USB scanners read directly from /dev/input/eventN, grabbed so no window sees their keys.

We parse ``struct input_event`` ourselves (no python-evdev): on 64-bit Linux it is
``struct timeval`` (two longs) + type (u16) + code (u16) + value (s32) = 24 bytes. Key events
(EV_KEY) are decoded to text with a layout table; Enter or Tab ends a scan. Ctrl+] types GS
(0x1D), the way keyboard-mode scanners send the GS1 separator.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import struct
import threading
from collections.abc import Callable

from packstation.adapters.devices import evdev_keymap as k
from packstation.adapters.devices.scan_framing import Rejected
from packstation.adapters.devices.state import DeviceState, StateCallback, Status, ignore_state
from packstation.domain.barcodes import GS, MAX_SCAN_LENGTH, RawScan

log = logging.getLogger(__name__)

INPUT_EVENT = struct.Struct("llHHi")
EV_SYN, EV_KEY = 0, 1
RELEASE, PRESS, REPEAT = 0, 1, 2
EVIOCGRAB = 0x40044590  # _IOW('E', 0x90, int)

_SHIFTS = {k.KEY_LEFTSHIFT, k.KEY_RIGHTSHIFT}
_CTRLS = {k.KEY_LEFTCTRL, k.KEY_RIGHTCTRL}
_ENDS = {k.KEY_ENTER, k.KEY_KPENTER, k.KEY_TAB}
KEY_RIGHTBRACE = 27  # the key that is "]" on a US keyboard: Ctrl+] = GS


def encode_event(type_: int, code: int, value: int, sec: int = 0, usec: int = 0) -> bytes:
    return INPUT_EVENT.pack(sec, usec, type_, code, value)


class EvdevDecoder:
    """Key events in, finished scans out. Pure: no device, so tests drive it with structs."""

    def __init__(self, layout: str = "us", max_length: int = MAX_SCAN_LENGTH) -> None:
        self.keymap = k.keymap(layout)
        self.max_length = max_length
        self._shift = set[int]()
        self._ctrl = set[int]()
        self._altgr = False
        self._caps = False
        self._text: list[str] = []
        self._unknown: list[int] = []

    def feed_event(self, type_: int, code: int, value: int) -> str | Rejected | None:
        if type_ != EV_KEY:
            return None
        if code in _SHIFTS:
            (self._shift.add if value else self._shift.discard)(code)
            return None
        if code in _CTRLS:
            (self._ctrl.add if value else self._ctrl.discard)(code)
            return None
        if code == k.KEY_RIGHTALT:
            self._altgr = bool(value)
            return None
        if value == RELEASE:
            return None
        if code == k.KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in _ENDS:
            return self._finish()
        if self._ctrl and code == KEY_RIGHTBRACE:
            self._text.append(GS)
            return None
        entry = self.keymap.get(code)
        if entry is None or self._ctrl:
            self._unknown.append(code)
            return None
        plain, shifted, altgr = entry
        if self._altgr and altgr:
            ch = altgr
        else:
            upper = bool(self._shift) != (self._caps and plain.isalpha())
            ch = shifted if upper else plain
        self._text.append(ch)
        return None

    def _finish(self) -> str | Rejected | None:
        text, unknown = "".join(self._text), self._unknown
        self._text, self._unknown = [], []
        if unknown:
            return Rejected(f"key codes {unknown} have no character in the layout", text.encode())
        if not text:
            return None
        if len(text) > self.max_length:
            return Rejected(f"scan of {len(text)} characters is too long", text[:64].encode())
        return text

    def feed(self, data: bytes) -> list[str | Rejected]:
        out: list[str | Rejected] = []
        for _sec, _usec, type_, code, value in INPUT_EVENT.iter_unpack(data):
            result = self.feed_event(type_, code, value)
            if result is not None:
                out.append(result)
        return out


class EvdevScannerReader:
    """Reads a grabbed /dev/input/eventN (or a file / FIFO of events in tests) on a thread."""

    def __init__(
        self,
        path: str,
        on_scan: Callable[[RawScan], None],
        *,
        layout: str = "us",
        grab: bool = True,
        on_state: StateCallback = ignore_state,
        on_reject: Callable[[Rejected], None] | None = None,
        retry_s: float = 1.0,
    ) -> None:
        self.path = path
        self.layout = layout
        self.grab = grab
        self.on_scan = on_scan
        self.on_state = on_state
        self.on_reject = on_reject
        self.retry_s = retry_s
        self.name = f"scanner {path}"
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"evdev-{path}", daemon=True)

    def start(self) -> EvdevScannerReader:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout_s)
        if self._thread.is_alive():  # still reading: leave its wake pipe open rather than pull it away
            log.warning("%s: reader thread did not stop within %.0f s", self.name, timeout_s)
            return
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _open(self) -> int:
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        if self.grab:
            try:
                fcntl.ioctl(fd, EVIOCGRAB, 1)
            except OSError as exc:
                os.close(fd)
                if exc.errno == errno.EBUSY:
                    raise OSError(exc.errno, "another program has grabbed the scanner") from exc
                raise
        return fd

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                fd = self._open()
            except OSError as exc:
                gone = exc.errno in (errno.ENOENT, errno.ENODEV)
                self.on_state(
                    DeviceState(
                        self.name,
                        Status.DISCONNECTED if gone else Status.ERROR,
                        exc.strerror or str(exc),
                    )
                )
                if self._stop.wait(self.retry_s):
                    break
                continue
            self.on_state(DeviceState(self.name, Status.CONNECTED))
            try:
                reason = self._read_loop(fd)
            finally:
                os.close(fd)
            if reason:
                self.on_state(DeviceState(self.name, Status.DISCONNECTED, reason))
                if self._stop.wait(self.retry_s):
                    break
        self.on_state(DeviceState(self.name, Status.DISCONNECTED, "stopped"))

    def _read_loop(self, fd: int) -> str | None:
        decoder = EvdevDecoder(self.layout)
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([fd, self._wake_r], [], [])
            if self._wake_r in ready:
                return None
            try:
                data = os.read(fd, INPUT_EVENT.size * 64)
            except BlockingIOError:
                continue
            except OSError as exc:  # ENODEV: the scanner was unplugged
                return exc.strerror or str(exc)
            if not data:
                return "end of input (device closed)"
            pending += data
            whole = len(pending) - len(pending) % INPUT_EVENT.size
            chunk, pending = pending[:whole], pending[whole:]
            for item in decoder.feed(chunk):
                if isinstance(item, Rejected):
                    log.warning("%s: rejected %r: %s", self.name, item.data, item.reason)
                    if self.on_reject:
                        self.on_reject(item)
                    continue
                try:  # a failing consumer must not kill the reader (as in the serial reader)
                    self.on_scan(RawScan.from_wire(item, source="evdev"))
                except Exception:
                    log.exception("%s: scan callback failed for %r", self.name, item)
        return None
