"""A small reader for the ZPL our label renderer emits, written from the ZPL II manual and
independent of the renderer: it splits the format into commands and fields so tests can
check positions, the GS1 data and the check digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FH_ESCAPE = re.compile(r"_([0-9A-Fa-f]{2})")


@dataclass
class Field:
    origin: tuple[int, int]
    commands: list[tuple[str, str]] = field(default_factory=list)  # (command, parameters)

    def get(self, cmd: str) -> str | None:
        for c, p in self.commands:
            if c == cmd:
                return p
        return None

    @property
    def data(self) -> str | None:
        """^FD content with ^FH hex escapes decoded."""
        raw = self.get("FD")
        if raw is None:
            return None
        if self.get("FH") is not None:
            return _FH_ESCAPE.sub(lambda m: bytes.fromhex(m.group(1)).decode("latin-1"), raw)
        return raw


@dataclass
class Format:
    commands: list[tuple[str, str]]
    fields: list[Field]

    def first(self, cmd: str) -> str | None:
        for c, p in self.commands:
            if c == cmd:
                return p
        return None


def parse(zpl: str) -> Format:
    """Split one ``^XA`` .. ``^XZ`` format into commands and ``^FO`` .. ``^FS`` fields."""
    commands: list[tuple[str, str]] = []
    for chunk in zpl.split("^")[1:]:
        chunk = chunk.rstrip("\n")
        commands.append((chunk[:2].upper(), chunk[2:]))
    fields: list[Field] = []
    current: Field | None = None
    for cmd, params in commands:
        if cmd == "FO":
            x, y = (int(v) for v in params.split(",")[:2])
            current = Field((x, y))
        elif cmd == "FS":
            if current is not None:
                fields.append(current)
            current = None
        elif current is not None:
            current.commands.append((cmd, params))
    return Format(commands, fields)


def gs1_check_digit(payload: str) -> int:
    weights = [3 if i % 2 == 0 else 1 for i in range(len(payload))]
    total = sum(int(d) * w for d, w in zip(reversed(payload), weights, strict=True))
    return -total % 10


def graphic_size(params: str) -> tuple[int, int, str]:
    """(width_dots, height_dots, hex) of a ``^GFA,total,total,bytes_per_row,data`` command."""
    kind, total, _field_total, per_row, data = params.split(",", 4)
    assert kind == "A", "only ASCII hex graphics are expected"
    total_i, per_row_i = int(total), int(per_row)
    assert len(data) == 2 * total_i, "graphic data length does not match its byte count"
    assert total_i % per_row_i == 0
    return per_row_i * 8, total_i // per_row_i, data
