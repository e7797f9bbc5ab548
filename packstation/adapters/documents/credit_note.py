"""Credit note for a processed return: number, lines, amounts (Decimal, rounded half-up to
cents) and the reason. The gap-free numbering is the caller's job.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Spacer, Table, TableStyle

from packstation.adapters.documents.pdf_common import (
    GRID,
    Styles,
    address_para,
    build_pdf,
    money,
    page_size,
    para,
)
from packstation.domain.documents import CreditNoteData


def _rate(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def render_credit_note(
    data: CreditNoteData, path: str | Path | None = None, size: str = "A4"
) -> bytes:
    st = Styles()
    width = page_size(size)[0] - 30 * mm
    cur = data.currency
    head = Table(
        [
            [address_para(data.issuer.lines(), st.body), para("Credit note", st.title)],
            [
                [para("Credited to", st.h2), address_para(data.customer.lines(), st.body)],
                para(
                    f"Number {data.number}\nDate {data.issued.isoformat()}\nOrder {data.order_id}"
                    + (f"\nReturn {data.rma_id}" if data.rma_id else ""),
                    st.strong,
                ),
            ],
        ],
        colWidths=[width * 0.55, width * 0.45],
    )
    head.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )

    rows: list[list[object]] = [
        ["Product", "Description", "Qty", "Unit price", "Net", "Tax", "Tax amount"]
    ]
    for line in data.lines:
        rows.append(
            [
                para(line.sku, st.strong),
                para(line.name, st.body),
                para(str(line.qty), st.right),
                para(money(line.unit_price), st.right),
                para(money(line.net), st.right),
                para(_rate(line.tax_rate), st.right),
                para(money(line.tax), st.right),
            ]
        )
    widths = [0.16, 0.32, 0.07, 0.12, 0.12, 0.08, 0.13]
    table = Table(rows, colWidths=[width * w for w in widths], repeatRows=1)
    table.setStyle(GRID)
    table.setStyle(TableStyle([("ALIGN", (2, 0), (-1, 0), "RIGHT")]))

    totals = Table(
        [
            ["Net amount", para(money(data.net_total, cur), st.right)],
            ["Tax", para(money(data.tax_total, cur), st.right)],
            [para("Total credited", st.strong), para(money(data.total, cur), st.right_strong)],
        ],
        colWidths=[width * 0.25, width * 0.2],
        hAlign="RIGHT",
    )
    totals.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), st.regular, 9),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, "black"),
            ]
        )
    )
    story = [
        head,
        Spacer(1, 6 * mm),
        para("Reason", st.h2),
        para(data.reason, st.body),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 4 * mm),
        totals,
        Spacer(1, 8 * mm),
        para(
            f"The total of {money(data.total, cur)} is credited to the original means of payment.",
            st.body,
        ),
    ]
    return build_pdf(story, size, f"Credit note {data.number}", f"Credit note {data.number}", path)
