"""The packing rules on their own: no database, no devices, a fixed "today".

Each test is one situation at the bench: what the packer scans, what verdict the station
gives, and what the order and carton look like afterwards.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packstation.domain.barcodes import GS, Barcode, interpret, with_check_digit
from packstation.domain.model import (
    Address,
    CartonType,
    Order,
    OrderLine,
    OrderStatus,
    PackBarcode,
    Product,
    StockLot,
    Tracking,
)
from packstation.domain.packing import (
    Carton,
    CartonStatus,
    ItemDecision,
    PackSession,
    Tolerance,
    Tone,
    Verdict,
    parse_expiry,
)

TODAY = date(2026, 3, 10)
PACKER = "Pat Packer"
OTHER_PACKER = "Olu Other"


def ean13(n: int) -> str:
    payload = f"590{n:09d}"
    return with_check_digit(payload)


def gtin14(indicator: int, ean: str) -> str:
    payload = f"{indicator}{ean[:-1]}"
    return with_check_digit(payload)


TEE_EAN, SERUM_EAN, MUG_EAN, BUDS_EAN, TOY_EAN = (ean13(n) for n in (1, 2, 3, 4, 5))
TEE_SIX_PACK = gtin14(1, TEE_EAN)

TEE = Product("TS-1", "Cotton tee", 200, tracking=Tracking.NONE, barcodes=(TEE_EAN,),
              pack_barcodes=(PackBarcode(TEE_SIX_PACK, 6),))
SERUM = Product("CO-1", "Vitamin C serum", 100, tracking=Tracking.LOT_EXPIRY, barcodes=(SERUM_EAN,))
MUG = Product("HW-1", "Ceramic mug", 350, tracking=Tracking.LOT, barcodes=(MUG_EAN,))
BUDS = Product("EL-1", "Wireless earbuds", 80, tracking=Tracking.SERIAL, barcodes=(BUDS_EAN,))

SMALL = CartonType("BOX-S", "Small box", tare_g=150, max_weight_g=5000)
MAILER = CartonType("BOX-MAILER", "Padded mailer", tare_g=40, max_weight_g=1000)


def make_order(**qty: int) -> Order:
    skus = {"tee": TEE, "serum": SERUM, "mug": MUG, "buds": BUDS}
    lines = [OrderLine(n, skus[k].sku, q, Decimal("9.99")) for n, (k, q) in enumerate(qty.items(), 1)]
    return Order(
        order_id="SO-1", channel="shop-web", placed_at=datetime(2026, 3, 9, 12, 0), customer_name="Anna",
        customer_email="", customer_phone="", ship_to=Address("Anna", "Main St 1", city="Berlin", postcode="10115", country="DE"),
        currency="EUR", payment_method="prepaid", payment_status="paid", carrier="DHL", service="Paket",
        tracking_number=None, status=OrderStatus.PACKING, lines=lines,
    )


def make_session(carton: CartonType | None = SMALL, **qty: int) -> PackSession:
    order = make_order(**(qty or {"tee": 8, "serum": 2, "mug": 1, "buds": 2}))
    products = {p.sku: p for p in (TEE, SERUM, MUG, BUDS) if order.line_for(p.sku)}
    session = PackSession(order=order, products=products)
    if carton is not None:
        session.cartons.append(Carton(seq=1, type=carton))
    return session


_ids = itertools.count(1)


def scan(session: PackSession, text: str, *, user: str = PACKER, shipped: bool = False) -> ItemDecision:
    """Evaluate an item scan and apply the decision (as the service does after storing it)."""
    decision = session.evaluate_item(interpret(text), TODAY, user=user, scan_id=f"s{next(_ids)}", serial_shipped=shipped)
    session.apply_item(decision)
    return decision


def answer(session: PackSession, text: str, *, shipped: bool = False) -> ItemDecision:
    decision = session.evaluate_detail(text, TODAY, user=PACKER, scan_id=f"s{next(_ids)}", serial_shipped=shipped)
    session.apply_item(decision)
    return decision


def gs1(gtin: str, *, lot: str | None = None, expiry: str | None = None, serial: str | None = None) -> str:
    text = "]C101" + gtin.zfill(14)
    if expiry:
        text += "17" + expiry
    if lot:
        text += "10" + lot + GS
    if serial:
        text += "21" + serial
    return text.rstrip(GS)


def packed(session: PackSession, sku: str) -> int:
    line = session.order.line_for(sku)
    assert line is not None
    return line.packed


# --- item scans ---------------------------------------------------------------------------------


def test_item_on_the_order_is_accepted_and_counted_in_the_open_carton() -> None:
    session = make_session()
    decision = scan(session, TEE_EAN)
    assert decision.verdict is Verdict.ACCEPTED and decision.verdict.tone is Tone.OK
    assert decision.message == "Cotton tee: 1 of 8"
    assert packed(session, "TS-1") == 1
    assert [(i.sku, i.qty, i.user) for i in session.cartons[0].items] == [("TS-1", 1, PACKER)]


def test_a_sku_names_its_product_and_the_caller_decides_whether_it_counts() -> None:
    """Issue 8: a typed SKU counts as an item only where the station allows it ([packing]
    accept_typed_sku, default false; the service refuses it otherwise). The domain resolves the
    SKU (any case) to its product, tells the caller the scan named the product by its SKU rather
    than by a barcode, and, when the caller lets it through, counts it with the source recorded."""
    session = make_session()
    typed = interpret("ts-1")

    assert session.resolved_by_sku(typed)  # the caller's cue to refuse it unless allowed
    assert not session.resolved_by_sku(interpret(TEE_EAN))
    assert not session.resolved_by_sku(interpret(TEE_SIX_PACK))
    assert not session.resolved_by_sku(interpret(TOY_EAN))  # no product of the order at all
    assert session.resolve(typed) == (TEE, 1)

    decision = session.evaluate_item(typed, TODAY, user=PACKER, scan_id="typed-1", source="typed")
    assert decision.verdict is Verdict.ACCEPTED and decision.item is not None
    assert (decision.item.sku, decision.item.qty, decision.item.source) == ("TS-1", 1, "typed")
    session.apply_item(decision)
    assert packed(session, "TS-1") == 1


def test_item_not_on_the_order_is_a_wrong_item_and_nothing_is_counted() -> None:
    session = make_session()
    decision = scan(session, TOY_EAN)
    assert decision.verdict is Verdict.WRONG_ITEM and decision.verdict.tone is Tone.ERROR
    assert session.items == []
    assert all(line.packed == 0 for line in session.order.lines)


def test_scan_when_the_line_is_complete_is_an_over_scan() -> None:
    session = make_session(tee=1)
    assert scan(session, TEE_EAN).verdict is Verdict.ACCEPTED
    decision = scan(session, TEE_EAN)
    assert decision.verdict is Verdict.OVER_SCAN and decision.verdict.tone is Tone.WARNING
    assert "all 1 already packed" in decision.message
    assert packed(session, "TS-1") == 1 and len(session.items) == 1


def test_pack_barcode_counting_more_than_remaining_is_an_over_scan() -> None:
    session = make_session(tee=5)
    decision = scan(session, TEE_SIX_PACK)
    assert decision.verdict is Verdict.OVER_SCAN
    assert "this pack counts 6, more than the 5 still needed" in decision.message
    assert decision.data["headline"] == "TOO MANY"
    assert packed(session, "TS-1") == 0


def test_pack_barcode_counts_its_multiple() -> None:
    session = make_session(tee=8)
    assert scan(session, TEE_SIX_PACK).verdict is Verdict.ACCEPTED
    assert packed(session, "TS-1") == 6
    assert session.items[0].qty == 6


def test_item_scan_without_an_open_carton_asks_for_one() -> None:
    session = make_session(carton=None, tee=1)
    decision = scan(session, TEE_EAN)
    assert decision.verdict is Verdict.NEEDS_CARTON
    assert packed(session, "TS-1") == 0


# --- lot, expiry, serial ---------------------------------------------------------------------------


def test_lot_tracked_item_asks_for_the_lot_then_is_accepted() -> None:
    session = make_session(mug=1)
    first = scan(session, MUG_EAN)
    assert first.verdict is Verdict.NEEDS_LOT and first.verdict.tone is Tone.PROMPT
    assert packed(session, "HW-1") == 0 and session.pending is not None
    second = answer(session, "L-2026-07")
    assert second.verdict is Verdict.ACCEPTED
    assert session.items[0].lot == "L-2026-07" and session.pending is None
    assert packed(session, "HW-1") == 1


def test_lot_and_expiry_item_asks_for_both_in_turn() -> None:
    session = make_session(serum=1)
    assert scan(session, SERUM_EAN).verdict is Verdict.NEEDS_LOT
    assert answer(session, "B77").verdict is Verdict.NEEDS_EXPIRY
    assert answer(session, "2027-01-31").verdict is Verdict.ACCEPTED
    item = session.items[0]
    assert (item.lot, item.expiry) == ("B77", date(2027, 1, 31))


def test_lot_and_expiry_from_the_same_gs1_scan_need_no_prompt() -> None:
    session = make_session(serum=1)
    decision = scan(session, gs1(SERUM_EAN, lot="B77", expiry="270131"))
    assert decision.verdict is Verdict.ACCEPTED
    assert (session.items[0].lot, session.items[0].expiry) == ("B77", date(2027, 1, 31))


def test_expired_lot_in_the_gs1_scan_is_refused() -> None:
    session = make_session(serum=1)
    decision = scan(session, gs1(SERUM_EAN, lot="OLD1", expiry="260309"))
    assert decision.verdict is Verdict.EXPIRED_LOT and decision.verdict.tone is Tone.ERROR
    assert "OLD1" in decision.message and "2026-03-09" in decision.message
    assert packed(session, "CO-1") == 0 and session.pending is None


def test_expiry_typed_at_the_prompt_is_checked_too_and_today_is_still_good() -> None:
    session = make_session(serum=2)
    scan(session, SERUM_EAN)
    answer(session, "B1")
    assert answer(session, "260309").verdict is Verdict.EXPIRED_LOT
    assert session.pending is None
    scan(session, SERUM_EAN)
    answer(session, "B1")
    assert answer(session, "260310").verdict is Verdict.ACCEPTED  # expires today: still sellable


@pytest.mark.parametrize("text", ["tomorrow", "991300", "261332", "2026-02-30"])
def test_an_expiry_that_is_no_date_keeps_the_prompt(text: str) -> None:
    session = make_session(serum=1)
    scan(session, SERUM_EAN)
    answer(session, "B1")
    decision = answer(session, text)
    assert decision.verdict is Verdict.INVALID_SCAN
    assert "YYMMDD" in decision.message
    assert session.pending is not None and session.pending.lot == "B1"


def test_a_lot_longer_than_gs1_allows_keeps_the_prompt() -> None:
    session = make_session(mug=1)
    scan(session, MUG_EAN)
    decision = answer(session, "L" * 21)
    assert decision.verdict is Verdict.INVALID_SCAN
    assert session.pending is not None and packed(session, "HW-1") == 0


def with_stock(session: PackSession, text: str, known: list[StockLot] | None, mode: str, *,
               detail: bool = False) -> ItemDecision:
    """An item scan (or, *detail*, the answer to its prompt) checked against the stock's lots."""
    if detail:
        decision = session.evaluate_detail(text, TODAY, user=PACKER, scan_id=f"s{next(_ids)}",
                                           known_lots=known, unknown_lot=mode)
    else:
        decision = session.evaluate_item(interpret(text), TODAY, user=PACKER, scan_id=f"s{next(_ids)}",
                                         known_lots=known, unknown_lot=mode)
    session.apply_item(decision)
    return decision


