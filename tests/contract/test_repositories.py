"""One contract for the storage ports, run on the in-memory fake, SQLite and PostgreSQL.

Every test says what a port method promises (``packstation/services/ports.py``) and checks it
on each backend the same way; the fake that service unit tests run on is held to the same
word as the SQL adapters. Where the backends legitimately differ (row locks, SKIP LOCKED,
where a refused write is raised) the test says so.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import fakes
import pytest
from fakes import NOW, a_product, an_order

from packstation.domain.events import Event
from packstation.domain.identity import Role
from packstation.domain.lifecycle import OrderStatus, ReturnStatus
from packstation.domain.model import Address, CartonType, Order, StockLot, Tracking
from packstation.domain.packing import Carton, CartonStatus, PackedItem
from packstation.domain.print_jobs import JobStatus, PrintJob
from packstation.domain.returns import (
    CreditNote,
    Photo,
    Receipt,
    ReceivedItem,
    Resolution,
    ResolutionKind,
    ResolvedLine,
    Return,
    ReturnLine,
)
from packstation.services.ports import (
    BatchState,
    Claim,
    Conflict,
    Credentials,
    ImportBatch,
    ImportedState,
    ImportStaging,
    StagedRecord,
    StorageError,
    UnitOfWorkFactory,
)

S = OrderStatus
TEE, TEE_SIX, SERUM, BUDS, MUG = "05900000000114", "15900000000111", "05900000000121", "05900000000145", "05900000000138"
BOX_S = CartonType("BOX-S", "Small box", 150, 250, 180, 100, 5000)
BOX_M = CartonType("BOX-M", "Medium box", 280, 350, 250, 150, 10000)
TYPES = {c.code: c for c in (BOX_S, BOX_M)}


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def stock_catalog(uow: UnitOfWorkFactory) -> None:
    with uow() as u:
        u.catalog.put_products([
            (a_product("TS-1", "Cotton tee", 200, TEE, packs=[(TEE_SIX, 6)], location="A-01-01"), "fp-ts"),
            (a_product("CO-1", "Vitamin C serum", 100, SERUM, tracking=Tracking.LOT_EXPIRY), "fp-co"),
            (a_product("EL-1", "Wireless earbuds", 80, BUDS, tracking=Tracking.SERIAL), "fp-el"),
            (a_product("HW-1", "Ceramic mug", 350, MUG, tracking=Tracking.LOT), "fp-hw"),
        ], NOW)
        u.catalog.put_cartons([(BOX_M, "fp-m"), (BOX_S, "fp-s")])
        u.commit()


def add_orders(uow: UnitOfWorkFactory, *orders: Order) -> None:
    with uow() as u:
        u.orders.add_many([(o, f"fp-{o.order_id}") for o in orders], NOW)
        u.commit()


@pytest.fixture
def stocked(uow: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """BENCH-01's units of work on a database with the catalog and two carton types."""
    stock_catalog(uow)
    return uow


def item(line_no: int = 1, sku: str = "TS-1", *, carton: int = 1, qty: int = 1, serial: str | None = None,
         lot: str | None = None, expiry: date | None = None, user: str = "Pat Packer", source: str = "wedge") -> PackedItem:
    return PackedItem(scan_id=str(uuid.uuid4()), line_no=line_no, sku=sku, qty=qty, carton_seq=carton,
                      barcode=TEE if sku == "TS-1" else BUDS, user=user, lot=lot, expiry=expiry, serial=serial,
                      source=source)


def replace_at(it: PackedItem, at: datetime) -> PackedItem:
    """The item as stored: with the time it was scanned."""
    return replace(it, scanned_at=at)


def a_job(job_id: str, *, at: datetime = NOW, status: JobStatus = JobStatus.PENDING, ref: str = "SO-1/000") -> PrintJob:
    return PrintJob(id=job_id, printer="label", target="tcp://10.0.0.9:9100", kind="shipping_label", ref=ref,
                    payload=b"^XA^FDlabel^FS^XZ", status=status, created_at=at, reason="sealed")


def an_event(kind: str, order_id: str | None = "SO-1", **payload: object) -> Event:
    return Event(kind, order_id, "person:Pat Packer", "Pat Packer", dict(payload))


# === the unit of work ========================================================================


