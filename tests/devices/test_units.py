from decimal import Decimal
from fractions import Fraction

import pytest

from packstation.adapters.devices.units import from_grams, normalize_unit, to_grams


@pytest.mark.parametrize(
    ("value", "unit", "grams"),
    [
        ("1.234", "kg", 1234),
        ("12.5", "g", 12),  # half to even: 12.5 -> 12
        ("13.5", "g", 14),  # half to even: 13.5 -> 14
        ("1", "lb", 454),  # 453.59237
        ("2.5", "lb", 1134),  # 1133.980925
        ("16", "oz", 454),
        ("1", "oz", 28),  # 28.349523125
        ("-0.020", "kg", -20),
        ("0.0005", "kg", 0),  # 0.5 g -> 0 (even)
        ("0.0015", "kg", 2),  # 1.5 g -> 2 (even)
    ],
)
def test_to_grams_is_exact_and_rounds_half_even(value, unit, grams):
    assert to_grams(value, unit) == grams


def test_pound_is_exactly_453_59237_grams():
    assert to_grams(Fraction(100000), "lb") == 45359237
    assert to_grams(Decimal("0.00220462"), "lb") == 1


def test_units_accept_common_spellings_and_reject_unknown():
    assert normalize_unit("LBS") == "lb"
    assert normalize_unit(" Kg ") == "kg"
    with pytest.raises(ValueError, match="unknown weight unit 'stone'"):
        to_grams("1", "stone")
    with pytest.raises(ValueError, match="not a weight value"):
        to_grams("1,2", "kg")


def test_from_grams_round_trips_through_display_precision():
    assert from_grams(1234, "kg", 3) == Decimal("1.234")
    assert to_grams(from_grams(1000, "lb", 3), "lb") == 1000
