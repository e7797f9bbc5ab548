"""A desk's card of scannable codes (the returns desk's: parcel, grades, dispositions,
resolutions, reasons), laid out like the bench command card: big Code 128 barcodes, captions.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from packstation.adapters.documents.command_card import _grid
from packstation.adapters.documents.pdf_common import Styles, build_pdf, page_size, para
from packstation.domain.documents import DocumentDataError

Section = tuple[str, list[tuple[str, str]]]


def render_desk_card(title: str, sections: list[Section], path: str | Path | None = None, size: str = "A4") -> bytes:
    """One page (or more) of sections, each a grid of (barcode value, caption)."""
    bad = [v for _, codes in sections for v, _ in codes if not v or not v.isascii() or not v.isprintable()]
    if bad:
        raise DocumentDataError(f"desk card codes must be printable ASCII: {', '.join(map(repr, bad))}")
    st = Styles()
    width = page_size(size)[0] - 30 * mm
    story: list[Flowable] = [para(title, st.title), Spacer(1, 2 * mm)]
    for heading, codes in sections:
        columns = 3 if len(codes) > 4 else 2
        grid = _grid(codes, columns, st, width, 10 * mm, 0.3 * mm)
        story.append(KeepTogether([Spacer(1, 2 * mm), para(heading, st.h2), grid]))
    return build_pdf(story, size, title, "packstation desk card", path)


__all__ = ["render_desk_card"]