@pytest.mark.parametrize("mode", ["refuse", "warn"])
@pytest.mark.parametrize("known", [None, []], ids=["not looked up", "none in stock"])
def test_where_no_stock_lots_are_known_the_lot_is_taken_as_scanned_and_marked_unverified(
        known: list[StockLot] | None, mode: str) -> None:
    """Issue 9, item 1: where the warehouse knows none of the product's lots, the lot is taken
    as scanned and marked unverified, whatever ``[packing] unknown_lot`` says (that setting is
    for a lot missing from lots the stock does know)."""
    session = make_session(mug=1, serum=1)
    assert with_stock(session, MUG_EAN, known, mode).verdict is Verdict.NEEDS_LOT
    mug = with_stock(session, "Lot-x9", known, mode, detail=True)
    assert mug.verdict is Verdict.ACCEPTED and mug.item is not None
    assert mug.item.lot == "Lot-x9"  # as scanned
    assert mug.data == {"lot_unverified": True}
    assert mug.message == "Ceramic mug: 1 of 1 (lot Lot-x9 not in the stock records: taken as scanned)"
    # a lot + expiry product: no stock record gives the expiry, so the scan's own counts
    serum = with_stock(session, gs1(SERUM_EAN, lot="B77", expiry="270131"), known, mode)
    assert serum.verdict is Verdict.ACCEPTED and serum.data == {"lot_unverified": True}
    assert (session.items[-1].lot, session.items[-1].expiry) == ("B77", date(2027, 1, 31))


