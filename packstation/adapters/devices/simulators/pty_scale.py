"""A serial scale on a pty for each serial protocol, with settable weight and faults.

The reply formats below are written from the manufacturers' manuals (cited at each reply
function), independently of the parsing records in ``scale_protocols``; tests check the
simulator's bytes against the manuals' examples too, so the two cannot share a mistake
unnoticed. Faults: motion (forever or for a while), overload, below zero, silence, garbage.
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
CAS_FORMATS = ("18", "22", "short")  # AND 18-byte, CAS 22-byte, short "ST,+  1.234kg"
ADAM_FORMATS = ("format2", "format1", "stgs")  # Adam print layouts (see _adam)

# Toledo 8217 status byte (DIVA Service Manual 6.1.4.3)
TOLEDO_MOTION, TOLEDO_OVER, TOLEDO_UNDER, TOLEDO_ZERO_RANGE = 0x01, 0x02, 0x04, 0x08
TOLEDO_CENTRE_OF_ZERO, TOLEDO_NET, TOLEDO_ALWAYS = 0x10, 0x20, 0x40


class PtyScaleSimulator:
    def __init__(
        self,
        protocol: str,
        grams: int = 0,
        *,
        unit: str = "kg",
        long_form: bool = True,
        cas_format: str | None = None,
        adam_format: str = "format2",
        baudrate: int | None = None,
        period_s: float = 0.05,
    ) -> None:
        if protocol not in SERIAL_PROTOCOLS:
            raise ValueError(f"no pty simulator for {protocol!r}; choose from {SERIAL_PROTOCOLS}")
        cas_format = cas_format or ("18" if long_form else "short")
        if cas_format not in CAS_FORMATS:
            raise ValueError(f"unknown CAS format {cas_format!r}; choose from {CAS_FORMATS}")
        if adam_format not in ADAM_FORMATS:
            raise ValueError(f"unknown Adam format {adam_format!r}; choose from {ADAM_FORMATS}")
        self.protocol = protocol
        self.unit = unit
        self.cas_format = cas_format
        self.adam_format = adam_format
        self.device_id = 1  # CAS 22-byte frames carry it as the byte 0x30 + id
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

    def _toledo_status(self) -> int:
        """The status byte (DIVA Service Manual 6.1.4.3): bit 6 always set."""
        net = self._net()
        status = TOLEDO_ALWAYS
        if self._moving():
            status |= TOLEDO_MOTION
        if self.over:
            status |= TOLEDO_OVER
        elif net < 0:
            status |= TOLEDO_UNDER
        if self._tare:
            status |= TOLEDO_NET
        if net == 0 and not self._moving():
            status |= TOLEDO_CENTRE_OF_ZERO
        return status

    def _toledo(self, cmd: bytes) -> bytes:
        """Toledo 8217 (DIVA Service Manual 6.1.4.2): W -> STX weight CR, or STX ? status CR
        when moving, below zero or over capacity; Z, T and C answer STX ? status CR."""
        if cmd == b"W":
            status = self._toledo_status()
            if status & (TOLEDO_MOTION | TOLEDO_OVER | TOLEDO_UNDER):
                return b"\x02?" + bytes([status]) + b"\r"
            # kg "WW.WWW", lb "0WW.WW"; "N" after a net weight
            value = from_grams(self._net(), self.unit, 3 if self.unit == "kg" else 2)
            text = f"{value:06.3f}" if self.unit == "kg" else f"{value:06.2f}"
            return b"\x02" + text.encode() + (b"N" if self._tare else b"") + b"\r"
        if cmd == b"Z":
            if not self._moving() and not self._tare:  # zero needs a stable gross weight
                self._zero = self._gross
        elif cmd == b"T":
            if not self._moving() and self._gross - self._zero > 0:
                self._tare = self._gross - self._zero
        elif cmd == b"C":
            if not self._moving():
                self._tare = 0
        else:
            return b""
        return b"\x02?" + bytes([self._toledo_status()]) + b"\r"

    def _cas_frame(self) -> bytes:
        """CAS continuous output, in the layouts of the CAS NT-200 / CI-400 / CI-150A manuals."""
        net = self._net()
        head = b"OL" if self.over else (b"US" if self._moving() else b"ST")
        kind = b"NT" if self._tare else b"GS"
        value = self._value(net, self.unit)
        if self.cas_format == "22":
            # lamp status byte: bit 7 always 1, 6 stable, 5 always 1 (CI-400), 2 gross, 1 tare, 0 zero
            lamp = 0x80 | 0x20
            lamp |= 0x40 if head == b"ST" else 0
            lamp |= 0x02 if self._tare else 0x04
            lamp |= 0x01 if net == 0 else 0
            weight = f"{value:08.3f}" if self.unit != "g" else f"{int(value):08d}"
            unit = f"{self.unit:>2}".encode()
            return head + b"," + kind + b"," + bytes([0x30 + self.device_id, lamp]) + b"," + weight.encode() + b" " + unit + b"\r\n"
        sign = "-" if net < 0 else "+"
        text = f"{sign}{abs(value):>7}{self.unit}".encode()
        if self.cas_format == "18":
            return head + b"," + kind + b"," + text + b"\r\n"
        return head + b"," + text + b"\r\n"

    def _adam_fields(self, net: int) -> tuple[str, str, str]:
        """(sign, value, unit field) as Adam prints them (Highland manual, "Format 2 Output"):
        the sign is "-" or a space; a one-letter unit gets a space before and after (" g "), a
        two-letter one a space after ("kg "), a three-letter one none."""
        value = str(abs(self._value(net, self.unit)))
        unit = f" {self.unit} " if len(self.unit) == 1 else f"{self.unit:<3}"
        return ("-" if net < 0 else " "), value, unit

    def _adam(self, cmd: bytes) -> bytes:
        """Adam: P prints the weight; silent while the weight moves (AZextra / Highland manuals).

        format2: "±      123.45 g " (16 characters); format1: "GS      123.45 g ", then
        "No.         01" and "Total   123.45 g " and two blank lines; stgs: the continuous
        layout "ST,GS±     123.45 g " (20 characters).
        """
        if cmd == b"P":
            if self._moving() or self.over:
                return b""
            sign, value, unit = self._adam_fields(self._net())
            if self.adam_format == "format1":
                head = "NT" if self._tare else "GS"
                lines = [head + (sign.strip() + value).rjust(12) + unit, "No." + "01".rjust(11),
                         "Total" + (sign.strip() + value).rjust(9) + unit, "", ""]
            elif self.adam_format == "stgs":
                lines = ["ST," + ("NT" if self._tare else "GS") + sign + value.rjust(11) + unit]
            else:
                lines = [sign + value.rjust(12) + unit]
            return "".join(line + "\r\n" for line in lines).encode()
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
