"""The one place an order's status changes: the domain lifecycle allows it, the store keeps it,
and the event naming the actor is written in the same transaction."""

from __future__ import annotations

from typing import Any

from packstation.domain.identity import Session
from packstation.domain.lifecycle import OrderStatus, order_transition
from packstation.services.context import Context, record
from packstation.services.ports import UnitOfWork


def change_status(uow: UnitOfWork, ctx: Context, session: Session, order_id: str, current: OrderStatus,
                  target: OrderStatus, **payload: Any) -> str:
    """Move *order_id* from *current* to *target*; raises TransitionRefused (not allowed) or
    Conflict (the order left *current* meanwhile). Returns the event id (``order.<target>``)."""
    order_transition(current, target, order_id=order_id)
    uow.orders.set_status(order_id, current, target, ctx.clock())
    return record(uow, ctx, session, f"order.{target.value}", order_id,
                  {"from": current.value, "to": target.value, **payload})


__all__ = ["change_status"]
