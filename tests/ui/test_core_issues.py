"""Core bugs found while building the window, kept as regression tests once the core fixed them."""

from __future__ import annotations

from packstation.domain.packing import Verdict


def test_a_product_barcode_scanned_at_a_lot_prompt_is_not_taken_as_the_lot(station):
    """A packer scans a lot-tracked item (lot prompt), then by mistake another product's EAN.

    Bench._dispatch used to send any barcode the *order* cannot resolve to record_detail while a
    prompt was pending, so the other product's GTIN was stored as the lot (fixed in 468e480). A
    GTIN of a catalogue product is never a lot: it is refused as WRONG ITEM.
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
