"""Shipping labels as PDF (reportlab): the fallback when no label printer is configured, and
what a CUPS queue for a non-Zebra printer receives. Same layout as the ZPL label.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.graphics.barcode.code128 import Code128 as RLCode128
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from packstation.adapters.documents.fonts import register_pdf_fonts
from packstation.adapters.documents.label_layout import (
    Box,
    Code128,
    Element,
    QRCode,
    Text,
    layout_label,
)
from packstation.adapters.documents.qr import qr_matrix
from packstation.domain.documents import LabelData

BASELINE = 0.8  # baseline sits this many em below the top of a text line


def draw_qr(canvas: Canvas, data: str, x: float, y_top: float, side: float) -> None:
    """Draw a QR code whose top-left corner is (x, y_top) in PDF points, within *side* points.

    One filled rectangle per run of dark modules in a row, written in module units under a
    scaling transform (whole numbers: a short page stream, no number formatting per module).
    """
    matrix = qr_matrix(data)
    n = len(matrix)
    cell = side / n
    runs = []
    for r, row in enumerate(matrix):
        y = n - 1 - r  # PDF y grows upwards
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                runs.append(f"{start} {y} {c - start} 1 re")
            else:
                c += 1
    canvas.saveState()
    canvas.transform(cell, 0, 0, cell, x, y_top - side)
    canvas.addLiteral("\n".join(runs) + "\nf")
    canvas.restoreState()


def draw_code128(
    canvas: Canvas,
    data: str,
    x: float,
    y_bottom: float,
    module: float,
    height: float,
    gs1: bool = False,
) -> float:
    """Draw Code 128 (GS1-128 when *gs1*: FNC1 first) without quiet zones; returns its width."""
    symbol = RLCode128("\xf1" + data if gs1 else data, barWidth=module, barHeight=height, quiet=0)
    symbol.drawOn(canvas, x, y_bottom)
    return float(symbol.width)


def draw_elements(canvas: Canvas, elements: Iterable[Element], page_h_mm: float) -> None:
    regular, bold = register_pdf_fonts()
    for el in elements:
        if isinstance(el, Text):
            canvas.setFont(bold if el.bold else regular, el.size * mm)
            canvas.drawString(el.x * mm, (page_h_mm - el.y - el.size * BASELINE) * mm, el.text)
        elif isinstance(el, Box):
            canvas.rect(
                el.x * mm, (page_h_mm - el.y - el.h) * mm, el.w * mm, el.h * mm, stroke=0, fill=1
            )
        elif isinstance(el, Code128):
            bottom = (page_h_mm - el.y - el.height) * mm
            draw_code128(canvas, el.data, el.x * mm, bottom, el.module * mm, el.height * mm, el.gs1)
        elif isinstance(el, QRCode):
            draw_qr(canvas, el.data, el.x * mm, (page_h_mm - el.y) * mm, el.size * mm)
        else:
            raise TypeError(f"cannot draw {el!r} in PDF")


def render_labels_pdf(labels: Iterable[LabelData], size: str = "4x6") -> bytes:
    """One page per label, page size equal to the label size."""
    out = io.BytesIO()
    canvas: Canvas | None = None
    for data in labels:
        w, h, elements = layout_label(data, size)
        if canvas is None:
            canvas = Canvas(out, pagesize=(w * mm, h * mm), pageCompression=1)
            canvas.setTitle(f"Shipping label {data.order_id}")
            canvas.setCreator("packstation")
        draw_elements(canvas, elements, h)
        canvas.showPage()
    if canvas is None:
        raise ValueError("no labels to render")
    canvas.save()
    return out.getvalue()


def render_label_pdf(data: LabelData, size: str = "4x6") -> bytes:
    return render_labels_pdf([data], size)
