"""Serial scale protocols described as data (in the spirit of Odoo's IoT scale drivers).

Each protocol is a :class:`ScaleProtocol` record: line settings, the command bytes that ask
for a weight / zero / tare, and the reply frames as regular expressions whose ``code`` group
maps to a :class:`Cond`. One generic driver (:mod:`.serial_scale`) interprets them, so a new
scale model is a dozen lines here, not a new class. Replies are split into frames on CR or LF;
a leading STX is dropped before matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class Cond(Enum):
    STABLE = "stable"
    MOTION = "motion"
    BUSY = "busy"  # the scale cannot answer right now (MT-SICS "I"); ask again
    OVER = "over"
    UNDER = "under"
    ACK = "ack"  # a zero / tare command was carried out
    REJECTED = "rejected"  # the scale refused the command (syntax / transmission / logic error)
    FAULT = "fault"  # the scale reports a hardware fault
    ZERO_ERROR = "zero-error"  # outside the zero capture range (zero could not be set / found)
    STATUS = "status"  # a status report with nothing wrong in it: no weight, but no error either
    IGNORE = "ignore"  # a line of a printout that is not the weight (Adam "No.", "Total", "Date")
    GARBAGE = "garbage"  # no frame pattern matched (used by the driver, never in a record)


@dataclass(frozen=True)
class Frame:
    """One reply shape: *pattern* with optional groups ``code``, ``weight``, ``unit``, ``status``.

    *codes* maps the ``code`` group to a condition; without a ``code`` group, *cond* applies.
    *status_bits* decodes a status byte (``status`` group): ``(mask, cond)`` pairs tried in order.
    """

    pattern: re.Pattern[bytes]
    codes: dict[bytes, Cond] = field(default_factory=dict)
    cond: Cond | None = None
    status_bits: tuple[tuple[int, Cond], ...] = ()
    status_default: Cond = Cond.STABLE  # status byte with none of the bits set


@dataclass(frozen=True)
class ScaleProtocol:
    name: str
    baudrate: int  # the factory default; [scale] baudrate overrides it
    frames: tuple[Frame, ...]
    bytesize: int = 8
    parity: str = "N"  # pyserial parity letter: N, E, O
    stopbits: int = 1
    poll: bytes | None = None  # asks for one weight; None = the scale streams continuously
    zero: bytes | None = None
    tare: bytes | None = None
    clear: bytes | None = None  # clear tare
    eol: bytes = b"\r\n"  # appended to every command
    acks_commands: bool = False  # zero / tare get a reply frame (ACK, BUSY, ...)
    unit: str | None = None  # unit when replies carry none (None: taken from the reply)
    answer_timeout_s: float = 1.0  # silence longer than this is "no answer"
    poll_interval_s: float = 0.05  # pause between polls while the weight moves
    silent_when_unstable: bool = False  # the scale only answers once the weight is stable
    description: str = ""


_NUM = rb"(?P<weight>[-+]?\s*\d+(?:\.\d*)?)"
_UNIT = rb"\s*(?P<unit>[a-zA-Z%]+)\s*$"  # a unit, and the padding some scales send after it

MT_SICS = ScaleProtocol(
    name="mt-sics",
    description="Mettler Toledo MT-SICS level 0/1 (S, SI, Z, T; replies 'S S  12.345 kg')",
    baudrate=9600,
    poll=b"SI",  # immediate: "S S" stable or "S D" dynamic, so we see motion
    zero=b"Z",
    tare=b"T",
    eol=b"\r\n",
    acks_commands=True,
    frames=(
        Frame(
            re.compile(rb"^S (?P<code>[SD]) +" + _NUM + rb" *(?P<unit>[a-zA-Z]+)$"),
            codes={b"S": Cond.STABLE, b"D": Cond.MOTION},
        ),
        Frame(
            re.compile(rb"^S (?P<code>[I+\-])$"),
            codes={b"I": Cond.BUSY, b"+": Cond.OVER, b"-": Cond.UNDER},
        ),
        Frame(
            re.compile(rb"^Z (?P<code>[AI+\-])$"),
            codes={b"A": Cond.ACK, b"I": Cond.BUSY, b"+": Cond.OVER, b"-": Cond.UNDER},
        ),
        Frame(re.compile(rb"^T S +" + _NUM + rb" *(?P<unit>[a-zA-Z]+)$"), cond=Cond.ACK),
        Frame(
            re.compile(rb"^T (?P<code>[I+\-])$"),
            codes={b"I": Cond.BUSY, b"+": Cond.OVER, b"-": Cond.UNDER},
        ),
        Frame(re.compile(rb"^(?P<code>E[STL])$"), cond=Cond.REJECTED),
    ),
)

# Toledo 8217 ("weight only") protocol. Replies and status bits from the Mettler Toledo DIVA
# Service Manual, 6.1.4.2 "Command Descriptions" and 6.1.4.3 "Status Byte Format"; the same
# table is in Odoo's hw_scale driver (_toledo8217StatusParse) and the Rice Lake BenchPro manual:
# W -> STX weight CR (lb "0WW.WW", kg "WW.WWW", "N" appended for net), or STX "?" status CR when
# the scale is in motion, below zero or over capacity; Z, T and C answer STX "?" status CR.
# Status bits: 0 motion, 1 over capacity, 2 under zero, 3 outside zero capture range, 4 centre
# of zero, 5 net weight, 6 always 1, 7 parity.
TOLEDO_8217 = ScaleProtocol(
    name="toledo-8217",
    description="Toledo 8217 (W -> STX weight CR, or STX ? status CR); 7 data bits, even parity",
    baudrate=9600,
    bytesize=7,
    parity="E",
    poll=b"W",
    zero=b"Z",
    tare=b"T",
    clear=b"C",
    eol=b"",
    acks_commands=True,  # Z, T, C answer with a status byte
    unit="kg",  # the reply carries no unit: [scale] unit overrides
    frames=(
        Frame(re.compile(rb"^\s*" + _NUM + rb"N?$"), cond=Cond.STABLE),
        Frame(
            # bit 6 is always 1: a byte without it is not a status byte
            re.compile(rb"^\?(?P<status>[\x40-\x7f])$", re.DOTALL),
            status_bits=(
                (0x02, Cond.OVER),
                (0x04, Cond.UNDER),
                (0x08, Cond.ZERO_ERROR),
                (0x01, Cond.MOTION),
            ),
            status_default=Cond.STATUS,  # centre of zero / net only: nothing wrong, but no weight
        ),
    ),
)

# CAS continuous output. Three layouts are read:
# * "CAS 22 bytes" (CAS NT-200 manual ch. 14, CI-400 / CI-150A appendix 1, CI-600D 10-1, PDI
#   8-2-1): "ST" | "US" | "OL", ",", "GS" | "NT", ",", device id (1 byte), lamp status byte
#   (bit 7 always 1: 6 stable, 4 hold, 3 printer, 2 gross, 1 tare, 0 zero), ",", weight (8 bytes
#   with leading zeros, e.g. "000013.5"), a blank, unit "kg" / " t", CR LF;
# * "AND 18 bytes" (same manuals): "ST,GS," weight (8 bytes) unit (2 bytes) CR LF;
# * a short "ST,+  1.234kg" form.
CAS = ScaleProtocol(
    name="cas",
    description="CAS continuous output: 22-byte 'ST,GS,<id><lamp>,000013.5 kg', 18-byte 'ST,GS,+  1.234kg'",
    baudrate=9600,
    poll=None,
    frames=(
        Frame(
            re.compile(
                rb"^(?P<code>ST|US|OL),(?:GS|NT),(?P<device>[^,]{2,3}),\s*" + _NUM + _UNIT, re.DOTALL
            ),
            codes={b"ST": Cond.STABLE, b"US": Cond.MOTION, b"OL": Cond.OVER},
        ),
        Frame(
            re.compile(rb"^(?P<code>ST|US|OL),(?:(?:GS|NT),?)?\s*" + _NUM + _UNIT),
            codes={b"ST": Cond.STABLE, b"US": Cond.MOTION, b"OL": Cond.OVER},
        ),
        Frame(re.compile(rb"^(?P<code>OL),.*$", re.DOTALL), cond=Cond.OVER),
    ),
)

# Adam Equipment (cf. Odoo's IoT driver): 4800 8N1 by default; "P" prints the displayed weight.
# The scale stays silent while the weight moves, and AZExtra models also stay silent when the
# weight has not changed since the last answer. What a print looks like depends on the model and
# its label setting; these are read:
# * Highland / HCB "Format 2": sign or space, the value right-aligned, the unit padded with
#   spaces to three characters ("-      123.45 g ", "  0.12345lb "), the AZextra plain form;
# * Highland "Format 1": "GS      123.45 g " (or "GROSS" / "NET" / "NT"), then "No." and "Total"
#   lines, which are not the weight on the scale;
# * Highland continuous output: "ST,GS" / "US,NT", sign, value, unit;
# * CBW "GS 1.234 kg", CBK / CBC "Net Wt 1.234 Kg" after "Date", "Time" and ID lines,
#   CPWplus "G + 2.00 kg".
_ADAM_INFO = rb"^\s*(?:No\.|Total|Date|Time|Scale ID|User ID|Unit Wt\.?|Wt\.|PCS)(?:\s.*)?$"
ADAM = ScaleProtocol(
    name="adam",
    description="Adam Equipment (P prints the weight; silent while moving or unchanged)",
    baudrate=4800,
    poll=b"P",
    zero=b"Z",
    tare=b"T",
    eol=b"\r\n",
    silent_when_unstable=True,
    answer_timeout_s=0.3,
    frames=(
        Frame(re.compile(_ADAM_INFO, re.IGNORECASE), cond=Cond.IGNORE),
        Frame(
            re.compile(rb"^(?P<code>ST|US),(?:GS|NT)[, ]?\s*" + _NUM + _UNIT),
            codes={b"ST": Cond.STABLE, b"US": Cond.MOTION},
        ),
        Frame(
            re.compile(rb"^(?:GS|NT|G|N|GROSS|NET|Gross\s+Wt\.?|Net\s+Wt\.?)\s+" + _NUM + _UNIT, re.IGNORECASE),
            cond=Cond.STABLE,
        ),
        Frame(re.compile(rb"^\s*" + _NUM + _UNIT), cond=Cond.STABLE),
    ),
)

PROTOCOLS: dict[str, ScaleProtocol] = {p.name: p for p in (MT_SICS, TOLEDO_8217, CAS, ADAM)}
