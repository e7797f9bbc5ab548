"""Pull from the centre, on fakes: a fake centre (``FakeDatabase(central=True)``, whose commits log
their changes as the centre's triggers do) and a station with a fake database of its own.

What a station gets (orders with lines, products with barcodes, carton types, users with PIN
hashes, stock lots), only what changed, and what it keeps of the orders it is packing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import NOW, FakeDatabase, a_product, an_order, cheap_pin_hash, fake_context
from warehouse import BOX_M, BOX_S, LEAD_PIN, LOTS, ORDERS, PRODUCTS, TEE, USERS, scan

from packstation.domain.identity import ActorKind, Role, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import CartonType, StockLot
from packstation.domain.packing import Verdict
from packstation.services import packing
from packstation.services.auth import NotAllowed
from packstation.services.context import Context, record
from packstation.services.lifecycle import change_status
from packstation.services.sync import pull
from packstation.services.sync.pull import NotSynced, pull_cursor, pull_once

S = OrderStatus


@pytest.fixture
def centre() -> FakeDatabase:
    db = FakeDatabase(central=True)
    with fake_context(db, station_id="CENTRE").uow() as uow:
        uow.catalog.put_products([(p, f"fp-{p.sku}") for p in PRODUCTS], NOW)
        uow.catalog.put_cartons([(BOX_S, "fp-s"), (BOX_M, "fp-m")])
        uow.catalog.put_lots(LOTS)
        uow.orders.add_many([(o, f"fp-{o.order_id}") for o in ORDERS], NOW)
        for name, role, badge, pin in USERS:
            uow.users.add(name, role, badge, cheap_pin_hash(pin) if pin else None, NOW)
        uow.commit()
    return db


@pytest.fixture
def station(centre: FakeDatabase) -> Context:
    """BENCH-01: an empty database of its own, synced with the fake centre."""
    return fake_context(FakeDatabase(), central=centre)


@pytest.fixture
def sync(station: Context) -> Session:
    return station.auth.system(ActorKind.SYSTEM, "sync-worker", Role.ADMIN)


def at_centre(centre: FakeDatabase) -> Context:
    """The centre's own context (an import, an admin at the centre)."""
    return fake_context(centre, station_id="CENTRE")


def admin(ctx: Context) -> Session:
    return ctx.auth.system(ActorKind.IMPORT, "root", Role.ADMIN)


# --- what a station gets ------------------------------------------------------------------------


def test_the_first_pull_brings_everything_the_centre_logged(station: Context, sync: Session) -> None:
    report = pull_once(station, sync)
    assert (report.products, report.carton_types, report.lots, report.users, report.orders) == (5, 2, 2, 6, 6)
    assert report.pages == 1 and report.kept == [] and report.withdrawn == []
    with station.uow(readonly=True) as uow:
        assert uow.catalog.products(["TS-1"])["TS-1"] == PRODUCTS[0]  # with its barcode
        assert uow.catalog.by_barcode(PRODUCTS[0].barcodes[0]) == (PRODUCTS[0], 1)
        assert [lot.lot for lot in uow.catalog.lots("CO-1")] == ["L-OLD", "L-GOOD"]
        assert uow.catalog.carton_type("BOX-M") == BOX_M
        assert uow.orders.get("SO-2") == ORDERS[1]
        assert uow.orders.get("SO-HOLD").status is S.ON_HOLD  # type: ignore[union-attr]
        assert uow.orders.imported(["SO-1"])["SO-1"].fingerprint == "fp-SO-1"  # an import at the station knows it
        assert uow.sync_state.get("pull_cursor") == str(report.cursor)
        assert uow.sync_state.get("last_pull") == NOW.isoformat()


def test_pulled_users_log_in_with_their_pin_at_the_station(station: Context, sync: Session) -> None:
    """PIN hashes come along: a station checks badge + PIN on its own, offline too."""
    pull_once(station, sync)
    lee = station.auth.login("LEAD-001", LEAD_PIN)
    assert (lee.name, lee.role) == ("Lee Lead", Role.LEAD)


def test_only_what_changed_is_pulled_again(centre: FakeDatabase, station: Context, sync: Session) -> None:
    first = pull_once(station, sync)
    assert pull_once(station, sync).changes == 0
    with at_centre(centre).uow() as uow:
        uow.catalog.put_products([(replace(PRODUCTS[0], name="Cotton tee, organic"), "fp-2")], NOW)
        uow.commit()
    again = pull_once(station, sync)
    assert (again.changes, again.products, again.orders, again.users) == (1, 1, 0, 0)
    assert again.cursor > first.cursor
    with station.uow(readonly=True) as uow:
        assert uow.catalog.products(["TS-1"])["TS-1"].name == "Cotton tee, organic"