class TestUnitOfWork:
    def test_a_committed_change_is_seen_by_the_next_unit_of_work(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.orders.add_many([(an_order("SO-1", {"TS-1": 2}), "fp")], NOW)
            assert u.orders.get("SO-1") is not None  # its own change, before the commit
            u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.get("SO-1") is not None

    def test_leaving_without_commit_rolls_every_repository_back(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 2, "EL-1": 1}))
        with stocked() as u:
            u.orders.add_many([(an_order("SO-2", {"TS-1": 1}), "fp")], NOW)
            assert u.orders.try_claim("SO-1", "BENCH-01", "Pat Packer", NOW)
            u.orders.set_status("SO-1", S.RELEASED, S.PACKING, NOW)
            u.orders.add_packed("SO-1", 1, 1)
            u.catalog.put_products([(a_product("NEW-1", "New thing", 10, "NEW-CODE"), "fp")], NOW)
            u.catalog.put_lots([StockLot("TS-1", "L1", None, "A", 5)])
            u.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat Packer", "BENCH-01", NOW)
            u.shipments.add_item("SO-1", item(2, "EL-1", serial="SN-1"), "BENCH-01", NOW)
            u.print_jobs.add(a_job("job-1"), "BENCH-01", NOW)
            u.events.add(an_event("scan.recorded"), "BENCH-01", NOW)
            u.returns.put(Return("RMA-1", "SO-1", "too small", ReturnStatus.INITIATED, [ReturnLine(1, "TS-1", 1)]),
                          "fp", NOW)
            u.numbers.next("sscc")
            # no commit
        with stocked(readonly=True) as u:
            assert u.orders.get("SO-2") is None
            assert u.orders.claim_of("SO-1") == Claim("SO-1", S.RELEASED)
            assert u.orders.get("SO-1").lines[0].packed == 0
            assert u.catalog.products(["NEW-1"]) == {} and u.catalog.by_barcode("NEW-CODE") is None
            assert u.catalog.lots("TS-1") == []
            assert u.users.list() == []
            assert u.shipments.cartons("SO-1", TYPES) == [] and u.shipments.scans("SO-1") == []
            assert not u.shipments.serial_shipped("EL-1", "SN-1")
            assert u.print_jobs.get("job-1") is None
            assert u.events.for_order("SO-1") == []
            assert u.returns.get("RMA-1") is None
        # (a number drawn in a rolled-back unit of work was never issued: it may come again)

    def test_an_exception_rolls_back_and_leaves_the_block(self, stocked: UnitOfWorkFactory) -> None:
        with pytest.raises(ZeroDivisionError), stocked() as u:
            u.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            u.commit()
            u.users.add("Olu Other", Role.PACKER, "PACKER-002", None, NOW)  # after the commit
            raise ZeroDivisionError
        with stocked(readonly=True) as u:
            assert [x.name for x in u.users.list()] == ["Pat Packer"]  # committed stays, the rest is gone

    def test_a_reader_does_not_see_what_a_writer_has_not_committed(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as writer:
            writer.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            with stocked(readonly=True) as reader:
                assert reader.users.by_name("Pat Packer") is None
            writer.commit()
        with stocked(readonly=True) as reader:
            assert reader.users.by_name("Pat Packer") is not None

    def test_ping(self, uow: UnitOfWorkFactory) -> None:
        with uow(readonly=True) as u:
            u.ping()


# === orders ==================================================================================


class TestOrders:
    def test_get_gives_the_order_with_its_lines_in_order(self, stocked: UnitOfWorkFactory) -> None:
        order = an_order("SO-1", {"TS-1": 2, "CO-1": 1, "EL-1": 3}, tote="TOTE-1", placed_at=NOW - hours(2),
                         payment=("cod", "pending"), tracking_number="AWB-1", unit_price="12.50")
        add_orders(stocked, order)
        with stocked(readonly=True) as u:
            got = u.orders.get("SO-1")
            assert u.orders.get("SO-404") is None
        assert got == order  # every field, lines in line order, exact prices, aware time
        assert got is not None and got.placed_at.tzinfo is not None
        assert [ln.line_no for ln in got.lines] == [1, 2, 3] and got.lines[0].unit_price == Decimal("12.50")

    def test_placed_at_keeps_its_instant_whatever_its_time_zone(self, stocked: UnitOfWorkFactory) -> None:
        from datetime import timezone
        india = timezone(timedelta(hours=5, minutes=30))
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}, placed_at=datetime(2026, 3, 10, 12, 5, tzinfo=india)))
        with stocked(readonly=True) as u:
            placed = u.orders.get("SO-1").placed_at
        assert placed == datetime(2026, 3, 10, 6, 35, tzinfo=UTC)

    def test_an_order_changed_after_get_is_not_changed_in_storage(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 2}))
        with stocked() as u:
            got = u.orders.get("SO-1")
            assert got is not None
            got.lines[0].packed = 2
            got.status = S.DELIVERED
            assert u.orders.get("SO-1") == an_order("SO-1", {"TS-1": 2})

    def test_find_id_prefers_the_exact_number_then_any_case_then_the_totes_newest_packable_order(
            self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked,
                   an_order("SO-7", {"TS-1": 1}),
                   an_order("TOTE-9", {"TS-1": 1}),  # an order number that is also a tote code
                   an_order("SO-20", {"TS-1": 1}, tote="TOTE-9", placed_at=NOW + hours(1)),
                   an_order("SO-10", {"TS-1": 1}, tote="TOTE-1", placed_at=NOW - hours(3), status=S.PACKED),
                   an_order("SO-11", {"TS-1": 1}, tote="TOTE-1", placed_at=NOW - hours(2)),
                   an_order("SO-12", {"TS-1": 1}, tote="TOTE-1", placed_at=NOW - hours(1)),
                   an_order("SO-13", {"TS-1": 1}, tote="TOTE-1", placed_at=NOW, status=S.CANCELLED))
        with stocked(readonly=True) as u:
            assert u.orders.find_id("SO-7") == "SO-7"
            assert u.orders.find_id("so-7") == "SO-7"
            assert u.orders.find_id("TOTE-9") == "TOTE-9"  # the order number wins over the tote
            assert u.orders.find_id("TOTE-1") == "SO-12"  # newest packable; the newer cancelled one is not
            assert u.orders.find_id("SO-404") is None

    def test_find_id_exact_case_wins_over_another_case(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("ab-1", {"TS-1": 1}), an_order("AB-1", {"TS-1": 1}, placed_at=NOW + hours(1)))
        with stocked(readonly=True) as u:
            assert u.orders.find_id("ab-1") == "ab-1"
            assert u.orders.find_id("AB-1") == "AB-1"

    def test_find_by_tracking_knows_order_and_carton_numbers(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}, tracking_number="AWB-ORDER"), an_order("SO-2", {"TS-1": 1}))
        with stocked() as u:
            u.shipments.add_carton("SO-2", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.save_carton("SO-2", Carton(1, BOX_S, tracking_number="AWB-CARTON"), NOW)
            u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.find_by_tracking("AWB-ORDER") == "SO-1"
            assert u.orders.find_by_tracking("AWB-CARTON") == "SO-2"
            assert u.orders.find_by_tracking("AWB-404") is None

    def test_hold_and_claim_of_tell_who_holds_an_order(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}))
        with stocked() as u:
            assert u.orders.hold("SO-1") == Claim("SO-1", S.RELEASED, None, None, None)
            assert u.orders.try_claim("SO-1", "BENCH-01", "Pat Packer", NOW)
            assert u.orders.hold("SO-1") == Claim("SO-1", S.RELEASED, "BENCH-01", "Pat Packer", NOW)
            with pytest.raises(KeyError):
                u.orders.hold("SO-404")
            u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.claim_of("SO-1") == Claim("SO-1", S.RELEASED, "BENCH-01", "Pat Packer", NOW)
            assert u.orders.claim_of("SO-404") is None

    def test_try_claim_takes_a_packable_order_nobody_else_holds(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}), an_order("SO-P", {"TS-1": 1}, status=S.PICKING),
                   an_order("SO-H", {"TS-1": 1}, status=S.ON_HOLD), an_order("SO-D", {"TS-1": 1}, status=S.PACKED))
        with stocked() as u:
            assert u.orders.try_claim("SO-1", "BENCH-01", "Pat Packer", NOW)
            assert not u.orders.try_claim("SO-1", "BENCH-02", "Olu Other", NOW)  # held by BENCH-01
            assert u.orders.try_claim("SO-1", "BENCH-01", "Lee Lead", NOW + hours(1))  # its own again
            assert u.orders.try_claim("SO-P", "BENCH-02", "Olu Other", NOW)
            assert not u.orders.try_claim("SO-H", "BENCH-01", "Pat Packer", NOW)  # on hold
            assert not u.orders.try_claim("SO-D", "BENCH-01", "Pat Packer", NOW)  # packed
            assert not u.orders.try_claim("SO-404", "BENCH-01", "Pat Packer", NOW)
            assert u.orders.claim_of("SO-1") == Claim("SO-1", S.RELEASED, "BENCH-01", "Lee Lead", NOW + hours(1))
            assert u.orders.claim_of("SO-H") == Claim("SO-H", S.ON_HOLD)

    def test_claim_next_takes_the_oldest_free_packable_order(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked,
                   an_order("SO-B", {"TS-1": 1}, placed_at=NOW - hours(5)),
                   an_order("SO-A", {"TS-1": 1}, placed_at=NOW - hours(5)),  # same time: by number
                   an_order("SO-OLD-HELD", {"TS-1": 1}, placed_at=NOW - hours(9), status=S.ON_HOLD),
                   an_order("SO-UPS", {"TS-1": 1}, placed_at=NOW - hours(8), carrier="UPS"),
                   an_order("SO-PICKED", {"TS-1": 1}, placed_at=NOW - hours(1), status=S.PICKING))
        with stocked() as u:
            assert u.orders.claim_next("BENCH-01", "Pat", NOW) == "SO-UPS"
            assert u.orders.claim_next("BENCH-02", "Olu", NOW) == "SO-A"
            assert u.orders.claim_next("BENCH-03", "Lee", NOW, carrier="UPS") is None  # taken
            assert u.orders.claim_next("BENCH-03", "Lee", NOW, carrier="DHL") == "SO-B"
            assert u.orders.claim_next("BENCH-03", "Lee", NOW) == "SO-PICKED"
            assert u.orders.claim_next("BENCH-03", "Lee", NOW) is None
            assert u.orders.claim_of("SO-A") == Claim("SO-A", S.RELEASED, "BENCH-02", "Olu", NOW)

    def test_two_stations_claiming_next_at_once_get_different_orders(self, backend, stocked: UnitOfWorkFactory) -> None:
        """PostgreSQL: the second station skips the row the first has locked (SKIP LOCKED) and
        takes the next order at once. SQLite and the fake: writers take turns (BEGIN IMMEDIATE,
        the fake's writer lock), so the second waits for the first to commit, then finds the
        first order taken. Either way no order is claimed twice."""
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}, placed_at=NOW - hours(2)),
                   an_order("SO-2", {"TS-1": 1}, placed_at=NOW - hours(1)))
        other = backend.factory("BENCH-02")
        got: dict[str, str | None] = {}
        done = threading.Event()

        def second() -> None:
            with other() as u2:
                got["BENCH-02"] = u2.orders.claim_next("BENCH-02", "Olu", NOW)
                u2.commit()
            done.set()

        with stocked() as u1:
            got["BENCH-01"] = u1.orders.claim_next("BENCH-01", "Pat", NOW)
            thread = threading.Thread(target=second)
            thread.start()
            if backend.name == "postgresql":
                assert done.wait(10), "SKIP LOCKED: the second station must not wait for the first"
            else:
                assert not done.wait(0.3), "writers take turns: the second station waits"
            u1.commit()
        thread.join(10)
        assert got == {"BENCH-01": "SO-1", "BENCH-02": "SO-2"}

    def test_release_frees_the_order_and_keeps_its_work(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 2}))
        with stocked() as u:
            u.orders.try_claim("SO-1", "BENCH-01", "Pat", NOW)
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_item("SO-1", item(), "BENCH-01", NOW)
            u.orders.add_packed("SO-1", 1, 1)
            u.orders.release("SO-1")
            u.orders.release("SO-404")  # nothing to release: no error
            u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.claim_of("SO-1") == Claim("SO-1", S.RELEASED)
            assert len(u.shipments.cartons("SO-1", TYPES)[0].items) == 1
            assert u.orders.get("SO-1").lines[0].packed == 1

    def test_set_status_stores_a_change_only_from_the_expected_status(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}))
        with stocked() as u:
            u.orders.set_status("SO-1", S.RELEASED, S.PACKING, NOW)
            assert u.orders.get("SO-1").status is S.PACKING
            with pytest.raises(Conflict, match="no longer released"):
                u.orders.set_status("SO-1", S.RELEASED, S.CANCELLED, NOW)  # someone changed it meanwhile
            with pytest.raises(Conflict):
                u.orders.set_status("SO-404", S.RELEASED, S.PACKING, NOW)
            u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.claim_of("SO-1").status is S.PACKING

    def test_held_by_is_the_order_a_station_is_packing_its_newest_claim(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, *(an_order(f"SO-{i}", {"TS-1": 1}) for i in range(1, 5)))
        with stocked() as u:
            for order_id, station, at in (("SO-1", "BENCH-01", NOW), ("SO-2", "BENCH-01", NOW + hours(1)),
                                          ("SO-3", "BENCH-02", NOW + hours(2)), ("SO-4", "BENCH-01", NOW + hours(3))):
                u.orders.try_claim(order_id, station, "Pat", at)
            for order_id in ("SO-1", "SO-2", "SO-3"):
                u.orders.set_status(order_id, S.RELEASED, S.PACKING, NOW)
            # SO-4 is claimed but not packing (claimed, not opened yet): not held
            assert u.orders.held_by("BENCH-01") == "SO-2"
            assert u.orders.held_by("BENCH-02") == "SO-3"
            assert u.orders.held_by("BENCH-09") is None

    def test_claims_lists_held_orders_oldest_claim_first(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, *(an_order(f"SO-{i}", {"TS-1": 1}) for i in range(1, 4)))
        with stocked() as u:
            u.orders.try_claim("SO-2", "BENCH-02", "Olu", NOW)
            u.orders.try_claim("SO-3", "BENCH-01", "Pat", NOW - hours(1))
            assert u.orders.claims() == [Claim("SO-3", S.RELEASED, "BENCH-01", "Pat", NOW - hours(1)),
                                         Claim("SO-2", S.RELEASED, "BENCH-02", "Olu", NOW)]

    def test_ready_lists_free_released_orders_by_number(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-3", {"TS-1": 1}, tote="T-3"), an_order("SO-1", {"TS-1": 1}),
                   an_order("SO-2", {"TS-1": 1}), an_order("SO-4", {"TS-1": 1}, status=S.ON_HOLD),
                   an_order("SO-0", {"TS-1": 1}, status=S.PICKING))
        with stocked() as u:
            u.orders.try_claim("SO-2", "BENCH-01", "Pat", NOW)
            assert u.orders.ready(10) == [("SO-1", None), ("SO-3", "T-3")]
            assert u.orders.ready(1) == [("SO-1", None)]

    def test_next_to_pick_gives_the_oldest_free_released_orders(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}, placed_at=NOW - hours(1)),
                   an_order("SO-2", {"TS-1": 2, "CO-1": 1}, placed_at=NOW - hours(3)),
                   an_order("SO-3", {"TS-1": 1}, placed_at=NOW - hours(2), carrier="UPS"),
                   an_order("SO-4", {"TS-1": 1}, placed_at=NOW - hours(9), status=S.PICKING),
                   an_order("SO-5", {"TS-1": 1}, placed_at=NOW - hours(8)))
        with stocked() as u:
            u.orders.try_claim("SO-5", "BENCH-01", "Pat", NOW)
            picked = u.orders.next_to_pick(2)
            assert [o.order_id for o in picked] == ["SO-2", "SO-3"]
            assert picked[0] == an_order("SO-2", {"TS-1": 2, "CO-1": 1}, placed_at=NOW - hours(3))  # whole orders
            assert [o.order_id for o in u.orders.next_to_pick(10, carrier="ups")] == ["SO-3"]  # any case
            assert [o.order_id for o in u.orders.next_to_pick(10, carrier="DHL")] == ["SO-2", "SO-1"]

    def test_set_wave_add_packed_and_set_short_change_the_order(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 4, "CO-1": 2}))
        with stocked() as u:
            u.orders.set_wave("SO-1", "WAVE-1")
            u.orders.add_packed("SO-1", 1, 3)
            u.orders.add_packed("SO-1", 1, -1)
            u.orders.set_short("SO-1", 2, 2, "out of stock")
            u.commit()
        with stocked(readonly=True) as u:
            order = u.orders.get("SO-1")
        assert order is not None and order.wave_id == "WAVE-1"
        assert (order.lines[0].packed, order.lines[0].short) == (2, 0)
        assert (order.lines[1].packed, order.lines[1].short, order.lines[1].short_reason) == (0, 2, "out of stock")

    def test_imported_tells_fingerprint_status_and_holder(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}), an_order("SO-2", {"TS-1": 1}, status=S.ON_HOLD))
        with stocked() as u:
            u.orders.try_claim("SO-1", "BENCH-01", "Pat", NOW)
            assert u.orders.imported(["SO-1", "SO-2", "SO-404"]) == {
                "SO-1": ImportedState(fingerprint="fp-SO-1", status="released", held_by="BENCH-01"),
                "SO-2": ImportedState(fingerprint="fp-SO-2", status="on_hold", held_by=None),
            }
            assert u.orders.imported([]) == {}

    def test_open_order_with_tote_finds_another_open_order_on_the_tote(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}, tote="T-1", status=S.PACKED),
                   an_order("SO-2", {"TS-1": 1}, tote="T-1", status=S.CANCELLED),
                   an_order("SO-3", {"TS-1": 1}, tote="T-2", status=S.ON_HOLD))
        with stocked(readonly=True) as u:
            assert u.orders.open_order_with_tote("T-1", "SO-9") is None  # packed and cancelled free it
            assert u.orders.open_order_with_tote("T-2", "SO-9") == ("SO-3", S.ON_HOLD)
            assert u.orders.open_order_with_tote("T-2", "SO-3") is None  # itself does not count

    def test_add_many_stores_any_text_and_time_exactly(self, stocked: UnitOfWorkFactory) -> None:
        # PostgreSQL's add_many writes with COPY, whose text format has its own escapes (tab, newline,
        # backslash, \N for NULL): the values below must come back as they went in
        from datetime import timezone

        awkward = replace(an_order("SO-TXT", {"TS-1": 2, "CO-1": 1}, placed_at=datetime(2026, 3, 10, 8, 0, 0, 123456,
                                                                                       tzinfo=timezone(timedelta(hours=5, minutes=30)))),
                          customer_name="Tab\there \\N \\ back\\slash", customer_phone="",
                          ship_to=replace(an_order("X", {}).ship_to, name="Line\nbreak\r\n„Zoë“ 東京 👍", line2="",
                                          region="Île-de-France\t"),
                          tracking_number="\\N", label_url="http://x.test/a b?c=d&e='f'\"g\"")
        # alone (PostgreSQL: one statement, the rows as JSON) and among 300 others (COPY)
        many = [an_order(f"SO-F{i}", {"TS-1": 1, "HW-1": 2}) for i in range(300)]
        add_orders(stocked, awkward)
        add_orders(stocked, *many[:150], replace(awkward, order_id="SO-TXT2"), *many[150:])
        for order_id in ("SO-TXT", "SO-TXT2"):
            with stocked(readonly=True) as u:
                got = u.orders.get(order_id)
            assert got is not None
            assert got.customer_name == awkward.customer_name and got.customer_phone == ""
            assert got.ship_to == awkward.ship_to and got.tracking_number == "\\N" and got.label_url == awkward.label_url
            assert got.placed_at == awkward.placed_at and got.placed_at.utcoffset() is not None
            assert got.lines == awkward.lines
        with stocked(readonly=True) as u:
            assert u.orders.get("SO-F299").lines == many[299].lines

    def test_add_many_refuses_an_order_twice_or_a_line_of_no_product(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}))
        for bad in (an_order("SO-1", {"TS-1": 9}), an_order("SO-2", {"NO-SUCH-SKU": 1})):
            with pytest.raises(StorageError), stocked() as u:
                u.orders.add_many([(an_order("SO-OK", {"TS-1": 1}), "fp"), (bad, "fp")], NOW)
                u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.get("SO-OK") is None and u.orders.get("SO-2") is None
            assert u.orders.get("SO-1").lines[0].qty == 1

    def test_replace_overwrites_data_and_lines_and_keeps_the_claim(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1, "CO-1": 1}, tote="T-1"))
        new = an_order("SO-1", {"HW-1": 3}, tote="T-9", carrier="UPS", status=S.ON_HOLD)
        new.ship_to = Address("Bob", "Elsewhere 1", city="Köln", postcode="50667", country="DE")
        with stocked() as u:
            u.orders.try_claim("SO-1", "BENCH-01", "Pat", NOW)
            u.orders.replace(new, "fp-new", NOW + hours(1))
            u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.get("SO-1") == new
            assert u.orders.imported(["SO-1"])["SO-1"] == ImportedState("fp-new", "on_hold", "BENCH-01")


