"""The one generic driver that interprets any :class:`ScaleProtocol` record over pyserial."""

from __future__ import annotations

import logging
import termios
import time
from decimal import Decimal

import serial

from packstation.adapters.devices.scale_errors import (
    ScaleBelowZero,
    ScaleDisconnected,
    ScaleFault,
    ScaleGarbage,
    ScaleNoAnswer,
    ScaleNotSettled,
    ScaleOverCapacity,
    ScaleUnsupported,
)
from packstation.adapters.devices.scale_protocols import Cond, ScaleProtocol
from packstation.adapters.devices.scales import Reading
from packstation.adapters.devices.units import to_grams

log = logging.getLogger(__name__)

MAX_FRAME = 128  # no scale reply is longer; more bytes without CR/LF is noise
GARBAGE_LIMIT = 3  # consecutive unreadable frames before we blame the line settings
COUNTING_UNITS = ("pcs", "%")  # a scale in parts-counting or percent mode

_BYTESIZE = {7: serial.SEVENBITS, 8: serial.EIGHTBITS}


class SerialScale:
    """A serial scale (device path or any pyserial URL) speaking *protocol*."""

    def __init__(
        self,
        port: str,
        protocol: ScaleProtocol,
        *,
        baudrate: int | None = None,
        unit: str | None = None,
        stable_timeout_s: float = 5.0,
    ) -> None:
        self.port = port
        self.protocol = protocol
        self.unit = unit or protocol.unit
        self.stable_timeout_s = stable_timeout_s
        self._buf = bytearray()
        try:
            self._ser = serial.serial_for_url(
                port,
                baudrate=baudrate or protocol.baudrate,
                bytesize=_BYTESIZE[protocol.bytesize],
                parity=protocol.parity,
                stopbits=protocol.stopbits,
                timeout=0.05,
                write_timeout=1.0,
                exclusive=True,  # two readers on one scale would steal each other's replies
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            busy = (
                " (is the station or another `devices read-scale` using it?)"
                if ("lock" in str(exc).lower())
                else ""
            )
            raise ScaleDisconnected(
                f"cannot open the scale port {port}: {exc}{busy}; check the cable and [scale] port"
            ) from exc

    # -- framing -------------------------------------------------------------------------
    def _next_frame(self, deadline: float) -> bytes | None:
        """The next CR/LF-terminated frame (STX dropped), or None if *deadline* passes."""
        while True:
            for i, b in enumerate(self._buf):
                if b in (0x0D, 0x0A):
                    frame = bytes(self._buf[:i]).lstrip(b"\x02")
                    del self._buf[: i + 1]
                    if frame:
                        return frame
                    break
            else:
                if len(self._buf) > MAX_FRAME:
                    frame = bytes(self._buf)
                    self._buf.clear()
                    return frame
                if time.monotonic() >= deadline:
                    return None
                try:
                    chunk = self._ser.read(self._ser.in_waiting or 1)
                except (serial.SerialException, OSError) as exc:
                    raise ScaleDisconnected(
                        f"the scale on {self.port} stopped answering ({exc}); check its cable"
                    ) from exc
                self._buf += chunk

    def _classify(self, frame: bytes) -> tuple[Cond, int | None] | None:
        for spec in self.protocol.frames:
            m = spec.pattern.match(frame)
            if not m:
                continue
            groups = m.groupdict()
            cond = spec.cond
            if groups.get("code") is not None and spec.codes:
                cond = spec.codes.get(groups["code"], cond)
            if groups.get("status") is not None:
                byte = groups["status"][0]
                cond = next((c for mask, c in spec.status_bits if byte & mask), spec.status_default)
            if cond is None:
                continue
            grams = None
            if groups.get("weight") is not None:
                unit = (groups.get("unit") or b"").decode("ascii") or self.unit or "g"
                if unit.lower() in COUNTING_UNITS:
                    raise ScaleFault(
                        f"the scale on {self.port} sends {unit!r}, not a weight: it is counting parts "
                        "or weighing in percent; switch it back to weighing"
                    )
                value = Decimal(groups["weight"].replace(b" ", b"").decode("ascii"))
                try:
                    grams = to_grams(value, unit)
                except ValueError as exc:
                    raise ScaleFault(f"the scale on {self.port} sent {exc}") from exc
            elif cond is Cond.STABLE:
                cond = Cond.STATUS  # "stable" without a weight says nothing about the weight
            return cond, grams
        return None

    def _flush(self) -> None:
        """Drop what the scale sent before we asked: it is stale.

        On a port whose device is gone this fails with termios.error (neither an OSError nor
        a SerialException): that too means the scale was unplugged.
        """
        try:
            self._ser.reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise ScaleDisconnected(f"the scale on {self.port} is not answering the port: {exc}") from exc
        self._buf.clear()

    def _send(self, command: bytes) -> None:
        self._flush()
        try:
            self._ser.write(command + self.protocol.eol)
        except (serial.SerialException, OSError) as exc:
            raise ScaleDisconnected(f"cannot write to the scale on {self.port}: {exc}") from exc

    # -- reading -------------------------------------------------------------------------
    def _poll_once(self, deadline: float) -> tuple[Cond, int | None, bytes] | None:
        """Ask (or wait) for one frame. None: silence until the answer timeout or deadline.

        Lines of a printout that are not the weight (Cond.IGNORE) are skipped.
        """
        if self.protocol.poll is not None:
            self._send(self.protocol.poll)
        answer_by = min(deadline, time.monotonic() + self.protocol.answer_timeout_s)
        while True:
            frame = self._next_frame(answer_by)
            if frame is None:
                return None
            result = self._classify(frame)
            if result is None:
                log.warning("scale %s: unreadable frame %r", self.port, frame[:64])
                return Cond.GARBAGE, None, frame
            if result[0] is not Cond.IGNORE:
                return result[0], result[1], frame

    def _raise_for(self, cond: Cond, frame: bytes) -> None:
        if cond is Cond.OVER:
            raise ScaleOverCapacity()
        if cond is Cond.UNDER:
            raise ScaleBelowZero()
        if cond is Cond.REJECTED:
            raise ScaleFault(
                f"the scale on {self.port} rejected the command ({frame.decode('latin-1')}): "
                f"check that it is set to the {self.protocol.name} protocol"
            )
        if cond is Cond.FAULT:
            raise ScaleFault(
                f"the scale on {self.port} reports a fault ({frame!r}): switch it off and on; "
                "if it persists, have it serviced"
            )
        if cond is Cond.ZERO_ERROR:
            raise ScaleFault(
                f"the scale on {self.port} is outside its zero capture range (it found no zero): "
                "empty the platform and press ZERO, or switch it off and on with the platform empty"
            )

    def read(self) -> Reading:
        """One reading for live display; raises on overload, below zero, silence or garbage."""
        deadline = time.monotonic() + self.protocol.answer_timeout_s
        if self.protocol.poll is None:
            self._flush()
        garbage = 0
        while True:
            got = self._poll_once(deadline)
            if got is None:
                if self.protocol.silent_when_unstable:
                    return Reading(None, False)
                raise ScaleNoAnswer(self.port, self.protocol.answer_timeout_s)
            cond, grams, frame = got
            if cond is Cond.GARBAGE:
                garbage += 1
                if garbage >= GARBAGE_LIMIT or time.monotonic() >= deadline:
                    raise ScaleGarbage(self.port, frame, self.protocol.name)
                continue
            self._raise_for(cond, frame)
            if cond is Cond.STABLE and grams is not None and grams < 0:
                raise ScaleBelowZero()
            if cond in (Cond.STABLE, Cond.MOTION, Cond.BUSY):
                return Reading(grams, cond is Cond.STABLE)
            # Cond.STATUS: a status report with no weight (a late answer to zero / tare): ask again

    def read_stable(self, timeout_s: float | None = None) -> int:
        """Wait for a stable weight in grams; raise a ScaleError a packer can act on."""
        timeout = self.stable_timeout_s if timeout_s is None else timeout_s
        start = time.monotonic()
        deadline = start + timeout
        if self.protocol.poll is None:
            self._flush()
        answered = False
        garbage = 0
        last_garbage = b""
        while time.monotonic() < deadline:
            got = self._poll_once(deadline)
            if got is None:
                if self.protocol.silent_when_unstable:
                    continue  # an Adam scale stays silent while the weight moves
                if time.monotonic() >= deadline and answered:
                    break
                raise ScaleNoAnswer(self.port, round(time.monotonic() - start, 2))
            cond, grams, frame = got
            if cond is Cond.GARBAGE:
                garbage += 1
                last_garbage = frame
                if garbage >= GARBAGE_LIMIT:
                    raise ScaleGarbage(self.port, frame, self.protocol.name)
                continue
            garbage = 0
            answered = True
            self._raise_for(cond, frame)
            if cond is Cond.STABLE and grams is not None:
                if grams < 0:
                    raise ScaleBelowZero()
                return grams
            if self.protocol.poll is not None:
                time.sleep(self.protocol.poll_interval_s)
        if last_garbage and not answered:
            raise ScaleGarbage(self.port, last_garbage, self.protocol.name)
        if self.protocol.silent_when_unstable and not answered:
            raise ScaleNoAnswer(
                self.port,
                timeout,
                " (this scale stays silent while the weight moves, and some models while the weight "
                "is unchanged: keep the carton still, or lift it and put it back)",
            )
        raise ScaleNotSettled(timeout)

    # -- commands ------------------------------------------------------------------------
    def _command(self, what: str, command: bytes | None) -> None:
        if command is None:
            raise ScaleUnsupported(
                f"{self.protocol.name} scales take no {what} command over the cable: "
                f"press {what.upper()} on the scale itself"
            )
        self._send(command)
        if not self.protocol.acks_commands:
            return
        deadline = time.monotonic() + self.protocol.answer_timeout_s
        while True:
            frame = self._next_frame(deadline)
            if frame is None:
                raise ScaleNoAnswer(
                    self.port,
                    self.protocol.answer_timeout_s,
                    f" (it did not confirm the {what}; some scales ignore {what} when it is disabled "
                    "in their setup menu)",
                )
            result = self._classify(frame)
            if result is None:
                raise ScaleGarbage(self.port, frame, self.protocol.name)
            cond = result[0]
            if cond is Cond.IGNORE:
                continue
            if cond in (Cond.ACK, Cond.STATUS):
                return
            if cond in (Cond.BUSY, Cond.MOTION, Cond.OVER, Cond.UNDER, Cond.ZERO_ERROR):
                raise ScaleFault(
                    f"the scale could not {what}: the weight is moving or outside the {what} "
                    "range; empty and steady the platform, then try again"
                )
            self._raise_for(cond, frame)

    def zero(self) -> None:
        self._command("zero", self.protocol.zero)

    def tare(self) -> None:
        self._command("tare", self.protocol.tare)

    def clear_tare(self) -> None:
        self._command("clear tare", self.protocol.clear)

    def close(self) -> None:
        self._ser.close()
