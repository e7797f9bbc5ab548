"""What a scanned code means: AIM symbology prefixes, GS1 element strings, GTIN normalisation.

Scanners hand us text; this module turns it into a :class:`Barcode` the packing rules
understand. Nothing here touches a device or a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

import biip

GS = "\x1d"
MAX_SCAN_LENGTH = 512

# Keyboard-wedge scanners cannot type the invisible GS (0x1D); most are set to type a
# substitute instead. These are the common ones.
GS_SUBSTITUTES = ("<GS>", "{GS}", "[GS]", "\\x1d", "^]", "~", "\u241d")

_AIM_RE = re.compile(r"^\][A-Za-z][0-9A-Za-z]")

COMMANDS = frozenset(
    {
        "CMD-CLOSE-CARTON",
        "CMD-NEW-CARTON",
        "CMD-UNDO",
        "CMD-QTY",
        "CMD-SHORT",
        "CMD-CANCEL",
        "CMD-REPRINT",
        "CMD-LOGOUT",
    }
)


class BarcodeError(ValueError):
    """A scan that cannot be a barcode at all (empty, too long, control characters)."""


@dataclass(frozen=True)
class RawScan:
    """Text as a scanner delivered it, with the AIM symbology identifier split off."""

    data: str
    symbology: str | None = None
    source: str = "wedge"

    @classmethod
    def from_wire(cls, text: str, source: str = "wedge") -> RawScan:
        if _AIM_RE.match(text):
            return cls(data=text[3:], symbology=text[:3], source=source)
        return cls(data=text, symbology=None, source=source)


class BarcodeKind(Enum):
    COMMAND = "command"
    NUMBER = "number"  # a short number, used as a quantity after CMD-QTY
    GTIN = "gtin"  # a retail item code (EAN-13/8, UPC-A, GTIN-14), possibly with GS1 data
    SSCC = "sscc"  # a logistic unit (carton) code, AI 00
    TEXT = "text"  # anything else: order numbers, badges, carton-type codes, internal SKUs


@dataclass(frozen=True)
class Barcode:
    kind: BarcodeKind
    value: str  # the lookup key: GTIN-14, SSCC-18, command name or the cleaned text
    symbology: str | None = None
    lot: str | None = None
    expiry: date | None = None
    serial: str | None = None
    raw: str = ""

    @property
    def is_command(self) -> bool:
        return self.kind is BarcodeKind.COMMAND


def gtin_check_digit(payload: str) -> int:
    """GS1 mod-10 check digit of *payload* (all digits but the check digit)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def with_check_digit(payload: str) -> str:
    """*payload* followed by its GS1 check digit (GTIN, SSCC)."""
    return payload + str(gtin_check_digit(payload))


def normalize_gtin(code: str) -> str | None:
    """EAN-8, UPC-A, EAN-13 or GTIN-14 with a valid check digit -> zero-padded GTIN-14."""
    if not code.isascii() or not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return None
    if gtin_check_digit(code[:-1]) != int(code[-1]):
        return None
    return code.zfill(14)


def lookup_key(code: str) -> str:
    """The key a product barcode is stored and looked up under."""
    code = code.strip()
    return normalize_gtin(code) or code.upper()


def clean(text: str) -> str:
    """Validate raw scanner text (length, control characters) and trim it. Raises BarcodeError."""
    text = text.strip(" \r\n\t")
    if len(text) > MAX_SCAN_LENGTH:
        raise BarcodeError(f"scan is {len(text)} characters long; at most {MAX_SCAN_LENGTH} are accepted")
    if not text:
        raise BarcodeError("empty scan")
    bad = [ch for ch in text if (ord(ch) < 0x20 and ch != GS) or ord(ch) == 0x7F]
    if bad:
        shown = ", ".join(sorted({f"0x{ord(c):02X}" for c in bad}))
        raise BarcodeError(f"scan contains control characters ({shown}); rescan the item")
    return text


