"""Turning scanner bytes into scans: CR / LF / CRLF framing and validation.

Shared by the serial reader and its tests. A frame that cannot be a scan (too long, not
UTF-8, control characters other than GS) is rejected with a reason; the caller logs it and
keeps reading, so one bad label never stops the bench.
"""

from __future__ import annotations

from dataclasses import dataclass

from packstation.domain.barcodes import GS, MAX_SCAN_LENGTH, RawScan


@dataclass(frozen=True)
class Rejected:
    reason: str
    data: bytes


class LineFramer:
    """Accumulates bytes; yields RawScan or Rejected for each CR-, LF- or CRLF-ended line."""

    def __init__(self, source: str, max_length: int = MAX_SCAN_LENGTH) -> None:
        self.source = source
        self.max_length = max_length
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[RawScan | Rejected]:
        out: list[RawScan | Rejected] = []
        start = 0
        for i, b in enumerate(data):
            if b == 0x0D or b == 0x0A:
                self._buf += data[start:i]
                start = i + 1
                out.extend(self._end_line())
        rest = data[start:]
        if rest:
            if self._overflow:
                return out
            self._buf += rest
            if len(self._buf) > self.max_length:
                out.append(
                    Rejected(
                        f"line longer than {self.max_length} bytes without CR/LF: is the scanner "
                        "set to send a CR or LF suffix?",
                        bytes(self._buf[:64]),
                    )
                )
                self._buf.clear()
                self._overflow = True
        return out

    def _end_line(self) -> list[RawScan | Rejected]:
        line = bytes(self._buf)
        self._buf.clear()
        if self._overflow:
            self._overflow = False  # the tail of an over-long line: already reported
            return []
        if not line:
            return []  # the LF of a CRLF, or a blank line
        if len(line) > self.max_length:
            return [
                Rejected(f"scan of {len(line)} bytes is longer than {self.max_length}", line[:64])
            ]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [
                Rejected(
                    f"not UTF-8 ({exc.reason} at byte {exc.start}): check the scanner's "
                    "interface settings (baud rate, code page)",
                    line[:64],
                )
            ]
        bad = sorted(
            {f"0x{ord(c):02X}" for c in text if (ord(c) < 0x20 and c != GS) or ord(c) == 0x7F}
        )
        if bad:
            return [Rejected(f"control characters {', '.join(bad)} in the scan", line[:64])]
        return [RawScan.from_wire(text, source=self.source)]
