"""The bench command card: big Code 128 barcodes for every command, the carton types and the
quantities 1-10, so a packer never needs the keyboard or the mouse.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from packstation.adapters.documents.pdf_common import Styles, barcode, build_pdf, page_size, para
from packstation.domain.barcodes import BENCH_COMMANDS, COMMANDS
from packstation.domain.documents import CommandCardData, DocumentDataError

# Card order and captions; every value in packstation.domain.barcodes.COMMANDS, no other.
CAPTIONS = {
    "CMD-CLOSE-CARTON": "Close carton",
    "CMD-NEW-CARTON": "New carton",
    "CMD-UNDO": "Undo last scan",
    "CMD-QTY": "Quantity (then scan a number)",
    "CMD-SHORT": "Short-ship line (lead)",
    "CMD-CANCEL": "Release order",
    "CMD-REPRINT": "Reprint label (lead)",
    "CMD-LOGOUT": "Log out",
    "CMD-CLOSE-MANIFEST": "Close the manifest (hand over)",
}
# the dock card's captions where they differ from the bench's
DOCK_CAPTIONS = {"CMD-UNDO": "Unload the last carton"}
assert set(CAPTIONS) == COMMANDS, "command card captions out of step with barcodes.COMMANDS"


def _cell(
    value: str, caption: str, st: Styles, width: float, height: float, module: float
) -> list[Flowable]:
    code = barcode(value, height, module, width - 8 * mm)
    code.hAlign = "CENTER"
    cell: list[Flowable] = [code, Spacer(1, 1.5 * mm), para(caption, st.caption)]
    if caption != value:
        cell.append(para(value, st.center))
    return cell


def _grid(
    items: list[tuple[str, str]],
    columns: int,
    st: Styles,
    width: float,
    height: float,
    module: float,
) -> Table:
    col_w = width / columns
    rows: list[list[object]] = []
    for start in range(0, len(items), columns):
        chunk = items[start : start + columns]
        row: list[object] = [_cell(v, c, st, col_w, height, module) for v, c in chunk]
        row += [""] * (columns - len(row))
        rows.append(row)
    table = Table(rows, colWidths=[col_w] * columns)
    table.setStyle(
        TableStyle(
            [
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2 * mm),
                ("GRID", (0, 0), (-1, -1), 0.25, "grey"),
            ]
        )
    )
    return table


def render_command_card(
    data: CommandCardData | None = None, path: str | Path | None = None, size: str = "A4"
) -> bytes:
    data = data or CommandCardData()
    commands = data.commands or tuple(c for c in CAPTIONS if c in BENCH_COMMANDS)
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        raise DocumentDataError(
            f"not station commands: {', '.join(unknown)}; known: {', '.join(CAPTIONS)}"
        )
    bad_cartons = [
        c
        for c in data.carton_types
        if not c or not c.isascii() or not c.isprintable() or c.upper() in COMMANDS
    ]
    if bad_cartons:
        raise DocumentDataError(
            f"carton type codes must be printable ASCII and not a command: {', '.join(map(repr, bad_cartons))}"
        )
    st = Styles()
    width = page_size(size)[0] - 30 * mm
    story: list[Flowable] = [para(data.title, st.title), Spacer(1, 3 * mm)]
    captions = {**CAPTIONS, **DOCK_CAPTIONS} if data.carriers else CAPTIONS
    story.append(_grid([(c, captions[c]) for c in commands], 2, st, width, 12 * mm, 0.33 * mm))
    if data.carriers:
        carriers = _grid(list(data.carriers), 2, st, width, 12 * mm, 0.33 * mm)
        story += [KeepTogether([Spacer(1, 3 * mm), para("Carriers: open or continue the manifest", st.h2), carriers])]
    if data.carton_types:
        cartons = _grid(
            [(c, f"Open carton {c}") for c in data.carton_types], 2, st, width, 12 * mm, 0.33 * mm
        )
        story += [KeepTogether([Spacer(1, 3 * mm), para("Carton types", st.h2), cartons])]
    if data.quantities:
        qty = _grid([(str(q), str(q)) for q in data.quantities], 5, st, width, 9 * mm, 0.4 * mm)
        story += [KeepTogether([Spacer(1, 3 * mm), para("Quantities (after CMD-QTY)", st.h2), qty])]
    return build_pdf(story, size, data.title, "packstation command card", path)
