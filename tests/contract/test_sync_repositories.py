"""The contract for what the central pull, the centre's numbers and the stock ledger need from
storage: the stock ledger, a station's sync state, order and user upserts (pulled copies), the
events not pushed yet, number reserves (fake, SQLite and PostgreSQL alike) and the centre's change
log (the fake centre and a PostgreSQL database set up by ``central init``: the centre is
PostgreSQL only, so SQLite has no change log to check).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fakes import NOW, FakeDatabase, FakeUnitOfWorkFactory, a_product, an_order
from sqlalchemy import Engine, text
from test_repositories import an_event, stock_catalog

from packstation.adapters.db import tables
from packstation.adapters.db.engine import make_engine
from packstation.adapters.db.numbers import LocalBlocks
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.domain.identity import Role
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import CartonType, StockLot, User
from packstation.domain.stock import MovementKind, StockLevel, StockMovement
from packstation.services.ports import Change, Claim, UnitOfWork, UnitOfWorkFactory

S = OrderStatus


def mv(qty: int, *, sku: str = "TS-1", location: str = "A-01", lot: str = "L1", kind: MovementKind = MovementKind.ADJUSTED,
       event_id: str | None = None) -> StockMovement:
    return StockMovement(sku, location, lot, qty, kind, ref="test", event_id=event_id, actor="cli:root", at=NOW)


# === the stock ledger ========================================================================


class TestStockLedger:
    def test_on_hand_is_the_sum_per_location_and_lot(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.stock.add([mv(10, kind=MovementKind.RECEIVED), mv(-3, kind=MovementKind.PACKED), mv(5, lot="L2"),
                         mv(4, location="B-07"), mv(2, sku="CO-1"), mv(7, lot="L3"), mv(-7, lot="L3")])
            u.commit()
        with uow(readonly=True) as u:
            assert u.stock.on_hand("TS-1") == [StockLevel("TS-1", "A-01", "L1", 7), StockLevel("TS-1", "A-01", "L2", 5),
                                               StockLevel("TS-1", "B-07", "L1", 4)]  # L3 is 0: not listed
            assert u.stock.on_hand("CO-1") == [StockLevel("CO-1", "A-01", "L1", 2)]
            assert u.stock.on_hand("NOPE") == []

    def test_a_movement_from_an_event_is_stored_once(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            stored = u.stock.add([mv(-1, event_id="e-1"), mv(-1, event_id="e-1"), mv(-2, event_id="e-2"), mv(5), mv(5)])
            u.commit()
        assert [m.qty for m in stored] == [-1, -2, 5, 5]  # without an event id, every movement counts
        with uow() as u:
            again = u.stock.add([mv(-1, event_id="e-1"), mv(-4, event_id="e-3")])
            u.commit()
        assert [m.event_id for m in again] == ["e-3"]
        with uow(readonly=True) as u:
            assert u.stock.on_hand("TS-1") == [StockLevel("TS-1", "A-01", "L1", 3)]
            assert [m.qty for m in u.stock.movements("TS-1")] == [-1, -2, 5, 5, -4]

    def test_movements_keep_what_they_were_given_and_are_found_by_event(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.stock.add([mv(-2, kind=MovementKind.PACKED, event_id="scan-1")])
            u.stock.add([StockMovement("TS-1", "A-01", "", 9, MovementKind.RECEIVED)])  # no time given: now
            u.commit()
        with uow(readonly=True) as u:
            first, second = u.stock.movements("TS-1")
            assert u.stock.find("scan-1") == first
            assert u.stock.find("scan-2") is None
        assert first == StockMovement("TS-1", "A-01", "L1", -2, MovementKind.PACKED, "test", "scan-1", "cli:root", NOW)
        assert second.at is not None and second.at.tzinfo is not None and second.event_id is None

    def test_uncommitted_movements_are_gone(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.stock.add([mv(10)])
        with uow(readonly=True) as u:
            assert u.stock.on_hand("TS-1") == []


# === a station's sync state ==================================================================


class TestSyncState:
    def test_put_get_overwrite_and_all(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            assert u.sync_state.get("pull_cursor") is None
            u.sync_state.put("pull_cursor", "17")
            u.sync_state.put("last_pull", "2026-03-10T09:00:00+00:00")
            u.sync_state.put("pull_cursor", "42")
            u.commit()
        with uow(readonly=True) as u:
            assert u.sync_state.get("pull_cursor") == "42"
            assert u.sync_state.all() == {"last_pull": "2026-03-10T09:00:00+00:00", "pull_cursor": "42"}

    def test_not_committed_is_not_kept(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.sync_state.put("pull_cursor", "5")
        with uow(readonly=True) as u:
            assert u.sync_state.get("pull_cursor") is None


# === pulled copies: orders and users =========================================================


@pytest.fixture
def stocked(uow: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """BENCH-01's units of work on a database with the contract suite's catalog."""
    stock_catalog(uow)
    return uow


class TestOrderUpserts:
    def test_upsert_inserts_an_order_with_its_status_counts_and_claim(self, stocked: UnitOfWorkFactory) -> None:
        order = an_order("SO-1", {"TS-1": 3, "EL-1": 1}, status=S.PACKING, tote="TOTE-9")
        order.lines[0].packed, order.lines[1].short, order.lines[1].short_reason = 2, 1, "broken"
        claim = Claim("SO-1", S.PACKING, "BENCH-02", "Pat Packer", NOW)
        with stocked() as u:
            u.orders.upsert([(order, "fp-1", claim)], NOW)
            u.commit()
        with stocked(readonly=True) as u:
            got = u.orders.get("SO-1")
            assert u.orders.claim_of("SO-1") == claim
            assert u.orders.imported(["SO-1"])["SO-1"].fingerprint == "fp-1"
        assert got is not None and got.status is S.PACKING and got.tote == "TOTE-9"
        assert [(ln.sku, ln.qty, ln.packed, ln.short, ln.short_reason) for ln in got.lines] == [
            ("TS-1", 3, 2, 0, None), ("EL-1", 1, 0, 1, "broken")]
        assert got.lines[0].unit_price == Decimal("9.95")

    def test_upsert_overwrites_data_lines_and_claim(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.orders.add_many([(an_order("SO-1", {"TS-1": 3, "EL-1": 1}), "fp-old")], NOW)
            assert u.orders.try_claim("SO-1", "BENCH-01", "Pat Packer", NOW)
            u.commit()
        newer = an_order("SO-1", {"CO-1": 2}, status=S.CANCELLED, carrier="UPS")
        with stocked() as u:
            u.orders.upsert([(newer, "fp-new", None), (an_order("SO-2", {"TS-1": 1}), "fp-2", None)],
                            NOW + timedelta(hours=1))
            u.commit()
        with stocked(readonly=True) as u:
            got = u.orders.get("SO-1")
            assert u.orders.claim_of("SO-1") == Claim("SO-1", S.CANCELLED)
            assert u.orders.get("SO-2") is not None  # a new one in the same batch
        assert got is not None and (got.status, got.carrier) == (S.CANCELLED, "UPS")
        assert [(ln.line_no, ln.sku, ln.qty) for ln in got.lines] == [(1, "CO-1", 2)]

    def test_get_many_reads_orders_with_their_lines_and_claims(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.orders.add_many([(an_order("SO-1", {"TS-1": 3, "EL-1": 1}), "fp"), (an_order("SO-2", {"CO-1": 1}), "fp")],
                              NOW)
            assert u.orders.try_claim("SO-2", "BENCH-07", "Olu", NOW)
            u.commit()
        with stocked(readonly=True) as u:
            got = u.orders.get_many(["SO-2", "SO-404", "SO-1", "SO-1"])
            assert got == {"SO-1": (u.orders.get("SO-1"), Claim("SO-1", S.RELEASED)),
                           "SO-2": (u.orders.get("SO-2"), Claim("SO-2", S.RELEASED, "BENCH-07", "Olu", NOW))}
            assert u.orders.get_many([]) == {}

    def test_withdraw_stores_the_status_and_drops_the_claim_but_keeps_the_packing(self, stocked: UnitOfWorkFactory) -> None:
        with stocked() as u:
            u.orders.add_many([(an_order("SO-1", {"TS-1": 3}), "fp")], NOW)
            assert u.orders.try_claim("SO-1", "BENCH-01", "Pat Packer", NOW)
            u.orders.set_status("SO-1", S.RELEASED, S.PACKING, NOW)
            u.orders.add_packed("SO-1", 1, 2)
            u.commit()
        with stocked() as u:
            u.orders.withdraw("SO-1", S.CANCELLED, NOW)
            u.commit()
        with stocked(readonly=True) as u:
            got = u.orders.get("SO-1")
            assert u.orders.claim_of("SO-1") == Claim("SO-1", S.CANCELLED)
            assert u.orders.held_by("BENCH-01") is None
        assert got is not None and got.lines[0].packed == 2


class TestUserUpserts:
    def test_upsert_inserts_then_overwrites_all_but_the_wrong_pin_count(self, uow: UnitOfWorkFactory) -> None:
        central = User(id=77, name="Lee Lead", role=Role.LEAD, badge="LEAD-001", has_pin=True)
        with uow() as u:
            lee = u.users.upsert(central, "argon2-hash-1", NOW)
            u.commit()
        assert (lee.name, lee.role, lee.badge, lee.has_pin, lee.active) == ("Lee Lead", Role.LEAD, "LEAD-001", True, True)
        with uow() as u:
            assert u.users.pin_failed(lee.id, 5, NOW) == 1  # typed wrong at this station
            u.commit()
        until = NOW + timedelta(minutes=10)
        changed = User(id=77, name="Lee Lead", role=Role.ADMIN, badge="LEAD-002", has_pin=True, active=False,
                       locked_until=until)
        with uow() as u:
            again = u.users.upsert(changed, "argon2-hash-2", NOW)
            u.commit()
        assert again.id == lee.id  # this database's id: the user is the same by name
        with uow(readonly=True) as u:
            creds = u.users.by_name("Lee Lead")
            assert u.users.by_badge("LEAD-001") is None
        assert creds is not None
        assert (creds.user.role, creds.user.badge, creds.pin_hash, creds.user.active, creds.locked_until,
                creds.failed_pins) == (Role.ADMIN, "LEAD-002", "argon2-hash-2", False, until, 1)

    def test_a_badge_given_to_someone_else_is_taken_from_its_old_holder(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            old = u.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            u.commit()
        with uow() as u:
            u.users.upsert(User(id=1, name="Olu Okafor", role=Role.PACKER, badge="PACKER-001"), None, NOW)
            u.commit()
        with uow(readonly=True) as u:
            assert u.users.by_badge("PACKER-001").user.name == "Olu Okafor"  # type: ignore[union-attr]
            pat = u.users.by_id(old.id)
        assert pat is not None and not pat.user.active and pat.user.badge == f"~{old.id}~PACKER-001"


class TestUnpushedOrders:
    def test_orders_with_events_not_answered_by_the_centre(self, uow: UnitOfWorkFactory) -> None:
        with uow() as u:
            u.events.add(an_event("scan.recorded", "SO-1"), "BENCH-01", NOW)
            u.events.add(an_event("order.claimed", "SO-2"), "BENCH-01", NOW)
            u.events.add(an_event("user.login", None), "BENCH-01", NOW)
            u.commit()
        with uow(readonly=True) as u:
            assert u.events.unpushed_orders(["SO-1", "SO-3", "SO-2"]) == {"SO-1", "SO-2"}
            assert u.events.unpushed_orders([]) == set()


# === number reserves =========================================================================


class TestNumberReserve:
    def test_reserve_takes_blocks_until_enough_are_held(self, backend: Any) -> None:
        factory = backend.factory(ranges={"sscc": (1000, 1999)}, block_size=10)
        with factory() as u:
            assert u.numbers.held("sscc") == 0
            assert u.numbers.reserve("sscc", 25) == 30  # three blocks
            assert u.numbers.held("sscc") == 30
            assert u.numbers.reserve("sscc", 25) == 30  # enough already: nothing taken
            u.commit()
        with factory() as u:
            drawn = [u.numbers.next("sscc") for _ in range(12)]
            assert u.numbers.held("sscc") == 18
            assert u.numbers.reserve("sscc", 25) == 28  # one block more
            u.commit()
        assert drawn == list(range(1000, 1012))
        other = backend.factory("BENCH-02", ranges={"sscc": (1000, 1999)}, block_size=10)
        with other() as u:
            assert u.numbers.next("sscc") == 1040  # the blocks held by BENCH-01 are not given again
            u.commit()

    def test_a_reserve_that_was_not_committed_gives_its_blocks_back(self, backend: Any) -> None:
        """On one database the block is taken in the station's own transaction: rolled back with it."""
        factory = backend.factory(ranges={"sscc": (1, 100)}, block_size=10)
        with factory() as u:
            u.numbers.reserve("sscc", 10)
        with factory() as u:
            assert u.numbers.next("sscc") == 1