def test_where_stock_lots_are_known_an_unknown_lot_is_refused_and_a_known_one_verified() -> None:
    """The other side of the rule above: with stock lots known (``unknown_lot = refuse``, the
    default) the same scanned lot is refused, and a lot the stock knows is not marked unverified."""
    known = [StockLot("HW-1", "M-2026-A", None, "C-01-01", 12)]
    session = make_session(mug=1)
    with_stock(session, MUG_EAN, known, "refuse")
    refused = with_stock(session, "Lot-x9", known, "refuse", detail=True)
    assert refused.verdict is Verdict.UNKNOWN_LOT and "M-2026-A" in refused.message
    assert session.pending is not None and packed(session, "HW-1") == 0
    accepted = with_stock(session, "m-2026-a", known, "refuse", detail=True)
    assert accepted.verdict is Verdict.ACCEPTED and "lot_unverified" not in accepted.data
    assert session.items[0].lot == "M-2026-A"  # the stock's spelling


def test_serial_item_asks_for_the_serial_then_is_accepted() -> None:
    session = make_session(buds=1)
    assert scan(session, BUDS_EAN).verdict is Verdict.NEEDS_SERIAL
    assert answer(session, "SN-0001").verdict is Verdict.ACCEPTED
    assert session.items[0].serial == "SN-0001"


