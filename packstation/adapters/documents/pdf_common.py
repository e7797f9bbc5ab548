"""What the A4/Letter PDF documents share: page sizes, paragraph styles, barcodes as
flowables, money formatting and the page frame with its footer.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128 as RLCode128
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, TableStyle

from packstation.adapters.documents.fonts import register_pdf_fonts
from packstation.domain.documents import DocumentDataError

PAGE_SIZES = {"A4": A4, "Letter": LETTER, "LETTER": LETTER, "a4": A4, "letter": LETTER}
MARGIN = 15 * mm


def page_size(name: str) -> tuple[float, float]:
    try:
        return PAGE_SIZES[name]
    except KeyError:
        raise DocumentDataError(f"unknown paper size {name!r}; use A4 or Letter") from None


class Styles:
    """Paragraph styles in the bundled font (so any name the font covers prints)."""

    def __init__(self) -> None:
        regular, bold = register_pdf_fonts()
        self.regular, self.bold = regular, bold
        self.body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9)
        self.strong = ParagraphStyle("strong", parent=self.body, fontName=bold)
        self.title = ParagraphStyle(
            "title", parent=self.body, fontName=bold, fontSize=18, leading=22
        )
        self.h2 = ParagraphStyle(
            "h2",
            parent=self.body,
            fontName=bold,
            fontSize=11.5,
            leading=14,
            spaceBefore=6,
            spaceAfter=3,
        )
        self.big = ParagraphStyle("big", parent=self.body, fontName=bold, fontSize=12, leading=14)
        self.right = ParagraphStyle("right", parent=self.body, alignment=TA_RIGHT)
        self.right_strong = ParagraphStyle("right_strong", parent=self.strong, alignment=TA_RIGHT)
        self.center = ParagraphStyle("center", parent=self.body, alignment=TA_CENTER)
        self.caption = ParagraphStyle(
            "caption", parent=self.body, fontName=bold, fontSize=12, leading=14, alignment=TA_CENTER
        )


def para(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: names may contain '<' or '&'); newlines kept."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def address_para(lines: Sequence[str], style: ParagraphStyle, bold_first: bool = True) -> Paragraph:
    parts = [escape(line) for line in lines]
    if bold_first and parts:
        parts[0] = f"<b>{parts[0]}</b>"
    return Paragraph("<br/>".join(parts), style)


def barcode(
    value: str,
    height: float = 10 * mm,
    module: float = 0.3 * mm,
    max_width: float | None = None,
    gs1: bool = False,
) -> Flowable:
    """A Code 128 flowable; the module shrinks (down to 0.19 mm) to stay within *max_width*."""
    data = "\xf1" + value if gs1 else value
    if not value.isascii() or not value.isprintable():
        raise DocumentDataError(f"barcode value {value!r} must be printable ASCII for Code 128")
    symbol = RLCode128(data, barWidth=module, barHeight=height, quiet=0)
    if max_width is not None and symbol.width > max_width:
        narrower = module * max_width / symbol.width
        if narrower < 0.19 * mm:
            raise DocumentDataError(
                f"barcode value {value!r} is too long for its {max_width / mm:.0f} mm space"
            )
        symbol = RLCode128(data, barWidth=narrower, barHeight=height, quiet=0)
    return symbol


def barcode_or_note(
    value: str,
    height: float,
    module: float,
    max_width: float,
    style: ParagraphStyle,
) -> Flowable:
    """A barcode, or, when *value* cannot be one (not ASCII, too long), the value as text with
    the reason, so the document still prints and the reader sees why the barcode is missing."""
    try:
        return barcode(value, height, module, max_width)
    except DocumentDataError as exc:
        return para(f"{value}\n(no barcode: {exc})", style)


def money(amount: Decimal, currency: str = "") -> str:
    text = f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"
    return f"{currency} {text}".strip()


GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, 0), "DejaVuSans-Bold", 8.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
)


def build_pdf(
    story: list[Flowable],
    size: str,
    title: str,
    footer: str,
    path: str | Path | None = None,
) -> bytes:
    """Lay out *story* on A4 or Letter with a "footer - page n" line; write to *path* if given."""
    register_pdf_fonts()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=page_size(size),
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        creator="packstation",
    )
    on_page = _footer(footer)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    data = out.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _footer(text: str) -> Callable[[Canvas, SimpleDocTemplate], None]:
    def draw(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("DejaVuSans", 7.5)
        canvas.drawString(MARGIN, MARGIN * 0.6, text)
        canvas.drawRightString(doc.pagesize[0] - MARGIN, MARGIN * 0.6, f"page {doc.page}")
        canvas.restoreState()

    return draw
