"""What a scanned code means: AIM symbology prefixes, GS1 element strings, GTIN normalisation.

Scanners hand us text; this module turns it into a :class:`Barcode` the packing rules
understand. Nothing here touches a device or a database.

Sources for the rules below:

* AIM symbology identifiers (ISO/IEC 15424; GS1 General Specifications, "Symbology
  identifiers"): ``]E0`` EAN-13, UPC-A or UPC-E; ``]E4`` EAN-8; ``]C1`` GS1-128; ``]d2`` GS1
  DataMatrix; ``]Q3`` GS1 QR Code; ``]e0`` GS1 DataBar.
* UPC-E carries a GTIN-12 with zeros suppressed; "the GTIN-12 must be transformed into its
  full length by the barcode reader software or by the application software" (GS1 General
  Specifications, section 2.1.3.3). A GS1-8 prefix starting with 0 is a restricted circulation
  number for use inside one company (RCN-8), not a GTIN-8 (GS1 prefix list).
* Which application identifiers may or must appear together: GS1 Barcode Syntax Dictionary
  (github.com/gs1/gs1-syntax-dictionary): ``01 ex=02,255,37``, ``02 req=37``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Literal

import biip
from biip.upc import Upc

GS = "\x1d"
MAX_SCAN_LENGTH = 512

# Keyboard-wedge scanners cannot type the invisible GS (0x1D); most are set to type a
# substitute instead. These are the common ones.
GS_SUBSTITUTES = ("<GS>", "{GS}", "[GS]", "\\x1d", "^]", "~", "\u241d")

_AIM_RE = re.compile(r"^\][A-Za-z][0-9A-Za-z]")

# AIM identifiers of symbols that carry GS1 element strings (FNC1 in first position).
GS1_SYMBOLOGIES = frozenset({"]C1", "]d2", "]Q3", "]e0"})
EAN_UPC = "]E0"  # EAN-13, UPC-A or UPC-E
EAN_8 = "]E4"

BENCH_COMMANDS = frozenset(
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
# the dispatch dock's card: CMD-CLOSE-MANIFEST, CMD-UNDO (unload the last carton), CMD-LOGOUT
DOCK_COMMANDS = frozenset({"CMD-CLOSE-MANIFEST", "CMD-UNDO", "CMD-LOGOUT"})
COMMANDS = BENCH_COMMANDS | DOCK_COMMANDS


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
    GTIN = "gtin"  # a retail item code (EAN-13/8, UPC-A/E, GTIN-14), possibly with GS1 data
    SSCC = "sscc"  # a logistic unit (carton) code, AI 00
    GS1_DATA = "gs1"  # a GS1 element string naming no item or unit: a lot alone, (242), ...
    TEXT = "text"  # anything else: order numbers, badges, carton-type codes, internal SKUs


@dataclass(frozen=True)
class Barcode:
    kind: BarcodeKind
    value: str  # the lookup key: GTIN-14, SSCC-18, command name, GS1 text as "(10)ABC" or the cleaned text
    symbology: str | None = None
    lot: str | None = None  # AI (10)
    expiry: date | None = None  # AI (17), day 00 read as the month's last day
    serial: str | None = None  # AI (21)
    raw: str = ""
    gtin: str | None = None  # GTIN-14 of the item: the code itself, AI (01), or AI (02) (contents)
    count: int | None = None  # AI (37): how many items of *gtin* the scanned unit holds
    sscc: str | None = None  # AI (00) (or a bare SSCC-18)
    elements: tuple[tuple[str, str], ...] = ()  # every GS1 (AI, value) in the scan, in order

    @property
    def is_command(self) -> bool:
        return self.kind is BarcodeKind.COMMAND

    @property
    def contents(self) -> bool:
        """The GTIN came from AI (02): it names the items inside a case, *count* of them."""
        return any(ai == "02" for ai, _ in self.elements)

    def ai(self, code: str) -> str | None:
        """The value of GS1 application identifier *code* in this scan, if present."""
        return next((value for ai, value in self.elements if ai == code), None)


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
    """EAN-8, UPC-A, EAN-13 or GTIN-14 with a valid check digit -> zero-padded GTIN-14.

    The digits are taken as they stand (an 8-digit code as a GTIN-8); :func:`gtin_key` decides
    between EAN-8 and UPC-E.
    """
    if not code.isascii() or not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return None
    if gtin_check_digit(code[:-1]) != int(code[-1]):
        return None
    return code.zfill(14)


def upc_e_to_gtin(code: str) -> str | None:
    """A UPC-E (6 digits, or 7 / 8 with number system and check digit) -> GTIN-14 of its GTIN-12.

    None when *code* is no valid UPC-E (wrong length, number system other than 0 or 1, wrong
    check digit). The check digit of a UPC-E is that of its expanded GTIN-12.
    """
    if not code.isascii() or not code.isdigit() or len(code) not in (6, 7, 8):
        return None
    try:
        return Upc.parse(code).as_upc_a().zfill(14)
    except (biip.ParseError, biip.EncodeError):
        return None


def gtin_key(code: str, symbology: str | None = None) -> str | None:
    """The GTIN-14 a retail barcode stands for, or None if *code* is none.

    An 8-digit code is an EAN-8 (GTIN-8) or a UPC-E (a GTIN-12 with zeros suppressed), and the
    digits alone do not say which: about one UPC-E in ten also passes the GTIN-8 check. The AIM
    symbology identifier decides when the scanner sends one (``]E4`` EAN-8, ``]E0`` UPC-E,
    since EAN-8 would be ``]E4``). Without one (keyboard-wedge scanners by default) an 8-digit
    code starting with 0 that is a valid UPC-E is read as UPC-E: GS1-8 prefixes starting with 0
    are restricted circulation numbers for use inside one company, while a UPC-E with number
    system 0 is a GTIN-12 anyone may sell. Every other valid 8-digit code is an EAN-8.
    """
    if not code.isascii() or not code.isdigit():
        return None
    if symbology == EAN_8:
        return normalize_gtin(code) if len(code) == 8 else None
    if symbology == EAN_UPC and len(code) in (6, 7, 8):
        return upc_e_to_gtin(code)
    if len(code) == 8 and code[0] == "0":
        return upc_e_to_gtin(code) or normalize_gtin(code)
    return normalize_gtin(code)


def lookup_keys(code: str) -> tuple[str, ...]:
    """Every key a catalogue barcode can be scanned as, the :func:`lookup_key` first.

    Only an 8-digit code that is both a valid UPC-E and a valid GTIN-8 has two: the UPC-E
    reading (what a wedge scan of it gives) and the EAN-8 reading (what a scanner that sends
    ``]E4`` gives). An index that holds both finds the product either way.
    """
    code = code.strip()
    first = lookup_key(code)
    other = normalize_gtin(code) if len(code) == 8 else None
    return (first,) if other is None or other == first else (first, other)


def lookup_key(code: str) -> str:
    """The key a product barcode is stored and looked up under."""
    code = code.strip()
    return gtin_key(code) or code.upper()


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


class _NotGS1(Exception):
    """The text does not parse as a GS1 element string (the reason is the message)."""


def _parse_element_string(body: str) -> list[tuple[str, str, date | None]]:
    """(AI, value, date) for each element string in *body*. Raises _NotGS1."""
    try:
        result = biip.parse(body, config=biip.ParseConfig(separator_chars=[GS]))
    except biip.ParseError as exc:
        raise _NotGS1(str(exc)) from None
    msg = result.gs1_message
    if msg is None:
        raise _NotGS1(result.gs1_message_error or "not a GS1 element string")
    return [(es.ai.ai, es.value, es.date) for es in msg.element_strings]


def _gs1_signalled(data: str, symbology: str | None) -> bool:
    """The scanner (or the data) says this is a GS1 element string: GS1 symbology, FNC1 or GS."""
    return symbology in GS1_SYMBOLOGIES or GS in data


def _gs1(data: str, symbology: str | None) -> Barcode | None:
    """Parse *data* as a GS1 element string (with or without a leading FNC1 / GS).

    None when it is not one and nothing says it should be; BarcodeError when the scanner said
    GS1 (symbology, GS separators) but the content breaks the GS1 rules a packer can act on.
    """
    body = data.lstrip(GS)
    signalled = _gs1_signalled(data, symbology)
    if not body[:2].isdigit():
        return None
    if not signalled and (not body.startswith(("01", "02", "00")) or len(body) < 16):
        return None  # plain text that merely starts with digits: an order number, a badge
    try:
        parsed = _parse_element_string(body)
    except _NotGS1 as exc:
        if GS in body:
            raise BarcodeError(f"scan has GS1 separators but is not a valid GS1 element string ({exc})") from None
        return None
    elements = tuple((ai, value) for ai, value, _ in parsed)
    by_ai = {ai: (value, when) for ai, value, when in parsed}
    hri = "".join(f"({ai}){value}" for ai, value in elements)

    def refuse(reason: str) -> Barcode | None:
        if signalled:
            raise BarcodeError(f"GS1 barcode {hri}: {reason}")
        return None

    if "01" in by_ai and ("02" in by_ai or "37" in by_ai):
        # GS1 Barcode Syntax Dictionary: "01 ex=02,255,37"
        return refuse("(01) names the unit itself and cannot come with (02) contents or a (37) count; "
                      "scan the item's own barcode")
    if "02" in by_ai and "37" not in by_ai:
        # GS1 Barcode Syntax Dictionary: "02 req=37"
        return refuse("(02) names what the case holds but no (37) says how many; scan the items one by one")
    count = None
    if "37" in by_ai:
        count = int(by_ai["37"][0])
        if count < 1:
            return refuse("the (37) count is 0")
    sscc = None
    if "00" in by_ai:
        sscc = by_ai["00"][0]
        if gtin_check_digit(sscc[:-1]) != int(sscc[-1]):
            return refuse(f"SSCC {sscc} has a wrong check digit")
    gtin = None
    gtin_value = by_ai.get("01", by_ai.get("02", (None, None)))[0]
    if gtin_value is not None:
        gtin = normalize_gtin(gtin_value)
        if gtin is None:
            return refuse(f"GTIN {gtin_value} has a wrong check digit")
    if sscc is not None:
        kind, value = BarcodeKind.SSCC, sscc
    elif gtin is not None:
        kind, value = BarcodeKind.GTIN, gtin
    else:
        kind, value = BarcodeKind.GS1_DATA, hri
    return Barcode(
        kind,
        value,
        symbology,
        lot=by_ai["10"][0] if "10" in by_ai else None,
        expiry=by_ai["17"][1] if "17" in by_ai else None,
        serial=by_ai["21"][0] if "21" in by_ai else None,
        raw=data,
        gtin=gtin,
        count=count,
        sscc=sscc,
        elements=elements,
    )


PromptField = Literal["lot", "serial", "expiry"]
_PROMPT_AI: dict[str, str] = {"lot": "10", "serial": "21", "expiry": "17"}
_AI_NAMES = {"00": "an SSCC", "01": "a GTIN", "02": "a case's contents", "10": "a lot", "17": "an expiry date",
             "21": "a serial number", "37": "a count"}


def prompt_value(scan: RawScan | str, want: PromptField) -> str:
    """What a scan answers to a lot, serial or expiry prompt.

    A GS1 element string gives the value of its AI (10) lot, (21) serial or (17) expiry (as
    ``YYYY-MM-DD``, day 00 being the month's last day): ``10ABC123`` answers a lot prompt with
    ``ABC123``. When the scanner says the symbol is GS1 (``]C1``, ``]d2``, ``]Q3``, ``]e0``, or
    GS separators in the data) and the AI is missing, BarcodeError names what the barcode
    holds instead. Wedge text without an AIM identifier is read as GS1 only if it parses as an
    element string holding that AI; anything else (a plain Code 128 lot, a non-GS1 symbology
    such as ``]C0``) is returned as scanned, trimmed. Raises BarcodeError for text that is no
    scan at all (see :func:`clean`).
    """
    ai = _PROMPT_AI[want]
    if isinstance(scan, str):
        scan = RawScan.from_wire(scan)
    data = clean(scan.data)
    symbology = scan.symbology
    if symbology is None and _AIM_RE.match(data) and len(data) > 3:
        symbology, data = data[:3], data[3:]
    if symbology is not None and symbology not in GS1_SYMBOLOGIES and GS not in data:
        return data  # the scanner says: not a GS1 symbol
    data = substitute_gs(data)
    body = data.lstrip(GS)
    signalled = _gs1_signalled(data, symbology)
    try:
        parsed = _parse_element_string(body) if body[:2].isdigit() else None
    except _NotGS1 as exc:
        if signalled:
            raise BarcodeError(f"not a valid GS1 element string ({exc}): scan the {want} again") from None
        parsed = None
    if parsed is None:
        if signalled:
            raise BarcodeError(f"not a valid GS1 element string: scan the {want} again")
        return data
    for code, value, when in parsed:
        if code == ai:
            if want == "expiry":
                assert when is not None  # biip reads AI 17 as a date or refuses it
                return when.isoformat()
            return value
    if not signalled:
        return data
    held = ", ".join(_AI_NAMES.get(code, f"({code})") for code, _, _ in parsed)
    raise BarcodeError(f"this GS1 barcode holds {held}, not {_AI_NAMES[ai]}: scan the {want}")


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
    gtin = gtin_key(data, symbology)
    if gtin is not None:
        return Barcode(BarcodeKind.GTIN, gtin, symbology, raw=data, gtin=gtin)
    if symbology in (EAN_UPC, EAN_8) and data.isascii() and data.isdigit():
        name = "EAN-8" if symbology == EAN_8 else "EAN-13 / UPC-A / UPC-E"
        raise BarcodeError(f"{data} is not a valid {name} (length or check digit): rescan the item")
    if data.isascii() and data.isdigit() and len(data) == 18 and gtin_check_digit(data[:-1]) == int(data[-1]):
        return Barcode(BarcodeKind.SSCC, data, symbology, raw=data, sscc=data)
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
