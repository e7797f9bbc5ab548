"""One lifecycle for orders and one for returns: the states and the transitions allowed.

Every status change in the product goes through :func:`order_transition` (or
:func:`return_transition`), which either allows it or raises :class:`TransitionRefused` with a
reason a person can read. The services then store the new state and its event together
(``services.lifecycle``); no other code sets a status. Desks add transitions here, not places.

    received -> on hold (prepaid, not paid) -> released -> picking -> packing (leased to one
    station) -> packed (to be picked up) -> handed over (on a closed manifest) -> in transit ->
    delivered; cancelled is possible until handed over.
"""

from __future__ import annotations

from enum import StrEnum


class TransitionRefused(ValueError):
    """A status change the lifecycle does not allow; the message says why."""


class OrderStatus(StrEnum):
    RECEIVED = "received"  # arrived and validated, not yet released or held
    ON_HOLD = "on_hold"  # prepaid but not paid yet
    RELEASED = "released"  # ready to pick
    PICKING = "picking"  # in a pick wave
    PACKING = "packing"  # claimed by a bench, or packing started
    PACKED = "packed"  # labels printed: to be picked up by the delivery agent
    HANDED_OVER = "handed_over"  # on a closed carrier manifest: picked up and on the way
    IN_TRANSIT = "in_transit"  # the carrier's tracking says it moves
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def packable(self) -> bool:
        return self in (OrderStatus.RELEASED, OrderStatus.PICKING, OrderStatus.PACKING)

    @property
    def shipped(self) -> bool:
        """Left the bench with labels (packed or further on): returns may be opened against it."""
        return self in _SHIPPED

    @property
    def open(self) -> bool:
        """Not yet packed nor cancelled: a tote can hold only one open order."""
        return self in (OrderStatus.RECEIVED, OrderStatus.ON_HOLD, OrderStatus.RELEASED,
                        OrderStatus.PICKING, OrderStatus.PACKING)

    @property
    def stage(self) -> int:
        """How far along the way to the customer (tracking never moves an order back)."""
        return _STAGE.get(self, -1)


_SHIPPED = frozenset({OrderStatus.PACKED, OrderStatus.HANDED_OVER, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED})
_STAGE = {OrderStatus.PACKED: 0, OrderStatus.HANDED_OVER: 1, OrderStatus.IN_TRANSIT: 2, OrderStatus.DELIVERED: 3}

S = OrderStatus
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.RECEIVED: frozenset({S.ON_HOLD, S.RELEASED, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.RELEASED, S.CANCELLED}),
    S.RELEASED: frozenset({S.ON_HOLD, S.PICKING, S.PACKING, S.CANCELLED}),
    S.PICKING: frozenset({S.PACKING, S.RELEASED, S.CANCELLED}),
    S.PACKING: frozenset({S.PACKED, S.CANCELLED}),
    # a carrier may scan a parcel that never went over our dock: tracking moves it on anyway
    S.PACKED: frozenset({S.HANDED_OVER, S.IN_TRANSIT, S.DELIVERED, S.CANCELLED}),
    S.HANDED_OVER: frozenset({S.IN_TRANSIT, S.DELIVERED}),
    S.IN_TRANSIT: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}
del S

_WHY = {
    OrderStatus.ON_HOLD: "is on hold (payment not received)",
    OrderStatus.PACKED: "is already packed",
    OrderStatus.HANDED_OVER: "has been handed over to the carrier",
    OrderStatus.IN_TRANSIT: "has already shipped",
    OrderStatus.DELIVERED: "has been delivered",
    OrderStatus.CANCELLED: "was cancelled",
    OrderStatus.RECEIVED: "is not released yet",
}


def describe(status: OrderStatus) -> str:
    """``is on hold (payment not received)``: how a refusal names the state an order is in."""
    return _WHY.get(status, f"is {status.value.replace('_', ' ')}")


def order_transition(current: OrderStatus, target: OrderStatus, *, order_id: str = "the order") -> None:
    """Allow ``current -> target`` or raise :class:`TransitionRefused` saying why not."""
    if target in ORDER_TRANSITIONS[current]:
        return
    if current == target:
        raise TransitionRefused(f"Order {order_id} {describe(current)}: nothing to change.")
    if target is OrderStatus.CANCELLED:
        raise TransitionRefused(f"Order {order_id} {describe(current)}: it can no longer be cancelled.")
    if target.stage >= 0 and current.stage > target.stage:
        raise TransitionRefused(f"Order {order_id} {describe(current)}: it cannot go back to {target.value.replace('_', ' ')}.")
    raise TransitionRefused(f"Order {order_id} {describe(current)}: it cannot become {target.value.replace('_', ' ')}.")


def arrival_status(payment_method: str, payment_status: str) -> OrderStatus:
    """Where a new order starts once received: held until paid if prepaid, else released.

    (The import writes one ``order.received`` event naming this status, rather than a
    ``received`` and a ``released`` event for every order of a big file.)"""
    if payment_method == "prepaid" and payment_status != "paid":
        return OrderStatus.ON_HOLD
    return OrderStatus.RELEASED


class ReturnStatus(StrEnum):
    INITIATED = "initiated"  # the customer asked; nothing has come back yet
    PICKED = "picked"  # the carrier collected the parcel
    RECEIVED = "received"  # at the returns desk, items counted in
    INSPECTED = "inspected"  # every received item graded, disposition decided
    PROCESSED = "processed"  # refunded, replaced or credited
    CLOSED = "closed"  # every line resolved
    CANCELLED = "cancelled"  # the customer kept the goods


R = ReturnStatus
RETURN_TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    R.INITIATED: frozenset({R.PICKED, R.RECEIVED, R.CANCELLED}),
    R.PICKED: frozenset({R.RECEIVED, R.CANCELLED}),
    R.RECEIVED: frozenset({R.INSPECTED}),
    R.INSPECTED: frozenset({R.PROCESSED, R.RECEIVED}),  # more items turn up: receive again
    R.PROCESSED: frozenset({R.CLOSED}),
    R.CLOSED: frozenset(),
    R.CANCELLED: frozenset(),
}
del R


def return_transition(current: ReturnStatus, target: ReturnStatus, *, rma_id: str = "the return") -> None:
    if target in RETURN_TRANSITIONS[current]:
        return
    raise TransitionRefused(f"Return {rma_id} is {current.value}: it cannot become {target.value}.")


__all__ = [
    "ORDER_TRANSITIONS", "RETURN_TRANSITIONS", "OrderStatus", "ReturnStatus", "TransitionRefused",
    "arrival_status", "describe", "order_transition", "return_transition",
]
