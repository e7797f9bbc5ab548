"""The returns rules without storage: what a returned item means, what a resolution comes to."""

from __future__ import annotations

from decimal import Decimal

import pytest

from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.model import Product, Tracking
from packstation.domain.packing import Verdict
from packstation.domain.returns import (
    ReceivedItem,
    ResolutionKind,
    ResolutionRefused,
    Return,
    ReturnLine,
    ReturnsPolicy,
    ShippedUnit,
    evaluate_receive,
    plan_resolution,
)

TEE = Product("TS-1", "Cotton tee", 200)
BUDS = Product("EL-1", "Earbuds", 80, tracking=Tracking.SERIAL)


def unit(order_id: str, sku: str = "TS-1", qty: int = 1, serial: str | None = None, scan: str = "s") -> ShippedUnit:
    return ShippedUnit(scan_id=f"{order_id}-{scan}", order_id=order_id, sku=sku, qty=qty, carton_seq=1, packer="Pat",
                       station_id="BENCH-01", scanned_at=None, serial=serial)


def item(rma: str, order_id: str, line_no: int = 1, qty: int = 1, grade: str | None = "A", **kw: object) -> ReceivedItem:
    return ReceivedItem(id=f"i-{rma}-{line_no}-{qty}", rma_id=rma, order_id=order_id, line_no=line_no, sku="TS-1", qty=qty,
                        barcode="x", received_by="person:R", station_id="D", grade=grade, disposition="scrap",
                        **kw)  # type: ignore[arg-type]


def test_an_item_shipped_in_two_orders_goes_to_the_return_that_expects_it() -> None:
    returns = [Return("RMA-A", "SO-A", "r", ReturnStatus.PICKED, [ReturnLine(1, "EL-1", 1)]),
               Return("RMA-B", "SO-B", "r", ReturnStatus.PICKED, [ReturnLine(1, "TS-1", 1)])]
    shipped = {"SO-A": [unit("SO-A")], "SO-B": [unit("SO-B")]}
    decision = evaluate_receive(TEE, 1, returns, shipped, [])
    assert (decision.verdict, decision.rma_id, decision.matched.scan_id) == (Verdict.ITEM_RECEIVED, "RMA-B", "SO-B-s")


def test_each_returned_unit_matches_the_next_unmatched_scan() -> None:
    returns = [Return("RMA-A", "SO-A", "r", ReturnStatus.RECEIVED, [ReturnLine(1, "TS-1", 2, received=1)])]
    shipped = {"SO-A": [unit("SO-A", scan="1"), unit("SO-A", scan="2")]}
    back = [item("RMA-A", "SO-A", matched_scan="SO-A-1")]
    decision = evaluate_receive(TEE, 1, returns, shipped, back)
    assert decision.matched.scan_id == "SO-A-2"


def test_a_pack_barcode_counts_its_units_against_what_shipped() -> None:
    returns = [Return("RMA-A", "SO-A", "r", ReturnStatus.PICKED, [ReturnLine(1, "TS-1", 6)])]
    decision = evaluate_receive(TEE, 6, returns, {"SO-A": [unit("SO-A", qty=4)]}, [])
    assert decision.verdict is Verdict.MORE_THAN_SHIPPED and "shipped 4" in decision.message


def test_a_serial_is_asked_for_and_each_unit_scanned_alone() -> None:
    returns = [Return("RMA-A", "SO-A", "r", ReturnStatus.PICKED, [ReturnLine(1, "EL-1", 1)])]
    shipped = {"SO-A": [unit("SO-A", "EL-1", serial="SN-1")]}
    assert evaluate_receive(BUDS, 1, returns, shipped, []).verdict is Verdict.NEEDS_SERIAL
    assert evaluate_receive(BUDS, 2, returns, shipped, [], serial="SN-1").verdict is Verdict.NOT_ALLOWED
    assert evaluate_receive(BUDS, 1, returns, shipped, [], serial="sn-1").verdict is Verdict.ITEM_RECEIVED


def inspected(lines: list[ReturnLine]) -> Return:
    return Return("RMA-A", "SO-A", "r", ReturnStatus.INSPECTED, lines)


def test_an_amount_given_per_line_replaces_the_default_within_the_price() -> None:
    ret = inspected([ReturnLine(1, "TS-1", 2, unit_price=Decimal("9.95"))])
    items = [item("RMA-A", "SO-A", qty=2)]
    plan = plan_resolution(ret, items, ResolutionKind.REFUND, ReturnsPolicy(), amounts={1: Decimal("15")})
    assert [(ln.qty, ln.amount, ln.fee) for ln in plan.lines] == [(2, Decimal("15.00"), Decimal("4.90"))]
    with pytest.raises(ResolutionRefused, match="between 0 and 19.90"):
        plan_resolution(ret, items, ResolutionKind.REFUND, ReturnsPolicy(), amounts={1: Decimal("20")})


def test_an_amount_is_only_for_a_line_the_resolution_settles_and_only_for_money_back() -> None:
    ret = inspected([ReturnLine(1, "TS-1", 1, unit_price=Decimal("9.95")), ReturnLine(2, "TS-1", 1,
                                                                                   unit_price=Decimal("9.95"))])
    items = [item("RMA-A", "SO-A", line_no=1), item("RMA-A", "SO-A", line_no=2, grade="MISSING")]
    with pytest.raises(ResolutionRefused, match=r"^Return RMA-A has no line 3 \(its lines: 1, 2\)\.$"):
        plan_resolution(ret, items, ResolutionKind.REFUND, ReturnsPolicy(), amounts={3: Decimal("1")})
    # line 2's unit came back missing: nothing to pay for, so the refund does not settle it
    with pytest.raises(ResolutionRefused, match="line 2 is not settled by this refund"):
        plan_resolution(ret, items, ResolutionKind.REFUND, ReturnsPolicy(), amounts={2: Decimal("1")})
    with pytest.raises(ResolutionRefused, match="line 2 is not settled by this credit note"):
        plan_resolution(ret, items, ResolutionKind.CREDIT_NOTE, ReturnsPolicy(), line_nos=[1], amounts={2: Decimal("1")})
    with pytest.raises(ResolutionRefused, match="A replacement pays no money"):
        plan_resolution(ret, items, ResolutionKind.REPLACEMENT, ReturnsPolicy(), amounts={1: Decimal("1")})
    with pytest.raises(ResolutionRefused, match="between 0 and 9.95"):
        plan_resolution(ret, items, ResolutionKind.REFUND, ReturnsPolicy(), amounts={1: Decimal("-0.01")})


def test_the_restocking_fee_rounds_half_up_to_cents() -> None:
    ret = inspected([ReturnLine(1, "TS-1", 1, unit_price=Decimal("0.30"))])
    plan = plan_resolution(ret, [item("RMA-A", "SO-A")], ResolutionKind.CREDIT_NOTE,
                           ReturnsPolicy(restocking_fee_pct=Decimal("5")))
    assert plan.lines[0].fee == Decimal("0.02") and plan.lines[0].amount == Decimal("0.28")  # 0.015 -> 0.02


def test_the_photo_bar_follows_the_list_order() -> None:
    policy = ReturnsPolicy(photo_required_below="B")
    assert [g.code for g in policy.grades if policy.needs_photo(g.code)] == ["C", "D", "MISSING", "WRONG"]
    assert not ReturnsPolicy(photo_required_below="").needs_photo("D")
