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
    unit="kg",  # the reply carries no unit: [scale] unit overrides
    frames=(
        Frame(re.compile(rb"^\s*" + _NUM + rb"N?$"), cond=Cond.STABLE),
        Frame(
            re.compile(rb"^\?(?P<status>[\x00-\x7f])$", re.DOTALL),
            # bit 0 motion, 1 at zero, 2 RAM error, 3 EEPROM error, 4 under, 5 over capacity.
            # Bit 6 is often set only to keep the byte printable, so it is not read as an error.
            status_bits=(
                (0x04 | 0x08, Cond.FAULT),
                (0x20, Cond.OVER),
                (0x10, Cond.UNDER),
                (0x01, Cond.MOTION),
            ),
            status_default=Cond.STABLE,  # only "at zero" set: a stable zero
        ),
    ),
)

CAS = ScaleProtocol(
    name="cas",
    description="CAS continuous output: 'ST,GS,+  1.234kg' (long) or 'ST,+  1.234kg' (short)",
    baudrate=9600,
    poll=None,
    frames=(
        Frame(
            re.compile(
                rb"^(?P<code>ST|US|OL),(?:(?:GS|NT),?)?\s*" + _NUM + rb"\s*(?P<unit>[a-zA-Z]+)$"
            ),
            codes={b"ST": Cond.STABLE, b"US": Cond.MOTION, b"OL": Cond.OVER},
        ),
        Frame(re.compile(rb"^(?P<code>OL),.*$"), cond=Cond.OVER),
    ),
)

# Adam AZExtra / CBK style (cf. Odoo's IoT driver): 4800 8N1 by default; "P" prints the
# displayed weight. The scale stays silent while the weight moves, and AZExtra models also
# stay silent when the weight has not changed since the last answer.
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
    frames=(Frame(re.compile(rb"^\s*" + _NUM + rb"\s*(?P<unit>[a-zA-Z]+)$"), cond=Cond.STABLE),),
)

PROTOCOLS: dict[str, ScaleProtocol] = {p.name: p for p in (MT_SICS, TOLEDO_8217, CAS, ADAM)}
