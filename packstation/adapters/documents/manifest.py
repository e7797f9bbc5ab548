"""The carrier manifest signed at hand-over: every carton with its SSCC and tracking number,
weights and totals, and signature lines for the dispatcher and the driver.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

from packstation.adapters.documents.label_layout import format_weight, sscc_hri
from packstation.adapters.documents.pdf_common import (
    GRID,
    Styles,
    address_para,
    barcode,
    barcode_or_note,
    build_pdf,
    page_size,
    para,
)
from packstation.domain.documents import ManifestData


def render_manifest(data: ManifestData, path: str | Path | None = None, size: str = "A4") -> bytes:
    st = Styles()
    width = page_size(size)[0] - 30 * mm
    head = Table(
        [
            [
                [
                    para("Carrier manifest", st.title),
                    para(data.carrier, st.big),
                    para(f"Created {data.created_at}", st.body),
                ],
                [
                    barcode_or_note(data.manifest_id, 10 * mm, 0.3 * mm, width * 0.4, st.small),
                    para(data.manifest_id, st.center),
                ],
            ],
            [
                address_para(data.ship_from.lines(), st.body),
                para(f"Dispatcher: {data.dispatcher or '-'}", st.body),
            ],
        ],
        colWidths=[width * 0.58, width * 0.42],
    )
    head.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )

    rows: list[list[object]] = [["#", "SSCC", "Order", "Tracking number", "Service", "Weight"]]
    widths = [0.04, 0.33, 0.14, 0.25, 0.12, 0.12]

    def cell(text: str, style: object, fits: int) -> object:
        # short values as plain strings (styled by the table: much faster for 500-carton
        # manifests); a long one as a paragraph, which wraps instead of running over
        return text if len(text) <= fits else para(text, style)

    for n, carton in enumerate(data.cartons, start=1):
        rows.append(
            [
                str(n),
                [
                    barcode("00" + carton.sscc, 8 * mm, 0.25 * mm, width * widths[1] - 6, gs1=True),
                    para(sscc_hri(carton.sscc), st.small),
                ],
                cell(carton.order_id, st.body, 12),
                cell(carton.tracking_number or "-", st.strong, 24),
                cell(carton.service or "-", st.small, 12),
                format_weight(carton.weight_g),
            ]
        )
    rows.append(
        [
            "",
            para(f"{len(data.cartons)} cartons", st.strong),
            "",
            "",
            "",
            para(format_weight(data.total_weight_g), st.right_strong),
        ]
    )
    table = Table(rows, colWidths=[width * w for w in widths], repeatRows=1)
    table.setStyle(GRID)
    table.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, "black"),
                ("ALIGN", (5, 0), (5, -1), "RIGHT"),
                ("FONT", (0, 1), (-1, -2), st.regular, 9),
                ("FONT", (3, 1), (3, -2), st.bold, 9),
                ("FONT", (4, 1), (4, -2), st.regular, 8),
            ]
        )
    )

    def signature(role: str) -> Table:
        sig = Table(
            [[para(role, st.strong), ""], ["Name", ""], ["Signature", ""], ["Date and time", ""]],
            colWidths=[30 * mm, width / 2 - 36 * mm],
            rowHeights=[6 * mm, 9 * mm, 14 * mm, 9 * mm],
        )
        sig.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 1), (0, -1), st.regular, 8.5),
                    ("LINEBELOW", (1, 1), (1, -1), 0.5, "black"),
                    ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                    ("SPAN", (0, 0), (1, 0)),
                ]
            )
        )
        return sig

    signatures = Table(
        [[signature("Handed over by"), signature("Received by (driver)")]],
        colWidths=[width / 2, width / 2],
    )
    story = [
        head,
        Spacer(1, 5 * mm),
        table,
        Spacer(1, 8 * mm),
        KeepTogether(
            [
                para(
                    f"Total: {len(data.cartons)} cartons, {format_weight(data.total_weight_g)}. "
                    "The carrier confirms receipt of the cartons listed above in visibly good condition.",
                    st.body,
                ),
                Spacer(1, 4 * mm),
                signatures,
            ]
        ),
    ]
    return build_pdf(
        story,
        size,
        f"Manifest {data.manifest_id}",
        f"Manifest {data.manifest_id} · {data.carrier}",
        path,
    )