# === catalog =================================================================================


class TestCatalog:
    def test_products_come_with_their_unit_and_pack_barcodes(self, stocked: UnitOfWorkFactory) -> None:
        with stocked(readonly=True) as u:
            found = u.catalog.products(["TS-1", "EL-1", "NO-SUCH"])
        assert set(found) == {"TS-1", "EL-1"}
        tee = found["TS-1"]
        assert (tee.name, tee.weight_g, tee.location, tee.tracking) == ("Cotton tee", 200, "A-01-01", Tracking.NONE)
        assert set(tee.barcodes) == {TEE} and [(p.barcode, p.qty) for p in tee.pack_barcodes] == [(TEE_SIX, 6)]
        assert found["EL-1"].tracking is Tracking.SERIAL
        with stocked(readonly=True) as u:
            assert u.catalog.products([]) == {}

    def test_by_barcode_resolves_unit_code_pack_code_and_sku(self, stocked: UnitOfWorkFactory) -> None:
        with stocked(readonly=True) as u:
            unit, pack, sku = u.catalog.by_barcode(TEE), u.catalog.by_barcode(TEE_SIX), u.catalog.by_barcode("HW-1")
            assert u.catalog.by_barcode("05900000000992") is None
        assert unit is not None and (unit[0].sku, unit[1]) == ("TS-1", 1)
        assert pack is not None and (pack[0].sku, pack[1]) == ("TS-1", 6)
        assert sku is not None and (sku[0].sku, sku[1]) == ("HW-1", 1)

    def test_known_skus(self, stocked: UnitOfWorkFactory) -> None:
        with stocked(readonly=True) as u:
            assert u.catalog.known_skus(["TS-1", "XX-1", "CO-1", "TS-1"]) == {"TS-1", "CO-1"}
            assert u.catalog.known_skus([]) == set()

    def test_carton_types_lightest_first(self, stocked: UnitOfWorkFactory) -> None:
        tie = CartonType("BOX-A", "Another small box", 150)
        with stocked() as u:
            u.catalog.put_cartons([(tie, "fp-a")])
            assert u.catalog.carton_type("BOX-M") == BOX_M
            assert u.catalog.carton_type("BOX-404") is None
            assert u.catalog.carton_types() == [tie, BOX_S, BOX_M]  # same tare: by code

    def test_put_cartons_overwrites_by_code(self, stocked: UnitOfWorkFactory) -> None:
        bigger = CartonType("BOX-S", "Small box v2", 160, 260, 190, 110, 6000)
        with stocked() as u:
            assert u.catalog.imported_cartons(["BOX-S", "BOX-X"]) == {"BOX-S": "fp-s"}
            u.catalog.put_cartons([(bigger, "fp-s2")])
            u.commit()
        with stocked(readonly=True) as u:
            assert u.catalog.carton_type("BOX-S") == bigger
            assert u.catalog.imported_cartons(["BOX-S"]) == {"BOX-S": "fp-s2"}

    def test_lots_earliest_expiry_first_undated_last(self, stocked: UnitOfWorkFactory) -> None:
        lots = [StockLot("CO-1", "L-NONE", None, "B-1", 3), StockLot("CO-1", "L-LATE", date(2027, 1, 1), "B-1", 1),
                StockLot("CO-1", "L-B", date(2026, 6, 1), "B-2", 2), StockLot("CO-1", "L-A", date(2026, 6, 1), "B-2", 2),
                StockLot("HW-1", "M-1", None, "C-1", 9)]
        with stocked() as u:
            u.catalog.put_lots(lots)
            u.commit()
        with stocked(readonly=True) as u:
            assert [x.lot for x in u.catalog.lots("CO-1")] == ["L-A", "L-B", "L-LATE", "L-NONE"]
            assert u.catalog.lots("CO-1")[2] == StockLot("CO-1", "L-LATE", date(2027, 1, 1), "B-1", 1)
            assert u.catalog.lots("TS-1") == []

    def test_put_lots_overwrites_by_sku_and_lot_and_refuses_an_unknown_product(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.catalog.put_lots([StockLot("HW-1", "M-1", None, "C-1", 9)])
            u.catalog.put_lots([StockLot("HW-1", "M-1", date(2030, 1, 1), "C-2", 4)])
            u.commit()
        with stocked(readonly=True) as u:
            assert u.catalog.lots("HW-1") == [StockLot("HW-1", "M-1", date(2030, 1, 1), "C-2", 4)]
        with pytest.raises(StorageError), stocked() as u:
            u.catalog.put_lots([StockLot("NO-SUCH", "L", None, "", 1)])

    def test_imported_products_and_barcode_owners(self, stocked: UnitOfWorkFactory) -> None:
        with stocked(readonly=True) as u:
            assert u.catalog.imported_products(["TS-1", "CO-1", "XX"]) == {"TS-1": "fp-ts", "CO-1": "fp-co"}
            assert u.catalog.barcode_owners([TEE, TEE_SIX, MUG, "NOPE"]) == {TEE: "TS-1", TEE_SIX: "TS-1", MUG: "HW-1"}

    def test_put_products_overwrites_a_product_and_its_barcodes(self, stocked: UnitOfWorkFactory) -> None:
        renamed = a_product("TS-1", "Organic tee", 210, "TEE-NEW", tracking=Tracking.LOT, location="A-09")
        with stocked() as u:
            u.catalog.put_products([(renamed, "fp-ts2")], NOW)
            # the old codes are free again: another product may take them in the next import
            u.catalog.put_products([(a_product("TS-2", "Tee, other cut", 190, TEE), "fp")], NOW)
            u.commit()
        with stocked(readonly=True) as u:
            tee = u.catalog.products(["TS-1"])["TS-1"]
            assert (tee.name, tee.weight_g, tee.tracking, tee.location) == ("Organic tee", 210, Tracking.LOT, "A-09")
            assert tee.barcodes == ("TEE-NEW",) and tee.pack_barcodes == ()
            assert u.catalog.by_barcode(TEE_SIX) is None
            assert u.catalog.by_barcode(TEE)[0].sku == "TS-2"
            assert u.catalog.imported_products(["TS-1"]) == {"TS-1": "fp-ts2"}

    def test_a_barcode_of_another_product_is_refused(self, stocked: UnitOfWorkFactory) -> None:
        with pytest.raises(StorageError), stocked() as u:
            u.catalog.put_products([(a_product("TS-9", "Copy", 1, MUG), "fp")], NOW)
            u.commit()
        with stocked(readonly=True) as u:
            assert u.catalog.products(["TS-9"]) == {}


# === users ===================================================================================


class TestUsers:
    def test_add_and_find_by_badge_name_and_id(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            pat = u.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            lee = u.users.add("Lee Lead", Role.LEAD, "LEAD-001", "argon2-hash", NOW)
            u.commit()
        assert pat.id != lee.id
        assert (pat.name, pat.role, pat.badge, pat.has_pin, pat.active) == ("Pat Packer", Role.PACKER, "PACKER-001", False, True)
        assert lee.has_pin
        with uow(readonly=True) as u:
            found = u.users.by_badge("LEAD-001")
            assert found == Credentials(user=lee, pin_hash="argon2-hash", failed_pins=0, locked_until=None)
            assert u.users.by_name("Lee Lead") == found and u.users.by_id(lee.id) == found
            assert u.users.by_badge("lead-001") is None  # badges are exact
            assert u.users.by_name("Nobody") is None and u.users.by_id(9999) is None

    @pytest.mark.parametrize("name, badge", [("Pat Packer", "OTHER-1"), ("Someone Else", "PACKER-001")])
    def test_a_name_or_badge_is_given_once(self, uow: UnitOfWorkFactory, name: str, badge: str) -> None:
        with uow() as u:
            u.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            u.commit()
        with pytest.raises(StorageError), uow() as u:
            u.users.add(name, Role.PACKER, badge, None, NOW)
            u.commit()
        with uow(readonly=True) as u:
            assert len(u.users.list()) == 1

    def test_update_changes_what_it_is_given(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            pat = u.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            u.users.update(pat.id, role=Role.LEAD)
            u.users.update(pat.id, pin_hash="hash-1")
            u.users.update(pat.id, active=False)
            u.users.update(pat.id)  # nothing given: nothing changes
            u.commit()
        with uow(readonly=True) as u:
            creds = u.users.by_id(pat.id)
        assert creds is not None
        assert (creds.user.role, creds.user.active, creds.user.has_pin, creds.pin_hash) == (Role.LEAD, False, True, "hash-1")

    def test_pin_failed_counts_and_locks_at_the_threshold(self, uow: UnitOfWorkFactory) -> None:
        until = NOW + timedelta(minutes=5)
        with uow() as u:
            pat = u.users.add("Pat Packer", Role.PACKER, "PACKER-001", "h", NOW)
            assert [u.users.pin_failed(pat.id, 3, until) for _ in range(2)] == [1, 2]
            assert u.users.by_id(pat.id).locked_until is None
            assert u.users.pin_failed(pat.id, 3, until) == 3  # the third: locked
            creds = u.users.by_id(pat.id)
            assert creds is not None and (creds.failed_pins, creds.locked_until) == (0, until)
            assert creds.user.locked_until == until
            assert u.users.pin_failed(pat.id, 3, until + hours(1)) == 1  # counting starts again
            assert u.users.by_id(pat.id).locked_until == until
            u.users.pin_ok(pat.id)
            creds = u.users.by_id(pat.id)
            assert creds is not None and (creds.failed_pins, creds.locked_until) == (0, None)
            with pytest.raises(KeyError):
                u.users.pin_failed(9999, 3, until)

    def test_wrong_pins_at_two_stations_at_once_all_count(self, backend, uow: UnitOfWorkFactory) -> None:
        """One atomic UPDATE on SQL (the row lock serialises them on PostgreSQL, BEGIN IMMEDIATE
        on SQLite); the fake's writer lock does the same."""
        with uow() as u:
            pat = u.users.add("Pat Packer", Role.PACKER, "PACKER-001", "h", NOW)
            u.commit()
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def fail_pins(station: str) -> None:
            factory = backend.factory(station)
            start.wait()
            try:
                for _ in range(3):
                    with factory() as u2:
                        u2.users.pin_failed(pat.id, 100, NOW)
                        u2.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=fail_pins, args=(f"BENCH-0{i}",)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        with uow(readonly=True) as u:
            assert u.users.by_id(pat.id).failed_pins == 6

    def test_list_by_name(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            for name, badge in (("Zoe", "B-3"), ("Ann", "B-1"), ("Max", "B-2")):
                u.users.add(name, Role.PACKER, badge, None, NOW)
            assert [x.name for x in u.users.list()] == ["Ann", "Max", "Zoe"]


# === shipments ===============================================================================


@pytest.fixture
def packing(stocked: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """SO-1 (2 tees, 2 earbuds) and SO-2 (1 earbud) stored."""
    add_orders(stocked, an_order("SO-1", {"TS-1": 2, "EL-1": 2}), an_order("SO-2", {"EL-1": 1}))
    return stocked


class TestShipments:
    def test_cartons_in_order_with_their_live_items(self, packing: UnitOfWorkFactory) -> None:
        first, second, undone = item(1, carton=1), item(1, carton=2), item(1, carton=1)
        with packing() as u:
            u.shipments.add_carton("SO-1", Carton(2, BOX_M), "Pat", "BENCH-01", NOW)
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_carton("SO-2", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            for it in (first, second, undone):
                u.shipments.add_item("SO-1", it, "BENCH-01", NOW)
            u.shipments.undo_item(undone, "Pat", NOW)
            u.commit()
        with packing(readonly=True) as u:
            cartons = u.shipments.cartons("SO-1", TYPES)
            assert u.shipments.cartons("SO-404", TYPES) == []
        assert [(c.seq, c.type, c.status) for c in cartons] == [(1, BOX_S, CartonStatus.OPEN), (2, BOX_M, CartonStatus.OPEN)]
        assert [i.scan_id for i in cartons[0].items] == [first.scan_id]
        assert cartons[1].items == [replace_at(second, NOW)]

    def test_a_carton_of_an_unknown_type_still_shows(self, packing: UnitOfWorkFactory) -> None:
        with packing() as u:
            u.shipments.add_carton("SO-1", Carton(1, CartonType("BOX-OLD", "Old", 99)), "Pat", "BENCH-01", NOW)
            assert u.shipments.cartons("SO-1", TYPES)[0].type == CartonType("BOX-OLD", "BOX-OLD", 0)

    def test_a_carton_number_is_used_once_per_order(self, packing: UnitOfWorkFactory) -> None:
        with pytest.raises(StorageError), packing() as u:
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_carton("SO-2", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)  # another order: fine
            u.shipments.add_carton("SO-1", Carton(1, BOX_M), "Olu", "BENCH-02", NOW)

    def test_save_carton_stores_the_seal(self, packing: UnitOfWorkFactory) -> None:
        sealed = Carton(1, BOX_M, CartonStatus.CLOSED, measured_g=612, sscc="006141410000000019", override_by="Lee Lead",
                        tracking_number="AWB-1", expected_g=600)
        with packing() as u:
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.save_carton("SO-1", Carton(1, BOX_S, CartonStatus.BLOCKED, measured_g=700, expected_g=600), NOW)
            assert u.shipments.cartons("SO-1", TYPES)[0].closed_at is None  # blocked is not closed
            u.shipments.save_carton("SO-1", sealed, NOW + hours(1))
            u.commit()
        with packing(readonly=True) as u:
            got = u.shipments.cartons("SO-1", TYPES)[0]
            assert u.shipments.carton_by_sscc("006141410000000019") == ("SO-1", 1)
            assert u.shipments.carton_by_sscc("006141410000000026") is None
        assert got == Carton(1, BOX_M, CartonStatus.CLOSED, [], 612, "006141410000000019", "Lee Lead", "AWB-1", 600,
                             closed_at=NOW + hours(1))

    def test_an_sscc_is_on_one_carton_only(self, packing: UnitOfWorkFactory) -> None:
        with packing() as u:
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_carton("SO-2", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.save_carton("SO-1", Carton(1, BOX_S, CartonStatus.CLOSED, sscc="006141410000000019"), NOW)
            u.commit()
        with pytest.raises(StorageError), packing() as u:
            u.shipments.save_carton("SO-2", Carton(1, BOX_S, CartonStatus.CLOSED, sscc="006141410000000019"), NOW)
            u.commit()

    def test_remove_carton_drops_an_empty_carton(self, packing: UnitOfWorkFactory) -> None:
        with packing() as u:
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_carton("SO-1", Carton(2, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.remove_carton("SO-1", 2)
            u.commit()
        with packing(readonly=True) as u:
            assert [c.seq for c in u.shipments.cartons("SO-1", TYPES)] == [1]

    def test_add_item_stores_the_scan_and_registers_its_serial(self, packing: UnitOfWorkFactory) -> None:
        tee = item(1, "TS-1", qty=2, lot="L-7", expiry=date(2027, 5, 31), source="typed")
        buds = item(2, "EL-1", serial="SN-0001", source="serial")
        with packing() as u:
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_item("SO-1", tee, "BENCH-01", NOW)
            u.shipments.add_item("SO-1", buds, "BENCH-02", NOW + hours(1))
            u.commit()
        with packing(readonly=True) as u:
            assert u.shipments.cartons("SO-1", TYPES)[0].items == [replace_at(tee, NOW), replace_at(buds, NOW + hours(1))]
            assert u.shipments.serial_shipped("EL-1", "SN-0001")
            assert not u.shipments.serial_shipped("EL-1", "SN-0002")
            assert not u.shipments.serial_shipped("TS-1", "SN-0001")  # a serial is per product
            assert [r.station_id for r in u.shipments.scans("SO-1")] == ["BENCH-01", "BENCH-02"]

    def test_a_serial_leaves_once_a_second_live_scan_is_refused(self, packing: UnitOfWorkFactory) -> None:
        """SQL: the serial registry's primary key refuses it (IntegrityError, a StorageError
        when it leaves the unit of work); the fake refuses it the same way."""
        with packing() as u:
            for order_id in ("SO-1", "SO-2"):
                u.shipments.add_carton(order_id, Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_item("SO-1", item(2, "EL-1", serial="SN-0001"), "BENCH-01", NOW)
            u.commit()
        with pytest.raises(StorageError), packing() as u:
            u.shipments.add_item("SO-2", item(1, "EL-1", serial="SN-0001"), "BENCH-02", NOW)
            u.commit()
        with packing(readonly=True) as u:
            assert u.shipments.scans("SO-2") == []

    def test_undo_item_frees_its_serial_and_keeps_it_in_the_history(self, packing: UnitOfWorkFactory) -> None:
        buds = item(2, "EL-1", serial="SN-0001")
        with packing() as u:
            for order_id in ("SO-1", "SO-2"):
                u.shipments.add_carton(order_id, Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            u.shipments.add_item("SO-1", buds, "BENCH-01", NOW)
            u.shipments.undo_item(buds, "Lee Lead", NOW + hours(1))
            assert not u.shipments.serial_shipped("EL-1", "SN-0001")
            u.shipments.add_item("SO-2", item(1, "EL-1", serial="SN-0001"), "BENCH-01", NOW + hours(2))  # may leave now
            u.commit()
        with packing(readonly=True) as u:
            assert u.shipments.cartons("SO-1", TYPES)[0].items == []
            (record,) = u.shipments.scans("SO-1")
            assert u.shipments.serial_shipped("EL-1", "SN-0001")
        assert (record.item.scan_id, record.undone_at, record.undone_by) == (buds.scan_id, NOW + hours(1), "Lee Lead")

    def test_scans_keep_the_order_they_happened_in_even_when_the_clock_steps_back(
            self, packing: UnitOfWorkFactory) -> None:
        scans = [item(1), item(1), item(2, "EL-1", serial="SN-1")]
        with packing() as u:
            u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat", "BENCH-01", NOW)
            for i, it in enumerate(scans):
                u.shipments.add_item("SO-1", it, "BENCH-01", NOW - timedelta(seconds=i))  # clock set back
            u.shipments.undo_item(scans[1], "Pat", NOW)
            u.commit()
        with packing(readonly=True) as u:
            history = u.shipments.scans("SO-1")
        assert [r.item.scan_id for r in history] == [s.scan_id for s in scans]
        assert [r.undone_at is not None for r in history] == [False, True, False]


# === print jobs ==============================================================================


class TestPrintJobs:
    def test_add_and_get_keep_the_whole_job(self, uow: UnitOfWorkFactory) -> None:
        job = PrintJob(id="j-1", printer="label", target="folder:labels", kind="shipping_label", ref="SO-1/0061",
                       payload=bytes(range(256)), file_name="SO-1-0061.pdf", reason="reprint: label damaged",
                       created_at=NOW)
        with uow() as u:
            u.print_jobs.add(job, "BENCH-01", NOW + hours(1))
            u.print_jobs.add(PrintJob(id="j-2", printer="document", target="tcp://p:9100", kind="packing_slip",
                                      ref="SO-1", payload=b"x"), "BENCH-01", NOW + hours(1))
            u.commit()
        with uow(readonly=True) as u:
            assert u.print_jobs.get("j-1") == job
            assert u.print_jobs.get("j-2").created_at == NOW + hours(1)  # none given: now
            assert u.print_jobs.get("j-404") is None

    def test_waiting_lists_this_stations_unprinted_jobs_oldest_first(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            for job_id, at, status, station in (
                    ("j-c", NOW + hours(2), JobStatus.PENDING, "BENCH-01"), ("j-a", NOW, JobStatus.FAILED, "BENCH-01"),
                    ("j-b", NOW + hours(1), JobStatus.INTERRUPTED, "BENCH-01"),
                    ("j-d", NOW, JobStatus.DONE, "BENCH-01"), ("j-e", NOW, JobStatus.SENDING, "BENCH-01"),
                    ("j-f", NOW, JobStatus.PENDING, "BENCH-02")):
                u.print_jobs.add(a_job(job_id, at=at, status=status), station, at)
            assert [j.id for j in u.print_jobs.waiting("BENCH-01")] == ["j-a", "j-b", "j-c"]
            assert [j.id for j in u.print_jobs.waiting("BENCH-02")] == ["j-f"]

    def test_next_pending_is_the_oldest_pending_job_of_the_station(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            assert u.print_jobs.next_pending("BENCH-01") is None
            u.print_jobs.add(a_job("j-2", at=NOW), "BENCH-01", NOW)
            u.print_jobs.add(a_job("j-1", at=NOW), "BENCH-01", NOW)  # same time: by id
            u.print_jobs.add(a_job("j-0", at=NOW - hours(1), status=JobStatus.FAILED), "BENCH-01", NOW)
            u.print_jobs.add(a_job("j-9", at=NOW - hours(1)), "BENCH-02", NOW)
            assert u.print_jobs.next_pending("BENCH-01").id == "j-1"

    def test_a_job_goes_pending_sending_done(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.print_jobs.add(a_job("j-1"), "BENCH-01", NOW)
            assert u.print_jobs.start("j-1", NOW)
            assert not u.print_jobs.start("j-1", NOW)  # not pending any more: a second worker backs off
            assert not u.print_jobs.start("j-404", NOW)
            assert u.print_jobs.next_pending("BENCH-01") is None
            u.print_jobs.finish("j-1", JobStatus.DONE, "", NOW)
            u.commit()
        with uow(readonly=True) as u:
            job = u.print_jobs.get("j-1")
        assert job is not None and (job.status, job.attempts, job.error) == (JobStatus.DONE, 1, "")

    def test_a_failed_job_keeps_its_error_until_requeued(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.print_jobs.add(a_job("j-1"), "BENCH-01", NOW)
            u.print_jobs.add(a_job("j-2"), "BENCH-01", NOW)
            u.print_jobs.start("j-1", NOW)
            u.print_jobs.finish("j-1", JobStatus.FAILED, "printer offline", NOW)
            failed = u.print_jobs.get("j-1")
            assert failed is not None and (failed.status, failed.error, failed.attempts) == (JobStatus.FAILED, "printer offline", 1)
            assert u.print_jobs.requeue("j-1", NOW)
            assert u.print_jobs.get("j-1").status is JobStatus.PENDING
            assert not u.print_jobs.requeue("j-1", NOW)  # pending: nothing to requeue
            assert not u.print_jobs.requeue("j-2", NOW)
            u.print_jobs.start("j-2", NOW)
            u.print_jobs.finish("j-2", JobStatus.DONE, "", NOW)
            assert not u.print_jobs.requeue("j-2", NOW)  # printed: never again on its own
            assert not u.print_jobs.requeue("j-404", NOW)

    def test_interrupt_sending_marks_half_sent_jobs_and_returns_them(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            for job_id, station in (("j-1", "BENCH-01"), ("j-2", "BENCH-01"), ("j-3", "BENCH-02")):
                u.print_jobs.add(a_job(job_id), station, NOW)
                u.print_jobs.start(job_id, NOW)
            u.print_jobs.add(a_job("j-4"), "BENCH-01", NOW)  # pending: left alone
            interrupted = u.print_jobs.interrupt_sending("BENCH-01", NOW + hours(1))
            u.commit()
        assert sorted(j.id for j in interrupted) == ["j-1", "j-2"]
        assert {j.status for j in interrupted} == {JobStatus.INTERRUPTED}
        with uow(readonly=True) as u:
            statuses = {i: u.print_jobs.get(i).status for i in ("j-1", "j-2", "j-3", "j-4")}
            assert "check whether it printed" in u.print_jobs.get("j-1").error
            assert u.print_jobs.interrupt_sending("BENCH-01", NOW) == []
        assert statuses == {"j-1": JobStatus.INTERRUPTED, "j-2": JobStatus.INTERRUPTED, "j-3": JobStatus.SENDING,
                            "j-4": JobStatus.PENDING}


# === events ==================================================================================


class TestEvents:
    def test_events_are_stored_with_station_time_and_order(self, uow: UnitOfWorkFactory) -> None:
        first = an_event("scan.recorded", sku="TS-1", expiry=date(2027, 5, 31), qty=2)
        dated = Event("order.packed", "SO-1", "system:print-worker", None, {}, occurred_at=NOW - hours(5))
        with uow() as u:
            assert u.events.add(first, "BENCH-01", NOW) == first.id
            u.events.add(an_event("user.added", None, name="Olu"), "BENCH-01", NOW)
            u.events.add(dated, "BENCH-02", NOW + hours(1))
            u.events.add(an_event("scan.recorded", "SO-2"), "BENCH-01", NOW)
            u.commit()
        with uow(readonly=True) as u:
            got = u.events.for_order("SO-1")
            assert u.events.for_order("SO-404") == []
        assert [e.id for e in got] == [first.id, dated.id]
        e = got[0]
        assert (e.kind, e.actor, e.user, e.station_id, e.occurred_at) == (
            "scan.recorded", "person:Pat Packer", "Pat Packer", "BENCH-01", NOW)
        assert e.payload == {"sku": "TS-1", "expiry": "2027-05-31", "qty": 2}  # JSON: a date comes back as text
        assert (got[1].station_id, got[1].occurred_at, got[1].user) == ("BENCH-02", NOW - hours(5), None)
        assert got[0].seq < got[1].seq

    def test_since_gives_events_at_or_after_in_stored_order(self, uow: UnitOfWorkFactory) -> None:
        events = [an_event(f"k.{i}") for i in range(4)]
        with uow() as u:
            for ev, at in zip(events, (NOW - hours(1), NOW + hours(2), NOW, NOW + hours(1)), strict=True):
                u.events.add(ev, "BENCH-01", at)
            assert [e.kind for e in u.events.since(NOW)] == ["k.1", "k.2", "k.3"]
            assert u.events.since(NOW + hours(3)) == []

    def test_an_event_id_is_stored_once(self, uow: UnitOfWorkFactory) -> None:
        ev = an_event("scan.recorded")
        with uow() as u:
            u.events.add(ev, "BENCH-01", NOW)
            u.commit()
        with pytest.raises(StorageError), uow() as u:
            u.events.add(ev, "BENCH-02", NOW)
            u.commit()


# === number series ===========================================================================


def draw(factory: UnitOfWorkFactory, n: int, series: str = "sscc") -> list[int]:
    """*n* numbers, each in a unit of work of its own, as sealing cartons draws them."""
    out = []
    for _ in range(n):
        with factory() as u:
            out.append(u.numbers.next(series))
            u.commit()
    return out


class TestNumberSeries:
    def test_next_never_repeats_across_blocks(self, backend) -> None:
        numbers = draw(backend.factory(block_size=7), 30)
        assert len(set(numbers)) == 30

    def test_numbers_come_from_the_stations_range(self, backend) -> None:
        numbers = draw(backend.factory(ranges={"sscc": (5000, 5999)}, block_size=10), 25)
        assert all(5000 <= n <= 5999 for n in numbers) and len(set(numbers)) == 25

    def test_several_numbers_in_one_unit_of_work_differ(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            drawn = [u.numbers.next("sscc") for _ in range(5)]
            u.commit()
        assert len(set(drawn)) == 5

    def test_two_stations_on_one_database_draw_disjoint_blocks(self, backend) -> None:
        one, two = backend.factory("BENCH-01", block_size=4), backend.factory("BENCH-02", block_size=4)
        mine: list[int] = []
        theirs: list[int] = []
        for _ in range(6):  # taking turns, each needs a second block
            mine += draw(one, 1)
            theirs += draw(two, 1)
        assert not set(mine) & set(theirs)
        assert len(set(mine)) == len(set(theirs)) == 6

    def test_series_are_independent(self, backend) -> None:
        factory = backend.factory(ranges={"sscc": (100, 199), "manifest": (1, 99)}, block_size=10)
        assert draw(factory, 2, "manifest") == [1, 2]
        assert draw(factory, 2, "sscc") == [100, 101]  # not the manifests' numbers, nor do they use any
        assert draw(factory, 1, "manifest") == [3]

    def test_a_used_up_range_is_refused(self, backend) -> None:
        factory = backend.factory(ranges={"sscc": (1, 5)}, block_size=2)
        assert sorted(draw(factory, 5)) == [1, 2, 3, 4, 5]
        with pytest.raises(StorageError, match=r"used up.*\[numbers\]"), factory() as u:
            u.numbers.next("sscc")


# === returns =================================================================================


class TestReturns:
    def test_put_get_for_order_and_imported(self, packing: UnitOfWorkFactory) -> None:
        rma2 = Return("RMA-2", "SO-1", "broken", ReturnStatus.PICKED, [ReturnLine(2, "EL-1", 1), ReturnLine(1, "TS-1", 2)])
        rma1 = Return("RMA-1", "SO-1", "too small", ReturnStatus.INITIATED, [ReturnLine(1, "TS-1", 1, "A", "restock")])
        with packing() as u:
            u.returns.put(rma2, "fp-2", NOW)
            u.returns.put(rma1, "fp-1", NOW)
            u.commit()
        with packing(readonly=True) as u:
            assert u.returns.get("RMA-1") == rma1
            assert [ln.line_no for ln in u.returns.get("RMA-2").lines] == [1, 2]
            assert u.returns.get("RMA-404") is None
            assert [r.rma_id for r in u.returns.for_order("SO-1")] == ["RMA-1", "RMA-2"]
            assert u.returns.for_order("SO-2") == []
            assert u.returns.imported(["RMA-2", "RMA-404"]) == {
                "RMA-2": ImportedState(fingerprint="fp-2", status="picked", order_id="SO-1")}

    def test_put_overwrites_a_return_and_its_lines(self, packing: UnitOfWorkFactory) -> None:
        again = Return("RMA-1", "SO-1", "changed mind", ReturnStatus.RECEIVED, [ReturnLine(1, "EL-1", 1, "B", "refurbish")])
        with packing() as u:
            u.returns.put(Return("RMA-1", "SO-1", "too small", ReturnStatus.INITIATED,
                                 [ReturnLine(1, "TS-1", 1), ReturnLine(2, "TS-1", 1)]), "fp-1", NOW)
            u.returns.put(again, "fp-1b", NOW + hours(1))
            u.commit()
        with packing(readonly=True) as u:
            assert u.returns.get("RMA-1") == again
            assert u.returns.imported(["RMA-1"])["RMA-1"].fingerprint == "fp-1b"

    def test_a_return_parcel_is_found_by_its_tracking_number_and_awaits_pickup_while_initiated(
            self, packing: UnitOfWorkFactory) -> None:
        def ret(rma_id: str, order_id: str, status: ReturnStatus, number: str | None, carrier: str | None) -> Return:
            return Return(rma_id, order_id, "too small", status, [ReturnLine(1, "EL-1", 1)], tracking_number=number,
                          carrier=carrier)

        rma1 = ret("RMA-1", "SO-1", ReturnStatus.INITIATED, "JJD-RET-1", "DHL")
        with packing() as u:
            u.returns.put(ret("RMA-3", "SO-2", ReturnStatus.INITIATED, "JJD-RET-1", "DHL"), "fp-3", NOW)  # same parcel
            u.returns.put(rma1, "fp-1", NOW)
            u.returns.put(ret("RMA-2", "SO-1", ReturnStatus.PICKED, "JJD-RET-2", "DHL"), "fp-2", NOW)
            u.returns.put(ret("RMA-4", "SO-2", ReturnStatus.INITIATED, "1Z-RET-4", "UPS"), "fp-4", NOW)
            u.returns.put(ret("RMA-5", "SO-2", ReturnStatus.INITIATED, None, None), "fp-5", NOW)  # no parcel named
            u.returns.add(Return("RMA-6", "SO-1", "desk", ReturnStatus.INITIATED, [], origin="desk",
                                 tracking_number="JJD-RET-6", carrier="dhl"), NOW)
            u.commit()
        with packing(readonly=True) as u:
            assert u.returns.get("RMA-1") == rma1  # the parcel is stored with the return
            assert [r.rma_id for r in u.returns.with_tracking("JJD-RET-1")] == ["RMA-1", "RMA-3"]
            assert u.returns.with_tracking("JJD-RET-1")[0] == rma1
            assert [r.rma_id for r in u.returns.with_tracking("JJD-RET-2")] == ["RMA-2"]  # any status
            assert u.returns.with_tracking("JJD-404") == []
            assert u.returns.with_tracking("jjd-ret-1") == []  # a tracking number is taken as it is
            assert u.returns.for_order("SO-2")[0].tracking_number == "JJD-RET-1"
            # initiated only (RMA-2 is picked), of that carrier whatever its case, by RMA id
            assert u.returns.awaiting_pickup("DHL") == [("RMA-1", "JJD-RET-1"), ("RMA-3", "JJD-RET-1"),
                                                        ("RMA-6", "JJD-RET-6")]
            assert u.returns.awaiting_pickup("ups") == [("RMA-4", "1Z-RET-4")]
            assert u.returns.awaiting_pickup("GLS") == []
        with packing() as u:
            u.returns.set_status("RMA-1", ReturnStatus.INITIATED, ReturnStatus.PICKED, NOW + hours(1))
            u.returns.put(ret("RMA-4", "SO-2", ReturnStatus.INITIATED, None, None), "fp-4b", NOW)  # parcel dropped
            u.commit()
        with packing(readonly=True) as u:
            assert u.returns.awaiting_pickup("DHL") == [("RMA-3", "JJD-RET-1"), ("RMA-6", "JJD-RET-6")]
            assert u.returns.awaiting_pickup("UPS") == [] and u.returns.with_tracking("1Z-RET-4") == []

    def test_a_return_of_no_order_is_refused(self, packing: UnitOfWorkFactory) -> None:
        with pytest.raises(StorageError), packing() as u:
            u.returns.put(Return("RMA-9", "SO-404", "?", ReturnStatus.INITIATED, []), "fp", NOW)
            u.commit()


# === shipping: manifests at the dock, carrier label requests (issue 11) =========================


def sealed(u, order_id: str, seq: int, sscc: str, *, tracking: str | None = None, carrier: str | None = None,
           weight: int = 900) -> None:
    """A sealed carton of *order_id* (the order must exist)."""
    u.shipments.add_carton(order_id, Carton(seq, BOX_M), "Pat Packer", "BENCH-01", NOW)
    u.shipments.save_carton(order_id, Carton(seq, BOX_M, CartonStatus.CLOSED, measured_g=weight, sscc=sscc,
                                             tracking_number=tracking, label_carrier=carrier,
                                             shipment_id=f"sh-{sscc}" if carrier else None), NOW)


def open_manifest(carrier: str = "DHL", service: str = "", mid: str | None = None, at: datetime = NOW):
    from packstation.domain.shipping import Manifest, ManifestStatus

    return Manifest(id=mid or str(uuid.uuid4()), carrier=carrier, service=service, status=ManifestStatus.OPEN,
                    opened_at=at, opened_by="person:Dan Dispatch", station_id="DOCK-01")


@pytest.fixture
def shipped(stocked: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """SO-1 packed in two cartons (DHL labels), SO-2 packed in one (our own label), SO-3 open."""
    add_orders(stocked, an_order("SO-1", {"TS-1": 2}, status=S.PACKED), an_order("SO-2", {"TS-1": 1}, status=S.PACKED),
               an_order("SO-3", {"TS-1": 1}, carrier="UPS"))
    with stocked() as u:
        sealed(u, "SO-1", 1, "006141410000000012", tracking="00340434000000000011", carrier="DHL")
        sealed(u, "SO-1", 2, "006141410000000029", tracking="00340434000000000028", carrier="DHL")
        sealed(u, "SO-2", 1, "006141410000000036")
        u.commit()
    return stocked


class TestManifests:
    def test_a_carton_is_found_by_its_sscc_or_its_tracking_number_with_its_orders_state(
            self, shipped: UnitOfWorkFactory) -> None:
        with shipped(readonly=True) as u:
            by_sscc = u.manifests.carton("006141410000000029")
            by_number = u.manifests.carton("00340434000000000028")
            assert by_sscc == by_number
            assert (by_sscc.order_id, by_sscc.seq, by_sscc.status, by_sscc.order_status) == ("SO-1", 2, CartonStatus.CLOSED,
                                                                                             S.PACKED)
            assert (by_sscc.carrier, by_sscc.service, by_sscc.weight_g, by_sscc.label_carrier, by_sscc.shipment_id) == (
                "DHL", "Paket", 900, "DHL", "sh-006141410000000029")
            assert by_sscc.manifest_id is None and not by_sscc.label_pending
            assert u.manifests.carton("NOPE") is None and u.manifests.carton("  ") is None
            assert [c.seq for c in u.manifests.cartons_of(["SO-1", "SO-2"])["SO-1"]] == [1, 2]
            assert u.manifests.cartons_of(["SO-3"]) == {}

    def test_one_open_manifest_per_carrier_and_service(self, shipped: UnitOfWorkFactory) -> None:
        first = open_manifest()
        with shipped() as u:
            u.manifests.add(first)
            u.manifests.add(open_manifest("DHL", "EXPRESS"))
            u.commit()
        with pytest.raises(Conflict), shipped() as u:
            u.manifests.add(open_manifest("dhl"))
        with shipped(readonly=True) as u:
            found = u.manifests.open_for("dhl", "")
            assert found.id == first.id and found.cartons == [] and found.status.value == "open"
            assert u.manifests.open_for("DHL", "express").service == "EXPRESS"
            assert u.manifests.open_for("UPS", "") is None

    def test_load_unload_and_a_carton_on_one_manifest_only(self, shipped: UnitOfWorkFactory) -> None:
        a, b = open_manifest(), open_manifest("DHL", "PAKET")
        with shipped() as u:
            u.manifests.add(a)
            u.manifests.add(b)
            u.manifests.load(a.id, "SO-1", 1, "006141410000000012", "person:Dan", "DOCK-01", NOW)
            u.manifests.load(a.id, "SO-1", 2, "006141410000000029", "person:Dan", "DOCK-01", NOW + hours(0.1))
            u.commit()
        with pytest.raises(Conflict), shipped() as u:
            u.manifests.load(b.id, "SO-1", 1, "006141410000000012", "person:Dan", "DOCK-01", NOW)
        with shipped() as u:
            got = u.manifests.get(a.id)
            assert [(c.order_id, c.seq, c.load_seq, c.tracking_number, c.weight_g, c.service) for c in got.cartons] == [
                ("SO-1", 1, 1, "00340434000000000011", 900, "Paket"), ("SO-1", 2, 2, "00340434000000000028", 900, "Paket")]
            loaded = u.manifests.carton("006141410000000012")
            assert loaded.manifest_id == a.id and loaded.manifest_status.value == "open"
            assert u.manifests.unload(a.id, "SO-1", 2) and not u.manifests.unload(a.id, "SO-1", 2)
            assert not u.manifests.unload(b.id, "SO-1", 1)  # not on that one
            u.commit()
        with shipped(readonly=True) as u:
            assert [c.seq for c in u.manifests.get(a.id).cartons] == [1]
            assert [m.id for m in u.manifests.for_order("SO-1")] == [a.id]

    def test_a_close_happens_once_and_is_found_by_its_number_and_key(self, shipped: UnitOfWorkFactory) -> None:
        a = open_manifest()
        with shipped() as u:
            u.manifests.add(a)
            u.manifests.load(a.id, "SO-2", 1, "006141410000000036", "person:Dan", "DOCK-01", NOW)
            u.commit()
        closed = replace(a, number=7, closed_at=NOW + hours(1), closed_by="person:Dan", close_key="key-1",
                         split_by="person:Lee", split_reason="truck full", carrier_ref="EOD-1")
        with shipped() as u:
            assert u.manifests.close(closed)
            assert not u.manifests.close(closed)  # closed already
            u.commit()
        with shipped(readonly=True) as u:
            got = u.manifests.by_number(7)
            assert got.id == a.id and got.status.value == "closed" and got.close_key == "key-1"
            assert (got.split_by, got.split_reason, got.carrier_ref, got.closed_at) == ("person:Lee", "truck full", "EOD-1",
                                                                                        NOW + hours(1))
            assert u.manifests.by_close_key("key-1").number == 7 and u.manifests.by_close_key("key-2") is None
            assert u.manifests.open_for("DHL", "") is None  # a new one may open
            assert u.manifests.carton("006141410000000036").manifest_number == 7
        with pytest.raises(Conflict), shipped() as u:
            u.manifests.load(a.id, "SO-1", 1, "006141410000000012", "person:Dan", "DOCK-01", NOW)
        with shipped() as u:
            assert not u.manifests.unload(a.id, "SO-2", 1)  # a closed manifest keeps its cartons
            u.commit()
        with shipped() as u:
            assert [c.sscc for c in u.manifests.get(a.id).cartons] == ["006141410000000036"]
            u.manifests.add(open_manifest())  # the carrier's next manifest
            u.commit()

    def test_lock_gives_the_manifest_with_its_cartons(self, shipped: UnitOfWorkFactory) -> None:
        a = open_manifest()
        with shipped() as u:
            u.manifests.add(a)
            u.manifests.load(a.id, "SO-2", 1, "006141410000000036", "person:Dan", "DOCK-01", NOW)
            u.commit()
        with shipped() as u:
            locked = u.manifests.lock(a.id)
            assert locked == u.manifests.get(a.id) and [c.seq for c in locked.cartons] == [1]
            assert u.manifests.lock("no-such-manifest") is None

    def test_recent_manifests_newest_first(self, shipped: UnitOfWorkFactory) -> None:
        old, new = open_manifest("UPS", at=NOW), open_manifest("DHL", at=NOW + hours(2))
        with shipped() as u:
            u.manifests.add(old)
            u.manifests.add(new)
            u.manifests.close(replace(old, number=1, closed_at=NOW, closed_by="x", close_key="k"))
            u.commit()
        with shipped(readonly=True) as u:
            from packstation.domain.shipping import ManifestStatus

            assert [m.id for m in u.manifests.recent()] == [new.id, old.id]
            assert [m.id for m in u.manifests.recent(status=ManifestStatus.CLOSED)] == [old.id]
            assert len(u.manifests.recent(limit=1)) == 1

    def test_cartons_to_pull_and_pulled(self, shipped: UnitOfWorkFactory) -> None:
        with shipped() as u:
            u.orders.set_status("SO-1", S.PACKED, S.CANCELLED, NOW)
            u.commit()
        with shipped() as u:
            assert [(c.order_id, c.seq) for c in u.manifests.to_pull()] == [("SO-1", 1), ("SO-1", 2)]
            u.manifests.mark_pulled("SO-1", 1, NOW)
            u.commit()
        with shipped(readonly=True) as u:
            assert [(c.order_id, c.seq) for c in u.manifests.to_pull()] == [("SO-1", 2)]
            assert u.manifests.carton("006141410000000012").pulled_at == NOW

    def test_parcels_on_the_way_and_carriers_in_use(self, shipped: UnitOfWorkFactory) -> None:
        with shipped() as u:
            assert u.manifests.on_the_way("DHL") == []  # packed: not handed over yet
            u.orders.set_status("SO-1", S.PACKED, S.HANDED_OVER, NOW)
            u.commit()
        with shipped(readonly=True) as u:
            assert u.manifests.on_the_way("dhl") == [("SO-1", S.HANDED_OVER, "00340434000000000011"),
                                                     ("SO-1", S.HANDED_OVER, "00340434000000000028")]
            assert u.manifests.on_the_way("UPS") == []
            assert u.manifests.carriers_in_use() == [("DHL", "Paket"), ("UPS", "Paket")]


def a_request(rid: str, seq: int = 1, *, status=None, at: datetime = NOW, next_try: datetime | None = None,
              station: str = "BENCH-01"):
    from packstation.domain.shipping import LabelRequest, LabelRequestStatus

    return LabelRequest(id=rid, order_id="SO-1", carton_seq=seq, sscc=f"00614141000000001{seq}", carrier="DHL",
                        station_id=station, status=status or LabelRequestStatus.FAILED, attempts=1, error="timeout",
                        next_try_at=next_try, created_at=at, updated_at=at)


class TestLabelRequests:
    def test_due_start_finish_and_waiting(self, shipped: UnitOfWorkFactory) -> None:
        from packstation.domain.shipping import LabelRequestStatus as L

        with shipped() as u:
            u.label_requests.add(a_request("r-1", 1, next_try=NOW + hours(1)))
            u.label_requests.add(a_request("r-2", 2, at=NOW + hours(0.1), next_try=NOW))
            u.commit()
        with pytest.raises(StorageError), shipped() as u:  # one request per carton
            u.label_requests.add(a_request("r-3", 1))
            u.commit()
        with shipped() as u:
            assert [r.id for r in u.label_requests.due("BENCH-01", NOW)] == ["r-2"]
            assert [r.id for r in u.label_requests.due("BENCH-01", NOW + hours(2))] == ["r-1", "r-2"]
            assert u.label_requests.due("BENCH-02", NOW + hours(2)) == []
            assert u.label_requests.start("r-2", NOW) and not u.label_requests.start("r-2", NOW)
            assert u.manifests.carton("006141410000000029").label_pending
            u.label_requests.finish("r-2", L.DONE, "", None, NOW)
            u.commit()
        with shipped(readonly=True) as u:
            done = u.label_requests.get("r-2")
            assert done.status is L.DONE and done.attempts == 2
            assert not u.manifests.carton("006141410000000029").label_pending
            assert [r.id for r in u.label_requests.waiting()] == ["r-1"]
            assert u.label_requests.waiting("BENCH-02") == []
            assert u.label_requests.for_carton("SO-1", 1).id == "r-1" and u.label_requests.for_carton("SO-1", 9) is None

    def test_requests_left_working_by_a_stopped_station_are_asked_again(self, shipped: UnitOfWorkFactory) -> None:
        from packstation.domain.shipping import LabelRequestStatus as L

        with shipped() as u:
            u.label_requests.add(a_request("r-1", 1, status=L.PENDING))
            u.label_requests.start("r-1", NOW)
            u.commit()
        with shipped() as u:
            [back] = u.label_requests.interrupt_working("BENCH-01", NOW + hours(1))
            assert back.id == "r-1" and back.status is L.FAILED and back.next_try_at == NOW + hours(1)
            assert u.label_requests.interrupt_working("BENCH-01", NOW) == []
            u.commit()
        with shipped(readonly=True) as u:
            assert [r.id for r in u.label_requests.due("BENCH-01", NOW + hours(1))] == ["r-1"]


# === the returns desk ========================================================================

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40  # the contract stores bytes as given


@pytest.fixture
def returnable(packing: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """SO-1 packed: carton 1 (SSCC ...19, 612 g) with 2 tees (lot L-7) and earbud SN-1; carton 2 with
    earbud SN-2; an undone tee scan; RMA-1 announced for 2 tees and an earbud."""
    with packing() as u:
        u.shipments.add_carton("SO-1", Carton(1, BOX_S), "Pat Packer", "BENCH-01", NOW)
        u.shipments.add_carton("SO-1", Carton(2, BOX_S), "Pat Packer", "BENCH-01", NOW)
        undone = item(1, lot="L-7")
        for it in (item(1, qty=2, lot="L-7"), item(2, "EL-1", serial="SN-1"), undone,
                   item(2, "EL-1", serial="SN-2", carton=2, user="Olu Other")):
            u.shipments.add_item("SO-1", it, "BENCH-01", NOW)
        u.shipments.undo_item(undone, "Pat Packer", NOW)
        u.shipments.save_carton("SO-1", Carton(1, BOX_S, CartonStatus.CLOSED, measured_g=612, sscc="006141410000000019",
                                                tracking_number="JJD1"), NOW + hours(1))
        u.returns.put(Return("RMA-1", "SO-1", "too small", ReturnStatus.PICKED,
                             [ReturnLine(1, "TS-1", 2), ReturnLine(2, "EL-1", 1)]), "fp", NOW)
        u.commit()
    return packing


def received(rma_id: str = "RMA-1", line_no: int = 1, sku: str = "TS-1", *, at: datetime = NOW, qty: int = 1,
             serial: str | None = None, lot: str | None = None, **more: object) -> ReceivedItem:
    return ReceivedItem(id=str(uuid.uuid4()), rma_id=rma_id, order_id="SO-1", line_no=line_no, sku=sku, qty=qty,
                        barcode=TEE, received_by="person:Rae Returns", station_id="DESK-1", received_at=at,
                        serial=serial, lot=lot, **more)  # type: ignore[arg-type]


def a_photo(owner_kind: str, owner_ref: str, *, at: datetime = NOW) -> Photo:
    return Photo(id=str(uuid.uuid4()), owner_kind=owner_kind, owner_ref=owner_ref, mime="image/png", sha256="ab" * 32,
                 size=len(PNG_BYTES), taken_by="person:Rae Returns", station_id="DESK-1", taken_at=at)


class TestReturnsDesk:
    def test_shipped_lists_the_live_scans_with_their_cartons(self, returnable: UnitOfWorkFactory) -> None:
        with returnable() as u:
            u.photos.add(a_photo("carton", "SO-1/1"), PNG_BYTES)
            newest = a_photo("carton", "SO-1/1", at=NOW + hours(1))
            u.photos.add(newest, PNG_BYTES)
            units = u.returns.shipped("SO-1")
        assert [(x.sku, x.qty, x.lot, x.serial, x.carton_seq, x.packer) for x in units] == [
            ("TS-1", 2, "L-7", None, 1, "Pat Packer"), ("EL-1", 1, None, "SN-1", 1, "Pat Packer"),
            ("EL-1", 1, None, "SN-2", 2, "Olu Other")]
        first = units[0]
        assert (first.sscc, first.weight_g, first.sealed_at, first.tracking_number, first.carton_photo) == (
            "006141410000000019", 612, NOW + hours(1), "JJD1", newest.id)
        assert units[2].sscc is None and units[2].carton_photo is None

    def test_serial_left_in_names_the_order(self, returnable: UnitOfWorkFactory) -> None:
        with returnable(readonly=True) as u:
            assert u.returns.serial_left_in("EL-1", "SN-2") == "SO-1"
            assert u.returns.serial_left_in("EL-1", "SN-9") is None
            assert u.returns.serial_left_in("TS-1", "SN-2") is None

    def test_a_desk_return_its_lines_and_status(self, returnable: UnitOfWorkFactory) -> None:
        with returnable() as u:
            u.returns.add(Return("RMA-D", "SO-1", "damaged in transit", ReturnStatus.INITIATED, [], origin="desk"), NOW)
            u.returns.put_line("RMA-D", ReturnLine(1, "TS-1", 1, unit_price=Decimal("9.95")))
            u.returns.put_line("RMA-D", ReturnLine(1, "TS-1", 2, unit_price=Decimal("9.95")))  # grows
            u.returns.put_line("RMA-D", ReturnLine(2, "EL-1", 0, unexpected=True))
            u.returns.set_status("RMA-D", ReturnStatus.INITIATED, ReturnStatus.RECEIVED, NOW + hours(2))
            u.commit()
        with returnable(readonly=True) as u:
            ret = u.returns.get("RMA-D")
            assert [r.rma_id for r in u.returns.recent()] == ["RMA-D", "RMA-1"]
            assert [r.rma_id for r in u.returns.recent(ReturnStatus.PICKED)] == ["RMA-1"]
        assert ret.origin == "desk" and ret.status is ReturnStatus.RECEIVED
        assert ret.lines == [ReturnLine(1, "TS-1", 2, unit_price=Decimal("9.95")), ReturnLine(2, "EL-1", 0, unexpected=True)]
        with pytest.raises(Conflict), returnable() as u:
            u.returns.set_status("RMA-D", ReturnStatus.INITIATED, ReturnStatus.RECEIVED, NOW)
        with pytest.raises(StorageError), returnable() as u:
            u.returns.add(Return("RMA-D", "SO-1", "again", ReturnStatus.INITIATED, []), NOW)
            u.commit()

    def test_receipts_hold_returns_until_closed(self, returnable: UnitOfWorkFactory) -> None:
        with returnable() as u:
            u.returns.add(Return("RMA-2", "SO-1", "x", ReturnStatus.INITIATED, [], origin="desk"), NOW)
            u.returns.open_receipt(Receipt("rc-1", "DESK-1", "anna@example.com", "person:Rae", NOW, ("RMA-1",)))
            u.returns.join_receipt("rc-1", "RMA-2")
            u.returns.join_receipt("rc-1", "RMA-2")  # once
            u.returns.open_receipt(Receipt("rc-0", "DESK-2", "x", "person:Rae", NOW - hours(1), ("RMA-1",)))
            u.commit()
        with returnable() as u:
            assert u.returns.receipt_of("DESK-1") == Receipt("rc-1", "DESK-1", "anna@example.com", "person:Rae", NOW,
                                                             ("RMA-1", "RMA-2"))
            u.returns.close_receipt("rc-1", NOW + hours(1))
            u.commit()
        with returnable(readonly=True) as u:
            assert u.returns.receipt_of("DESK-1") is None
            assert u.returns.receipt_of("DESK-2").id == "rc-0"

    def test_items_count_on_their_lines_in_the_order_received(self, returnable: UnitOfWorkFactory) -> None:
        first, second = received(at=NOW, matched_scan="s-1", carton_seq=1, sscc="006141410000000019", packer="Pat Packer",
                                 lot="L-7"), received(at=NOW + hours(1))
        serial = received(line_no=2, sku="EL-1", serial="SN-1", at=NOW + hours(2), unexpected=True)
        with returnable() as u:
            for it in (serial, second, first):
                u.returns.add_item(it)
            photo = a_photo("return_item", second.id)
            u.photos.add(photo, PNG_BYTES)
            u.commit()
        with returnable(readonly=True) as u:
            items = u.returns.items(["RMA-1"])
            assert u.returns.items_of_order("SO-1") == [replace(i, photos=()) for i in items]
            assert [ln.received for ln in u.returns.get("RMA-1").lines] == [2, 1]
            assert u.returns.items(["RMA-404"]) == []
        assert [i.id for i in items] == [first.id, second.id, serial.id]
        assert items[0] == first and items[1] == replace(second, photos=(photo.id,)) and items[2] == serial

    def test_an_item_id_is_used_once_and_needs_its_return(self, returnable: UnitOfWorkFactory) -> None:
        it = received()
        with pytest.raises(StorageError), returnable() as u:
            u.returns.add_item(it)
            u.returns.add_item(it)
        with pytest.raises(StorageError), returnable() as u:
            u.returns.add_item(received(rma_id="RMA-404"))
            u.commit()

    def test_grade_note_decide_and_restock_once(self, returnable: UnitOfWorkFactory) -> None:
        it = received()
        with returnable() as u:
            u.returns.add_item(it)
            u.returns.grade_item(it.id, "B", "box dented", "person:Rae", NOW)
            u.returns.note_item(it.id, "box dented; tag missing")
            u.returns.decide_item(it.id, "restock", None, "person:Rae", NOW)
            assert u.returns.mark_restocked(it.id, "R-01-01", NOW + hours(1)) is True
            assert u.returns.mark_restocked(it.id, "R-02-02", NOW + hours(2)) is False
            u.returns.decide_item(it.id, "scrap", None, "person:Rae", NOW)  # restocked: no longer changes
            u.commit()
        with returnable(readonly=True) as u:
            (got,) = u.returns.items(["RMA-1"])
        assert (got.grade, got.notes, got.disposition, got.location, got.restocked_at) == (
            "B", "box dented; tag missing", "restock", "R-01-01", NOW + hours(1))

    def test_a_line_is_resolved_once_and_a_submission_stored_once(self, returnable: UnitOfWorkFactory) -> None:
        refund = Resolution("res-1", "RMA-1", ResolutionKind.REFUND, (ResolvedLine(1, 2, Decimal("17.91"), Decimal("1.99")),),
                            "EUR", key="k-1", by="person:Rae", at=NOW)
        with returnable() as u:
            u.returns.add_resolution(refund)
            u.commit()
        with returnable(readonly=True) as u:
            assert u.returns.resolutions("RMA-1") == [refund]
            assert [ln.resolution_id for ln in u.returns.get("RMA-1").lines] == ["res-1", None]
        with pytest.raises(Conflict), returnable() as u:  # line 1 again, under another key
            u.returns.add_resolution(replace(refund, id="res-2", key="k-2"))
        with pytest.raises(Conflict), returnable() as u:  # the same submission again
            u.returns.add_resolution(replace(refund, id="res-3", lines=(ResolvedLine(2, 1, Decimal("0")),)))
        credit = Resolution("res-4", "RMA-1", ResolutionKind.CREDIT_NOTE, (ResolvedLine(2, 1, Decimal("9.95")),), "EUR",
                            key="k-4", by="person:Rae", at=NOW + hours(1), credit_note="CN-MAIN-DESK-1-000001")
        with returnable() as u:
            u.returns.add_resolution(credit)
            u.returns.add_credit_note(CreditNote("CN-MAIN-DESK-1-000001", "MAIN", "DESK-1", "RMA-1", "SO-1", "res-4", "EUR",
                                                 Decimal("9.95"), NOW + hours(1)))
            u.commit()
        with returnable(readonly=True) as u:
            assert [r.id for r in u.returns.resolutions("RMA-1")] == ["res-1", "res-4"]
            (note,) = u.returns.credit_notes("RMA-1")
        assert (note.number, note.total, note.issued_at) == ("CN-MAIN-DESK-1-000001", Decimal("9.95"), NOW + hours(1))
        with pytest.raises(StorageError), returnable() as u:  # a number is issued once
            u.returns.add_credit_note(replace(note, resolution_id="res-1"))
            u.commit()

    def test_facts_give_reason_grade_sku_and_packer(self, returnable: UnitOfWorkFactory) -> None:
        with returnable() as u:
            it = received(packer="Pat Packer", at=NOW)
            u.returns.add_item(it)
            u.returns.grade_item(it.id, "C", "", "person:Rae", NOW)
            u.returns.add_item(received(line_no=2, sku="EL-1", at=NOW + hours(3), unexpected=True))
            u.commit()
        with returnable(readonly=True) as u:
            facts = u.returns.facts()
            later = u.returns.facts(NOW + hours(1))
        assert [(f.reason, f.sku, f.grade, f.packer, f.unexpected) for f in facts] == [
            ("too small", "TS-1", "C", "Pat Packer", False), ("too small", "EL-1", None, None, True)]
        assert [f.sku for f in later] == ["EL-1"]

    def test_photos_keep_their_bytes(self, uow: UnitOfWorkFactory) -> None:
        first, second = a_photo("return_item", "item-1"), a_photo("return_item", "item-1", at=NOW + hours(1))
        with uow() as u:
            u.photos.add(second, PNG_BYTES + b"2")
            u.photos.add(first, PNG_BYTES)
            u.commit()
        with uow(readonly=True) as u:
            assert u.photos.of("return_item", "item-1") == [first, replace(second, size=len(PNG_BYTES) + 1)]
            assert u.photos.data(first.id) == PNG_BYTES and u.photos.get("nope") is None
            assert u.photos.of("carton", "item-1") == []
# === imports: the import journal and the orders it holds =======================================


def a_batch(batch_id: str = "batch-1", *, state: BatchState = BatchState.PUBLISHING, holder: str = "pid 1 on bench07",
            at: datetime = NOW) -> ImportBatch:
    return ImportBatch(id=batch_id, kind="orders", file="orders.ndjson", actor="import:pat", station_id="BENCH-01",
                       state=state, holder=holder, expires_at=at + hours(1), started_at=at, records=3)


class TestImports:
    def test_one_transaction_only_where_it_blocks_nobody(self, backend, uow: UnitOfWorkFactory) -> None:
        with uow(readonly=True) as u:
            assert u.imports.one_transaction is (backend.name == "postgresql")

    def test_a_batch_is_stored_saved_and_listed_until_finished(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.imports.open(a_batch("b-1"))
            u.imports.open(a_batch("b-2", at=NOW + hours(1)))
            u.commit()
        with uow() as u:
            assert u.imports.get("b-1") == a_batch("b-1") and u.imports.get("b-404") is None
            assert [b.id for b in u.imports.unfinished()] == ["b-1", "b-2"]
            u.imports.save(replace(a_batch("b-1"), state=BatchState.RELEASING, stored=2, created=3, reason=""))
            u.imports.save(replace(a_batch("b-2"), state=BatchState.ROLLED_BACK, reason="disk full"))
            u.commit()
        with uow(readonly=True) as u:
            assert [(b.id, b.state, b.stored, b.created) for b in u.imports.unfinished()] == [
                ("b-1", BatchState.RELEASING, 2, 3)]
            assert u.imports.get("b-2").reason == "disk full"

    def test_take_over_only_from_the_holder_named(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.imports.open(a_batch())
            u.commit()
        with uow() as u:
            assert not u.imports.take_over("batch-1", "pid 2 on bench07", "pid 3 on bench07", NOW + hours(2))
            assert u.imports.take_over("batch-1", "pid 1 on bench07", "pid 3 on bench07", NOW + hours(2))
            assert not u.imports.take_over("batch-1", "pid 1 on bench07", "pid 4 on bench07", NOW + hours(2))
            u.commit()
        with uow(readonly=True) as u:
            got = u.imports.get("batch-1")
            assert (got.holder, got.expires_at) == ("pid 3 on bench07", NOW + hours(2))

    def test_held_orders_cannot_be_claimed_picked_or_listed(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.imports.open(a_batch())
            u.imports.add_orders("batch-1", [(an_order("SO-1", {"TS-1": 1}, tote="T-1"), "fp-1")], NOW)
            u.imports.add_orders(None, [(an_order("SO-2", {"TS-1": 2}), "fp-2")], NOW)
            u.commit()
        with stocked() as u:
            assert u.orders.get("SO-1") == an_order("SO-1", {"TS-1": 1}, tote="T-1")  # stored whole, lines too
            assert u.orders.hold("SO-1") == Claim("SO-1", S.RELEASED, importing="orders.ndjson")
            assert u.orders.claim_of("SO-2") == Claim("SO-2", S.RELEASED)
            assert u.orders.imported(["SO-1"])["SO-1"].import_batch == "batch-1"
            assert not u.orders.try_claim("SO-1", "BENCH-01", "Pat", NOW)
            assert [i for i, _ in u.orders.ready(10)] == ["SO-2"]
            assert [o.order_id for o in u.orders.next_to_pick(10)] == ["SO-2"]
            assert u.orders.claim_next("BENCH-01", "Pat", NOW) == "SO-2"
            assert u.orders.claim_next("BENCH-01", "Pat", NOW) is None

    def test_add_orders_refuses_an_order_that_exists(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}))
        with pytest.raises(Conflict, match="order SO-1 was stored meanwhile"), stocked() as u:
            u.imports.add_orders(None, [(an_order("SO-0", {"TS-1": 1}), "fp"), (an_order("SO-1", {"TS-1": 3}), "fp")],
                                 NOW)
        with stocked(readonly=True) as u:
            assert u.orders.get("SO-0") is None and u.orders.get("SO-1").lines[0].qty == 1

    def test_the_new_orders_of_a_batch_go_free_all_at_once_when_it_is_committed(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.imports.open(a_batch())
            u.imports.add_orders("batch-1", [(an_order(f"SO-{i}", {"TS-1": 1}), f"fp-{i}") for i in (1, 2, 3)], NOW)
            u.commit()
        with stocked() as u:
            assert [u.orders.hold(f"SO-{i}").importing for i in (1, 2, 3)] == ["orders.ndjson"] * 3
            u.imports.save(replace(a_batch(), state=BatchState.DONE))  # the commit point
            u.commit()
        with stocked() as u:
            assert [u.orders.hold(f"SO-{i}").importing for i in (1, 2, 3)] == [None] * 3
            assert u.orders.imported(["SO-1"])["SO-1"] == ImportedState("fp-1", "released", None)
            assert [i for i, _ in u.orders.ready(10)] == ["SO-1", "SO-2", "SO-3"]
            assert u.orders.try_claim("SO-2", "BENCH-01", "Pat", NOW)

    def test_reserve_holds_existing_orders_with_their_new_content(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}), an_order("SO-2", {"TS-1": 1}), an_order("SO-3", {"TS-1": 1}))
        with stocked() as u:
            u.orders.try_claim("SO-3", "BENCH-02", "Olu", NOW)
            u.imports.open(a_batch())
            u.imports.reserve("batch-1", [("SO-1", '{"v": 1}'), ("SO-2", '{"v": 2}')])
            u.commit()
        with stocked() as u:
            assert u.orders.hold("SO-1").importing == "orders.ndjson"
            assert not u.orders.try_claim("SO-2", "BENCH-01", "Pat", NOW)
            u.imports.save(replace(a_batch(), state=BatchState.RELEASING))  # committed: held until settled
            assert u.orders.hold("SO-2").importing == "orders.ndjson" and u.orders.ready(10) == []
            assert u.imports.pending("batch-1", 1) == [("SO-1", '{"v": 1}')]
            assert u.imports.pending("batch-1", 10) == [("SO-1", '{"v": 1}'), ("SO-2", '{"v": 2}')]
            u.imports.settle("batch-1", ["SO-1"])
            u.commit()
        with stocked() as u:
            assert u.imports.pending("batch-1", 10) == [("SO-2", '{"v": 2}')]
            assert u.orders.try_claim("SO-1", "BENCH-01", "Pat", NOW)
        for taken in ("SO-2", "SO-3"):  # held by the batch already / claimed by a bench
            with pytest.raises(Conflict), stocked() as u:
                u.imports.open(a_batch("batch-2"))
                u.imports.reserve("batch-2", [(taken, "{}")])

    def test_discard_removes_new_orders_and_lets_existing_ones_go_unchanged(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-9", {"TS-1": 1}))
        with stocked() as u:
            u.imports.open(a_batch())
            u.imports.add_orders("batch-1", [(an_order(f"SO-{i}", {"TS-1": i, "CO-1": 1}), "fp") for i in (1, 2, 3)], NOW)
            u.events.add_many([an_event("order.received", f"SO-{i}") for i in (1, 2, 3)], "BENCH-01", NOW)
            u.events.add(an_event("order.updated", "SO-9"), "BENCH-01", NOW)
            u.imports.reserve("batch-1", [("SO-9", '{"new": true}')])
            u.commit()
        removed = []
        while True:
            with stocked() as u:
                n = u.imports.discard("batch-1", 2)
                u.commit()
            removed.append(n)
            if n == 0:
                break
        assert removed == [2, 1, 1, 0]
        with stocked(readonly=True) as u:
            assert [u.orders.get(f"SO-{i}") for i in (1, 2, 3)] == [None, None, None]
            assert [u.events.for_order(f"SO-{i}") for i in (1, 2, 3)] == [[], [], []]  # their events went too
            assert [e.kind for e in u.events.for_order("SO-9")] == ["order.updated"]
            assert u.orders.get("SO-9") == an_order("SO-9", {"TS-1": 1})
            assert u.orders.claim_of("SO-9").importing is None and u.imports.pending("batch-1", 10) == []

    def test_an_order_of_a_finished_batch_can_be_held_by_the_next(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.imports.open(a_batch())
            u.imports.add_orders("batch-1", [(an_order("SO-1", {"TS-1": 1}), "fp-1")], NOW)
            u.imports.save(replace(a_batch(), state=BatchState.DONE))
            u.imports.open(a_batch("batch-2"))
            u.imports.reserve("batch-2", [("SO-1", '{"v": 2}')])
            u.commit()
        with stocked(readonly=True) as u:
            assert u.orders.imported(["SO-1"])["SO-1"].import_batch == "batch-2"

    def test_totes_in_use_are_those_of_open_orders(self, stocked: UnitOfWorkFactory) -> None:
        add_orders(stocked, an_order("SO-1", {"TS-1": 1}, tote="T-1", status=S.PACKED),
                   an_order("SO-2", {"TS-1": 1}, tote="T-1"), an_order("SO-3", {"TS-1": 1}, tote="T-2", status=S.ON_HOLD),
                   an_order("SO-4", {"TS-1": 1}, tote="T-2"))
        with stocked(readonly=True) as u:
            assert u.imports.totes_in_use(["T-1", "T-2", "T-3"]) == {
                "T-1": [("SO-2", S.RELEASED)], "T-2": [("SO-3", S.ON_HOLD), ("SO-4", S.RELEASED)]}
            assert u.imports.totes_in_use([]) == {}

    def test_events_add_many_stores_them_as_add_does(self, uow: UnitOfWorkFactory) -> None:
        one = an_event("order.received", "SO-1", status="released", note="tab\t new\nline back\\slash \\N „Zoë“")
        two = an_event("order.received", "SO-2")
        with uow() as u:
            u.events.add(an_event("order.updated", "SO-1"), "BENCH-01", NOW)
            u.events.add_many([one, two], "BENCH-01", NOW + hours(1))
            u.events.add_many([], "BENCH-01", NOW)
            u.commit()
        with uow(readonly=True) as u:
            got = u.events.for_order("SO-1")
        assert [e.kind for e in got] == ["order.updated", "order.received"]
        assert (got[1].id, got[1].payload, got[1].station_id, got[1].occurred_at, got[1].actor) == (
            one.id, one.payload, "BENCH-01", NOW + hours(1), "person:Pat Packer")
        assert got[1].payload["note"] == "tab\t new\nline back\\slash \\N „Zoë“"


# === the staging area of an import (in memory and in its own SQLite file) ======================


@pytest.fixture(params=["fake", "sqlite"])
def staging(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImportStaging]:
    from packstation.adapters.db.staging import SqliteStaging

    area = fakes.FakeStaging() if request.param == "fake" else SqliteStaging(tmp_path / "staging.db")
    yield area
    area.close()


def staged(seq: int, key: str, *tags: tuple[str, str], data: object = None) -> StagedRecord:
    return StagedRecord(seq, f"line {seq + 1}", key, data if data is not None else {"n": seq}, f"fp{seq}", tags)


class TestStaging:
    def test_records_come_back_in_file_order_with_their_data(self, staging: ImportStaging) -> None:
        staging.add([staged(2, "B", data=(("x", 1, None), [("a", True)])), staged(1, "A")])
        staging.add([staged(3, "C")])
        got = staging.records(0, 2)
        assert [(r.seq, r.position, r.key, r.fingerprint, r.data) for r in got] == [
            (1, "line 2", "A", "fp1", {"n": 1}), (2, "line 3", "B", "fp2", (("x", 1, None), [("a", True)]))]
        assert [r.seq for r in staging.records(2, 10)] == [3]
        assert staging.records(1, 10, data=False)[0] == StagedRecord(2, "line 3", "B", None, "fp2")
        assert staging.get(2).key == "B" and staging.get(9) is None and staging.count() == 3

    def test_repeats_name_the_first_record_and_skip_rejected_ones(self, staging: ImportStaging) -> None:
        staging.add([staged(1, "A", ("tote", "T-1")), staged(2, "B", ("tote", "T-2")), staged(3, "A", ("tote", "T-1")),
                     staged(4, "D", ("tote", "T-1")), staged(5, "A")])
        keys = [(r.seq, v, f.seq, f.position) for r, v, f in staging.repeats("key")]
        assert keys == [(3, "A", 1, "line 2"), (5, "A", 1, "line 2")]
        staging.reject([3, 5])
        assert [(r.seq, r.key, v, f.key) for r, v, f in staging.repeats("tote")] == [(4, "D", "T-1", "A")]
        assert list(staging.repeats("key")) == [] and staging.count() == 3
        assert [r.seq for r in staging.records(0, 10)] == [1, 2, 4]

    def test_values_and_tagged(self, staging: ImportStaging) -> None:
        staging.add([staged(1, "A", ("tote", "T-2"), ("code", "X")), staged(2, "B", ("tote", "T-1")),
                     staged(3, "C", ("tote", "T-2"))])
        staging.reject([3])
        assert list(staging.values("tote")) == ["T-1", "T-2"] and list(staging.values("none")) == []
        assert [(r.seq, r.key, v) for r, v in staging.tagged("tote", ["T-2", "T-9"])] == [(1, "A", "T-2")]

    def test_rows_are_grouped_by_key_in_order_of_their_first_line(self, staging: ImportStaging) -> None:
        staging.add_rows([("SO-2", 2, ["a"]), ("SO-1", 3, ["b"]), ("", 4, "bad row"), ("SO-2", 5, ["c"])])
        staging.add_rows([("SO-1", 6, ["d"]), ("", 7, "bad too")])
        assert list(staging.grouped_rows()) == [
            [(2, ["a"]), (5, ["c"])], [(3, ["b"]), (6, ["d"])], [(4, "bad row")], [(7, "bad too")]]

    def test_data_must_be_plain_values(self, staging: ImportStaging) -> None:
        with pytest.raises(ValueError):
            staging.add([staged(1, "A", data={"when": NOW})])
