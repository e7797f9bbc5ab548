"""ZPL shipping labels: the commands we emit, then the label as an independent renderer
draws it, read back with a barcode decoder."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from doc_read import zbar
from PIL import Image
from samples import LONG_TO
from zpl_parse import graphic_size, gs1_check_digit, parse

from packstation.adapters.documents.demo import demo_label
from packstation.adapters.documents.label_layout import SIZES_MM, qr_payload
from packstation.adapters.documents.zpl import render_label_zpl
from packstation.domain.barcodes import sscc18
from packstation.domain.documents import Address, DocumentDataError

COMBOS = [(203, "4x6"), (300, "4x6"), (203, "100x150"), (300, "100x150")]
DPMM = {203: 8, 300: 12}


def _code128_fields(fmt):
    return [f for f in fmt.fields if f.get("BC") is not None]


@pytest.mark.parametrize(("dpi", "size"), COMBOS)
def test_format_frame_matches_label_size_and_declares_utf8(dpi: int, size: str) -> None:
    fmt = parse(render_label_zpl(demo_label(), dpi, size))
    names = [c for c, _ in fmt.commands]
    assert names[0] == "XA" and names[-1] == "XZ"
    assert ("CI", "28") in fmt.commands
    assert names.index("CI") < names.index("FD"), "^CI28 must come before the first field data"
    w_mm, h_mm = SIZES_MM[size]
    assert int(fmt.first("PW")) == round(w_mm * DPMM[dpi])
    assert int(fmt.first("LL")) == round(h_mm * DPMM[dpi])


@pytest.mark.parametrize(("dpi", "size"), COMBOS)
def test_sscc_is_gs1_128_with_valid_check_digit_and_readable_line(dpi: int, size: str) -> None:
    data = demo_label()
    fmt = parse(render_label_zpl(data, dpi, size))
    gs1 = [f for f in _code128_fields(fmt) if f.data and f.data.startswith(">;>8")]
    assert len(gs1) == 1
    body = gs1[0].data[4:]
    assert body[:2] == "00" and len(body) == 20 and body.isdigit()
    sscc = body[2:]
    assert sscc == data.sscc
    assert int(sscc[-1]) == gs1_check_digit(sscc[:-1])
    # X dimension within the GS1 logistic-label range (0.495 mm .. 1.016 mm)
    module = int(gs1[0].get("BY").split(",")[0])
    assert 0.495 <= module / DPMM[dpi] <= 1.016
    texts = [f.data for f in fmt.fields if f.data]
    assert "(00) 0 0614141 000000001 2" in texts


def test_every_field_starts_on_the_label_and_graphics_end_on_it() -> None:
    for dpi, size in COMBOS:
        fmt = parse(render_label_zpl(demo_label(), dpi, size))
        pw, ll = int(fmt.first("PW")), int(fmt.first("LL"))
        for f in fmt.fields:
            x, y = f.origin
            assert 0 <= x < pw and 0 <= y < ll, f
            gf = f.get("GF")
            if gf is not None:
                w, h, _ = graphic_size(gf)
                assert x + w <= pw and y + h <= ll, (
                    f"text graphic leaves the label at {dpi} dpi {size}"
                )


def test_non_latin_text_is_rasterised_and_latin_text_stays_text() -> None:
    fmt = parse(render_label_zpl(demo_label()))
    texts = [f.data for f in fmt.fields if f.data]
    assert not any("Παπαδοπούλου" in t or "Ёлка" in t for t in texts), (
        "printer font 0 has no Greek/Cyrillic"
    )
    graphics = [f for f in fmt.fields if f.get("GF") is not None]
    assert len(graphics) == 2  # the Greek name and the Cyrillic company
    for g in graphics:
        w, h, hexdata = graphic_size(g.get("GF"))
        assert set(hexdata) - {"0"}, "graphic is blank"
    assert "Leoforos Vasilissis Sofias 12" in texts
    assert "Order WEB-100234" in texts


def test_zpl_control_characters_in_data_are_escaped() -> None:
    tricky = replace(demo_label(), order_id="A^B~C_D", tracking_number=None)
    fmt = parse(render_label_zpl(tricky))
    order = [f for f in fmt.fields if f.data and f.data.startswith("Order ")]
    assert [f.data for f in order] == ["Order A^B~C_D"]
    assert order[0].get("FH") == "_"
    qr = [f for f in fmt.fields if f.get("BQ") is not None]
    assert qr[0].data == "QA," + qr_payload(tricky)


def test_unknown_dpi_and_size_are_refused_with_a_reason() -> None:
    with pytest.raises(DocumentDataError, match="203 or 300"):
        render_label_zpl(demo_label(), dpi=600)
    with pytest.raises(DocumentDataError, match="4x6"):
        render_label_zpl(demo_label(), size="A6")


def test_an_address_that_cannot_fit_is_refused_not_cut() -> None:
    huge = Address(name="N" * 400, line1="x", city="y", postcode="1", country="NL")
    with pytest.raises(DocumentDataError, match="ship-to name is too long"):
        render_label_zpl(replace(demo_label(), ship_to=huge))


# --- rendered by zpl-renderer-js (Zebrash) and decoded with zbarimg -------------------------

COD_LABEL = replace(demo_label(), cod_amount=Decimal("49.90"), cod_currency="EUR")
LONG_LABEL = replace(demo_label(), ship_to=LONG_TO, carrier="Deutsche Post DHL Paket International")
SECOND_LABEL = replace(demo_label(2, 2), sscc=sscc18(0, "0614141", 987654321))
MARGIN_MM = 30  # the long-text labels are rendered on a canvas this much larger


def _enlarged(zpl: str, w: float, h: float, dpmm: int) -> str:
    big_w, big_h = round((w + MARGIN_MM) * dpmm), round((h + MARGIN_MM) * dpmm)
    return zpl.replace(f"^PW{round(w * dpmm)}", f"^PW{big_w}").replace(
        f"^LL{round(h * dpmm)}", f"^LL{big_h}"
    )


@pytest.fixture(scope="module")
def rendered(zpl_renderer, tmp_path_factory) -> dict[tuple[str, int, str], Path]:
    """Every label the tests below look at, rendered in one run of the WASM renderer."""
    out_dir = tmp_path_factory.mktemp("zpl")
    jobs, keys = [], []
    for dpi, size in COMBOS:
        w, h = SIZES_MM[size]
        jobs.append(
            (render_label_zpl(COD_LABEL, dpi, size), w, h, dpi, out_dir / f"cod-{dpi}-{size}.png")
        )
        keys.append(("cod", dpi, size))
        big = _enlarged(render_label_zpl(LONG_LABEL, dpi, size), w, h, DPMM[dpi])
        jobs.append((big, w + MARGIN_MM, h + MARGIN_MM, dpi, out_dir / f"long-{dpi}-{size}.png"))
        keys.append(("long", dpi, size))
    jobs.append((render_label_zpl(SECOND_LABEL), 101.6, 152.4, 203, out_dir / "second.png"))
    keys.append(("second", 203, "4x6"))
    return dict(zip(keys, zpl_renderer.render(jobs), strict=True))


@pytest.mark.parametrize(("dpi", "size"), COMBOS)
def test_rendered_labels_scan_back(rendered, dpi: int, size: str) -> None:
    png = rendered[("cod", dpi, size)]
    by_type = {(s.type, s.gs1): s.data for s in zbar(png)}
    assert by_type.get(("CODE-128", True)) == "00" + COD_LABEL.sscc
    assert by_type.get(("QR-Code", False)) == qr_payload(COD_LABEL)
    assert by_type.get(("CODE-128", False)) == COD_LABEL.tracking_number


@pytest.mark.parametrize(("dpi", "size"), COMBOS)
def test_long_names_stay_inside_the_label(rendered, dpi: int, size: str) -> None:
    """Rendered on a canvas 30 mm larger than the label: no ink may fall outside the label."""
    png = rendered[("long", dpi, size)]
    w, h = SIZES_MM[size]
    dpmm = DPMM[dpi]
    image = Image.open(png).convert("L")
    expected = ((w + MARGIN_MM) * dpmm, (h + MARGIN_MM) * dpmm)
    assert image.size == pytest.approx(expected, abs=1.5), "canvas is not the enlarged label"
    ink = image.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert ink is not None
    assert ink[2] <= w * dpmm - 1 * dpmm, f"ink reaches x={ink[2]} of {w * dpmm}"
    assert ink[3] <= h * dpmm - 1 * dpmm, f"ink reaches y={ink[3]} of {h * dpmm}"
    assert "00" + LONG_LABEL.sscc in {s.data for s in zbar(png)}


def test_second_carton_gets_its_own_sscc(rendered) -> None:
    symbols = {(s.type, s.data) for s in zbar(rendered[("second", 203, "4x6")])}
    payload = "00614141987654321"
    sscc = payload + str(gs1_check_digit(payload))
    assert ("CODE-128", "00" + sscc) in symbols
    assert ("QR-Code", f"PS1|WEB-100234|2/2|{sscc}") in symbols


def test_every_ship_from_line_is_printed() -> None:
    full = Address(
        name="Packstation Demo Warehouse",
        company="Fulfilment Unit 7",
        line1="1 Logistics Way",
        line2="Gate 4, dock 12",
        city="Rotterdam",
        postcode="3011 AA",
        region="Zuid-Holland",
        country="NL",
    )
    fmt = parse(render_label_zpl(replace(demo_label(), ship_from=full)))
    texts = [f.data for f in fmt.fields if f.data]
    for line in full.lines():
        assert line in texts, line


def test_only_windows_1252_text_is_left_to_the_printer_font() -> None:
    from packstation.adapters.documents.zpl import is_native

    assert is_native("Müller Straße 5, Évry, Ærø — 12 €")
    assert not is_native("Łódź")  # Latin Extended-A: not in font 0's code page 1252
    assert not is_native("Ёлка")
    assert not is_native("tab\there")
