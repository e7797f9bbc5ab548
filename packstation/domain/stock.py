"""Inventory: a ledger of stock movements per SKU, location and lot; stock on hand is their sum.

Nothing here stores anything: :func:`count_movements` turns a stock count (a record of a stock
import) into the movements that bring the ledger to it, :func:`pick_lot` says which lot and
location an item leaves from when it is packed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from packstation.domain.model import StockLot


class MovementKind(StrEnum):
    RECEIVED = "received"  # a stock count found more of a lot that had none on hand
    ADJUSTED = "adjusted"  # a stock count differs from what the ledger says is on hand
    MOVED = "moved"  # a stock count puts the lot at another location (out of the old, into the new)
    PACKED = "packed"  # packed into a carton (out)
    UNPACKED = "unpacked"  # a packed scan taken back (in again)
    RETURNED = "returned"  # a returned item restocked (in)
    SCRAPPED = "scrapped"  # a returned item scrapped (recorded, no stock change)


@dataclass(frozen=True)
class StockMovement:
    sku: str
    location: str
    lot: str  # "" for products not tracked by lot
    qty: int  # + in, - out
    kind: MovementKind
    ref: str = ""  # the order, the RMA, the import file
    event_id: str | None = None  # what it comes from: a movement with the same id is stored once
    actor: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class StockLevel:
    """Stock on hand of one lot of a SKU at one location (the sum of its movements)."""

    sku: str
    location: str
    lot: str
    qty: int


def count_movements(on_hand: Sequence[StockLevel], counted: StockLot) -> list[tuple[str, int, MovementKind]]:
    """(location, qty, kind) of the movements that make the ledger say what *counted* says.

    A stock record states a lot's whole quantity, at its location: what the ledger still holds
    of that lot elsewhere is moved there first (``moved`` out of the old location and into the
    new), then the difference is a ``received`` movement when the lot had nothing on hand
    before, an ``adjusted`` one otherwise. Nothing when the ledger already agrees.
    """
    mine = [lv for lv in on_hand if lv.sku == counted.sku and lv.lot == counted.lot]
    before = sum(lv.qty for lv in mine)
    out: list[tuple[str, int, MovementKind]] = []
    here = sum(lv.qty for lv in mine if lv.location == counted.location)
    moved = 0
    for lv in sorted(mine, key=lambda x: x.location):
        if lv.location != counted.location and lv.qty:
            out.append((lv.location, -lv.qty, MovementKind.MOVED))
            moved += lv.qty
    if moved:
        out.append((counted.location, moved, MovementKind.MOVED))
    delta = counted.qty - (here + moved)
    if delta:
        out.append((counted.location, delta,
                    MovementKind.RECEIVED if delta > 0 and before <= 0 else MovementKind.ADJUSTED))
    return out


def pick_lot(lots: Sequence[StockLot], on_hand: Sequence[StockLevel], lot: str | None,
             default_location: str) -> tuple[str, str]:
    """(location, lot) an item of a product leaves from when it is packed.

    A scanned lot leaves from where the stock records keep it (the product's location when the
    lot is unknown there). An item without a lot leaves from the first lot in picking order
    (earliest expiry first, as the picklist sends pickers) that has stock on hand, else the first
    lot, else from the product's location with no lot.
    """
    if lot:
        known = next((x for x in lots if x.lot == lot), None)
        return (known.location if known else default_location), lot
    def qty(x: StockLot) -> int:
        return sum(lv.qty for lv in on_hand if lv.lot == x.lot)
    ordered = sorted(lots, key=lambda x: (x.expiry is None, x.expiry or date.max, x.lot))
    chosen = next((x for x in ordered if qty(x) > 0), ordered[0] if ordered else None)
    if chosen is None:
        return default_location, ""
    return chosen.location, chosen.lot


__all__ = ["MovementKind", "StockLevel", "StockMovement", "count_movements", "pick_lot"]
