"""Core bugs found while building the window, kept as regression tests once the core fixed them."""

from __future__ import annotations

from packstation.domain.packing import Verdict

from packstation_tests_ui import other_barcode  # isort: skip


def test_a_product_barcode_scanned_at_a_lot_prompt_is_not_taken_as_the_lot(station):
    """A packer scans a lot-tracked item (lot prompt), then by mistake another product's EAN.

    Bench._dispatch used to send any barcode the *order* cannot resolve to record_detail while a
    prompt was pending, so the other product's GTIN was stored as the lot (fixed in 468e480). A
    GTIN of a catalogue product is never a lot: it is refused as WRONG ITEM.
    """
    terminal = station.terminal()
    for code in ("PACKER-001", "SO-10001", "BOX-L"):
        terminal.scan(code)
    pack = terminal.handler.pack
    tracked = next(ln for ln in pack.order.lines
                   if pack.products[ln.sku].tracking.value in ("lot", "lot_expiry"))
    prompt = terminal.scan(pack.products[tracked.sku].barcodes[0])
    assert prompt.verdict is Verdict.NEEDS_LOT
    outcome = terminal.scan(other_barcode({c for p in pack.products.values() for c in p.barcodes}))
    assert outcome.verdict is Verdict.WRONG_ITEM
    assert terminal.handler.pack.pending is None or terminal.handler.pack.pending.lot is None
