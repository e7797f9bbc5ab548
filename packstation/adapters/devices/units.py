"""Exact weight-unit conversion: scales speak g, kg, lb, oz; the program counts integer grams.

Fractions keep the conversion exact (a pound is defined as 453.59237 g) and Python's
``round`` on a Fraction rounds half to even, the rule the weights-and-measures folks expect.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

GRAMS_PER_UNIT: dict[str, Fraction] = {
    "mg": Fraction(1, 1000),
    "g": Fraction(1),
    "kg": Fraction(1000),
    "t": Fraction(1_000_000),
    "lb": Fraction("453.59237"),
    "oz": Fraction("453.59237") / 16,
}

_ALIASES = {"lbs": "lb", "#": "lb", "gr": "g", "kgs": "kg", "ozs": "oz"}


def normalize_unit(unit: str) -> str:
    """Return the canonical unit name, or raise ValueError naming the units we know."""
    u = unit.strip().lower()
    u = _ALIASES.get(u, u)
    if u not in GRAMS_PER_UNIT:
        raise ValueError(f"unknown weight unit {unit!r}; known units: {', '.join(GRAMS_PER_UNIT)}")
    return u


def to_grams(value: str | Decimal | Fraction | int, unit: str) -> int:
    """Convert *value* in *unit* to whole grams, rounding half to even."""
    try:
        exact = Fraction(Decimal(value)) if isinstance(value, str) else Fraction(value)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a weight value: {value!r}") from exc
    return round(exact * GRAMS_PER_UNIT[normalize_unit(unit)])


def from_grams(grams: int, unit: str, decimals: int) -> Decimal:
    """Express *grams* in *unit* with *decimals* places (what a scale display would show)."""
    exact = Fraction(grams) / GRAMS_PER_UNIT[normalize_unit(unit)]
    q = round(exact * 10**decimals)
    return Decimal(q).scaleb(-decimals)
