"""The order and return lifecycles on their own: which transitions are allowed, and what a
refused one says (PRODUCT.md, "An order's life")."""

from __future__ import annotations

import itertools

import pytest

from packstation.domain.lifecycle import (
    ORDER_TRANSITIONS,
    OrderStatus,
    ReturnStatus,
    TransitionRefused,
    arrival_status,
    order_transition,
    return_transition,
)

S = OrderStatus

# PRODUCT.md: received -> on hold -> released -> picking -> packing -> packed -> handed over ->
# in transit -> delivered; cancelled is possible until handed over.
ALONG_THE_WAY = [(S.RECEIVED, S.ON_HOLD), (S.ON_HOLD, S.RELEASED), (S.RELEASED, S.PICKING), (S.PICKING, S.PACKING),
                 (S.PACKING, S.PACKED), (S.PACKED, S.HANDED_OVER), (S.HANDED_OVER, S.IN_TRANSIT),
                 (S.IN_TRANSIT, S.DELIVERED)]


@pytest.mark.parametrize("current, target", ALONG_THE_WAY)
def test_each_step_along_the_way_is_allowed(current: OrderStatus, target: OrderStatus) -> None:
    order_transition(current, target)


@pytest.mark.parametrize("current", list(S))
def test_cancelled_is_possible_until_handed_over(current: OrderStatus) -> None:
    if current in (S.RECEIVED, S.ON_HOLD, S.RELEASED, S.PICKING, S.PACKING, S.PACKED):
        order_transition(current, S.CANCELLED)
    else:
        with pytest.raises(TransitionRefused, match="SO-9 .*(can no longer be cancelled|nothing to change)"):
            order_transition(current, S.CANCELLED, order_id="SO-9")


@pytest.mark.parametrize("current, target", [
    (c, t) for c, t in itertools.product(S, S) if t not in ORDER_TRANSITIONS[c]
])
def test_every_other_change_is_refused_with_a_reason_naming_the_order(current: OrderStatus, target: OrderStatus) -> None:
    with pytest.raises(TransitionRefused) as refused:
        order_transition(current, target, order_id="SO-9")
    message = str(refused.value)
    assert message.startswith("Order SO-9 ") and message.endswith(".")


@pytest.mark.parametrize("current, target, reason", [
    (S.DELIVERED, S.IN_TRANSIT, "Order SO-9 has been delivered: it cannot go back to in transit."),
    (S.PACKED, S.PACKING, "Order SO-9 is already packed: it cannot become packing."),
    (S.ON_HOLD, S.PACKING, "Order SO-9 is on hold (payment not received): it cannot become packing."),
    (S.HANDED_OVER, S.CANCELLED, "Order SO-9 has been handed over to the carrier: it can no longer be cancelled."),
    (S.PACKED, S.PACKED, "Order SO-9 is already packed: nothing to change."),  # was "...packed already."
    (S.PACKING, S.PACKING, "Order SO-9 is packing: nothing to change."),
])
def test_refusals_say_why(current: OrderStatus, target: OrderStatus, reason: str) -> None:
    with pytest.raises(TransitionRefused) as refused:
        order_transition(current, target, order_id="SO-9")
    assert str(refused.value) == reason


def test_delivered_and_cancelled_are_final() -> None:
    assert ORDER_TRANSITIONS[S.DELIVERED] == ORDER_TRANSITIONS[S.CANCELLED] == frozenset()


@pytest.mark.parametrize("method, status, expected", [
    ("prepaid", "paid", S.RELEASED), ("prepaid", "pending", S.ON_HOLD), ("cod", "pending", S.RELEASED),
])
def test_where_an_order_starts(method: str, status: str, expected: OrderStatus) -> None:
    assert arrival_status(method, status) is expected


def test_returns_move_forward_only() -> None:
    R = ReturnStatus
    for current, target in [(R.INITIATED, R.PICKED), (R.PICKED, R.RECEIVED), (R.RECEIVED, R.INSPECTED),
                            (R.INSPECTED, R.PROCESSED), (R.PROCESSED, R.CLOSED), (R.INITIATED, R.CANCELLED)]:
        return_transition(current, target)
    with pytest.raises(TransitionRefused, match="Return RMA-1 is picked: it cannot become initiated."):
        return_transition(R.PICKED, R.INITIATED, rma_id="RMA-1")
    with pytest.raises(TransitionRefused):
        return_transition(R.RECEIVED, R.CANCELLED)  # the goods are back: no cancelling now