def test_serial_from_a_datamatrix_scan() -> None:
    session = make_session(buds=1)
    assert scan(session, f"]d201{BUDS_EAN.zfill(14)}21SN-0002").verdict is Verdict.ACCEPTED
    assert session.items[0].serial == "SN-0002"


def test_same_serial_twice_on_one_order_is_refused() -> None:
    session = make_session(buds=2)
    scan(session, gs1(BUDS_EAN, serial="SN-1"))
    decision = scan(session, gs1(BUDS_EAN, serial="SN-1"))
    assert decision.verdict is Verdict.SERIAL_ALREADY_SHIPPED
    assert packed(session, "EL-1") == 1
    scan(session, BUDS_EAN)
    assert answer(session, "SN-1").verdict is Verdict.SERIAL_ALREADY_SHIPPED


def test_serial_already_shipped_in_another_order_is_refused() -> None:
    session = make_session(buds=1)
    decision = scan(session, gs1(BUDS_EAN, serial="SN-9"), shipped=True)
    assert decision.verdict is Verdict.SERIAL_ALREADY_SHIPPED
    scan(session, BUDS_EAN)
    assert answer(session, "SN-9", shipped=True).verdict is Verdict.SERIAL_ALREADY_SHIPPED
    assert packed(session, "EL-1") == 0


def test_an_answer_after_the_carton_was_sealed_asks_for_a_carton_and_counts_nothing() -> None:
    session = make_session(tee=1, mug=1)
    scan(session, TEE_EAN)
    assert scan(session, MUG_EAN).verdict is Verdict.NEEDS_LOT
    session.cartons[0].status = CartonStatus.CLOSED  # CMD-CLOSE-CARTON while the prompt waited
    decision = answer(session, "M-1")
    assert decision.verdict is Verdict.NEEDS_CARTON and "scan the item again" in decision.message
    assert session.pending is None and packed(session, "HW-1") == 0


def test_an_answer_with_nothing_pending_is_refused() -> None:
    session = make_session()
    assert answer(session, "LOT").verdict is Verdict.INVALID_SCAN


