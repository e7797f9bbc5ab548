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
    BENCH_COMMANDS,
    COMMANDS,
    DOCK_COMMANDS,
    GS,
    GS_SUBSTITUTES,
    MAX_SCAN_LENGTH,
    BarcodeError,
    BarcodeKind,
    RawScan,
    gtin_check_digit,
    gtin_key,
    interpret,
    lookup_key,
    lookup_keys,
    normalize_gtin,
    prompt_value,
    sscc18,
    upc_e_to_gtin,
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
    # PRODUCT.md: the bench card's fixed values, and the dock card's (CMD-CLOSE-MANIFEST, CMD-UNDO)
    assert BENCH_COMMANDS == {
        "CMD-CLOSE-CARTON", "CMD-NEW-CARTON", "CMD-UNDO", "CMD-QTY",
        "CMD-SHORT", "CMD-CANCEL", "CMD-REPRINT", "CMD-LOGOUT",
    }
    assert DOCK_COMMANDS == {"CMD-CLOSE-MANIFEST", "CMD-UNDO", "CMD-LOGOUT"}
    assert COMMANDS == BENCH_COMMANDS | DOCK_COMMANDS


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


# --- EAN-8 or UPC-E: expanding UPC-E to its GTIN ----------------------------------------------
# GS1 General Specifications 2.1.3.3: a UPC-E carries a GTIN-12 with zeros suppressed and "the
# GTIN-12 must be transformed into its full length by the barcode reader software or by the
# application software". Expansion vectors: biip's test suite (jodal/biip tests/upc/test_encode.py,
# "reverse of UPC-A suppression, conditions A-D", and tests/upc/test_parse.py).
UPC_E_VECTORS = [
    ("02345673", "023456000073"),  # condition A (last digit 3)
    ("02345147", "023450000017"),  # condition B (last digit 4)
    ("06397126", "063200009716"),  # condition C (last digit 5-9)
    ("08679339", "086700000939"),  # condition D (last digit 0-2)
    ("04252614", "042100005264"),  # biip test_parse: 425261 -> 042100005264
    ("14252611", "142100005261"),  # number system 1 (biip test_parse, 1425261 check digit 1)
]


@pytest.mark.parametrize(("upc_e", "upc_a"), UPC_E_VECTORS)
def test_upc_e_with_aim_e0_is_stored_under_its_gtin_12(upc_e: str, upc_a: str) -> None:
    # AIM ]E0 = EAN-13, UPC-A or UPC-E; an EAN-8 would be ]E4 (ISO/IEC 15424, GS1 GenSpecs)
    barcode = interpret(RawScan(upc_e, "]E0", source="serial"))
    assert (barcode.kind, barcode.value, barcode.gtin) == (BarcodeKind.GTIN, upc_a.zfill(14), upc_a.zfill(14))
    # the same item's UPC-A symbol gives the same key
    assert interpret(f"]E0{upc_a}").value == barcode.value
    assert lookup_key(upc_a) == barcode.value


@pytest.mark.parametrize("short", ["425261", "0425261"])
def test_upc_e_sent_without_number_system_or_check_digit(short: str) -> None:
    # biip tests/upc/test_parse.py: 6 digits = implicit number system 0, no check digit
    assert interpret(f"]E0{short}").value == "00042100005264"


@pytest.mark.parametrize("code", ["02345673", "02345147"])
def test_upc_e_that_passes_the_gtin_8_check_is_not_taken_for_an_ean_8(code: str) -> None:
    """Issue 9: these pass both check digits; the AIM identifier decides."""
    assert normalize_gtin(code) == code.zfill(14)  # a valid GTIN-8 check digit as well...
    upc_a = dict(UPC_E_VECTORS)[code].zfill(14)
    assert interpret(f"]E0{code}").value == upc_a  # ...but ]E0 says UPC-E
    assert interpret(f"]E4{code}").value == code.zfill(14)  # and ]E4 says EAN-8
    assert interpret(code).value == upc_a  # wedge, no AIM: 0-prefixed UPC-E wins (see gtin_key)
    assert lookup_key(code) == upc_a
    assert lookup_keys(code) == (upc_a, code.zfill(14))  # a catalogue finds it both ways


@pytest.mark.parametrize("code", [EAN8, "12345670", "20123451"])
def test_eight_digits_not_starting_with_0_stay_ean_8_without_aim(code: str) -> None:
    # GS1-8 prefixes: 0 = restricted circulation (RCN-8); a UPC-E is number system 0
    assert interpret(code).value == code.zfill(14)
    assert lookup_keys(code) == (code.zfill(14),)


