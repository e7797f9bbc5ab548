"""Inventory on fakes: stock counts become movements, sealed cartons pack stock out, stock on hand."""

from __future__ import annotations

from datetime import date

import pytest
from fakes import FakeDatabase, fake_context
from warehouse import LOTS, SERUM, TEE, claim_with_items, scan

from packstation.domain.identity import ActorKind, Role, Session
from packstation.domain.model import StockLot
from packstation.domain.packing import PackedItem, Verdict
from packstation.domain.stock import MovementKind, StockLevel
from packstation.services import packing
from packstation.services.auth import NotAllowed
from packstation.services.context import Context
from packstation.services.imports import import_records
from packstation.services.stock import (
    UnknownSku,
    packed_out,
    record_stock_count,
    scan_movement_id,
    stock_on_hand,
    unpacked,
)

K = MovementKind


@pytest.fixture
def clerk(ctx: Context) -> Session:
    return ctx.auth.system(ActorKind.IMPORT, "root", Role.ADMIN)


def count(ctx: Context, session: Session, *lots: StockLot) -> list[tuple[str, int, MovementKind]]:
    with ctx.uow() as uow:
        moved = [m for lot in lots for m in record_stock_count(uow, ctx, session, lot, ref="count-1")]
        uow.commit()
    return [(m.location, m.qty, m.kind) for m in moved]


def on_hand(ctx: Context, sku: str) -> list[StockLevel]:
    with ctx.uow(readonly=True) as uow:
        return uow.stock.on_hand(sku)


# --- stock counts ------------------------------------------------------------------------------


def test_a_first_count_is_a_receipt_and_later_ones_adjust_to_the_count(ctx: Context, clerk: Session) -> None:
    lot = StockLot("CO-1", "L-GOOD", date(2027, 1, 31), "B-02-01", 40)
    assert count(ctx, clerk, lot) == [("B-02-01", 40, K.RECEIVED)]
    assert count(ctx, clerk, lot) == []  # the ledger says so already
    assert count(ctx, clerk, StockLot("CO-1", "L-GOOD", None, "B-02-01", 37)) == [("B-02-01", -3, K.ADJUSTED)]
    assert count(ctx, clerk, StockLot("CO-1", "L-GOOD", None, "B-02-01", 45)) == [("B-02-01", 8, K.ADJUSTED)]
    assert on_hand(ctx, "CO-1") == [StockLevel("CO-1", "B-02-01", "L-GOOD", 45)]


def test_a_lot_counted_at_another_location_moves_there(ctx: Context, clerk: Session) -> None:
    count(ctx, clerk, StockLot("CO-1", "L-GOOD", None, "B-02-01", 40))
    assert count(ctx, clerk, StockLot("CO-1", "L-GOOD", None, "C-09-09", 38)) == [
        ("B-02-01", -40, K.MOVED), ("C-09-09", 40, K.MOVED), ("C-09-09", -2, K.ADJUSTED)]
    assert on_hand(ctx, "CO-1") == [StockLevel("CO-1", "C-09-09", "L-GOOD", 38)]


def test_a_lot_packed_out_to_nothing_and_counted_again_is_received(ctx: Context, clerk: Session) -> None:
    count(ctx, clerk, StockLot("CO-1", "L-GOOD", None, "B-02-01", 1))
    with ctx.uow() as uow:
        packed_out(uow, ctx, clerk, "SO-3", [_item("CO-1", lot="L-GOOD")])
        uow.commit()
    assert count(ctx, clerk, StockLot("CO-1", "L-GOOD", None, "B-02-01", 24)) == [("B-02-01", 24, K.RECEIVED)]


def test_each_count_movement_has_its_event_naming_the_actor(ctx: Context, clerk: Session) -> None:
    count(ctx, clerk, StockLot("CO-1", "L-GOOD", None, "B-02-01", 40))
    with ctx.uow(readonly=True) as uow:
        (movement,) = uow.stock.movements("CO-1")
        events = [e for e in ctx.uow.db.snapshot().events if e.kind.startswith("stock.")]  # type: ignore[attr-defined]
    (event,) = events
    assert (event.kind, event.actor, event.id) == ("stock.received", "import:root", movement.event_id)
    assert event.payload == {"sku": "CO-1", "location": "B-02-01", "lot": "L-GOOD", "qty": 40, "ref": "count-1",
                             "count": {"location": "B-02-01", "qty": 40}}
    assert (movement.actor, movement.ref) == ("import:root", "count-1")


