"""Asking a printer how it is: Zebra ``~HS`` host status and ESC/POS real-time status.

``~HS`` returns three lines, each framed STX ... ETX CR LF:

1. ``aaa,b,c,dddd,eee,f,g,h,iii,j,k,l`` - comm settings, *paper out*, *paused*, label length,
   formats in buffer, buffer full, diagnostic mode, partial format, unused, corrupt RAM,
   under temperature, over temperature;
2. ``mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www`` - function settings, unused, *head up*, *ribbon out*,
   thermal transfer, print mode, width mode, label waiting, labels remaining, format while
   printing, graphics stored;
3. ``xxxx,y`` - password, static RAM installed.

"When a ~HS command is sent the printer will not send a response to the host if the printer
is in one of these conditions: MEDIA OUT, RIBBON OUT, HEAD OPEN, REWINDER FULL, HEAD
OVER-TEMPERATURE" (Zebra ZPL Programming Guide, ~HS). So silence is an answer too: it is
reported as "not answering", with those conditions to check, never as a wrong language.

ESC/POS ``DLE EOT n`` answers one status byte for n = 1 (printer), 2 (offline cause),
3 (error cause), 4 (paper roll sensor).
"""

from __future__ import annotations

from dataclasses import dataclass

from packstation.adapters.devices.transports import (
    PrinterError,
    PrinterNoReply,
    PrinterTimeout,
    Transport,
)

HS_REQUEST = b"~HS\r\n"
STX, ETX = b"\x02", b"\x03"


class StatusParseError(PrinterError):
    """The printer answered, but not in the status format we asked for."""


class PrinterNotAnswering(PrinterTimeout):
    """The printer took the status query and sent nothing back."""


@dataclass(frozen=True)
class ZebraStatus:
    paper_out: bool
    paused: bool
    head_open: bool
    ribbon_out: bool
    buffer_full: bool
    formats_in_buffer: int
    labels_remaining: int
    under_temperature: bool
    over_temperature: bool
    corrupt_ram: bool

    @property
    def problems(self) -> list[str]:
        """What stops printing, in words a packer can act on."""
        out = []
        if self.paper_out:
            out.append("out of labels: load a new roll")
        if self.head_open:
            out.append("print head open: close the head")
        if self.ribbon_out:
            out.append("ribbon out: load a ribbon")
        if self.paused:
            out.append("paused: press PAUSE on the printer")
        if self.buffer_full:
            out.append("receive buffer full: wait, then retry")
        if self.over_temperature:
            out.append("print head too hot: let it cool down")
        if self.under_temperature:
            out.append("print head too cold")
        if self.corrupt_ram:
            out.append("printer memory corrupt: switch it off and on")
        return out

    @property
    def ready(self) -> bool:
        return not self.problems


def parse_host_status(reply: bytes) -> ZebraStatus:
    """Parse a ``~HS`` reply (three STX..ETX framed lines). Raises StatusParseError."""
    frames = []
    rest = reply
    while STX in rest:
        start = rest.index(STX) + 1
        end = rest.find(ETX, start)
        if end < 0:
            break
        frames.append(rest[start:end].decode("ascii", errors="replace").split(","))
        rest = rest[end + 1 :]
    if len(frames) < 2 or len(frames[0]) < 12 or len(frames[1]) < 11:
        raise StatusParseError(
            f"the printer's ~HS reply is not a Zebra host status ({reply[:60]!r}): "
            'is [label_printer] language = "zpl" right for this printer?'
        )
    one, two = frames[0], frames[1]

    def flag(field: str) -> bool:
        return field.strip() == "1"

    def num(field: str) -> int:
        return int(field.strip()) if field.strip().isdigit() else 0

    return ZebraStatus(
        paper_out=flag(one[1]),
        paused=flag(one[2]),
        formats_in_buffer=num(one[4]),
        buffer_full=flag(one[5]),
        corrupt_ram=flag(one[9]),
        under_temperature=flag(one[10]),
        over_temperature=flag(one[11]),
        head_open=flag(two[2]),
        ribbon_out=flag(two[3]),
        labels_remaining=num(two[8]),
    )


