"""The packing slip (A4 or Letter PDF) that goes into the last carton of an order.

It lists what was shipped with lots and serials, says plainly what was not shipped (short
shipment), and tells the customer how to return items, with a return barcode the returns
desk scans when the parcel comes back.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Spacer, Table, TableStyle

from packstation.adapters.documents.pdf_common import (
    GRID,
    Styles,
    address_para,
    barcode_or_note,
    build_pdf,
    page_size,
    para,
)
from packstation.domain.documents import PackingSlipData


def render_packing_slip_pdf(
    data: PackingSlipData, path: str | Path | None = None, size: str = "A4"
) -> bytes:
    st = Styles()
    width = page_size(size)[0] - 30 * mm
    head = Table(
        [
            [
                address_para(data.ship_from.lines(), st.body),
                [
                    para("Packing slip", st.title),
                    barcode_or_note(data.order_id, 10 * mm, 0.3 * mm, width * 0.45, st.small),
                ],
            ],
            [
                [para("Ship to", st.h2), address_para(data.ship_to.lines(), st.body)],
                para(
                    f"Order {data.order_id}\nDate {data.order_date.isoformat()}"
                    + (f"\nChannel {data.channel}" if data.channel else "")
                    + f"\nCartons {data.carton_count}"
                    + (
                        f"\nCustomer {data.customer_name}"
                        if data.customer_name and data.customer_name != data.ship_to.name
                        else ""
                    ),
                    st.strong,
                ),
            ],
        ],
        colWidths=[width * 0.5, width * 0.5],
    )
    head.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )

    rows: list[list[object]] = [["Product", "Description", "Ordered", "Shipped"]]
    for line in data.lines:
        detail = line.name
        if line.lots:
            detail += f"\nLot: {', '.join(line.lots)}"
        if line.serials:
            detail += f"\nSerial: {', '.join(line.serials)}"
        rows.append(
            [
                para(line.sku, st.strong),
                para(detail, st.body),
                para(str(line.qty_ordered), st.right),
                para(str(line.qty_shipped), st.right_strong),
            ]
        )
    items = Table(rows, colWidths=[width * w for w in (0.22, 0.54, 0.12, 0.12)], repeatRows=1)
    items.setStyle(GRID)
    items.setStyle(TableStyle([("ALIGN", (2, 0), (-1, 0), "RIGHT")]))

    story = [head, Spacer(1, 6 * mm), para("Items in this shipment", st.h2), items]

    shorts = data.short_lines
    if shorts:
        short_rows: list[list[object]] = [["Product", "Description", "Not shipped"]]
        for line in shorts:
            short_rows.append(
                [
                    para(line.sku, st.strong),
                    para(line.name, st.body),
                    para(str(line.qty_short), st.right_strong),
                ]
            )
        short_table = Table(short_rows, colWidths=[width * w for w in (0.22, 0.6, 0.18)])
        short_table.setStyle(GRID)
        short_table.setStyle(TableStyle([("ALIGN", (2, 0), (2, 0), "RIGHT")]))
        story += [
            Spacer(1, 5 * mm),
            para("Not in this shipment", st.h2),
            para("These items could not be shipped. You will not be charged for them.", st.body),
            Spacer(1, 2 * mm),
            short_table,
        ]

    if data.return_instructions or data.return_code:
        story += [Spacer(1, 6 * mm), para("Returns", st.h2)]
        if data.return_instructions:
            story.append(para(data.return_instructions, st.body))
        if data.return_code:
            story += [
                Spacer(1, 3 * mm),
                barcode_or_note(data.return_code, 14 * mm, 0.33 * mm, width * 0.6, st.small),
                para(f"Return code {data.return_code}", st.strong),
            ]
    return build_pdf(
        story, size, f"Packing slip {data.order_id}", f"Packing slip · order {data.order_id}", path
    )