def test_a_stock_import_writes_the_movements_once(ctx: Context, clerk: Session) -> None:
    records = [("line 2", {"sku": "CO-1", "lot": "L-GOOD", "expiry": "2027-01-31", "location": "B-02-01", "qty": "50"}),
               ("line 3", {"sku": "HW-1", "lot": "M-1", "location": "D-01", "qty": "6"})]
    report = import_records(ctx, clerk, "stock", records, "stock.csv")
    assert report.ok, report.rejected
    # L-GOOD was in the stock records (40) but never in the ledger: the count receives all 50
    assert on_hand(ctx, "CO-1") == [StockLevel("CO-1", "B-02-01", "L-GOOD", 50)]
    assert on_hand(ctx, "HW-1") == [StockLevel("HW-1", "D-01", "M-1", 6)]
    import_records(ctx, clerk, "stock", records, "stock.csv")  # the same file again changes nothing
    with ctx.uow(readonly=True) as uow:
        assert len(uow.stock.movements("CO-1")) == 1
        assert uow.stock.movements("HW-1")[0].ref == "import:stock.csv"


# --- packing ------------------------------------------------------------------------------------


def _item(sku: str, *, lot: str | None = None, qty: int = 1, scan_id: str = "scan-1") -> PackedItem:
    return PackedItem(scan_id=scan_id, line_no=1, sku=sku, qty=qty, carton_seq=1, barcode="x", user="Pat", lot=lot)


def test_sealing_a_carton_packs_its_items_out_of_their_lots(ctx: Context, pat: Session, clerk: Session) -> None:
    count(ctx, clerk, *LOTS)
    pack = claim_with_items(ctx, pat, "SO-3")
    assert scan(ctx, pat, pack, SERUM).verdict is Verdict.NEEDS_LOT
    assert packing.record_detail(ctx, pat, pack, "L-GOOD").accepted
    assert on_hand(ctx, "CO-1") == [StockLevel("CO-1", "B-02-01", "L-GOOD", 40), StockLevel("CO-1", "B-02-02", "L-OLD", 3)]
    assert packing.close_carton(ctx, pat, pack, 250).verdict is Verdict.ORDER_COMPLETE
    assert on_hand(ctx, "CO-1") == [StockLevel("CO-1", "B-02-01", "L-GOOD", 39), StockLevel("CO-1", "B-02-02", "L-OLD", 3)]
    with ctx.uow(readonly=True) as uow:
        out = uow.stock.movements("CO-1")[-1]
    (scanned,) = pack.items
    assert (out.kind, out.qty, out.ref, out.actor, out.event_id) == (
        K.PACKED, -1, "SO-3", "person:Pat Packer", scan_movement_id(scanned.scan_id))


def test_an_item_without_a_lot_leaves_from_the_products_location(ctx: Context, pat: Session) -> None:
    pack = claim_with_items(ctx, pat, "SO-1", TEE, TEE)
    assert on_hand(ctx, "TS-1") == []  # nothing moves before the seal: scans can still be undone
    assert packing.close_carton(ctx, pat, pack, 560).verdict is Verdict.ORDER_COMPLETE
    assert on_hand(ctx, "TS-1") == [StockLevel("TS-1", "A-01-01", "", -2)]  # never counted: below zero


def test_a_synced_station_leaves_packing_out_to_the_centre(db: FakeDatabase) -> None:
    synced = fake_context(db, central=FakeDatabase(central=True))
    pat = synced.auth.login("PACKER-001")
    pack = claim_with_items(synced, pat, "SO-1", TEE, TEE)
    assert packing.close_carton(synced, pat, pack, 560).verdict is Verdict.ORDER_COMPLETE
    assert on_hand(synced, "TS-1") == []  # the centre's applier of scan.recorded moves it there