def substitute_gs(data: str) -> str:
    """Turn keyboard-wedge GS substitutes into GS, in text that starts like a GS1 element string.

    Only GS1 element strings carry GS, and they start with an AI (digits) or a leading FNC1.
    Anything else keeps its characters: a '~' in a QR code's URL, an order number or a badge
    is a '~', not a field separator.
    """
    for sub in GS_SUBSTITUTES:
        if data.startswith(sub):
            data = GS + data[len(sub) :]
            break
    if not data[:1].isascii() or not (data[:1].isdigit() or data[:1] == GS):
        return data
    for sub in GS_SUBSTITUTES:
        if sub in data:
            data = data.replace(sub, GS)
    return data


def _gs1(data: str, symbology: str | None) -> Barcode | None:
    """Parse *data* as a GS1 element string (with or without a leading FNC1 / GS)."""
    body = data.lstrip(GS)
    if not body[:2].isdigit():
        return None
    looks_gs1 = (symbology in ("]C1", "]d2", "]Q3", "]e0")) or GS in body or body.startswith(("01", "02", "00"))
    if not looks_gs1 or len(body) < 16:
        return None
    try:
        result = biip.parse(body, config=biip.ParseConfig(separator_chars=[GS]))
    except biip.ParseError:
        return None
    msg = result.gs1_message
    if msg is None:
        return None
    by_ai = {es.ai.ai: es for es in msg.element_strings}
    lot = by_ai["10"].value if "10" in by_ai else None
    serial = by_ai["21"].value if "21" in by_ai else None
    expiry = by_ai["17"].date if "17" in by_ai else None
    if "00" in by_ai:
        sscc = by_ai["00"].value
        if gtin_check_digit(sscc[:-1]) != int(sscc[-1]):
            return None
        return Barcode(BarcodeKind.SSCC, sscc, symbology, raw=data)
    gtin_es = by_ai.get("01") or by_ai.get("02")
    if gtin_es is None:
        return None
    gtin = normalize_gtin(gtin_es.value)
    if gtin is None:
        return None
    return Barcode(BarcodeKind.GTIN, gtin, symbology, lot=lot, expiry=expiry, serial=serial, raw=data)


def interpret(scan: RawScan | str) -> Barcode:
    """Turn one scan into a Barcode. Raises BarcodeError for text that is no barcode."""
    if isinstance(scan, str):
        scan = RawScan.from_wire(scan)
    data = clean(scan.data)
    symbology = scan.symbology
    if symbology is None and _AIM_RE.match(data):
        symbology, data = data[:3], data[3:]
        if not data:
            raise BarcodeError("scan holds only a symbology identifier")
    data = substitute_gs(data)
    upper = data.upper()
    if upper in COMMANDS:
        return Barcode(BarcodeKind.COMMAND, upper, symbology, raw=data)
    gs1 = _gs1(data, symbology)
    if gs1 is not None:
        return gs1
    if GS in data:
        raise BarcodeError("scan has GS1 separators but is not a valid GS1 element string")
    gtin = normalize_gtin(data)
    if gtin is not None:
        return Barcode(BarcodeKind.GTIN, gtin, symbology, raw=data)
    if data.isascii() and data.isdigit() and len(data) == 18 and gtin_check_digit(data[:-1]) == int(data[-1]):
        return Barcode(BarcodeKind.SSCC, data, symbology, raw=data)
    if data.isascii() and data.isdigit() and len(data) <= 5:
        return Barcode(BarcodeKind.NUMBER, str(int(data)), symbology, raw=data)
    return Barcode(BarcodeKind.TEXT, upper, symbology, raw=data)


def sscc18(extension: int, company_prefix: str, serial: int) -> str:
    """Build an SSCC-18: extension digit, GS1 company prefix, serial reference, check digit."""
    if not (0 <= extension <= 9):
        raise ValueError("SSCC extension digit must be 0-9")
    if not company_prefix.isdigit() or not (6 <= len(company_prefix) <= 12):
        raise ValueError("GS1 company prefix must be 6 to 12 digits")
    width = 16 - len(company_prefix)
    if serial < 0 or serial >= 10**width:
        raise ValueError(f"SSCC serial {serial} does not fit in {width} digits for this company prefix")
    payload = f"{extension}{company_prefix}{serial:0{width}d}"
    return with_check_digit(payload)