# --- quantity ------------------------------------------------------------------------------------------


def test_quantity_entry_counts_the_next_scan_that_many_times() -> None:
    session = make_session(tee=8)
    decision = session.evaluate_quantity(interpret("3"))
    assert decision.verdict is Verdict.QTY_SET
    session.pending_qty = 3
    assert scan(session, TEE_EAN).verdict is Verdict.ACCEPTED
    assert packed(session, "TS-1") == 3 and session.pending_qty is None


def test_quantity_times_pack_size_is_checked_against_the_line() -> None:
    session = make_session(tee=8)
    session.pending_qty = 2
    decision = scan(session, TEE_SIX_PACK)  # 2 x 6 = 12 > 8
    assert decision.verdict is Verdict.OVER_SCAN and "counts 12" in decision.message
    assert session.pending_qty is None  # the refused scan drops the quantity
    session.pending_qty = 1
    assert scan(session, TEE_SIX_PACK).verdict is Verdict.ACCEPTED
    assert packed(session, "TS-1") == 6


@pytest.mark.parametrize("text", ["0", "10000", "BOX-S"])
def test_quantity_must_be_a_number_from_1_to_9999(text: str) -> None:
    assert make_session().evaluate_quantity(interpret(text)).verdict is Verdict.INVALID_SCAN


def test_serial_items_must_be_scanned_one_by_one() -> None:
    session = make_session(buds=2)
    session.pending_qty = 2
    decision = scan(session, BUDS_EAN)
    assert decision.verdict is Verdict.NOT_ALLOWED and "each unit" in decision.message
    assert packed(session, "EL-1") == 0


# --- undo ----------------------------------------------------------------------------------------------


def test_packer_can_undo_only_their_own_last_scan() -> None:
    session = make_session(tee=3)
    scan(session, TEE_EAN, user=OTHER_PACKER)
    scan(session, TEE_EAN, user=PACKER)
    mine = session.last_undoable(PACKER)
    assert mine is not None and mine.user == PACKER
    session.apply_undo(mine)
    assert packed(session, "TS-1") == 1
    assert session.last_undoable(PACKER) is None  # the newest scan is someone else's


def test_lead_can_undo_anyones_last_scan() -> None:
    session = make_session(tee=3)
    scan(session, TEE_EAN, user=OTHER_PACKER)
    item = session.last_undoable("Lee Lead", any_user=True)
    assert item is not None and item.user == OTHER_PACKER
    session.apply_undo(item)
    assert packed(session, "TS-1") == 0 and session.items == []


def test_scans_in_a_sealed_carton_cannot_be_undone() -> None:
    session = make_session(tee=3)
    scan(session, TEE_EAN)
    session.cartons[0].status = CartonStatus.CLOSED
    session.cartons.append(Carton(seq=2, type=SMALL))
    assert session.last_undoable(PACKER) is None
    assert session.last_undoable(PACKER, any_user=True) is None


# --- cartons and weights -----------------------------------------------------------------------------------


def test_expected_weight_is_tare_plus_item_weights() -> None:
    session = make_session(tee=3, mug=1)
    scan(session, TEE_EAN)
    scan(session, TEE_EAN)
    scan(session, gs1(MUG_EAN, lot="M1"))
    assert session.expected_weight(session.cartons[0]) == 150 + 2 * 200 + 350


def test_tolerance_is_the_larger_of_percent_and_grams() -> None:
    tol = Tolerance(pct=5.0, grams=20)
    assert tol.allowed(300) == 20  # 5 % = 15 g < 20 g
    assert tol.allowed(1000) == 50  # 5 % = 50 g
    assert tol.allowed(4000) == 200
    assert tol.allowed(1750) == 87  # 87.5 g: a whole 88 g is outside 5 %
    assert tol.allowed(1250) == 62
    assert Tolerance(pct=4.6, grams=0).allowed(1500) == 69  # float: 1500 * 4.6 / 100 = 68.999...
    assert Tolerance(pct=0, grams=0).allowed(2000) == 0


