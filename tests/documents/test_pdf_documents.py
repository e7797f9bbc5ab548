"""A4/Letter documents: packing slip, picklist, manifest, credit note, command card.
Each is rasterised and its barcodes decoded; its text is read back with pdftotext."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from doc_read import pdf_info, pdf_symbols, pdf_text

from packstation.adapters.documents.command_card import CAPTIONS, render_command_card
from packstation.adapters.documents.credit_note import render_credit_note
from packstation.adapters.documents.demo import (
    demo_credit_note,
    demo_manifest,
    demo_packing_slip,
    demo_picklist,
)
from packstation.adapters.documents.manifest import render_manifest
from packstation.adapters.documents.packing_slip import render_packing_slip_pdf
from packstation.adapters.documents.picklist import location_key, render_picklist, walking_order
from packstation.domain.barcodes import (
    BENCH_COMMANDS as COMMANDS,  # the bench card (the dock has its own)
)
from packstation.domain.documents import (
    CommandCardData,
    CreditLine,
    CreditNoteData,
    DocumentDataError,
    PickLine,
    PicklistData,
    PickOrder,
)


def _page_mm(pdf: bytes, tmp_path: Path) -> tuple[float, float]:
    w, h = (float(v) for v in re.findall(r"[\d.]+", pdf_info(pdf, tmp_path)["Page size"])[:2])
    return w * 25.4 / 72, h * 25.4 / 72


# --- packing slip ---------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "mm"), [("A4", (210, 297)), ("Letter", (215.9, 279.4))])
def test_packing_slip_pdf(tmp_path: Path, size: str, mm: tuple[float, float]) -> None:
    slip = demo_packing_slip()
    pdf = render_packing_slip_pdf(slip, tmp_path / "slip.pdf", size)
    assert (tmp_path / "slip.pdf").read_bytes() == pdf
    assert _page_mm(pdf, tmp_path) == pytest.approx(mm, abs=0.5)
    (page,) = pdf_symbols(pdf, tmp_path)
    assert {s.data for s in page} == {slip.order_id, slip.return_code}
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "Zoë Παπαδοπούλου",
        "Ёлка и Ко",
        "Lot: L2406A",
        "Serial: KT-88812",
        "Not in this shipment",
    ):
        assert expected in text
    short_part = text.split("Not in this shipment", 1)[1]
    assert "SKU-CUP-6" in short_part and "SKU-KETTLE" not in short_part
    assert "Return code RMA-WEB-100234" in text


def test_packing_slip_escapes_markup_in_names(tmp_path: Path) -> None:
    slip = demo_packing_slip()
    odd = replace(
        slip, customer_name="A & B <Ltd>", ship_to=replace(slip.ship_to, name="A & B <Ltd>")
    )
    text = pdf_text(render_packing_slip_pdf(odd), tmp_path)
    assert "A & B <Ltd>" in text


# --- picklist -------------------------------------------------------------------------------


def test_location_codes_sort_naturally() -> None:
    codes = ["A-10-01", "A-2-01", "B-01-01", "a-02-10", "A-02-9", "A-01-02", "AA-01-01"]
    assert sorted(codes, key=location_key) == [
        "A-01-02",
        "A-2-01",
        "A-02-9",
        "a-02-10",
        "A-10-01",
        "AA-01-01",
        "B-01-01",
    ]


def test_picklist_walks_the_bins_in_order_with_lots_and_barcodes(tmp_path: Path) -> None:
    lines = (
        PickLine("B-10-01", "SKU-B10", "Far bin", 1, "O-1", "T-1"),
        PickLine(
            "A-2-01",
            "SKU-A2",
            "Near bin",
            2,
            "O-2",
            "T-2",
            lot="LOT-EARLY",
            expiry=date(2027, 1, 31),
        ),
        PickLine("B-9-01", "SKU-B9", "Middle bin", 3, "O-1", "T-1", barcode="4006381333931"),
        PickLine("A-10-01", "SKU-A10", "Ωμέγα προϊόν", 4, "O-2", "T-2"),
    )
    data = PicklistData(
        wave_id="W-TEST-1",
        created_at="2026-11-26 14:05",
        orders=(PickOrder("O-1", "T-1", 2), PickOrder("O-2", "T-2", 2)),
        lines=lines,
        carrier="UPS",
    )
    out = tmp_path / "pick.pdf"
    pdf = render_picklist(data, out)
    assert out.read_bytes() == pdf
    text = pdf_text(pdf, tmp_path, layout=True)
    positions = [text.index(loc) for loc in ("A-2-01", "A-10-01", "B-9-01", "B-10-01")]
    assert positions == sorted(positions), "lines are not in walking order"
    assert "LOT-EARLY" in text and "exp 2027-01-31" in text
    assert "Ωμέγα προϊόν" in text
    (page,) = pdf_symbols(pdf, tmp_path, dpi=200)
    found = [s.data for s in page]
    for value in ("W-TEST-1", "SKU-B10", "SKU-A2", "4006381333931", "SKU-A10", "T-1", "T-2"):
        assert value in found, value


def test_walking_order_keeps_every_line() -> None:
    data = demo_picklist(40)
    ordered = walking_order(data.lines)
    assert sorted(ordered, key=id) == sorted(data.lines, key=id)
    keys = [location_key(line.location) for line in ordered]
    assert keys == sorted(keys)


def test_large_picklist_spans_pages_and_every_barcode_scans(tmp_path: Path) -> None:
    base = demo_picklist(25)
    # unique product codes, so a barcode missing anywhere is noticed (zbar reports each value once)
    lines = tuple(replace(line, sku=f"SKU-{n:04d}") for n, line in enumerate(base.lines))
    data = replace(base, lines=lines)
    pages = pdf_symbols(render_picklist(data), tmp_path, dpi=200)
    assert len(pages) > 1
    decoded = {s.data for page in pages for s in page}
    expected = {line.sku for line in lines} | {o.tote for o in data.orders} | {data.wave_id}
    assert expected <= decoded, sorted(expected - decoded)[:10]


# --- manifest -------------------------------------------------------------------------------


def test_manifest_lists_cartons_with_sscc_tracking_and_totals(tmp_path: Path) -> None:
    data = demo_manifest()
    pdf = render_manifest(data)
    (page,) = pdf_symbols(pdf, tmp_path, dpi=200)
    gs1 = {s.data for s in page if s.gs1}
    assert gs1 == {"00" + c.sscc for c in data.cartons}
    assert data.manifest_id in {s.data for s in page if not s.gs1}
    text = pdf_text(pdf, tmp_path)
    for carton in data.cartons:
        assert carton.tracking_number in text
    total_kg = f"{sum(c.weight_g for c in data.cartons) / 1000:.3f} kg"
    assert f"{len(data.cartons)} cartons" in text and total_kg in text
    assert "Signature" in text and "Received by (driver)" in text


# --- credit note ----------------------------------------------------------------------------


def test_credit_note_amounts_are_exact_decimals(tmp_path: Path) -> None:
    note = demo_credit_note()
    text = pdf_text(render_credit_note(note), tmp_path)
    # 24.95 x 1 at 21 % -> tax 5.2395 -> 5.24; 7.50 x 2 at 9 % -> 1.35
    assert "5.24" in text and "1.35" in text
    assert "EUR 39.95" in text and "EUR 6.59" in text and "EUR 46.54" in text
    assert note.number in text and note.reason in text.replace("\n", " ")


def test_credit_note_rounds_half_up_to_cents(tmp_path: Path) -> None:
    note = replace(
        demo_credit_note(),
        lines=(CreditLine("SKU-X", "Half cent", 1, Decimal("0.125"), Decimal("0")),),
    )
    text = pdf_text(render_credit_note(note), tmp_path)
    assert "EUR 0.13" in text


def test_credit_note_refuses_float_prices() -> None:
    note = demo_credit_note()
    with pytest.raises(DocumentDataError, match="must be a Decimal"):
        CreditNoteData(
            **{**note.__dict__, "lines": (CreditLine("SKU", "x", 1, 9.99),)}  # type: ignore[arg-type]
        )


# --- command card ---------------------------------------------------------------------------


def test_command_card_scans_back_every_command_carton_and_quantity(tmp_path: Path) -> None:
    pdf = render_command_card(CommandCardData(carton_types=("BOX-S", "BOX-M", "BOX-L", "BOX-XL")))
    pages = pdf_symbols(pdf, tmp_path, dpi=150)
    assert len(pages) == 1, "the default card fits one A4 page"
    found = [s.data for s in pages[0]]
    assert set(found) == set(COMMANDS) | {"BOX-S", "BOX-M", "BOX-L", "BOX-XL"} | {
        str(n) for n in range(1, 11)
    }
    assert len(found) == len(set(found))
    text = pdf_text(pdf, tmp_path)
    for command, caption in CAPTIONS.items():
        if command not in COMMANDS:  # the dock card's (CMD-CLOSE-MANIFEST)
            continue
        assert caption in text


def test_command_card_refuses_a_carton_code_that_is_a_command() -> None:
    with pytest.raises(DocumentDataError, match="not a command"):
        render_command_card(CommandCardData(carton_types=("BOX-S", "CMD-UNDO")))


def test_a_value_that_cannot_be_a_barcode_is_printed_as_text_with_the_reason(
    tmp_path: Path,
) -> None:
    data = PicklistData(
        wave_id="W-ODD",
        created_at="2026-11-26 14:05",
        orders=(PickOrder("O-1", "T-1", 2),),
        lines=(
            PickLine("A-01-01", "SKU-Ω", "Greek code", 1, "O-1", "T-1"),
            PickLine("A-01-02", "SKU-OK", "Plain code", 1, "O-1", "T-1"),
        ),
    )
    pdf = render_picklist(data)
    (page,) = pdf_symbols(pdf, tmp_path, dpi=200)
    assert {"SKU-OK", "T-1", "W-ODD"} <= {s.data for s in page}
    text = pdf_text(pdf, tmp_path)
    assert "SKU-Ω" in text and "no barcode" in text


def test_an_empty_wave_still_prints_its_header(tmp_path: Path) -> None:
    data = PicklistData(wave_id="W-EMPTY", created_at="2026-11-26 14:05", orders=(), lines=())
    text = pdf_text(render_picklist(data), tmp_path)
    assert "Picklist W-EMPTY" in text and "0 orders · 0 lines · 0 units" in text


def test_packing_slip_names_the_customer_when_someone_else_receives_it(tmp_path: Path) -> None:
    slip = replace(demo_packing_slip(), customer_name="Nikos Buyer")
    assert "Customer Nikos Buyer" in pdf_text(render_packing_slip_pdf(slip), tmp_path)
    same = replace(slip, customer_name=slip.ship_to.name)
    assert "Customer" not in pdf_text(render_packing_slip_pdf(same), tmp_path)