def test_zero_prefixed_ean_8_that_is_no_upc_e_stays_an_ean_8() -> None:
    code = "07654329"  # a valid GTIN-8 check digit...
    assert gtin_check_digit("0765432") == 9
    # ...but as a UPC-E, 0765432 expands to the GTIN-12 07620000543x, whose check digit is 5
    assert gtin_check_digit("07620000543") == 5
    assert upc_e_to_gtin(code) is None and normalize_gtin(code) is not None
    assert interpret(code).value == code.zfill(14)


@pytest.mark.parametrize("wire", ["]E002345674", "]E412345678", "]E023456781"])
def test_ean_upc_symbology_with_bad_digits_is_refused_with_a_reason(wire: str) -> None:
    with pytest.raises(BarcodeError, match="not a valid (EAN|UPC).*rescan"):
        interpret(wire)


def test_gtin_key_takes_the_digits_as_the_symbology_says() -> None:
    assert gtin_key("02345673", "]E4") == "00000002345673"
    assert gtin_key("02345673", "]E0") == "00023456000073"
    assert gtin_key("4006381333931", "]E0") == "04006381333931"
    assert gtin_key("4006381333931", "]E4") is None  # ]E4 is 8 digits
    assert gtin_key("ABC") is None


# --- GS1 element strings without (01) -------------------------------------------------------------
# GS1 Barcode Syntax Dictionary (github.com/gs1/gs1-syntax-dictionary, gs1-syntax-dictionary.txt):
# "02 * N14,csum,key req=37 # CONTENT", "37 N..8 ... # COUNT", "01 ... ex=02,255,37",
# "10 X..20 # BATCH/LOT", "242 N..6 # MTO VARIANT", "17 N6,yymmd0 # USE BY or EXPIRY".
# GS1 logistic labels split their data over several symbols, so (10) or (242) on their own are
# real scans. GTIN 00614141999996 and SSCC 106141411234567897 are GS1's own examples.


def test_contents_and_count_of_a_case() -> None:
    barcode = interpret(f"]C102{GTIN_OF_ELEMENT_STRING}3712{GS}10LOT7")
    assert barcode.kind is BarcodeKind.GTIN
    assert (barcode.value, barcode.gtin, barcode.count, barcode.lot) == (
        GTIN_OF_ELEMENT_STRING, GTIN_OF_ELEMENT_STRING, 12, "LOT7")
    assert barcode.contents and barcode.ai("37") == "12"


def test_contents_and_count_without_aim_are_read_too() -> None:
    barcode = interpret(f"02{GTIN_OF_ELEMENT_STRING}3748")
    assert (barcode.gtin, barcode.count, barcode.contents) == (GTIN_OF_ELEMENT_STRING, 48, True)


def test_unit_gtin_is_not_contents() -> None:
    barcode = interpret(f"]C101{GTIN_OF_ELEMENT_STRING}10L1")
    assert (barcode.gtin, barcode.count, barcode.contents) == (GTIN_OF_ELEMENT_STRING, None, False)


def test_contents_without_a_count_is_refused() -> None:
    with pytest.raises(BarcodeError, match=r"\(02\).*no \(37\)"):
        interpret(f"]C102{GTIN_OF_ELEMENT_STRING}")


def test_unit_gtin_with_a_count_is_refused() -> None:
    with pytest.raises(BarcodeError, match=r"\(01\).*\(37\)"):
        interpret(f"]C101{GTIN_OF_ELEMENT_STRING}3712")


def test_a_lot_alone_is_gs1_data() -> None:
    barcode = interpret("]C110ABC123")
    assert barcode.kind is BarcodeKind.GS1_DATA
    assert (barcode.value, barcode.lot, barcode.gtin) == ("(10)ABC123", "ABC123", None)


def test_lot_and_expiry_without_gtin_are_no_longer_refused() -> None:
    barcode = interpret(f"]C110ABC123{GS}17261100")
    assert (barcode.kind, barcode.lot, barcode.expiry) == (BarcodeKind.GS1_DATA, "ABC123", date(2026, 11, 30))


def test_made_to_order_variant_alone() -> None:
    barcode = interpret("]C1242123456")
    assert (barcode.kind, barcode.value, barcode.ai("242")) == (BarcodeKind.GS1_DATA, "(242)123456", "123456")