def test_pages_each_commit_with_the_cursor(centre: FakeDatabase, station: Context, sync: Session) -> None:
    report = pull_once(station, sync, page=4)
    with centre_uow(centre) as uow:
        total = len(uow.changes.since(0, 10_000))
    assert report.changes == total and report.pages == total // 4 + 1
    assert pull_cursor(station) == report.cursor
    with station.uow(readonly=True) as uow:
        assert len(uow.orders.imported([o.order_id for o in ORDERS])) == 6


def centre_uow(centre: FakeDatabase):  # type: ignore[no-untyped-def]
    return at_centre(centre).uow(readonly=True)


def test_a_barcode_moved_to_another_product_moves_here_too(centre: FakeDatabase, station: Context,
                                                            sync: Session) -> None:
    pull_once(station, sync)
    tee, puzzle = PRODUCTS[0], PRODUCTS[4]
    code = puzzle.barcodes[0]
    with at_centre(centre).uow() as uow:  # the puzzle's barcode now belongs to the tee
        uow.catalog.put_products([(replace(puzzle, barcodes=()), "fp-a"),
                                  (replace(tee, barcodes=(*tee.barcodes, code)), "fp-b")], NOW)
        uow.commit()
    with centre_uow(centre) as uow:
        assert [c.key for c in uow.changes.since(pull_cursor(station), 10)][0] == "TS-1"  # the tee comes first
    # one change per page: the tee's page comes before the puzzle lets go of the code here
    pull_once(station, sync, page=1)
    with station.uow(readonly=True) as uow:
        assert uow.catalog.by_barcode(code)[0].sku == "TS-1"  # type: ignore[index]
        assert uow.catalog.products(["TY-1"])["TY-1"].barcodes == ()


def test_a_badge_given_to_another_user_at_the_centre(centre: FakeDatabase, station: Context, sync: Session) -> None:
    pull_once(station, sync)
    with at_centre(centre).uow() as uow:  # Rae's badge goes to Pat; Rae gets a new one
        rae, pat = uow.users.by_name("Rae Returns"), uow.users.by_name("Pat Packer")
        assert rae is not None and pat is not None and pat.user.id < rae.user.id  # Pat's change is logged first
        uow.users.upsert(replace(rae.user, badge="RETURNS-002"), None, NOW)
        uow.users.upsert(replace(pat.user, badge="RETURNS-001", role=Role.RETURNS), None, NOW)
        uow.commit()
    pull_once(station, sync, page=1)
    assert station.auth.login("RETURNS-001").name == "Pat Packer"
    assert station.auth.login("RETURNS-002").name == "Rae Returns"  # fetched with Pat's page, not locked out


def test_an_order_refers_to_a_product_the_station_never_had(centre: FakeDatabase, station: Context,
                                                            sync: Session) -> None:
    """The product's own change came before the station's cursor (e.g. lost in a restore): it is
    fetched with the order, or the order's lines could not be stored here."""
    pull_once(station, sync)
    with at_centre(centre).uow() as uow:
        uow.catalog.put_products([(a_product("NEW-1", "New thing", 50, "NEW-CODE"), "fp")], NOW)
        uow.commit()
    with station.uow() as uow:  # as if the product's change had been seen already
        uow.sync_state.put("pull_cursor", str(_last_seq(centre)))
        uow.commit()
    with at_centre(centre).uow() as uow:
        uow.orders.add_many([(an_order("SO-NEW", {"NEW-1": 1}), "fp")], NOW)
        uow.commit()
    report = pull_once(station, sync)
    assert (report.orders, report.products) == (1, 1)
    with station.uow(readonly=True) as uow:
        assert uow.orders.get("SO-NEW") is not None and "NEW-1" in uow.catalog.known_skus(["NEW-1"])


def _last_seq(centre: FakeDatabase) -> int:
    with centre_uow(centre) as uow:
        return uow.changes.since(0, 10_000)[-1].seq


# --- orders this station holds ----------------------------------------------------------------


