"""Order use cases outside the bench: cancelling an order (until it is handed over)."""

from __future__ import annotations

from dataclasses import dataclass

from packstation.domain.identity import Permission, Session
from packstation.domain.lifecycle import OrderStatus, TransitionRefused, order_transition
from packstation.services.context import Context
from packstation.services.lifecycle import change_status


class CancelRefused(ValueError):
    """The order cannot be cancelled (unknown, or already handed over); the message says why."""


@dataclass(frozen=True)
class Cancelled:
    order_id: str
    was: OrderStatus
    pull: tuple[str, ...]  # the SSCCs of its sealed cartons, to pull from the dock

    @property
    def message(self) -> str:
        text = f"Order {self.order_id} cancelled (it was {self.was.value.replace('_', ' ')})."
        if self.pull:
            text += f" Its {len(self.pull)} sealed carton(s) show at the dock to be pulled."
        return text


def cancel_order(ctx: Context, session: Session, order_id: str, reason: str) -> Cancelled:
    """Cancel an order, allowed until it is handed over (through the lifecycle). A bench holding it
    is released (its next scan is refused: the order was cancelled); its cartons leave any open
    manifest and are listed at the dock to be pulled; its carrier labels still waiting are dropped
    by the label worker. Raises CancelRefused."""
    ctx.auth.require(session, Permission.APPROVE, "Cancelling an order")
    reason = reason.strip()
    if not reason:
        raise CancelRefused("A cancellation needs a reason: it is recorded with it.")
    uow_factory = ctx.central or ctx.uow
    with uow_factory() as uow:
        real = uow.orders.find_id(order_id.strip())
        if real is None:
            raise CancelRefused(f"No order {order_id!r}.")
        claim = uow.orders.hold(real)
        try:
            order_transition(claim.status, OrderStatus.CANCELLED, order_id=real)
        except TransitionRefused as exc:
            raise CancelRefused(str(exc)) from None
        if claim.station_id:
            uow.orders.release(real)
        cartons = uow.manifests.cartons_of([real]).get(real, [])
        for carton in cartons:
            if carton.manifest_id and carton.manifest_status is not None and carton.manifest_status.value == "open":
                uow.manifests.unload(carton.manifest_id, real, carton.seq)
        change_status(uow, ctx, session, real, claim.status, OrderStatus.CANCELLED, reason=reason,
                      held_by=claim.station_id, cartons=[c.sscc for c in cartons if c.sscc],
                      unloaded=[c.manifest_id for c in cartons if c.manifest_id])
        uow.commit()
    return Cancelled(real, claim.status, tuple(c.sscc for c in cartons if c.sscc))


__all__ = ["CancelRefused", "Cancelled", "cancel_order"]
