"""A reader for the ESC/POS subset our documents use, written from Epson's ESC/POS command
reference (not from python-escpos), so tests can check the bytes independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ESC t n -> Python codec, for the code pages python-escpos may switch to.
CODE_PAGES = {
    0: "cp437",
    2: "cp850",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    38: "cp869",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
}


@dataclass
class Barcode:
    system: int  # GS k m
    data: bytes
    height: int
    width: int


@dataclass
class Parsed:
    lines: list[tuple[str, bool, bool]] = field(default_factory=list)  # (text, bold, double)
    barcodes: list[Barcode] = field(default_factory=list)
    qr_data: list[bytes] = field(default_factory=list)
    qr_printed: int = 0
    initialised_first: bool = False
    cut: bool = False
    code_pages: set[int] = field(default_factory=set)
    rasters: list[tuple[int, int, bytes]] = field(default_factory=list)  # (width, height, bits)

    def text(self) -> str:
        return "\n".join(t for t, _, _ in self.lines)


def parse(stream: bytes) -> Parsed:
    out = Parsed()
    i = 0
    page = 0
    bold = False
    double = False
    height, width = 162, 3
    line = bytearray()
    line_pages: list[tuple[int, bytes]] = []

    def flush() -> None:
        nonlocal line_pages
        text = "".join(
            bytes(chunk).decode(CODE_PAGES[p]) for p, chunk in line_pages + [(page, line)]
        )
        out.lines.append((text, bold, double))
        line.clear()
        line_pages = []

    out.initialised_first = stream[:2] == b"\x1b@"
    while i < len(stream):
        b = stream[i]
        if b == 0x1B:  # ESC
            cmd = stream[i + 1]
            if cmd == ord("@"):
                i += 2
            elif cmd == ord("!"):
                n = stream[i + 2]
                double = bool(n & 0x30)
                i += 3
            elif cmd == ord("E"):
                bold = bool(stream[i + 2] & 1)
                i += 3
            elif cmd == ord("a"):
                i += 3
            elif cmd == ord("t"):
                if line:
                    line_pages.append((page, bytes(line)))
                    line.clear()
                page = stream[i + 2]
                out.code_pages.add(page)
                i += 3
            elif cmd in (ord("-"), ord("G"), ord("M")):
                i += 3
            elif cmd == ord("d"):
                i += 3
            else:
                raise AssertionError(f"unexpected ESC {chr(cmd)!r} at byte {i}")
        elif b == 0x1D:  # GS
            cmd = stream[i + 1]
            if cmd == ord("!"):
                n = stream[i + 2]
                double = bool(n & 0x11)
                i += 3
            elif cmd == ord("h"):
                height = stream[i + 2]
                i += 3
            elif cmd == ord("w"):
                width = stream[i + 2]
                i += 3
            elif cmd in (ord("f"), ord("H")):
                i += 3
            elif cmd == ord("k"):
                m = stream[i + 2]
                assert m >= 65, "only function B barcodes (GS k m n data) are expected"
                n = stream[i + 3]
                out.barcodes.append(Barcode(m, stream[i + 4 : i + 4 + n], height, width))
                i += 4 + n
            elif cmd == ord("(") and stream[i + 2] == ord("k"):
                size = stream[i + 3] | stream[i + 4] << 8
                body = stream[i + 5 : i + 5 + size]
                cn, fn = body[0], body[1]
                assert cn == 49, "only QR (cn=49) is expected"
                if fn == 80:
                    out.qr_data.append(body[3:])
                elif fn == 81:
                    out.qr_printed += 1
                i += 5 + size
            elif cmd == ord("V"):
                out.cut = True
                i += 3 if stream[i + 2] in (0, 1, 48, 49) else 4
            elif cmd == ord("v") and stream[i + 2] == ord("0"):  # GS v 0 m xL xH yL yH: raster
                x_bytes = stream[i + 4] | stream[i + 5] << 8
                rows = stream[i + 6] | stream[i + 7] << 8
                data = stream[i + 8 : i + 8 + x_bytes * rows]
                assert len(data) == x_bytes * rows, "raster image shorter than announced"
                out.rasters.append((x_bytes * 8, rows, data))
                i += 8 + x_bytes * rows
            elif cmd == ord("L") or cmd == ord("W"):
                i += 4
            else:
                raise AssertionError(f"unexpected GS {chr(cmd)!r} at byte {i}")
        elif b == 0x0A:
            flush()
            i += 1
        elif b < 0x20:
            raise AssertionError(f"unexpected control byte 0x{b:02X} at {i}")
        else:
            line.append(b)
            i += 1
    return out