def test_an_order_packed_here_keeps_its_packing_state(centre: FakeDatabase, station: Context, sync: Session) -> None:
    pull_once(station, sync)
    pat = station.auth.login("PACKER-001")
    pack = packing.claim_order(station, pat, "SO-1")
    assert packing.open_carton(station, pat, pack, "BOX-S").accepted
    assert scan(station, pat, pack, TEE).accepted
    with at_centre(centre).uow() as uow:  # the centre still has it released, unpacked, and edits it
        order = uow.orders.get("SO-1")
        assert order is not None and order.status is S.RELEASED
        uow.orders.replace(replace(order, service="Express"), "fp-x", NOW)
        uow.commit()
    report = pull_once(station, sync)
    assert report.kept == ["SO-1"] and report.orders == 0
    with station.uow(readonly=True) as uow:
        here = uow.orders.get("SO-1")
        assert uow.orders.claim_of("SO-1").station_id == "BENCH-01"  # type: ignore[union-attr]
    assert here is not None and here.status is S.PACKING and here.lines[0].packed == 1 and here.service == "Paket"
    assert scan(station, pat, pack, TEE).accepted  # the bench goes on


def test_a_central_cancellation_reaches_an_order_held_here(centre: FakeDatabase, station: Context,
                                                           sync: Session) -> None:
    pull_once(station, sync)
    pat = station.auth.login("PACKER-001")
    pack = packing.claim_order(station, pat, "SO-1")
    assert packing.open_carton(station, pat, pack, "BOX-S").accepted
    assert scan(station, pat, pack, TEE).accepted
    shop = at_centre(centre)
    with shop.uow() as uow:
        change_status(uow, shop, admin(shop), "SO-1", S.RELEASED, S.CANCELLED, reason="customer cancelled")
        uow.commit()
    report = pull_once(station, sync)
    assert report.withdrawn == ["SO-1"]
    with station.uow(readonly=True) as uow:
        here = uow.orders.get("SO-1")
        assert uow.orders.held_by("BENCH-01") is None
    assert here is not None and here.status is S.CANCELLED and here.lines[0].packed == 1  # what was packed stays
    refused = scan(station, pat, pack, TEE)
    assert refused.verdict is Verdict.ORDER_REFUSED and "was cancelled" in refused.message
    assert refused.data["claim_lost"]


def test_a_central_hold_reaches_an_order_held_here(centre: FakeDatabase, station: Context, sync: Session) -> None:
    pull_once(station, sync)
    pat = station.auth.login("PACKER-001")
    pack = packing.claim_order(station, pat, "SO-2")
    shop = at_centre(centre)
    with shop.uow() as uow:  # the payment bounced before the centre saw the claim
        change_status(uow, shop, admin(shop), "SO-2", S.RELEASED, S.ON_HOLD)
        uow.commit()
    assert pull_once(station, sync).withdrawn == ["SO-2"]
    refused = packing.open_carton(station, pat, pack, "BOX-S")
    assert refused.verdict is Verdict.ORDER_REFUSED and "on hold" in refused.message


def test_an_order_with_work_not_pushed_yet_keeps_its_state(centre: FakeDatabase, station: Context,
                                                           sync: Session) -> None:
    """Sealed here (the claim is gone), the events still on their way: the centre's older state
    must not undo it."""
    pull_once(station, sync)
    bench = station.auth.system(ActorKind.SYSTEM, "test", Role.ADMIN)
    with station.uow() as uow:
        uow.orders.withdraw("SO-3", S.PACKED, NOW)  # as a seal leaves it
        record(uow, station, bench, "order.packed", "SO-3")
        uow.commit()
    with at_centre(centre).uow() as uow:
        order = uow.orders.get("SO-3")
        uow.orders.replace(replace(order, carrier="UPS"), "fp", NOW)  # type: ignore[arg-type]
        uow.commit()
    assert pull_once(station, sync).kept == ["SO-3"]
    with station.uow(readonly=True) as uow:
        assert uow.orders.get("SO-3").status is S.PACKED  # type: ignore[union-attr]


def test_an_order_nobody_holds_here_takes_the_centres_state(centre: FakeDatabase, station: Context,
                                                            sync: Session) -> None:
    pull_once(station, sync)
    with at_centre(centre).uow() as uow:  # another bench claimed and packs it (the centre says)
        assert uow.orders.try_claim("SO-4", "BENCH-02", "Olu Other", NOW)
        uow.orders.set_status("SO-4", S.RELEASED, S.PACKING, NOW)
        uow.orders.add_packed("SO-4", 1, 1)
        uow.commit()
    assert pull_once(station, sync).orders == 1
    with station.uow(readonly=True) as uow:
        claim = uow.orders.claim_of("SO-4")
        assert uow.orders.get("SO-4").lines[0].packed == 1  # type: ignore[union-attr]
    assert claim is not None and (claim.status, claim.station_id, claim.user) == (S.PACKING, "BENCH-02", "Olu Other")
    pat = station.auth.login("PACKER-001")
    with pytest.raises(packing.OrderRefused, match="BENCH-02"):
        packing.claim_order(station, pat, "SO-4")


