"""Core bugs found while building the window (reported to the core owner; strict xfail, so the
test turns red — and must be un-marked — the moment the core is fixed)."""

from __future__ import annotations

import pytest

from packstation.domain.packing import Verdict


@pytest.mark.xfail(strict=True, reason="core bug: Bench takes a catalogue GTIN as the answer to a lot prompt")
def test_a_product_barcode_scanned_at_a_lot_prompt_is_not_taken_as_the_lot(station):
    """A packer scans a lot-tracked item (lot prompt), then by mistake another product's EAN.

    Bench._dispatch sends any barcode the *order* cannot resolve to record_detail while a prompt
    is pending, so the other product's GTIN is stored as the lot. A GTIN of a catalogue product
    is never a lot: it should be refused as WRONG ITEM (and the prompt kept or dropped).
    """
    bench = station.bench()
    for code in ("PACKER-001", "SO-10001", "BOX-L"):
        bench.scan(code)
    session = bench.session
    tracked = next(ln for ln in session.order.lines
                   if session.products[ln.sku].tracking.value in ("lot", "lot_expiry"))
    prompt = bench.scan(session.products[tracked.sku].barcodes[0])
    assert prompt.verdict is Verdict.NEEDS_LOT
    with station.uow(readonly=True) as uow:
        on_order = {c for p in session.products.values() for c in p.barcodes}
        other = next(r["code"] for r in uow.select_rows("barcodes", order_by="code") if r["code"] not in on_order)
    outcome = bench.scan(other)
    assert outcome.verdict is Verdict.WRONG_ITEM
    assert bench.session.pending is None or bench.session.pending.lot is None