def test_serial_alone_in_a_gs1_datamatrix() -> None:
    barcode = interpret("]d221SN-77")
    assert (barcode.kind, barcode.serial) == (BarcodeKind.GS1_DATA, "SN-77")


def test_sscc_label_with_contents_and_count() -> None:
    sscc = "106141411234567897"
    barcode = interpret(f"]C100{sscc}02{GTIN_OF_ELEMENT_STRING}3720")
    assert (barcode.kind, barcode.value, barcode.sscc, barcode.gtin, barcode.count) == (
        BarcodeKind.SSCC, sscc, sscc, GTIN_OF_ELEMENT_STRING, 20)


@pytest.mark.parametrize("text", ["10ABC123", "2100456", "242123456"])
def test_wedge_text_without_aim_that_merely_looks_like_gs1_stays_text(text: str) -> None:
    """Order numbers and badges are digits too: without AIM or GS nothing says it is GS1."""
    barcode = interpret(text)
    assert (barcode.kind, barcode.value) == (BarcodeKind.TEXT, text)


# --- what a scan answers to a lot / serial / expiry prompt ------------------------------------------


@pytest.mark.parametrize(
    ("scan", "want", "answer"),
    [
        ("10ABC123", "lot", "ABC123"),  # issue 9: a wedge scan of a GS1 lot barcode
        ("]C110ABC123", "lot", "ABC123"),
        (f"]C101{GTIN_OF_ELEMENT_STRING}10L-9{GS}17270600", "lot", "L-9"),
        (f"]C110L-9{GS}17270600", "expiry", "2027-06-30"),  # day 00: last day of the month
        ("17261111", "expiry", "2026-11-11"),
        ("]d221SN-77", "serial", "SN-77"),
        ("2112345", "serial", "12345"),
        ("10LOT<GS>21S1", "serial", "S1"),  # a wedge GS substitute
    ],
)
def test_prompt_value_takes_the_ai_from_a_gs1_scan(scan: str, want: str, answer: str) -> None:
    assert prompt_value(scan, want) == answer  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scan", "want"),
    [
        ("LOT-A7", "lot"),  # plain text
        ("]C010ABC123", "lot"),  # Code 128 without FNC1: the scanner says it is not GS1
        ("2112345", "lot"),  # parses as a serial, but a lot was asked: a numeric lot, as scanned
        ("261111", "expiry"),  # left for the prompt's own date parsing
        ("SN 12", "serial"),
    ],
)
def test_prompt_value_keeps_text_that_is_not_gs1_for_that_field(scan: str, want: str) -> None:
    assert prompt_value(scan, want) == RawScan.from_wire(scan).data  # type: ignore[arg-type]


def test_prompt_value_refuses_a_gs1_scan_without_the_field() -> None:
    with pytest.raises(BarcodeError, match="holds an expiry date, not a lot"):
        prompt_value("]C117261111", "lot")
    with pytest.raises(BarcodeError, match="holds a GTIN, not a serial"):
        prompt_value(f"]d201{GTIN_OF_ELEMENT_STRING}", "serial")


def test_prompt_value_takes_a_raw_scan_and_rejects_control_characters() -> None:
    assert prompt_value(RawScan("10ABC123", "]C1", source="serial"), "lot") == "ABC123"
    with pytest.raises(BarcodeError, match="control characters"):
        prompt_value("10AB\x07C", "lot")


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
    if len(code) == 8 and code[0] == "0" and upc_e_to_gtin(code) is not None:
        key = upc_e_to_gtin(code)  # the wedge rule: a 0-prefixed valid UPC-E is a UPC-E
    assert (barcode.kind, barcode.value) == (BarcodeKind.GTIN, key)
    assert interpret(RawScan(code, "]E4" if len(code) == 8 else "]E0")).value == normalize_gtin(code)


@given(st.text("0123456789", min_size=6, max_size=6), st.sampled_from("01"))
def test_any_upc_e_expands_to_a_gtin_12_that_keeps_its_check_digit(digits: str, ns: str) -> None:
    payload = ns + digits
    upc_a = upc_e_to_gtin(payload)  # 7 digits: number system, no check digit
    assert upc_a is not None and len(upc_a) == 14 and upc_a[:2] == "00" and upc_a[2] == ns
    assert normalize_gtin(upc_a) == upc_a  # the expansion is a valid GTIN-12
    eight = payload + upc_a[-1]  # the UPC-E check digit is the GTIN-12's
    assert interpret(f"]E0{eight}").value == upc_a


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
