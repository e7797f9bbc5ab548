"""What a scanned code means: AIM prefixes, GS1 element strings, GTINs, SSCCs, commands.

Scanners hand the station text; these tests feed the text the way real scanners send it
(keyboard wedge with GS substitutes, serial scanners with AIM symbology identifiers) and
check the barcode the packing rules will see.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packstation.domain.barcodes import (
    COMMANDS,
    GS,
    GS_SUBSTITUTES,
    MAX_SCAN_LENGTH,
    BarcodeError,
    BarcodeKind,
    RawScan,
    gtin_check_digit,
    interpret,
    lookup_key,
    normalize_gtin,
    sscc18,
    with_check_digit,
)

# Published example codes with known-good check digits.
EAN13 = "4006381333931"  # Stabilo pen (GS1 Germany example)
UPCA = "036000291452"  # GS1 US example
EAN8 = "96385074"  # GS1 EAN-8 example
GTIN14 = "10614141000415"  # GS1 US example, indicator 1
GTIN_OF_ELEMENT_STRING = "00614141999996"


# --- AIM symbology identifiers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "symbology", "kind"),
    [
        (f"]E0{EAN13}", "]E0", BarcodeKind.GTIN),  # EAN-13
        (f"]C1010061414199999610L1{GS}21S1", "]C1", BarcodeKind.GTIN),  # GS1-128
        ("]d2010061414199999621SN-77", "]d2", BarcodeKind.GTIN),  # GS1 DataMatrix
        ("]Q3SO-10001", "]Q3", BarcodeKind.TEXT),  # QR with plain text
        ("]C0CMD-UNDO", "]C0", BarcodeKind.COMMAND),  # plain Code 128
    ],
)
def test_aim_prefix_is_split_off_and_remembered(wire: str, symbology: str, kind: BarcodeKind) -> None:
    raw = RawScan.from_wire(wire, source="serial")
    assert raw.symbology == symbology
    assert raw.data == wire[3:]
    assert raw.source == "serial"
    barcode = interpret(raw)
    assert barcode.symbology == symbology
    assert barcode.kind is kind
    assert not barcode.raw.startswith("]")


def test_aim_prefix_in_a_plain_string_is_recognised_too() -> None:
    barcode = interpret(f"]E0{EAN13}")
    assert barcode.symbology == "]E0"
    assert barcode.value == "0" + EAN13


def test_scan_holding_only_a_symbology_identifier_is_refused() -> None:
    with pytest.raises(BarcodeError):
        interpret("]C1")


def test_text_starting_with_a_bracket_but_no_aim_prefix_is_kept_whole() -> None:
    assert RawScan.from_wire("]-X").symbology is None
    assert interpret("]-X").value == "]-X"


# --- GS1 element strings -----------------------------------------------------------------------


def test_gs1_128_with_gtin_lot_and_expiry() -> None:
    barcode = interpret(f"]C101{GTIN_OF_ELEMENT_STRING}10ABC123{GS}17251231")
    assert barcode.kind is BarcodeKind.GTIN
    assert barcode.value == GTIN_OF_ELEMENT_STRING
    assert barcode.lot == "ABC123"
    assert barcode.expiry == date(2025, 12, 31)
    assert barcode.serial is None


def test_gs1_datamatrix_with_serial() -> None:
    barcode = interpret(f"]d201{GTIN_OF_ELEMENT_STRING}21SER-0001")
    assert (barcode.value, barcode.serial, barcode.lot) == (GTIN_OF_ELEMENT_STRING, "SER-0001", None)


def test_leading_fnc1_as_gs_is_ignored() -> None:
    barcode = interpret(f"{GS}01{GTIN_OF_ELEMENT_STRING}10LOT9")
    assert (barcode.value, barcode.lot) == (GTIN_OF_ELEMENT_STRING, "LOT9")


@pytest.mark.parametrize("substitute", GS_SUBSTITUTES)
def test_keyboard_wedge_gs_substitutes_separate_fields(substitute: str) -> None:
    text = f"01{GTIN_OF_ELEMENT_STRING}10LOT7{substitute}21SN5{substitute}17260300"
    barcode = interpret(text)
    assert barcode.kind is BarcodeKind.GTIN
    assert barcode.lot == "LOT7"
    assert barcode.serial == "SN5"
    # GS1: day 00 is the last day of the month
    assert barcode.expiry == date(2026, 3, 31)


@pytest.mark.parametrize("substitute", GS_SUBSTITUTES)
def test_substitute_after_an_aim_prefix_and_as_leading_fnc1(substitute: str) -> None:
    barcode = interpret(f"{substitute}01{GTIN_OF_ELEMENT_STRING}10LOT1{substitute}21S9")
    assert (barcode.value, barcode.lot, barcode.serial) == (GTIN_OF_ELEMENT_STRING, "LOT1", "S9")
    raw = RawScan(data=f"]C101{GTIN_OF_ELEMENT_STRING}10LOT2{substitute}21S8")  # AIM prefix not split off yet
    barcode = interpret(raw)
    assert (barcode.symbology, barcode.lot, barcode.serial) == ("]C1", "LOT2", "S8")


@pytest.mark.parametrize("text", ["]Q3https://shop.example/~anna", "TOTE~7", "SO-1{GS}A", "BADGE^]9"])
def test_substitute_characters_in_text_that_is_no_gs1_data_are_kept(text: str) -> None:
    barcode = interpret(text)
    assert barcode.kind is BarcodeKind.TEXT
    assert GS not in barcode.value and barcode.raw == RawScan.from_wire(text).data


def test_gs_in_something_that_is_no_element_string_is_refused() -> None:
    with pytest.raises(BarcodeError, match="GS1"):
        interpret(f"HELLO{GS}WORLD")


def test_gs1_with_a_bad_gtin_check_digit_is_not_an_item() -> None:
    barcode = interpret("010061414199999510LOT")  # check digit 5 instead of 6
    assert barcode.kind is not BarcodeKind.GTIN


def test_sscc_element_string_and_bare_sscc() -> None:
    sscc = sscc18(1, "0614141", 123)
    for text in (f"]C1{GS}00{sscc}", f"00{sscc}", sscc):
        barcode = interpret(text)
        assert barcode.kind is BarcodeKind.SSCC, text
        assert barcode.value == sscc


def test_sscc_with_a_wrong_check_digit_is_not_an_sscc() -> None:
    sscc = sscc18(1, "0614141", 123)
    broken = sscc[:-1] + str((int(sscc[-1]) + 1) % 10)
    assert interpret(f"00{broken}").kind is not BarcodeKind.SSCC
    assert interpret(broken).kind is not BarcodeKind.SSCC


# --- GTIN normalisation and check digits ---------------------------------------------------------


@pytest.mark.parametrize("code", [EAN8, UPCA, EAN13, GTIN14])
def test_every_gtin_length_normalises_to_gtin14(code: str) -> None:
    assert normalize_gtin(code) == code.zfill(14)
    assert interpret(code).value == code.zfill(14)
    assert interpret(code).kind is BarcodeKind.GTIN


def test_upc_a_and_its_ean13_form_are_the_same_item() -> None:
    assert normalize_gtin(UPCA) == normalize_gtin("0" + UPCA)
    assert lookup_key(UPCA) == lookup_key("0" + UPCA)


@pytest.mark.parametrize("code", ["4006381333932", "96385075", "036000291453", "10614141000416"])
def test_wrong_check_digit_is_not_a_gtin(code: str) -> None:
    assert normalize_gtin(code) is None
    assert interpret(code).kind is not BarcodeKind.GTIN


@pytest.mark.parametrize("code", ["1234567", "123456789", "12345678901", "123456789012345", "٤٠٠٦٣٨١٣٣٣٩٣١"])
def test_other_lengths_and_non_ascii_digits_are_not_gtins(code: str) -> None:
    assert normalize_gtin(code) is None


def test_check_digit_of_published_examples() -> None:
    assert gtin_check_digit(EAN13[:-1]) == int(EAN13[-1])
    assert gtin_check_digit(UPCA[:-1]) == int(UPCA[-1])
    assert gtin_check_digit(EAN8[:-1]) == int(EAN8[-1])
    assert gtin_check_digit("37610425002123456") == 9  # GS1 SSCC example 376104250021234569


def test_lookup_key_of_text_is_upper_case_and_trimmed() -> None:
    assert lookup_key("  ts-1000 ") == "TS-1000"


# --- SSCC-18 generation -----------------------------------------------------------------------------


def test_sscc18_matches_the_gs1_example() -> None:
    # GS1 General Specifications example: extension 3, company prefix 7610425, serial 002123456
    assert sscc18(3, "7610425", 2123456) == "376104250021234569"


@pytest.mark.parametrize("prefix_len", range(6, 13))
def test_sscc18_is_18_digits_with_valid_check_for_every_prefix_length(prefix_len: int) -> None:
    prefix = "061414123456"[:prefix_len]
    largest = 10 ** (16 - prefix_len) - 1
    for serial in (0, 1, largest):
        code = sscc18(7, prefix, serial)
        assert len(code) == 18 and code.isdigit()
        assert code[0] == "7"
        assert code[1 : 1 + prefix_len] == prefix
        assert int(code[1 + prefix_len : 17]) == serial
        assert gtin_check_digit(code[:17]) == int(code[17])
    with pytest.raises(ValueError, match="does not fit"):
        sscc18(7, prefix, largest + 1)


@pytest.mark.parametrize(
    ("ext", "prefix", "serial"),
    [(10, "0614141", 1), (-1, "0614141", 1), (0, "12345", 1), (0, "1234567890123", 1), (0, "06141A1", 1), (0, "0614141", -1)],
)
def test_sscc18_refuses_bad_parts(ext: int, prefix: str, serial: int) -> None:
    with pytest.raises(ValueError):
        sscc18(ext, prefix, serial)


# --- commands ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_barcodes_from_the_card(command: str) -> None:
    barcode = interpret(command)
    assert barcode.is_command and barcode.value == command
    assert interpret(f"]C0{command.lower()}\r\n").value == command


def test_command_card_values_are_the_documented_ones() -> None:
    assert COMMANDS == {
        "CMD-CLOSE-CARTON", "CMD-NEW-CARTON", "CMD-UNDO", "CMD-QTY",
        "CMD-SHORT", "CMD-CANCEL", "CMD-REPRINT", "CMD-LOGOUT",
    }


def test_short_numbers_are_quantities_and_other_text_is_text() -> None:
    assert interpret("12").kind is BarcodeKind.NUMBER
    assert interpret("007").value == "7"
    assert interpret("BOX-M").kind is BarcodeKind.TEXT
    assert interpret("tote-001").value == "TOTE-001"


# --- garbage ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\r\n", "AB\x00CD", "AB\x1bCD", "A\x7fB", "A\tB", "12\x08"])
def test_empty_scans_and_control_characters_are_refused(text: str) -> None:
    with pytest.raises(BarcodeError):
        interpret(text)


def test_control_character_message_names_the_character_and_what_to_do() -> None:
    with pytest.raises(BarcodeError, match=r"0x1B.*rescan"):
        interpret("AB\x1bCD")


def test_ten_thousand_character_scan_is_refused_with_its_length() -> None:
    with pytest.raises(BarcodeError, match="10000 characters"):
        interpret("A" * 10_000)
    interpret("A" * MAX_SCAN_LENGTH)  # the limit itself is fine
    interpret("A" * MAX_SCAN_LENGTH + "\r\n")  # the terminator does not count


# --- properties ----------------------------------------------------------------------------------------------


@st.composite
def gtins(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([8, 12, 13, 14]))
    payload = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    return with_check_digit(payload)


@given(gtins())
def test_any_valid_gtin_round_trips(code: str) -> None:
    key = normalize_gtin(code)
    assert key is not None and len(key) == 14 and key.lstrip("0") == code.lstrip("0")
    assert normalize_gtin(key) == key  # already normalised stays the same
    barcode = interpret(code)
    assert (barcode.kind, barcode.value) == (BarcodeKind.GTIN, key)


@given(gtins(), st.integers(min_value=1, max_value=9))
def test_a_single_digit_change_breaks_the_check_digit(code: str, bump: int) -> None:
    broken = code[:-1] + str((int(code[-1]) + bump) % 10)
    assert normalize_gtin(broken) is None


@given(gtins(), st.text(st.characters(categories=["Lu", "Nd"]), min_size=1, max_size=20),
       st.sampled_from(GS_SUBSTITUTES + (GS,)))
def test_gs1_lot_survives_any_separator(code: str, lot: str, sep: str) -> None:
    lot = "".join(ch for ch in lot if ch.isascii()) or "L"
    barcode = interpret(f"01{code.zfill(14)}10{lot}{sep}21X1")
    assert (barcode.value, barcode.lot, barcode.serial) == (code.zfill(14), lot, "X1")


@given(st.integers(0, 9), st.integers(6, 12), st.data())
def test_generated_ssccs_read_back_as_ssccs(ext: int, prefix_len: int, data: st.DataObject) -> None:
    prefix = data.draw(st.text("0123456789", min_size=prefix_len, max_size=prefix_len))
    serial = data.draw(st.integers(0, 10 ** (16 - prefix_len) - 1))
    code = sscc18(ext, prefix, serial)
    barcode = interpret(f"]C1{GS}00{code}")
    assert (barcode.kind, barcode.value) == (BarcodeKind.SSCC, code)


_PIECES = ["01", "00", "10", "17", "21", "0061414199999", "6", GS, "]C1", "]d2", "~", "<GS>", "٣", "99", "13"]


@given(st.one_of(st.text(max_size=600), st.lists(st.sampled_from(_PIECES), max_size=14).map("".join)))
def test_interpret_raises_nothing_but_barcode_error(text: str) -> None:
    try:
        barcode = interpret(text)
    except BarcodeError as exc:
        assert str(exc)  # a message the bench can show
    else:
        assert barcode.value