def format_host_status(
    *,
    paper_out: bool = False,
    paused: bool = False,
    head_open: bool = False,
    ribbon_out: bool = False,
    formats: int = 0,
    labels_remaining: int = 0,
) -> bytes:
    """A ``~HS`` reply as a Zebra sends it (used by the printer simulator)."""
    b = int
    one = f"030,{b(paper_out)},{b(paused)},1218,{formats:03d},0,0,0,000,0,0,0"
    two = f"000,0,{b(head_open)},{b(ribbon_out)},1,2,6,0,{labels_remaining:08d},1,000"
    three = "1234,0"
    return b"".join(STX + line.encode() + ETX + b"\r\n" for line in (one, two, three))


def query_zebra_status(transport: Transport, timeout_s: float = 2.0) -> ZebraStatus:
    """Ask ``~HS``. Raises PrinterNotAnswering when the printer stays silent (see module doc)."""
    try:
        reply = transport.query(HS_REQUEST, timeout_s, until=lambda r: r.count(ETX) >= 3)
    except PrinterNoReply as exc:
        raise PrinterNotAnswering(_not_answering(transport.url, timeout_s)) from exc
    if not reply.strip(b"\r\n\x00 "):
        raise PrinterNotAnswering(_not_answering(transport.url, timeout_s))
    return parse_host_status(reply)


def _not_answering(url: str, timeout_s: float) -> str:
    return (
        f"printer {url} is not answering: no reply to the ~HS status query within {timeout_s:g} s. "
        "A Zebra printer sends no status while it is out of labels or ribbon, has its head open "
        "or too hot: check the paper, the ribbon and that the head is closed. If all is well, "
        "check that the printer is switched on and that this address is the label printer"
    )


# -- ESC/POS real-time status (DLE EOT n) ---------------------------------------------------

DLE_EOT = b"\x10\x04"
PRINTER, OFFLINE, ERROR, PAPER = 1, 2, 3, 4


@dataclass(frozen=True)
class EscposStatus:
    online: bool = True
    cover_open: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    error: bool = False

    @property
    def problems(self) -> list[str]:
        out = []
        if self.paper_out:
            out.append("out of paper: load a new roll")
        if self.cover_open:
            out.append("cover open: close it")
        if self.error:
            out.append("printer error (cutter jam or overheat): open, clear, close")
        if not self.online and not out:
            out.append("printer offline")
        return out


def parse_escpos_status(n: int, byte: int) -> EscposStatus:
    """Decode the answer to ``DLE EOT n``. Fixed bits (1 and 4 set, 0 and 7 clear) are checked."""
    if byte & 0x93 != 0x12:
        raise StatusParseError(f"0x{byte:02X} is not an ESC/POS status byte (fixed bits wrong)")
    if n == PRINTER:
        return EscposStatus(online=not byte & 0x08)
    if n == OFFLINE:
        return EscposStatus(
            online=not byte & 0x40 and not byte & 0x20 and not byte & 0x04,
            cover_open=bool(byte & 0x04),
            paper_out=bool(byte & 0x20),
            error=bool(byte & 0x40),
        )
    if n == ERROR:
        return EscposStatus(online=not byte & 0x6C, error=bool(byte & 0x6C))
    if n == PAPER:
        return EscposStatus(
            paper_near_end=bool(byte & 0x0C), paper_out=bool(byte & 0x60), online=not byte & 0x60
        )
    raise ValueError(f"DLE EOT n must be 1-4, got {n}")


def query_escpos_status(transport: Transport, timeout_s: float = 2.0) -> EscposStatus:
    """Ask offline cause (n=2) and paper sensor (n=4); merge them."""
    offline = transport.query(DLE_EOT + bytes([OFFLINE]), timeout_s, until=bool)
    paper = transport.query(DLE_EOT + bytes([PAPER]), timeout_s, until=bool)
    if not offline or not paper:
        raise StatusParseError("the ESC/POS printer sent no status byte")
    a = parse_escpos_status(OFFLINE, offline[-1])
    b = parse_escpos_status(PAPER, paper[-1])
    return EscposStatus(
        online=a.online and b.online,
        cover_open=a.cover_open,
        error=a.error,
        paper_out=a.paper_out or b.paper_out,
        paper_near_end=b.paper_near_end,
    )


def query_status(transport: Transport, language: str) -> list[str] | None:
    """The printer's problems in words ([] when ready); None when the language has no status query."""
    if language == "zpl":
        return query_zebra_status(transport).problems
    if language == "escpos":
        return query_escpos_status(transport).problems
    return None
