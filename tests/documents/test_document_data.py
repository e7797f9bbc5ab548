"""The document records refuse data that would print a wrong document, and text fitting."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packstation.adapters.documents.demo import demo_label, demo_packing_slip
from packstation.adapters.documents.fonts import fit, missing_glyphs, text_width, wrap
from packstation.adapters.documents.label_layout import sscc_hri
from packstation.domain.barcodes import sscc18
from packstation.domain.documents import Address, DocumentDataError, validate_sscc


def test_sscc_with_a_wrong_check_digit_is_refused() -> None:
    good = sscc18(0, "0614141", 1)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert validate_sscc(good) == good
    with pytest.raises(DocumentDataError, match="check digit"):
        replace(demo_label(), sscc=bad)
    with pytest.raises(DocumentDataError, match="18 digits"):
        replace(demo_label(), sscc="12345")


def test_impossible_carton_numbers_and_cod_without_currency_are_refused() -> None:
    with pytest.raises(DocumentDataError, match="carton 3 of 2"):
        replace(demo_label(), carton_no=3, carton_count=2)
    with pytest.raises(DocumentDataError, match="currency"):
        replace(demo_label(), cod_amount=Decimal("10"))


def test_sscc_readable_line_follows_company_prefix_length() -> None:
    sscc = sscc18(3, "061414112", 4567)
    assert sscc_hri(sscc, 9) == f"(00) 3 061414112 {sscc[10:17]} {sscc[17]}"
    assert sscc_hri(sscc, 9).replace(" ", "").replace("(00)", "") == sscc


def test_address_lines_skip_empty_parts() -> None:
    a = Address(name="N", line1="L1", city="C", postcode="P", country="NL", region="R")
    assert a.lines() == ["N", "L1", "P C, R", "NL"]


def test_short_lines_are_those_shipped_less_than_ordered() -> None:
    slip = demo_packing_slip()
    assert [line.sku for line in slip.short_lines] == ["SKU-CUP-6"]
    assert slip.short_lines[0].qty_short == 1


def test_bundled_font_covers_latin_greek_and_cyrillic() -> None:
    assert missing_glyphs("Ærøskøbing Łódź Ελληνικά Русский Українська") == set()


words = st.lists(
    st.text(alphabet="abcdefghijΩλжщ", min_size=1, max_size=25), min_size=1, max_size=12
)


@given(words, st.floats(min_value=20, max_value=90))
def test_wrapped_lines_fit_and_keep_every_character(parts: list[str], width: float) -> None:
    text = " ".join(parts)
    lines = wrap(text, width, 4.0)
    assert all(text_width(line, 4.0) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_fit_shrinks_before_wrapping_too_far_and_refuses_the_impossible() -> None:
    text = "Konstantinos Papadopoulos-Alexandropoulos"
    width = text_width(text, 4.0) * 0.8
    fitted = fit(text, width, 4.0, 2.0, 1)
    assert len(fitted.lines) == 1 and fitted.size < 4.0
    assert text_width(fitted.lines[0], fitted.size) <= width
    with pytest.raises(DocumentDataError, match="too long"):
        fit(text * 20, width, 4.0, 2.0, 2, what="name")
