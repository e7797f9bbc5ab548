"""At the returns desk, by scans: ``RET-AMOUNT`` then a typed amount says what the current item's
line pays back at the next RES-REFUND or RES-CREDIT, instead of its price less the restocking fee.
On the fake storage."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fakes import an_order
from returns_helpers import deliver, desk_scan, pack_and_seal
from warehouse import BUDS, TEE

from packstation.domain.identity import Session
from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.packing import Verdict
from packstation.domain.returns import Return, ReturnLine
from packstation.services.context import Context
from packstation.services.returns_desk import ReturnsDesk


@pytest.fixture
def desk(ctx: Context, pat: Session) -> ReturnsDesk:
    """RMA-9 (2 tees at 20.00, earbuds at 50.00 of SO-9) received, graded and decided at the desk."""
    with ctx.uow() as uow:
        order = an_order("SO-9", {"TS-1": 2, "EL-1": 1}, unit_price="20.00")
        order.lines[1].unit_price = Decimal("50.00")
        uow.orders.add_many([(order, "fp-9")], ctx.clock())
        uow.commit()
    pack_and_seal(ctx, pat, "SO-9", TEE, TEE, BUDS, serials={BUDS: ["SN-1"]})
    deliver(ctx, "SO-9")
    with ctx.uow() as uow:
        uow.returns.put(Return("RMA-9", "SO-9", "too small", ReturnStatus.PICKED,
                               [ReturnLine(1, "TS-1", 2), ReturnLine(2, "EL-1", 1)]), "fp", ctx.clock())
        uow.commit()
    desk = ReturnsDesk(ctx, ctx.auth.login("RETURNS-001"))
    desk.start()
    for code in ("RMA-9", TEE, "GRADE-A", "DISP-BSTOCK", TEE, "GRADE-A", "DISP-BSTOCK", BUDS, "SN-1", "GRADE-A",
                 "DISP-BSTOCK"):
        assert desk_scan(desk, code).verdict is not Verdict.RETURN_REFUSED
    return desk


def tee_item(desk: ReturnsDesk) -> str:
    return next(i.id for i in desk.items if i.sku == "TS-1")


def test_an_amount_typed_for_a_line_is_what_the_refund_pays_for_it(desk) -> None:
    desk.select(tee_item(desk))
    asked = desk_scan(desk, "RET-AMOUNT")
    assert asked.verdict is Verdict.NEEDS_AMOUNT
    assert asked.message.startswith("Amount line 1 of RMA-9 (Cotton tee, 20.00 EUR each) pays back")
    kept = desk_scan(desk, "25.50")
    assert kept.verdict is Verdict.AMOUNT_SET and kept.data == {"rma_id": "RMA-9", "line_no": 1, "amount": "25.50"}
    done = desk_scan(desk, "RES-REFUND")
    assert done.verdict is Verdict.RETURN_RESOLVED, done.message
    assert "refund of 75.50 EUR" in done.message  # 25.50 agreed for the tees + 50.00 for the earbuds
    with desk.ctx.uow(readonly=True) as uow:
        [resolution] = uow.returns.resolutions("RMA-9")
    assert [(ln.line_no, ln.amount, ln.fee) for ln in resolution.lines] == [
        (1, Decimal("25.50"), Decimal("14.50")), (2, Decimal("50.00"), Decimal("0.00"))]


@pytest.mark.parametrize(("typed", "why"), [
    ("abc", "the amount is a number with at most two decimals and a point, e.g. 15.00; got 'abc'"),
    ("-5", "an amount cannot be negative (0 pays nothing back for the line)"),
    ("12.345", "the amount is a number with at most two decimals and a point, e.g. 15.00; got '12.345'"),
])
def test_what_is_not_an_amount_is_refused_and_asked_again(desk, typed, why) -> None:
    desk.select(tee_item(desk))
    desk_scan(desk, "RET-AMOUNT")
    refused = desk_scan(desk, typed)
    assert refused.verdict is Verdict.INVALID_SCAN
    assert refused.message == f"Not an amount: {why}. Type the amount again (CMD-UNDO cancels)."
    assert desk.prompt is not None and desk.prompt.kind == "amount" and desk.amounts == {}
    assert desk_scan(desk, "CMD-UNDO").verdict is Verdict.UNDONE and desk.prompt is None


def test_an_amount_over_the_lines_price_is_refused_at_the_resolution_and_can_be_typed_again(desk) -> None:
    desk.select(tee_item(desk))
    desk_scan(desk, "RET-AMOUNT")
    assert desk_scan(desk, "40.01").verdict is Verdict.AMOUNT_SET
    refused = desk_scan(desk, "RES-CREDIT")
    assert refused.verdict is Verdict.RETURN_REFUSED
    assert "Line 1: the amount must be between 0 and 40.00 (the price of 2 unit(s)); got 40.01." in refused.message
    with desk.ctx.uow(readonly=True) as uow:
        assert uow.returns.resolutions("RMA-9") == [] and uow.returns.credit_notes("RMA-9") == []
    desk.select(tee_item(desk))
    desk_scan(desk, "RET-AMOUNT")
    desk_scan(desk, "40")
    credited = desk_scan(desk, "RES-CREDIT")
    assert credited.verdict is Verdict.RETURN_RESOLVED and "(90.00 EUR)" in credited.message


def test_a_replacement_is_not_held_up_by_an_amount_waiting_for_a_refund(desk) -> None:
    desk.select(tee_item(desk))
    desk_scan(desk, "RET-AMOUNT")
    desk_scan(desk, "10")
    replaced = desk_scan(desk, "RES-REPLACE")
    assert replaced.verdict is Verdict.RETURN_RESOLVED and replaced.data["replacement_orders"], replaced.message
