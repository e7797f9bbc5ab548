"""The one place an order's (and a return's) status changes: the domain lifecycle allows it, the
store keeps it, and the event naming the actor is written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from packstation.domain.identity import Session
from packstation.domain.lifecycle import (
    OrderStatus,
    ReturnStatus,
    TransitionRefused,
    order_transition,
    return_transition,
)
from packstation.domain.returns import Return
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


def change_return_status(uow: UnitOfWork, ctx: Context, session: Session, ret: Return, target: ReturnStatus,
                         **payload: Any) -> str | None:
    """The one place a return's status changes: *ret* (as read in *uow*) moves to *target* if the
    return lifecycle allows it (TransitionRefused otherwise; Conflict if it changed meanwhile), with
    its ``return.<target>`` event. Nothing to do (None) when it is in *target* already."""
    if ret.status is target:
        return None
    return_transition(ret.status, target, rma_id=ret.rma_id)
    uow.returns.set_status(ret.rma_id, ret.status, target, ctx.clock())
    event = record(uow, ctx, session, f"return.{target.value}", ret.order_id,
                   {"rma_id": ret.rma_id, "from": ret.status.value, "to": target.value, **payload})
    ret.status = target
    return event


def apply_return_status(uow: UnitOfWork, rma_id: str, current: ReturnStatus, target: ReturnStatus, at: datetime) -> None:
    """A return's status change decided elsewhere (a station's event, applied at the centre): the
    same lifecycle check, no new event (the station's is stored as it came)."""
    return_transition(current, target, rma_id=rma_id)
    uow.returns.set_status(rma_id, current, target, at)


# what an order this station holds may take from the centre: the centre stopped it
CENTRE_WITHDRAWS = frozenset({OrderStatus.CANCELLED, OrderStatus.ON_HOLD})


def withdraw_by_centre(uow: UnitOfWork, order_id: str, target: OrderStatus, at: datetime) -> None:
    """The centre cancelled or held an order this station holds (or has not pushed yet): its
    status, decided at the centre through :func:`change_status` with the centre's event, replaces
    the local one, and this station's claim ends. Nothing else comes this way: an order's other
    changes at the centre never overwrite a bench's work in progress."""
    if target not in CENTRE_WITHDRAWS:
        raise TransitionRefused(f"Order {order_id}: the centre can only cancel or hold an order a bench holds, "
                                f"not make it {target.value.replace('_', ' ')}.")
    uow.orders.withdraw(order_id, target, at)


__all__ = ["CENTRE_WITHDRAWS", "apply_return_status", "change_return_status", "change_status", "withdraw_by_centre"]
