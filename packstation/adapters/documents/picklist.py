"""The picklist of a pick wave: one line per bin visit, in walking order.

Walking order is the natural sort of location codes (``A-2-10`` after ``A-2-9``, not after
``A-2-1``), so the picker walks each aisle once. Which lot to take (earliest expiry first)
is decided by the caller; this module prints what the data says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from packstation.adapters.documents.pdf_common import (
    GRID,
    Styles,
    barcode_or_note,
    build_pdf,
    page_size,
    para,
)
from packstation.domain.documents import PickLine, PicklistData

_CHUNK = re.compile(r"(\d+)")


def location_key(location: str) -> tuple[tuple[int, int | str], ...]:
    """Natural sort key: digit runs compare as numbers, letters case-insensitively."""
    parts = _CHUNK.split(location.strip().upper())
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts if p)


def walking_order(lines: Sequence[PickLine]) -> list[PickLine]:
    return sorted(lines, key=lambda ln: (location_key(ln.location), ln.sku, ln.order_id))


def _orders_table(data: PicklistData, st: Styles, width: float) -> Table:
    rows: list[list[object]] = [["Order", "Tote", "Lines", "Scan"]]
    bar_w = width * 0.45
    for order in data.orders:
        code = order.tote or order.order_id
        rows.append(
            [
                para(order.order_id, st.strong),
                para(order.tote or "-", st.body),
                str(order.line_count),
                barcode_or_note(code, 8 * mm, 0.25 * mm, bar_w - 6, st.small),
            ]
        )
    table = Table(rows, colWidths=[width * 0.25, width * 0.2, width * 0.1, bar_w], repeatRows=1)
    table.setStyle(GRID)
    return table


def _lines_table(lines: list[PickLine], st: Styles, width: float) -> Table:
    rows: list[list[object]] = [
        ["#", "Location", "Product", "Lot to take", "Qty", "For", "Scan", "Done"]
    ]
    widths = [0.04, 0.12, 0.27, 0.14, 0.05, 0.12, 0.21, 0.05]
    bar_w = width * widths[6]
    for n, line in enumerate(lines, start=1):
        lot = f"<b>{escape(line.lot)}</b>" if line.lot else "any"
        if line.expiry:
            lot += f"<br/><font size=7>exp {line.expiry.isoformat()}</font>"
        target = line.order_id + (f"\n{line.tote}" if line.tote else "")
        rows.append(
            [
                str(n),
                para(line.location, st.big),
                para(f"{line.sku}\n{line.name}", st.body),
                Paragraph(lot, st.body),
                para(str(line.qty), st.big),
                para(target, st.small),
                barcode_or_note(line.barcode or line.sku, 7 * mm, 0.25 * mm, bar_w - 6, st.small),
                "\u2610",
            ]
        )
    table = Table(rows, colWidths=[width * w for w in widths], repeatRows=1)
    table.setStyle(GRID)
    table.setStyle(TableStyle([("FONT", (7, 1), (7, -1), "DejaVuSans", 14)]))
    return table


def render_picklist(data: PicklistData, path: str | Path | None = None, size: str = "A4") -> bytes:
    """Write the picklist PDF to *path* (if given) and return its bytes."""
    st = Styles()
    width = page_size(size)[0] - 30 * mm
    lines = walking_order(data.lines)
    total_units = sum(line.qty for line in lines)
    head = Table(
        [
            [
                para(f"Picklist {data.wave_id}", st.title),
                barcode_or_note(data.wave_id, 10 * mm, 0.3 * mm, width * 0.4, st.small),
            ],
            [
                para(
                    f"Created {data.created_at}"
                    + (f" · carrier {data.carrier}" if data.carrier else "")
                    + (f" · {data.station}" if data.station else "")
                    + f"\n{len(data.orders)} orders · {len(lines)} lines · {total_units} units",
                    st.body,
                ),
                para(data.wave_id, st.center),
            ],
        ],
        colWidths=[width * 0.58, width * 0.42],
    )
    head.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 0), (1, -1), "CENTER")])
    )
    story = [
        head,
        Spacer(1, 4 * mm),
        para("Pick lines (walking order)", st.h2),
        _lines_table(lines, st, width),
        Spacer(1, 4 * mm),
        para("Orders and totes", st.h2),
        _orders_table(data, st, width),
    ]
    return build_pdf(story, size, f"Picklist {data.wave_id}", f"Picklist {data.wave_id}", path)
