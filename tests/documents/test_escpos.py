"""ESC/POS label and packing slip for 80 mm printers, read back with an independent parser
and compared byte by byte with the commands the Epson reference prescribes."""

from __future__ import annotations

from dataclasses import replace

from escpos_parse import parse
from samples import LONG_TO

from packstation.adapters.documents.demo import demo_label, demo_packing_slip
from packstation.adapters.documents.escpos import render_label_escpos, render_packing_slip_escpos
from packstation.adapters.documents.label_layout import qr_payload

COLUMNS = 42  # TM-T88V, font A, 80 mm paper


def _check_widths(parsed) -> None:
    for text, _bold, double in parsed.lines:
        assert len(text) <= (COLUMNS // 2 if double else COLUMNS), f"line too wide: {text!r}"


def test_label_frame_width_and_text() -> None:
    data = demo_label()
    parsed = parse(render_label_escpos(data))
    assert parsed.initialised_first and parsed.cut
    _check_widths(parsed)
    text = parsed.text()
    for expected in (
        "DHL EXPRESS",
        "Zoë Παπαδοπούλου",
        "Ёлка и Ко",
        "Carton 1 of 2",
        "Weight 2.345 kg",
    ):
        assert expected in text
    assert "(00) 0 0614141 000000001 2" in text
    # Greek and Cyrillic went out in the printer's own code pages, not as '?'
    assert parsed.code_pages & {14, 15, 38, 47} and parsed.code_pages & {17, 46}
    assert "?" not in text


def test_label_sscc_barcode_bytes_follow_the_epson_reference() -> None:
    data = demo_label()
    raw = render_label_escpos(data)
    sscc_data = b"{C{1" + b"00" + data.sscc.encode()
    expected = (
        b"\x1dh\x78"  # GS h 120: bar height in dots
        b"\x1dw\x03"  # GS w 3: module width
        b"\x1df\x00"  # GS f 0: HRI font A
        b"\x1dH\x00"  # GS H 0: no HRI (our own readable line follows)
        b"\x1dkI" + bytes([len(sscc_data)]) + sscc_data  # GS k 73 n: Code 128
    )
    assert expected in raw
    barcodes = parse(raw).barcodes
    assert [b.data for b in barcodes] == [b"{B" + data.tracking_number.encode(), sscc_data]
    assert all(b.system == 73 for b in barcodes)


def test_label_qr_code_is_printer_drawn_with_order_and_carton() -> None:
    data = demo_label(2, 3)
    raw = render_label_escpos(data)
    parsed = parse(raw)
    assert parsed.qr_data == [qr_payload(data).encode()]
    assert parsed.qr_printed == 1
    payload = qr_payload(data).encode()
    store = b"\x1d(k" + (len(payload) + 3).to_bytes(2, "little") + b"1P0" + payload
    assert store in raw


def test_label_cod_and_missing_tracking() -> None:
    from decimal import Decimal

    data = replace(
        demo_label(), tracking_number=None, cod_amount=Decimal("12.5"), cod_currency="EUR"
    )
    parsed = parse(render_label_escpos(data))
    assert "COD EUR 12.50" in parsed.text()
    assert [b.data[:2] for b in parsed.barcodes] == [b"{C"]


def test_long_address_wraps_between_words() -> None:
    data = replace(demo_label(), ship_to=LONG_TO)
    parsed = parse(render_label_escpos(data))
    _check_widths(parsed)
    joined = " ".join(t for t, _, _ in parsed.lines)
    for word in (
        "Hinterhaus,",
        "Müller-Lüdenscheidt",
        "Логистика»",
        "Κωνσταντινοπούλου-Αλεξανδροπούλου",
    ):
        assert word in joined.split(), f"{word} was split or lost"


def test_packing_slip_lists_items_lots_serials_shortages_and_return_code() -> None:
    slip = demo_packing_slip()
    parsed = parse(render_packing_slip_escpos(slip))
    assert parsed.initialised_first and parsed.cut
    _check_widths(parsed)
    text = parsed.text()
    assert "Order WEB-100234" in text
    assert "Lot: L2406A" in text and "Serial: KT-88812" in text
    assert "Not in this shipment" in text
    short_section = text.split("Not in this shipment", 1)[1]
    assert "1  SKU-CUP-6 Porcelain cups, set of 6" in short_section
    assert "SKU-TEA-01" not in short_section
    assert [b.data for b in parsed.barcodes] == [b"{B" + slip.return_code.encode()]


def test_packing_slip_without_shortage_or_returns_omits_those_sections() -> None:
    slip = demo_packing_slip()
    full = tuple(replace(line, qty_shipped=line.qty_ordered) for line in slip.lines)
    parsed = parse(
        render_packing_slip_escpos(
            replace(slip, lines=full, return_code="", return_instructions="")
        )
    )
    assert "Not in this shipment" not in parsed.text()
    assert "Returns" not in parsed.text()
    assert parsed.barcodes == []


def test_braces_in_code128_data_are_escaped() -> None:
    data = replace(demo_label(), tracking_number="AB{C12")
    parsed = parse(render_label_escpos(data))
    assert parsed.barcodes[0].data == b"{BAB{{C12"


def test_a_tracking_number_that_cannot_be_code128_is_printed_as_text() -> None:
    data = replace(demo_label(), tracking_number="ТРЕК-1")
    parsed = parse(render_label_escpos(data))
    assert "ТРЕК-1 (no barcode: not printable as Code 128)" in " ".join(parsed.text().split())
    assert [b.data[:4] for b in parsed.barcodes] == [b"{C{1"]


def test_barcode_and_qr_bytes_match_python_escpos_public_api() -> None:
    """We call Dummy's internal _hw_barcode (the public barcode() prints to stdout); the bytes
    must be exactly what the public barcode() and qr() produce for the same request."""
    from escpos.printer import Dummy

    data = demo_label()
    raw = render_label_escpos(data)
    reference = Dummy(profile="TM-T88V")
    reference.barcode(
        "{C{100" + data.sscc, "CODE128", height=120, width=3, pos="OFF", function_type="B"
    )
    reference.qr(qr_payload(data), size=6, native=True)
    barcode_bytes, qr_bytes = bytes(reference.output).split(b"\x1d(k", 1)
    assert barcode_bytes in raw
    assert b"\x1d(k" + qr_bytes in raw


def test_a_script_without_printer_code_page_is_printed_as_an_image() -> None:
    armenian = "Արամ Խաչատրյան"
    data = replace(demo_label(), ship_to=replace(demo_label().ship_to, name=armenian))
    parsed = parse(render_label_escpos(data))
    assert "?" not in parsed.text() and armenian not in parsed.text()
    assert parsed.rasters, "the Armenian name was not sent as an image"
    for width, _height, bits in parsed.rasters:
        assert width <= 512  # TM-T88V paper width in dots
        assert any(bits), "blank raster"
        # bits are 1 for black; the text's top line is not all black
        assert bits[: width // 8] != b"\xff" * (width // 8)
