"""Inventory: stock on hand from the movement ledger, stock counts, items packed out.

Stock on hand per SKU, location and lot is the sum of its movements (``uow.stock``, never
updated or deleted). Three things write movements:

- a stock import: :func:`record_stock_count`, per record, writes what brings the ledger to the
  count (``received`` / ``adjusted``, ``moved`` when the lot changed location), each with its
  ``stock.<kind>`` event (the movement carries the event's id);
- packing: :func:`packed_out`, one ``packed`` movement per item. A standalone station calls it
  when a carton is sealed (its items are final then); with a central database the centre's
  applier of ``scan.recorded`` calls it there, and :func:`unpacked` for ``scan.undone``. The
  movement's id is derived from the scan id, so a scan moves stock once whichever way it arrives;
- returns (restocked) later.

:func:`stock_on_hand` reads the centre's ledger on a synced station (the truth every station's
packing reaches), the station's own otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from packstation.domain.identity import Permission, Session
from packstation.domain.model import StockLot
from packstation.domain.packing import PackedItem
from packstation.domain.stock import (
    MovementKind,
    StockLevel,
    StockMovement,
    count_movements,
    pick_lot,
)
from packstation.services.context import Context, record
from packstation.services.ports import UnitOfWork

# uuid5 namespace of movements that come from a scan (packed out, and taken back by an undo)
_SCAN_MOVEMENTS = uuid.UUID("6b0c3c56-7f7e-4d2a-9a55-8f4a1c2d9e01")


class UnknownSku(LookupError):
    pass


@dataclass(frozen=True)
class LotStock:
    location: str
    lot: str
    qty: int
    expiry: str | None = None  # ISO date, from the stock records


@dataclass(frozen=True)
class StockReport:
    sku: str
    name: str
    source: str  # "central" (a synced station) or "local"
    levels: list[LotStock] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(lv.qty for lv in self.levels)

    def as_dict(self) -> dict[str, object]:
        return {"sku": self.sku, "name": self.name, "source": self.source, "on_hand": self.total,
                "locations": [{"location": lv.location, "lot": lv.lot, "expiry": lv.expiry, "qty": lv.qty}
                              for lv in self.levels]}


def stock_on_hand(ctx: Context, session: Session, sku: str) -> StockReport:
    """Stock on hand of *sku* per location and lot: the centre's ledger when there is one."""
    ctx.auth.require(session, Permission.VIEW_FIGURES, "Looking up stock")
    factory = ctx.central or ctx.uow
    with factory(readonly=True) as uow:
        product = uow.catalog.products([sku]).get(sku)
        levels = uow.stock.on_hand(sku)
        lots = {lot.lot: lot for lot in uow.catalog.lots(sku)}
    if product is None and not levels:
        raise UnknownSku(f"No product {sku!r} in the catalog{' of the central database' if ctx.central else ''}.")
    out = []
    for lv in levels:
        known = lots.get(lv.lot)
        out.append(LotStock(lv.location, lv.lot, lv.qty,
                            known.expiry.isoformat() if known and known.expiry else None))
    return StockReport(sku, product.name if product else "", "central" if ctx.central else "local", out)


def record_stock_count(uow: UnitOfWork, ctx: Context, session: Session, lot: StockLot, *,
                       ref: str = "") -> list[StockMovement]:
    """A stock record (an import's): the movements that make the ledger say *lot*'s quantity, at
    its location (none when it already does), each with its ``stock.<kind>`` event, in *uow*.

    The caller checked the session (an import needs ``Permission.IMPORT``)."""
    now = ctx.clock()
    stored: list[StockMovement] = []
    for location, qty, kind in count_movements(uow.stock.on_hand(lot.sku), lot):
        event_id = record(uow, ctx, session, f"stock.{kind.value}", None,
                          {"sku": lot.sku, "location": location, "lot": lot.lot, "qty": qty, "ref": ref,
                           "count": {"location": lot.location, "qty": lot.qty}})
        stored += uow.stock.add([StockMovement(lot.sku, location, lot.lot, qty, kind, ref=ref, event_id=event_id,
                                               actor=session.actor, at=now)])
    return stored


def scan_movement_id(scan_id: str, kind: MovementKind = MovementKind.PACKED) -> str:
    """The id of the movement a scan causes (its ``event_id``): the same at a station and the centre."""
    return str(uuid.uuid5(_SCAN_MOVEMENTS, f"{kind.value}:{scan_id}"))


def packed_out(uow: UnitOfWork, ctx: Context, session: Session, order_id: str,
               items: Sequence[PackedItem]) -> list[StockMovement]:
    """One ``packed`` movement per item, out of the lot (and location) it leaves from, in *uow*.

    Applied once per scan (the movement id comes from the scan id). The caller checked the
    session (packing, or the centre's sync)."""
    now = ctx.clock()
    products = uow.catalog.products({item.sku for item in items})
    stored: list[StockMovement] = []
    for item in items:
        product = products.get(item.sku)
        location, lot = pick_lot(uow.catalog.lots(item.sku), uow.stock.on_hand(item.sku), item.lot,
                                 product.location if product else "")
        stored += uow.stock.add([StockMovement(item.sku, location, lot, -item.qty, MovementKind.PACKED, ref=order_id,
                                               event_id=scan_movement_id(item.scan_id), actor=session.actor, at=now)])
    return stored


def unpacked(uow: UnitOfWork, ctx: Context, session: Session, order_id: str,
             items: Sequence[PackedItem]) -> list[StockMovement]:
    """Undone scans: their ``packed`` movements are taken back (``unpacked``, into the same lot and
    location); a scan that moved no stock moves none back. Applied once per scan."""
    now = ctx.clock()
    stored: list[StockMovement] = []
    for item in items:
        out = uow.stock.find(scan_movement_id(item.scan_id))
        if out is None:
            continue
        stored += uow.stock.add([StockMovement(out.sku, out.location, out.lot, -out.qty, MovementKind.UNPACKED,
                                               ref=order_id, event_id=scan_movement_id(item.scan_id, MovementKind.UNPACKED),
                                               actor=session.actor, at=now)])
    return stored


__all__ = ["LotStock", "StockLevel", "StockReport", "UnknownSku", "packed_out", "record_stock_count",
           "scan_movement_id", "stock_on_hand", "unpacked"]