# --- numbers, and who may pull -----------------------------------------------------------------


def test_a_pull_keeps_numbers_in_hand(station: Context, sync: Session) -> None:
    report = pull_once(station, sync, numbers={"sscc": 150})
    assert report.numbers == {"sscc": 200}  # two blocks of 100


def test_a_standalone_station_has_nothing_to_pull(sync: Session) -> None:
    ctx = fake_context(FakeDatabase())
    with pytest.raises(NotSynced, match=r"\[database\] central"):
        pull_once(ctx, ctx.auth.system(ActorKind.SYSTEM, "sync-worker", Role.ADMIN))


def test_a_packer_may_not_pull(station: Context) -> None:
    pull_once(station, station.auth.system(ActorKind.SYSTEM, "sync-worker", Role.ADMIN))
    with pytest.raises(NotAllowed):
        pull_once(station, station.auth.login("PACKER-001"))


# --- the cursor and its gaps (the rule itself; on PostgreSQL in tests/integration) --------------


T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_a_gap_holds_the_cursor_until_its_change_shows_up() -> None:
    c = pull._Cursor()
    c.advance([1, 2, 4, 5], None, finished=100, started=None, now=T0, settle_s=2)
    assert (c.high, c.applied, c.waiting) == (5, 2, 1)  # 3 is missing: its transaction may still commit
    assert c.ranges() == [(3, 3), (6, None)]
    c.advance([3, 6], None, finished=100, started=None, now=T0 + timedelta(seconds=1), settle_s=2)
    assert (c.high, c.applied, c.gaps) == (6, 6, [])


def test_a_gap_ends_once_every_transaction_running_when_it_was_seen_has_ended() -> None:
    c = pull._Cursor()
    c.advance([1, 3], None, finished=50, started=None, now=T0, settle_s=2)
    c.advance([], None, finished=50, started=None, now=T0 + timedelta(seconds=1), settle_s=2)
    assert c.gaps[0].mark is None  # too young to mark: its writer may not have a number yet
    c.advance([], None, finished=50, started=60, now=T0 + timedelta(seconds=3), settle_s=2)
    assert c.gaps[0].mark == 60 and c.applied == 1
    c.advance([], None, finished=59, started=None, now=T0 + timedelta(seconds=4), settle_s=2)
    assert c.applied == 1  # transaction 59 still runs: it may be the one
    c.advance([], None, finished=61, started=None, now=T0 + timedelta(seconds=5), settle_s=2)
    assert (c.applied, c.gaps) == (3, [])  # rolled back: a gap for good


def test_a_full_page_settles_only_the_part_of_a_gap_it_read() -> None:
    c = pull._Cursor(high=20, gaps=[pull._Gap(5, 15, T0.isoformat(), 7)])
    c.advance([6, 8], 9, finished=10, started=None, now=T0 + timedelta(seconds=9), settle_s=2)
    assert [(g.first, g.last) for g in c.gaps] == [(10, 15)]  # 5, 7, 9 read and settled; 10-15 not read yet
    assert c.high == 20


def test_the_cursor_survives_a_restart(station: Context, sync: Session) -> None:
    with station.uow() as uow:
        pull._Cursor(high=9, gaps=[pull._Gap(4, 5, T0.isoformat(), None)]).save(uow)
        uow.commit()
    with station.uow(readonly=True) as uow:
        again = pull._Cursor.load(uow)
        assert uow.sync_state.get("pull_cursor") == "3"
    assert (again.high, [(g.first, g.last, g.mark) for g in again.gaps]) == (9, [(4, 5, None)])


def test_many_gaps_merge_into_fewer_ranges() -> None:
    c = pull._Cursor()
    c.advance(list(range(1, 1000, 2)), None, finished=1, started=None, now=T0, settle_s=2)  # every even seq missing
    assert len(c.gaps) <= 200 and c.waiting >= 499
    assert c.applied == 1 and all(g.first % 2 == 0 for g in c.gaps)


def test_unknown_kinds_of_changes_are_left_alone(centre: FakeDatabase, station: Context, sync: Session) -> None:
    from packstation.services.ports import Change

    with at_centre(centre).uow() as uow:
        uow.state.changes.append(Change(_last_seq(centre) + 1, "manifest", "M-1"))  # a later version's entity
        uow.commit()
    with at_centre(centre).uow() as uow:
        uow.catalog.put_cartons([(CartonType("BOX-L", "Large", 400), "fp-l")])
        uow.catalog.put_lots([StockLot("TS-1", "L9", None, "A", 1)])
        uow.commit()
    report = pull_once(station, sync)
    assert report.carton_types == 3 and report.lots == 3
