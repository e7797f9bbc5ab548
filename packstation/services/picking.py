"""Pick waves: batch released orders into a picklist, lot to take chosen earliest-expiry-first."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from packstation.domain.documents import PickLine, PicklistData, PickOrder
from packstation.domain.model import OrderStatus
from packstation.services.ports import UnitOfWorkFactory


class NothingToPick(LookupError):
    pass


def _lot_to_take(lots: list[dict[str, Any]], today: date) -> dict[str, Any] | None:
    usable = [lot for lot in lots if lot["qty"] > 0 and (lot["expiry"] is None or lot["expiry"] >= today)]
    usable.sort(key=lambda lot: (lot["expiry"] is None, lot["expiry"] or date.max, lot["lot"]))
    return usable[0] if usable else None


def create_pick_wave(
    uow_factory: UnitOfWorkFactory,
    orders: int,
    *,
    carrier: str | None = None,
    station: str = "",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PicklistData:
    """Move the next *orders* released orders (oldest first) into a new wave and list what to pick."""
    if orders < 1:
        raise ValueError("a wave needs at least one order")
    now = clock()
    wave_id = f"W{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4].upper()}"
    with uow_factory() as uow:
        rows = uow.select_rows("orders", {"status": OrderStatus.RELEASED.value}, order_by="placed_at")
        rows = [r for r in rows if r["claimed_by"] is None and (carrier is None or r["carrier"].lower() == carrier.lower())]
        rows.sort(key=lambda r: (r["placed_at"], r["order_id"]))
        rows = rows[:orders]
        if not rows:
            raise NothingToPick("No released orders to pick" + (f" for {carrier}" if carrier else "") + ".")
        pick_orders, lines = [], []
        for r in rows:
            order_lines = uow.order_lines_raw(r["order_id"])
            products = uow.products_by_sku(ln["sku"] for ln in order_lines)
            pick_orders.append(PickOrder(order_id=r["order_id"], tote=r["tote"] or "", line_count=len(order_lines)))
            for ln in order_lines:
                product = products[ln["sku"]]
                lot = None
                if product.tracking.value != "none":
                    lot = _lot_to_take(uow.select_rows("stock_lots", {"sku": ln["sku"]}), now.date())
                lines.append(PickLine(
                    location=product.location, sku=product.sku, name=product.name, qty=ln["qty"],
                    order_id=r["order_id"], tote=r["tote"] or "",
                    lot=lot["lot"] if lot else "", expiry=lot["expiry"] if lot else None,
                    barcode=product.barcodes[0] if product.barcodes else product.sku,
                ))
            uow.update_row("orders", {"order_id": r["order_id"]},
                           {"status": OrderStatus.PICKING.value, "wave_id": wave_id, "updated_at": now})
            uow.add_event("order.picking", r["order_id"], None, {"wave": wave_id})
        uow.commit()
    return PicklistData(
        wave_id=wave_id, created_at=f"{now:%Y-%m-%d %H:%M}", orders=tuple(pick_orders), lines=tuple(lines),
        carrier=carrier or "", station=station,
    )
