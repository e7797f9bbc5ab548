"""A serial scale on a pty for each serial protocol, with settable weight and faults.

The reply formats below are written from the protocol descriptions, independently of the
parsing records in ``scale_protocols``, so a test that passes really checks the parser.
Faults: motion (forever or for a while), overload, below zero, silence, garbage.
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
from decimal import Decimal

from packstation.adapters.devices.simulators.pty_link import PtyLink
from packstation.adapters.devices.units import from_grams

SERIAL_PROTOCOLS = ("mt-sics", "toledo-8217", "cas", "adam")


class PtyScaleSimulator:
    def __init__(
        self,
        protocol: str,
        grams: int = 0,
        *,
        unit: str = "kg",
        long_form: bool = True,
        baudrate: int | None = None,
        period_s: float = 0.05,
    ) -> None:
        if protocol not in SERIAL_PROTOCOLS:
            raise ValueError(f"no pty simulator for {protocol!r}; choose from {SERIAL_PROTOCOLS}")
        self.protocol = protocol
        self.unit = unit
        self.long_form = long_form
        self.baudrate = baudrate  # emulate wire time at this baud rate (None: as fast as a pty)
        self.period_s = period_s  # continuous output interval (CAS)
        self._lock = threading.Lock()
        self._gross = grams
        self._zero = 0
        self._tare = 0
        self._motion_until = 0.0
        self.over = False
        self.silent = False
        self.garbage = False
        self.commands: list[bytes] = []  # every command received, for tests
        self._rng = random.Random(8217)
        self._link = PtyLink(name=f"scale-{protocol}")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, name=f"sim-scale-{protocol}", daemon=True
        )
        self._thread.start()

    # -- what the test / demo controls ------------------------------------------------------
    @property
    def port(self) -> str:
        return self._link.path

    def set_weight(self, grams: int) -> None:
        with self._lock:
            self._gross = grams

    def set_motion(self, moving: bool | float) -> None:
        """True: moves until set_motion(False); a number: moves for that many seconds."""
        with self._lock:
            if moving is True:
                self._motion_until = float("inf")
            elif moving is False:
                self._motion_until = 0.0
            else:
                self._motion_until = time.monotonic() + float(moving)

    def set_overload(self, over: bool) -> None:
        with self._lock:
            self.over = over

    def set_silent(self, silent: bool) -> None:
        with self._lock:
            self.silent = silent

    def set_garbage(self, garbage: bool) -> None:
        with self._lock:
            self.garbage = garbage

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._link.close()

    def __enter__(self) -> PtyScaleSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -------------------------------------------------------------------------------
    def _net(self) -> int:
        return self._gross - self._zero - self._tare

    def _moving(self) -> bool:
        return time.monotonic() < self._motion_until

    def _value(self, grams: int, unit: str, decimals: int = 3) -> Decimal:
        return from_grams(grams, unit, decimals if unit != "g" else 0)

    # -- replies per protocol ----------------------------------------------------------------
    def _mt_sics(self, cmd: bytes) -> bytes:
        net = self._net()
        if cmd in (b"S", b"SI"):
            if self.over:
                return b"S +\r\n"
            if net < 0 and not self._moving():
                return b"S -\r\n"
            if cmd == b"S" and self._moving():
                return b"S I\r\n"  # stability not reached in time (we answer at once)
            flag = b"D" if self._moving() else b"S"
            value = f"{self._value(net, self.unit):>10} {self.unit}".encode()
            return b"S " + flag + b" " + value + b"\r\n"
        if cmd == b"Z":
            if self._moving():
                return b"Z I\r\n"
            self._zero = self._gross
            self._tare = 0
            return b"Z A\r\n"
        if cmd == b"T":
            if self._moving():
                return b"T I\r\n"
            self._tare = self._gross - self._zero
            return f"T S {self._value(self._tare, self.unit):>10} {self.unit}\r\n".encode()
        return b"ES\r\n"

    def _toledo(self, cmd: bytes) -> bytes:
        if cmd == b"W":
            status = 0x40  # bit 6 keeps the byte printable
            if self.over:
                status |= 0x20
            elif self._net() < 0:
                status |= 0x10
            elif self._moving():
                status |= 0x01
            if status != 0x40:
                return b"\x02?" + bytes([status]) + b"\r"
            kg = from_grams(self._net(), self.unit, 3 if self.unit == "kg" else 2)
            return b"\x02" + f"{kg:07}".encode() + b"\r"
        if cmd == b"Z":
            self._zero, self._tare = self._gross, 0
        elif cmd == b"T":
            self._tare = self._gross - self._zero
        elif cmd == b"C":
            self._tare = 0
        return b""

    def _cas_frame(self) -> bytes:
        net = self._net()
        head = b"OL" if self.over else (b"US" if self._moving() else b"ST")
        sign = "-" if net < 0 else "+"
        value = f"{sign}{abs(self._value(net, self.unit)):>7}{self.unit}".encode()
        if self.long_form:
            return head + b",GS," + value + b"\r\n"
        return head + b"," + value + b"\r\n"

    def _adam(self, cmd: bytes) -> bytes:
        if cmd == b"P":
            if self._moving() or self.over:
                return b""
            net = self._net()
            return f"{self._value(net, self.unit):>10} {self.unit}\r\n".encode()
        if cmd == b"Z":
            self._zero, self._tare = self._gross, 0
        elif cmd == b"T":
            self._tare = self._gross - self._zero
        return b""

    def _reply(self, cmd: bytes) -> bytes:
        with self._lock:
            self.commands.append(cmd)
            if self.silent:
                return b""
            if self.garbage:
                return bytes(self._rng.randrange(0x80, 0x100) for _ in range(12)) + b"\r\n"
            if self.protocol == "mt-sics":
                return self._mt_sics(cmd)
            if self.protocol == "toledo-8217":
                return self._toledo(cmd)
            return self._adam(cmd)

    # -- the serving thread ------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if not data:
            return
        if self.baudrate:
            time.sleep(len(data) * 10 / self.baudrate)
        self._link.write(data)

    def _serve(self) -> None:
        buf = b""
        next_frame = time.monotonic()
        master = self._link.master
        assert master is not None
        while not self._stop.is_set():
            wait = 0.02
            if self.protocol == "cas":
                wait = max(0.0, min(wait, next_frame - time.monotonic()))
            ready, _, _ = select.select([master], [], [], wait)
            if ready:
                try:
                    data = os.read(master, 1024)
                except OSError:
                    data = b""
                buf += data
            if self.protocol == "cas":
                if time.monotonic() >= next_frame:
                    next_frame = time.monotonic() + self.period_s
                    with self._lock:  # built and written before set_weight() returns
                        if self.silent:
                            frame = b""
                        elif self.garbage:
                            frame = bytes(self._rng.randrange(0x80, 0x100) for _ in range(12))
                            frame += b"\r\n"
                        else:
                            frame = self._cas_frame()
                        self._send(frame)
                buf = b""
                continue
            if self.protocol == "toledo-8217":  # one-letter commands, no terminator
                cmds, buf = [bytes([c]) for c in buf if c not in (0x0D, 0x0A)], b""
            else:
                *lines, buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
                cmds = [line.strip() for line in lines if line.strip()]
            for cmd in cmds:
                if self.baudrate:  # the command itself took this long on the wire
                    time.sleep((len(cmd) + 2) * 10 / self.baudrate)
                self._send(self._reply(cmd))