@pytest.mark.parametrize(
    ("tees", "measured", "verdict"),
    [
        # 150 g box + 1 x 200 g = 350 g expected, 5 % = 17.5 g -> the 20 g floor applies
        (1, 370, Verdict.CARTON_CLOSED),
        (1, 330, Verdict.CARTON_CLOSED),
        (1, 371, Verdict.CARTON_BLOCKED),
        (1, 329, Verdict.CARTON_BLOCKED),
        # 150 g + 8 x 200 g = 1750 g expected, 5 % = 87.5 g beats 20 g: 87 g in, 88 g out
        (8, 1837, Verdict.CARTON_CLOSED),
        (8, 1663, Verdict.CARTON_CLOSED),
        (8, 1838, Verdict.CARTON_BLOCKED),
        (8, 1662, Verdict.CARTON_BLOCKED),
        # 150 g + 6 x 200 g = 1350 g expected, 5 % = 67.5 g
        (6, 1417, Verdict.CARTON_CLOSED),
        (6, 1418, Verdict.CARTON_BLOCKED),
    ],
)
def test_close_within_tolerance_boundary(tees: int, measured: int, verdict: Verdict) -> None:
    session = make_session(tee=8)
    session.pending_qty = tees
    scan(session, TEE_EAN)
    decision = session.evaluate_close(measured, Tolerance(5.0, 20))
    assert decision.verdict is verdict, decision.message
    assert decision.expected_g == 150 + tees * 200


def test_blocked_message_says_how_far_off_and_what_to_do() -> None:
    session = make_session(tee=1)
    scan(session, TEE_EAN)
    decision = session.evaluate_close(500, Tolerance(5.0, 20))
    assert decision.verdict is Verdict.CARTON_BLOCKED
    assert "expected 350 g" in decision.message and "150 g heavier" in decision.message
    assert "lead" in decision.message


def test_carton_over_its_maximum_weight_is_blocked_even_within_tolerance() -> None:
    session = make_session(carton=MAILER, tee=8)
    session.pending_qty = 5
    scan(session, TEE_EAN)  # 40 + 1000 = 1040 g expected; the mailer takes 1000 g
    decision = session.evaluate_close(1040, Tolerance(5.0, 20))
    assert decision.verdict is Verdict.CARTON_BLOCKED
    assert "limit of 1000 g" in decision.message


def test_closing_needs_an_open_carton_with_items() -> None:
    assert make_session(carton=None).evaluate_close(100, Tolerance()).verdict is Verdict.NEEDS_CARTON
    assert make_session().evaluate_close(150, Tolerance()).verdict is Verdict.NOT_ALLOWED


def test_packer_fixes_a_blocked_carton_by_scanning_the_missing_item() -> None:
    session = make_session(tee=2)
    scan(session, TEE_EAN)
    carton = session.cartons[0]
    carton.status, carton.measured_g = CartonStatus.BLOCKED, 550  # weighed with 2 tees inside
    assert session.open_carton is carton  # still takes scans
    assert scan(session, TEE_EAN).verdict is Verdict.ACCEPTED
    assert carton.status is CartonStatus.OPEN and carton.measured_g is None
    assert session.evaluate_close(550, Tolerance()).verdict is Verdict.CARTON_CLOSED


def test_packer_fixes_a_blocked_carton_by_undoing_the_extra_item() -> None:
    session = make_session(tee=2)
    scan(session, TEE_EAN)
    scan(session, TEE_EAN)
    carton = session.cartons[0]
    carton.status, carton.measured_g = CartonStatus.BLOCKED, 350
    item = session.last_undoable(PACKER)
    assert item is not None
    session.apply_undo(item)
    assert carton.status is CartonStatus.OPEN and carton.measured_g is None
    assert session.evaluate_close(350, Tolerance()).verdict is Verdict.CARTON_CLOSED


# --- short-ship and completion -------------------------------------------------------------------------------


def test_short_lines_are_the_ones_still_missing_items() -> None:
    session = make_session(tee=2, mug=1)
    scan(session, TEE_EAN)
    scan(session, TEE_EAN)
    assert [line.sku for line in session.short_lines()] == ["HW-1"]
    session.order.lines[1].short = 1
    assert session.short_lines() == [] and session.order.complete


