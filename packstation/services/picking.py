"""Pick waves: batch released orders into a picklist, lot to take chosen earliest-expiry-first."""

from __future__ import annotations

import uuid
from datetime import date

from packstation.domain.documents import PickLine, PicklistData, PickOrder
from packstation.domain.identity import Permission, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import StockLot, Tracking
from packstation.services.context import Context
from packstation.services.lifecycle import change_status


class NothingToPick(LookupError):
    pass


def lot_to_take(lots: list[StockLot], today: date) -> StockLot | None:
    """The lot a picker takes: in stock, not expired, earliest expiry first (FEFO)."""
    usable = [lot for lot in lots if lot.qty > 0 and (lot.expiry is None or lot.expiry >= today)]
    usable.sort(key=lambda lot: (lot.expiry is None, lot.expiry or date.max, lot.lot))
    return usable[0] if usable else None


def create_pick_wave(ctx: Context, session: Session, orders: int, *, carrier: str | None = None) -> PicklistData:
    """Move the next *orders* released orders (oldest first) into a new wave and list what to pick."""
    ctx.auth.require(session, Permission.PACK, "A pick wave")
    if orders < 1:
        raise ValueError("a wave needs at least one order")
    now = ctx.clock()
    wave_id = f"W{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4].upper()}"
    with ctx.uow() as uow:
        batch = uow.orders.next_to_pick(orders, carrier)
        if not batch:
            raise NothingToPick("No released orders to pick" + (f" for {carrier}" if carrier else "") + ".")
        pick_orders, lines = [], []
        for order in batch:
            products = uow.catalog.products(ln.sku for ln in order.lines)
            pick_orders.append(PickOrder(order_id=order.order_id, tote=order.tote or "", line_count=len(order.lines)))
            for ln in order.lines:
                product = products[ln.sku]
                lot = lot_to_take(uow.catalog.lots(ln.sku), now.date()) if product.tracking is not Tracking.NONE else None
                lines.append(PickLine(
                    location=product.location, sku=product.sku, name=product.name, qty=ln.qty,
                    order_id=order.order_id, tote=order.tote or "",
                    lot=lot.lot if lot else "", expiry=lot.expiry if lot else None,
                    barcode=product.barcodes[0] if product.barcodes else product.sku,
                ))
            uow.orders.set_wave(order.order_id, wave_id)
            change_status(uow, ctx, session, order.order_id, OrderStatus.RELEASED, OrderStatus.PICKING, wave=wave_id)
        uow.commit()
    return PicklistData(
        wave_id=wave_id, created_at=f"{now:%Y-%m-%d %H:%M}", orders=tuple(pick_orders), lines=tuple(lines),
        carrier=carrier or "", station=ctx.station_id,
    )
