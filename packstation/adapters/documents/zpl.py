"""Shipping labels in ZPL II for Zebra printers (203 and 300 dpi, UTF-8 via ``^CI28``).

Text the printer's built-in scalable font 0 can show (the Windows-1252 Latin repertoire) is
sent as text; anything else (Polish, Czech, Greek, Cyrillic, ...) is rasterised with the
bundled DejaVu font and sent as a ``^GF`` graphic, because most printers have no font for
those scripts loaded and would print boxes or nothing. The SSCC is a GS1-128 symbol: Code 128 started in subset C with
FNC1 (``>;>8``) followed by AI 00 and the 18 digits.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from packstation.adapters.documents.fonts import font_path
from packstation.adapters.documents.label_layout import (
    Box,
    Code128,
    Element,
    QRCode,
    Text,
    layout_label,
)
from packstation.domain.documents import DocumentDataError, LabelData

SUPPORTED_DPI = (203, 300)
_QR_BYTES_ECC_Q = (11, 20, 32, 46, 60, 74, 86, 108, 130, 151, 177, 203, 241, 258, 292)


def dots_per_mm(dpi: int) -> float:
    if dpi not in SUPPORTED_DPI:
        raise DocumentDataError(f"ZPL labels are made for 203 or 300 dpi printers, not {dpi} dpi")
    return 8.0 if dpi == 203 else 12.0


def _field_data(text: str) -> str:
    """``^FD`` content; ``^``, ``~`` and ``_`` are hex-escaped under a ``^FH``."""
    if not any(ch in text for ch in "^~_"):
        return f"^FD{text}^FS"
    escaped = text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")
    return f"^FH_^FD{escaped}^FS"


def is_native(text: str) -> bool:
    """Text the printer's font 0 can show: Zebra documents its repertoire as Code Page 1252."""
    if not text.isprintable():
        return False
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=16)
def _pil_font(px: int, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(bold)), px)


@lru_cache(maxsize=256)
def text_graphic(text: str, px: int, bold: bool) -> str:
    """``^GFA`` command drawing *text* at em size *px* dots with the bundled font."""
    font = _pil_font(px, bold)
    left, top, right, bottom = font.getbbox(text)
    width = max(8, int(math.ceil(right)) + 1)
    height = max(1, int(math.ceil(px * 1.2)))
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).text((0, 0), text, fill=255, font=font)
    bits = image.point(lambda v: 255 if v >= 128 else 0).convert("1")
    row_bytes = (width + 7) // 8
    data = bits.tobytes()
    total = row_bytes * height
    return f"^GFA,{total},{total},{row_bytes},{data.hex().upper()}^FS"


def _qr_magnification(data: str, side_dots: int) -> int:
    size = len(data.encode("utf-8"))
    for version, capacity in enumerate(_QR_BYTES_ECC_Q, start=1):
        if size <= capacity:
            modules = 17 + 4 * version
            return max(1, min(10, side_dots // modules))
    raise DocumentDataError(f"QR payload of {size} bytes is too long for a label")


def _element(el: Element, dpmm: float) -> str:
    def d(mm: float) -> int:
        return int(round(mm * dpmm))

    if isinstance(el, Text):
        h = d(el.size)
        if is_native(el.text):
            return f"^FO{d(el.x)},{d(el.y)}^A0N,{h},{h}{_field_data(el.text)}"
        return f"^FO{d(el.x)},{d(el.y)}{text_graphic(el.text, h, el.bold)}"
    if isinstance(el, Box):
        w, h = max(1, d(el.w)), max(1, d(el.h))
        return f"^FO{d(el.x)},{d(el.y)}^GB{w},{h},{min(w, h)}^FS"
    if isinstance(el, Code128):
        module = max(1, int(el.module * dpmm + 1e-6))  # never wider than laid out
        data = f">;>8{el.data}" if el.gs1 else el.data
        return f"^FO{d(el.x)},{d(el.y)}^BY{module},3^BCN,{d(el.height)},N,N,N^FD{data}^FS"
    if isinstance(el, QRCode):
        mag = _qr_magnification(el.data, d(el.size))
        return f"^FO{d(el.x)},{d(el.y)}^BQN,2,{mag}{_field_data('QA,' + el.data)}"
    raise TypeError(f"cannot draw {el!r} in ZPL")


def render_label_zpl(data: LabelData, dpi: int = 203, size: str = "4x6", copies: int = 1) -> str:
    """The label as one ZPL format (``^XA`` .. ``^XZ``); encode it as UTF-8 to send it."""
    dpmm = dots_per_mm(dpi)
    w, h, elements = layout_label(data, size)
    parts = [
        "^XA",
        "^CI28",
        f"^PW{int(round(w * dpmm))}",
        f"^LL{int(round(h * dpmm))}",
        "^LH0,0",
        "^LS0",
    ]
    parts += [_element(el, dpmm) for el in elements]
    parts.append(f"^PQ{max(1, copies)}")
    parts.append("^XZ")
    return "\n".join(parts) + "\n"