# === the centre's change log =================================================================


@pytest.fixture(scope="session")
def central_pg_url(pg_server_instance: Any) -> Iterator[str]:
    """A database set up by ``central init`` (its triggers log changes), emptied before each test."""
    from packstation.adapters.central.schema import init_central

    name = pg_server_instance.create_database()
    url = pg_server_instance.url(name)
    engine = make_engine(url)
    init_central(engine, station_password="station-pw")
    engine.dispose()
    try:
        yield url
    finally:
        pg_server_instance.drop_database(name)


def _empty(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in tables.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")  # TRUNCATE fires no row triggers


@pytest.fixture(params=["fake", pytest.param("postgresql", marks=pytest.mark.postgres)])
def centre(request: pytest.FixtureRequest) -> Iterator[tuple[str, UnitOfWorkFactory, Any]]:
    """(backend name, units of work on the centre, its engine or None)."""
    if request.param == "fake":
        yield "fake", FakeUnitOfWorkFactory(FakeDatabase(central=True), "CENTRE"), None
        return
    engine = make_engine(request.getfixturevalue("central_pg_url"))
    _empty(engine)

    def factory(*, readonly: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(engine, "CENTRE", LocalBlocks(), readonly=readonly)

    try:
        yield "postgresql", factory, engine
    finally:
        engine.dispose()


def changes(factory: UnitOfWorkFactory, after: int = 0, limit: int = 1000, **kw: Any) -> list[Change]:
    with factory(readonly=True) as u:
        return u.changes.since(after, limit, **kw)


class TestChangeLog:
    def test_every_write_of_a_watched_record_is_logged_in_order(self, centre: Any) -> None:
        _, factory, _ = centre
        stock_catalog(factory)  # 4 products with barcodes, 2 carton types
        first = changes(factory)
        assert {(c.entity, c.key) for c in first} == {("product", s) for s in ("TS-1", "CO-1", "EL-1", "HW-1")} | {
            ("carton_type", "BOX-M"), ("carton_type", "BOX-S")}
        with factory() as u:
            u.orders.add_many([(an_order("SO-1", {"TS-1": 2}), "fp")], NOW)
            u.users.add("Pat Packer", Role.PACKER, "PACKER-001", None, NOW)
            u.catalog.put_lots([StockLot("CO-1", "L7", None, "B-2", 5)])
            u.commit()
        with factory() as u:
            u.orders.set_status("SO-1", S.RELEASED, S.CANCELLED, NOW)
            u.commit()
        later = changes(factory, first[-1].seq)
        assert {(c.entity, c.key) for c in later} == {("order", "SO-1"), ("user", "Pat Packer"), ("stock_lot", "CO-1\x1fL7")}
        assert later[-1] == Change(later[-1].seq, "order", "SO-1")  # the cancellation, last
        seqs = [c.seq for c in first + later]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    def test_since_pages_and_reads_only_the_ranges_asked_for(self, centre: Any) -> None:
        _, factory, _ = centre
        for i in range(6):
            with factory() as u:
                u.catalog.put_cartons([(CartonType(f"BOX-{i}", f"Box {i}", 100 + i), f"fp-{i}")])
                u.commit()
        every = changes(factory)
        assert [c.key for c in every] == [f"BOX-{i}" for i in range(6)]
        s = [c.seq for c in every]
        assert changes(factory, s[1], 2) == every[2:4]
        assert changes(factory, 0, 100, only=[(s[1], s[2]), (s[4], None)]) == [every[1], every[2], every[4], every[5]]
        assert changes(factory, s[2], 100, only=[(s[1], s[2]), (s[4], None)]) == [every[4], every[5]]
        assert changes(factory, 0, 100, only=[]) == []

    def test_a_product_is_logged_again_when_its_barcodes_change(self, centre: Any) -> None:
        _, factory, _ = centre
        with factory() as u:
            u.catalog.put_products([(a_product("TS-1", "Tee", 200, "05900000000114"), "fp1")], NOW)
            u.commit()
        mark = changes(factory)[-1].seq
        with factory() as u:
            u.catalog.put_products([(a_product("TS-1", "Tee", 200, "05900000000121"), "fp2")], NOW)
            u.commit()
        assert {c.key for c in changes(factory, mark)} == {"TS-1"}

    def test_finished_below_waits_for_a_transaction_still_running(self, centre: Any) -> None:
        name, factory, engine = centre
        if name == "fake":
            with factory(readonly=True) as u:  # its commits are atomic: nothing ever to wait for
                assert u.changes.finished_below() > u.changes.started_below()
            return
        opened, release = threading.Event(), threading.Event()
        writer_xid: list[int] = []

        def writer() -> None:
            with pytest.raises(RuntimeError), engine.begin() as conn:
                conn.execute(text("INSERT INTO carton_types (code, name, tare_g, inner_l_mm, inner_w_mm, inner_h_mm, "
                                  "max_weight_g, content_hash) VALUES ('BOX-X', 'x', 1, 0, 0, 0, 0, '')"))
                writer_xid.append(int(conn.execute(text("SELECT pg_current_xact_id()::text")).scalar_one()))
                opened.set()
                release.wait(20)
                raise RuntimeError("roll back")

        thread = threading.Thread(target=writer)
        thread.start()
        assert opened.wait(20)
        with factory(readonly=True) as u:
            during = u.changes.finished_below()
            assert u.changes.since(0, 10) == []  # its change is not visible yet
            mark = u.changes.started_below()
        assert during <= writer_xid[0] < mark  # still running; it began before the mark
        release.set()
        thread.join(20)
        with factory(readonly=True) as u:
            after = u.changes.finished_below()
            assert u.changes.since(0, 10) == []  # rolled back: a gap for good
        assert after >= mark  # everything that had begun by the mark has ended
