"""PDF shipping labels, rasterised with pdftoppm and read back with zbarimg and pdftotext."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from doc_read import pdf_info, pdf_pages_png, pdf_symbols, pdf_text
from PIL import Image
from samples import LONG_TO

from packstation.adapters.documents import render_label
from packstation.adapters.documents.demo import demo_label
from packstation.adapters.documents.label_layout import qr_payload
from packstation.adapters.documents.pdf_label import render_label_pdf, render_labels_pdf
from packstation.domain.documents import DocumentDataError

PT_PER_MM = 72 / 25.4


@pytest.mark.parametrize(("size", "w_mm", "h_mm"), [("4x6", 101.6, 152.4), ("100x150", 100, 150)])
def test_label_pdf_page_size_barcodes_and_text(
    tmp_path: Path, size: str, w_mm: float, h_mm: float
) -> None:
    data = demo_label()
    pdf = render_label_pdf(data, size)
    info = pdf_info(pdf, tmp_path)
    w, h = (float(v) for v in re.findall(r"[\d.]+", info["Page size"])[:2])
    assert w == pytest.approx(w_mm * PT_PER_MM, abs=0.5) and h == pytest.approx(
        h_mm * PT_PER_MM, abs=0.5
    )
    (page,) = pdf_symbols(pdf, tmp_path, dpi=200)
    found = {(s.type, s.gs1, s.data) for s in page}
    assert ("CODE-128", True, "00" + data.sscc) in found
    assert ("QR-Code", False, qr_payload(data)) in found
    assert ("CODE-128", False, data.tracking_number) in found
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "Zoë Παπαδοπούλου",
        "Ёлка и Ко",
        "Carton 1 of 2",
        "2.345 kg",
        "(00) 0 0614141 000000001 2",
    ):
        assert expected in text


def test_label_without_tracking_number_says_so(tmp_path: Path) -> None:
    pdf = render_label_pdf(replace(demo_label(), tracking_number=None))
    (page,) = pdf_symbols(pdf, tmp_path)
    assert [s.data for s in page if s.type == "CODE-128" and not s.gs1] == []
    assert "assigned by the carrier" in pdf_text(pdf, tmp_path)


def test_long_text_stays_on_the_pdf_label(tmp_path: Path) -> None:
    data = replace(demo_label(), ship_to=LONG_TO, carrier="Deutsche Post DHL Paket International")
    for size in ("4x6", "100x150"):
        pdf = tmp_path / f"long-{size}.pdf"
        pdf.write_bytes(render_label_pdf(data, size))
        html = subprocess.run(
            ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', html)
        assert page
        pw, ph = float(page.group(1)), float(page.group(2))
        words = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            html,
        )
        assert len(words) > 30
        for x0, y0, x1, y1, word in words:
            assert float(x0) >= 0 and float(y0) >= 0, word
            assert float(x1) <= pw - 1 * PT_PER_MM, f"{word!r} runs off the label ({size})"
            assert float(y1) <= ph - 1 * PT_PER_MM, f"{word!r} runs off the label ({size})"
        text = pdf_text(pdf.read_bytes(), tmp_path)
        assert "Κωνσταντινοπούλου" in text and "Логистика" in text and "Lüdenscheidt" in text


def test_several_labels_one_page_each(tmp_path: Path) -> None:
    labels = [demo_label(1, 3), demo_label(2, 3), demo_label(3, 3)]
    pdf = render_labels_pdf(labels)
    pages = pdf_symbols(pdf, tmp_path, dpi=150)
    assert len(pages) == 3
    for data, page in zip(labels, pages, strict=True):
        assert "00" + data.sscc in {s.data for s in page if s.gs1}


def test_render_label_dispatches_by_language() -> None:
    data = demo_label()
    assert render_label(data, "zpl").startswith(b"^XA\n^CI28")
    assert render_label(data, "pdf").startswith(b"%PDF")
    assert render_label(data, "escpos").startswith(b"\x1b@")
    with pytest.raises(DocumentDataError, match="zpl, escpos, pdf"):
        render_label(data, "epl")


def test_big_numbers_in_the_order_block_stay_clear_of_the_qr_code(tmp_path: Path) -> None:
    from decimal import Decimal

    from packstation.adapters.documents.label_layout import MARGIN

    data = replace(
        demo_label(),
        order_id="MARKETPLACE-ORDER-2026-0000123456",
        carton_no=118,
        carton_count=120,
        weight_g=1_234_567,
        cod_amount=Decimal("123456.78"),
        cod_currency="EUR",
    )
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(render_label_pdf(data))
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    qr_left = (101.6 - MARGIN - 28.0) * PT_PER_MM
    words = dict(
        (word, float(x1))
        for x1, word in re.findall(
            r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', html
        )
    )
    for word in ("MARKETPLACE-ORDER-2026-0000123456", "120", "1234.567", "123456.78"):
        assert word in words, word
        assert words[word] < qr_left, f"{word} runs into the QR code"
    (page,) = pdf_symbols(pdf.read_bytes(), tmp_path)
    assert ("QR-Code", qr_payload(data)) in {(s.type, s.data) for s in page}


@pytest.mark.parametrize("size", ["4x6", "100x150"])
def test_qr_modules_on_the_page_are_qrcodes_the_right_way_up(tmp_path: Path, size: str) -> None:
    """Every module of the printed QR code, read off the rasterised page at its centre, is the
    module python-qrcode makes for the payload (row 0 at the top: zbar also reads a code
    mirrored top to bottom, many hand scanners do not)."""
    import qrcode

    from packstation.adapters.documents.label_layout import QRCode, layout_label

    data = replace(demo_label(), order_id="SO-77123", carton_no=3, carton_count=4)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=0)
    code.add_data(qr_payload(data).encode("utf-8"))
    code.make(fit=True)
    expected = code.get_matrix()
    (el,) = [e for e in layout_label(data, size)[2] if isinstance(e, QRCode)]
    pdf = tmp_path / "qr.pdf"
    pdf.write_bytes(render_label_pdf(data, size))
    dpi = 300
    (png,) = pdf_pages_png(pdf, tmp_path, dpi)
    page = Image.open(png).convert("L")
    n = len(expected)
    module_mm = el.size / n
    px = dpi / 25.4

    def dark(r: int, c: int) -> bool:
        x = round((el.x + (c + 0.5) * module_mm) * px)
        y = round((el.y + (r + 0.5) * module_mm) * px)
        return page.getpixel((x, y)) < 128

    assert [[dark(r, c) for c in range(n)] for r in range(n)] == expected


def test_remembered_font_subsets_are_the_subsets_reportlab_builds() -> None:
    """fonts.py keeps the subsets each PDF embeds; asked again, in any order, for other
    characters or the same ones, it must give what reportlab builds from the font file."""
    from reportlab.pdfbase.ttfonts import TTFont

    from packstation.adapters.documents.fonts import _remember_subsets, font_path

    plain = TTFont("PlainDejaVu", str(font_path()))
    kept = _remember_subsets(TTFont("KeptDejaVu", str(font_path())))
    latin = [*range(32, 127), ord("è"), ord("Æ")]
    greek = [*range(32, 127), *map(ord, "ΒΚωνσταΛογι")]
    same_length = [*range(32, 127), *map(ord, "ЖЯ")]  # as many codes as *latin*, other glyphs
    for subset in (latin, greek, latin, same_length, greek, same_length):
        assert kept.face.makeSubset(subset) == plain.face.makeSubset(subset)