def test_order_is_complete_when_every_line_is_done_and_no_carton_with_items_is_open() -> None:
    session = make_session(tee=1)
    assert not session.complete
    scan(session, TEE_EAN)
    assert session.order.complete
    assert not session.complete  # the carton with the tee is still open
    session.cartons[0].status = CartonStatus.CLOSED
    session.cartons.append(Carton(seq=2, type=SMALL))  # an empty open carton does not count
    assert session.complete
    assert session.next_carton_seq() == 3


# --- odds and ends ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("271231", date(2027, 12, 31)),
        ("270200", date(2027, 2, 28)),
        ("281200", date(2028, 12, 31)),
        ("2027-05-01", date(2027, 5, 1)),
        ("20270501", date(2027, 5, 1)),
        ("01.05.2027", date(2027, 5, 1)),
        ("01/05/2027", date(2027, 5, 1)),
        (" 271231 ", date(2027, 12, 31)),
    ],
)
def test_expiry_formats(text: str, expected: date) -> None:
    assert parse_expiry(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "991300", "271301", "2027-13-01", "32.01.2027"])
def test_expiry_that_is_no_date_is_none(text: str) -> None:
    assert parse_expiry(text) is None


def test_every_verdict_has_a_tone_and_alarms_are_errors() -> None:
    for verdict in Verdict:
        assert isinstance(verdict.tone, Tone)
    for verdict in (Verdict.WRONG_ITEM, Verdict.UNKNOWN_BARCODE, Verdict.EXPIRED_LOT,
                    Verdict.SERIAL_ALREADY_SHIPPED, Verdict.CARTON_BLOCKED, Verdict.STORAGE_FAILED):
        assert verdict.tone is Tone.ERROR
    assert Verdict.OVER_SCAN.tone is Tone.WARNING


def test_barcode_for_a_product_that_is_not_on_the_order_does_not_resolve() -> None:
    session = make_session(tee=1)
    assert session.resolve(Barcode(kind=interpret(TOY_EAN).kind, value=interpret(TOY_EAN).value)) is None
    hit = session.resolve(interpret(TEE_SIX_PACK))
    assert hit is not None and hit[0] is TEE and hit[1] == 6


def test_cash_on_delivery_collects_the_total_of_what_ships() -> None:
    order = make_order(tee=2, mug=1)  # 3 x 9.99
    assert order.total == Decimal("29.97") and order.cod_amount is None  # prepaid
    order.payment_method, order.payment_status = "cod", "pending"
    assert order.cod_amount == Decimal("29.97")
    order.lines[1].short = 1  # the mug is short-shipped: the courier must not collect for it
    assert order.cod_amount == Decimal("19.98")
    assert order.total == Decimal("29.97")  # the order's own total is unchanged


_ACTIONS = st.lists(
    st.one_of(
        st.sampled_from([TEE_EAN, TEE_SIX_PACK, TOY_EAN, MUG_EAN, BUDS_EAN, "undo", "lead-undo"]),
        st.integers(1, 12).map(lambda n: ("qty", n)),
        st.text("ABC123", min_size=1, max_size=4).map(lambda t: ("answer", t)),
    ),
    max_size=40,
)


@given(_ACTIONS)
def test_any_scan_sequence_keeps_counts_and_cartons_consistent(actions: list[object]) -> None:
    session = make_session(tee=8, mug=2, buds=2)
    for action in actions:
        if action in ("undo", "lead-undo"):
            item = session.last_undoable(PACKER, any_user=action == "lead-undo")
            if item is not None:
                session.apply_undo(item)
        elif isinstance(action, tuple) and action[0] == "qty":
            session.pending_qty = action[1]
        elif isinstance(action, tuple):
            answer(session, action[1])
        else:
            scan(session, str(action))
        for line in session.order.lines:
            assert 0 <= line.packed <= line.qty
            assert line.packed == sum(i.qty for i in session.items if i.line_no == line.line_no)
        serials = [i.serial for i in session.items if i.serial]
        assert len(serials) == len(set(serials))
        assert all(i.lot for i in session.items if i.sku == MUG.sku)
        assert all(i.qty == 1 and i.serial for i in session.items if i.sku == BUDS.sku)