def test_an_item_without_a_lot_of_a_product_with_lots_takes_the_first_lot_with_stock(ctx: Context,
                                                                                     clerk: Session) -> None:
    lots = [StockLot("HW-1", "M-OLD", date(2026, 6, 1), "D-01", 0), StockLot("HW-1", "M-NEW", None, "D-02", 5),
            StockLot("HW-1", "M-MID", date(2026, 9, 1), "D-03", 2)]
    with ctx.uow() as uow:  # as a stock import stores them
        uow.catalog.put_lots(lots)
        uow.commit()
    count(ctx, clerk, *lots)
    with ctx.uow() as uow:
        moved = packed_out(uow, ctx, clerk, "SO-X", [_item("HW-1", qty=2, scan_id="a"), _item("HW-1", scan_id="b")])
        uow.commit()
    # earliest expiry with stock first (M-OLD has none), then the next (M-MID used up by the first)
    assert [(m.location, m.lot, m.qty) for m in moved] == [("D-03", "M-MID", -2), ("D-02", "M-NEW", -1)]


def test_packing_out_and_taking_back_happen_once_per_scan(ctx: Context, clerk: Session) -> None:
    item = _item("CO-1", lot="L-GOOD", qty=2)
    for _ in range(2):  # the same scan twice (an event pushed again)
        with ctx.uow() as uow:
            packed_out(uow, ctx, clerk, "SO-3", [item])
            uow.commit()
    assert on_hand(ctx, "CO-1") == [StockLevel("CO-1", "B-02-01", "L-GOOD", -2)]  # from where the stock keeps it
    for _ in range(2):
        with ctx.uow() as uow:
            back = unpacked(uow, ctx, clerk, "SO-3", [item, _item("CO-1", scan_id="never-packed")])
            uow.commit()
    assert on_hand(ctx, "CO-1") == []
    assert back == []  # the second time: nothing
    with ctx.uow(readonly=True) as uow:
        assert [m.kind for m in uow.stock.movements("CO-1")] == [K.PACKED, K.UNPACKED]


# --- stock on hand -----------------------------------------------------------------------------


def test_stock_on_hand_per_location_and_lot(ctx: Context, clerk: Session) -> None:
    count(ctx, clerk, *LOTS)
    lee = ctx.auth.system(ActorKind.CLI, "root", Role.LEAD)
    report = stock_on_hand(ctx, lee, "CO-1")
    assert report.as_dict() == {"sku": "CO-1", "name": "Vitamin C serum", "source": "local", "on_hand": 43,
                                "locations": [{"location": "B-02-01", "lot": "L-GOOD", "expiry": "2027-01-31", "qty": 40},
                                              {"location": "B-02-02", "lot": "L-OLD", "expiry": "2026-01-31", "qty": 3}]}
    assert stock_on_hand(ctx, lee, "TS-1").as_dict()["locations"] == []
    with pytest.raises(UnknownSku):
        stock_on_hand(ctx, lee, "NOPE-1")
    with pytest.raises(NotAllowed):
        stock_on_hand(ctx, ctx.auth.login("PACKER-001"), "CO-1")


def test_a_synced_station_reads_the_centres_ledger(db: FakeDatabase) -> None:
    centre = FakeDatabase(central=True)
    at_centre = fake_context(centre, station_id="CENTRE")
    with at_centre.uow() as uow:
        from warehouse import PRODUCTS

        uow.catalog.put_products([(PRODUCTS[1], "fp")], at_centre.clock())
        record_stock_count(uow, at_centre, at_centre.auth.system(ActorKind.IMPORT, "root", Role.ADMIN),
                           StockLot("CO-1", "L-C", None, "Z-1", 12))
        uow.commit()
    synced = fake_context(db, central=centre)
    report = stock_on_hand(synced, synced.auth.system(ActorKind.CLI, "root", Role.ADMIN), "CO-1")
    assert (report.source, report.total, report.levels[0].lot) == ("central", 12, "L-C")
