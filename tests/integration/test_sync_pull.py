"""Pull on a real centre: PostgreSQL set up by ``central init`` (its triggers log and NOTIFY), synced
stations on SQLite files of their own that log in to it as the station role.

Changes are written at the centre through the repositories (as an import there does); stations
pull them incrementally, remember where they are across restarts, keep the packing state of the
orders they hold, and are woken by NOTIFY or, when a notification is lost, by the poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pull_support import BOX_S, NOW, PRODUCTS, TEE, Centre, an_order, centre_on, sync_session
from sqlalchemy import text

from packstation.adapters.central.listener import ChangeListener
from packstation.domain.barcodes import interpret
from packstation.domain.identity import Role
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import Verdict
from packstation.services import packing, users
from packstation.services.lifecycle import change_status
from packstation.services.sync.pull import pull_cursor, pull_once

pytestmark = pytest.mark.postgres
S = OrderStatus


@pytest.fixture
def centre(pg_server_instance: Any, tmp_path: Path) -> Iterator[Centre]:
    yield from centre_on(pg_server_instance, tmp_path)


def test_a_station_pulls_what_changed_at_the_centre_and_only_that(centre: Centre) -> None:
    centre.seed()
    users.add_user(centre.admin.ctx, centre.session(), "Lee Lead", Role.LEAD, "LEAD-001", pin="2580")
    bench = centre.station()
    first = pull_once(bench.ctx, sync_session(bench))
    assert (first.products, first.carton_types, first.lots, first.users, first.orders) == (3, 1, 2, 1, 2)
    assert bench.ctx.auth.login("LEAD-001", "2580").name == "Lee Lead"  # the PIN hash came along
    assert pull_once(bench.ctx, sync_session(bench)).changes == 0

    with centre.admin.uow() as uow:  # at the centre: a product renamed, an order added, one edited
        uow.catalog.put_products([(replace(PRODUCTS[0], name="Cotton tee, organic"), "fp-2")], NOW)
        uow.orders.add_many([(an_order("SO-3", {"HW-1": 2}), "fp-3")], NOW)
        order = uow.orders.get("SO-1")
        assert order is not None
        uow.orders.replace(replace(order, service="Express"), "fp-1b", NOW)
        uow.commit()
    users.set_role(centre.admin.ctx, centre.session(), "Lee Lead", Role.ADMIN)

    again = pull_once(bench.ctx, sync_session(bench))
    assert (again.products, again.orders, again.users, again.lots, again.carton_types) == (1, 2, 1, 0, 0)
    with bench.uow(readonly=True) as uow:
        assert uow.catalog.products(["TS-1"])["TS-1"].name == "Cotton tee, organic"
        assert uow.orders.get("SO-1").service == "Express"  # type: ignore[union-attr]
        assert [ln.qty for ln in uow.orders.get("SO-3").lines] == [2]  # type: ignore[union-attr]
        assert uow.users.by_name("Lee Lead").user.role is Role.ADMIN  # type: ignore[union-attr]


def test_the_cursor_is_kept_across_restarts(centre: Centre) -> None:
    centre.seed()
    bench = centre.station()
    report = pull_once(bench.ctx, sync_session(bench))
    bench.close()
    with centre.admin.uow() as uow:
        uow.catalog.put_cartons([(replace(BOX_S, name="Small box, brown"), "fp-s2")])
        uow.commit()
    again = centre.station()  # the same data folder and database file: a restart
    assert pull_cursor(again.ctx) == report.cursor
    after = pull_once(again.ctx, sync_session(again))
    assert (after.changes, after.carton_types, after.products, after.orders) == (1, 1, 0, 0)


def test_a_held_order_keeps_its_packing_state_and_a_central_cancellation_still_reaches_it(centre: Centre) -> None:
    centre.seed()
    bench = centre.station()
    pull_once(bench.ctx, sync_session(bench))
    users.add_user(bench.ctx, bench.system_session(), "Pat Packer", Role.PACKER, "PACKER-001")
    pat = bench.ctx.auth.login("PACKER-001")
    pack = packing.claim_order(bench.ctx, pat, "SO-1")
    assert packing.open_carton(bench.ctx, pat, pack, "BOX-S").accepted
    assert packing.record_item_scan(bench.ctx, pat, pack, interpret(TEE)).accepted

    with centre.admin.uow() as uow:  # the centre has not seen the claim: it edits the order
        order = uow.orders.get("SO-1")
        assert order is not None and order.status is S.RELEASED
        uow.orders.replace(replace(order, service="Express"), "fp-x", NOW)
        uow.commit()
    assert pull_once(bench.ctx, sync_session(bench)).kept == ["SO-1"]
    with bench.uow(readonly=True) as uow:
        here = uow.orders.get("SO-1")
    assert here is not None and (here.status, here.service, here.lines[0].packed) == (S.PACKING, "Paket", 1)
    assert packing.record_item_scan(bench.ctx, pat, pack, interpret(TEE)).accepted  # still packing

    admin = centre.session()
    with centre.admin.uow() as uow:  # the customer cancels at the shop
        change_status(uow, centre.admin.ctx, admin, "SO-1", S.RELEASED, S.CANCELLED, reason="customer")
        uow.commit()
    assert pull_once(bench.ctx, sync_session(bench)).withdrawn == ["SO-1"]
    with bench.uow(readonly=True) as uow:
        here = uow.orders.get("SO-1")
        assert uow.orders.held_by(bench.info.id) is None
    assert here is not None and here.status is S.CANCELLED and here.lines[0].packed == 2
    refused = packing.close_carton(bench.ctx, pat, pack, 550)
    assert refused.verdict is Verdict.ORDER_REFUSED and "was cancelled" in refused.message


def test_a_gap_in_the_change_log_waits_for_its_transaction(centre: Centre) -> None:
    """A long transaction at the centre (an import) takes its seq first and commits last: the
    cursor must not pass it, or its change would never reach the station. A transaction that
    rolls back leaves a gap for good: the cursor passes it once every transaction that could
    still have written it has ended."""
    bench = centre.station()
    engine = centre.admin._engine
    slow = engine.connect()
    slow_tx = slow.begin()
    slow.execute(text("INSERT INTO carton_types (code, name, tare_g, inner_l_mm, inner_w_mm, inner_h_mm, max_weight_g, "
                      "content_hash) VALUES ('BOX-SLOW', 'slow', 1, 0, 0, 0, 0, '')"))
    with centre.admin.uow() as uow:  # a later change, committed first
        uow.catalog.put_cartons([(BOX_S, "fp-s")])
        uow.commit()
    first = pull_once(bench.ctx, sync_session(bench), settle_s=0.0)
    assert first.carton_types == 1 and first.waiting == 1  # BOX-S here; the slow one's seq is waited for
    with bench.uow(readonly=True) as uow:
        assert uow.catalog.carton_type("BOX-S") is not None
    cursor = pull_cursor(bench.ctx)
    assert pull_once(bench.ctx, sync_session(bench), settle_s=0.0).cursor == cursor  # still running: still waited for
    slow_tx.commit()
    slow.close()
    late = pull_once(bench.ctx, sync_session(bench), settle_s=0.0)
    assert (late.carton_types, late.waiting) == (1, 0) and late.cursor > cursor
    with bench.uow(readonly=True) as uow:
        assert uow.catalog.carton_type("BOX-SLOW") is not None

    doomed = engine.connect()
    doomed_tx = doomed.begin()
    doomed.execute(text("UPDATE carton_types SET name = 'never' WHERE code = 'BOX-SLOW'"))
    with centre.admin.uow() as uow:
        uow.catalog.put_cartons([(replace(BOX_S, name="Small box, brown"), "fp-s2")])
        uow.commit()
    assert pull_once(bench.ctx, sync_session(bench), settle_s=0.0).waiting == 1
    doomed_tx.rollback()
    doomed.close()
    for _ in range(3):  # the gap is marked, then found settled
        report = pull_once(bench.ctx, sync_session(bench), settle_s=0.0)
    assert report.waiting == 0
    with centre.admin.uow(readonly=True) as uow:
        last = uow.changes.since(0, 10_000)[-1].seq
    assert report.cursor == last
    with bench.uow(readonly=True) as uow:
        assert uow.catalog.carton_type("BOX-SLOW").name == "slow"  # type: ignore[union-attr]


# --- waking: NOTIFY, and the poll when a notification is lost --------------------------------


class PullLoop:
    """What the sync worker does with its wake-ups (the worker itself is built elsewhere): pull."""

    def __init__(self, station: object) -> None:
        self.station = station
        self.woken = threading.Event()
        self._stop = threading.Event()
        self.pulled = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def wake(self) -> None:
        self.woken.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.woken.wait(0.1):
                self.woken.clear()
                try:
                    self.pulled += pull_once(self.station.ctx, sync_session(self.station)).changes  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - the centre may be away: the next wake tries again
                    pass

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)


def wait_for(check, timeout_s: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def has_carton(station: object, code: str) -> bool:
    with station.uow(readonly=True) as uow:  # type: ignore[attr-defined]
        return uow.catalog.carton_type(code) is not None


def test_a_notification_wakes_the_station_at_once(centre: Centre) -> None:
    bench = centre.station()
    loop = PullLoop(bench)
    listener = bench.change_listener(loop.wake, poll_s=600)  # no poll within the test
    listener.start()
    try:
        assert listener.wait_listening(20)
        with centre.admin.uow() as uow:
            uow.catalog.put_cartons([(BOX_S, "fp-s")])
            uow.commit()
        assert wait_for(lambda: has_carton(bench, "BOX-S"))
        assert listener.notifications >= 1 and listener.polls == 0
    finally:
        listener.stop()
        loop.stop()


def test_a_notification_lost_while_the_listener_is_cut_off(centre: Centre) -> None:
    bench = centre.station()
    loop = PullLoop(bench)
    listener = bench.change_listener(loop.wake, poll_s=0.5)
    listener.start()
    try:
        assert listener.wait_listening(20)
        centre.path.cut()  # the network drops: the listener's connection goes, and with it the notification
        with centre.admin.uow() as uow:  # (the admin reaches the centre directly)
            uow.catalog.put_cartons([(BOX_S, "fp-s")])
            uow.commit()
        assert wait_for(lambda: listener.polls >= 2)  # it keeps polling while it cannot connect
        assert not has_carton(bench, "BOX-S") and listener.notifications == 0
        centre.path.mend()
        assert wait_for(lambda: has_carton(bench, "BOX-S"))
    finally:
        listener.stop()
        loop.stop()


def test_a_wake_that_came_to_nothing_is_made_good_by_the_poll(centre: Centre) -> None:
    """The notification arrives (the listener reaches the centre directly) but the pull it wakes
    cannot reach the centre; nothing notifies again, the poll pulls it once the way is back."""
    from packstation.adapters.db.engine import postgres_engine

    bench = centre.station()
    loop = PullLoop(bench)
    direct = postgres_engine(centre.station_url(via_path=False))
    listener = ChangeListener(direct, loop.wake, poll_s=0.5)
    listener.start()
    try:
        assert listener.wait_listening(20)
        centre.path.cut()
        with centre.admin.uow() as uow:
            uow.catalog.put_cartons([(BOX_S, "fp-s")])
            uow.commit()
        assert wait_for(lambda: listener.notifications == 1)
        polls = listener.polls
        assert wait_for(lambda: listener.polls >= polls + 2)  # pulls woken by the poll fail: the way is cut
        assert not has_carton(bench, "BOX-S")
        centre.path.mend()
        assert wait_for(lambda: has_carton(bench, "BOX-S"))
        assert listener.notifications == 1  # it was the poll
    finally:
        listener.stop()
        loop.stop()
        direct.dispose()


def test_a_station_whose_listener_never_connects_still_pulls_by_polling(centre: Centre) -> None:
    """LISTEN impossible (here: the listener is pointed at a port nothing listens on); the poll
    alone keeps the station right."""
    from packstation.adapters.db.engine import postgres_engine

    bench = centre.station()
    loop = PullLoop(bench)
    dead = NetPathOff()
    nowhere = postgres_engine(centre.station_url().replace(f":{centre.path.port}/", f":{dead.port}/"))
    listener = ChangeListener(nowhere, loop.wake, poll_s=0.3)
    listener.start()
    try:
        with centre.admin.uow() as uow:
            uow.catalog.put_cartons([(BOX_S, "fp-s")])
            uow.commit()
        assert wait_for(lambda: has_carton(bench, "BOX-S"))
        assert not listener.listening and listener.connects == 0 and listener.last_error
    finally:
        listener.stop()
        loop.stop()
        nowhere.dispose()


class NetPathOff:
    """A local port that refuses every connection (bound, never listening)."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]


def test_the_listener_comes_back_after_its_connection_is_killed(centre: Centre) -> None:
    bench = centre.station()
    loop = PullLoop(bench)
    listener = bench.change_listener(loop.wake, poll_s=600)  # notifications only
    listener.start()
    try:
        assert listener.wait_listening(20) and listener.connects == 1
        with centre.admin.uow() as uow:
            killed = uow.conn.execute(text(  # type: ignore[attr-defined]
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'")).all()
        assert killed == [(True,)]
        assert wait_for(lambda: listener.connects == 2 and listener.listening)
        with centre.admin.uow() as uow:
            uow.catalog.put_cartons([(BOX_S, "fp-s")])
            uow.commit()
        assert wait_for(lambda: has_carton(bench, "BOX-S"))
        assert listener.notifications >= 1 and listener.polls == 0
    finally:
        listener.stop()
        loop.stop()


def test_an_orders_lines_log_one_change_per_statement_and_a_lines_only_change_is_pulled(centre: Centre) -> None:
    """Order lines have statement triggers (``central init``): an order stored with several lines
    logs two changes (its row, its lines), not one per line besides its row's; an UPDATE of all
    its lines one more, which a station pulls as that order's change."""
    centre.seed()
    bench = centre.station()
    pull_once(bench.ctx, sync_session(bench))

    def changes(key: str) -> int:
        with centre.admin.uow(readonly=True) as uow:
            return int(uow.conn.execute(text("SELECT count(*) FROM changes WHERE entity = 'order' AND key = :k"),
                                        {"k": key}).scalar_one())

    every = {p.sku: 1 for p in PRODUCTS}
    lines = len(every)
    assert lines >= 3
    with centre.admin.uow() as uow:
        uow.orders.add_many([(an_order("SO-5L", every), "fp-5l")], NOW)
        uow.commit()
    assert changes("SO-5L") == 2, f"{lines} lines"
    assert pull_once(bench.ctx, sync_session(bench)).orders == 1

    with centre.admin.uow() as uow:  # a lines-only change (as a pushed batch's packed counts are)
        uow.conn.execute(text("UPDATE order_lines SET packed_qty = 1 WHERE order_id = 'SO-5L'"))
        uow.commit()
    assert changes("SO-5L") == 3
    pulled = pull_once(bench.ctx, sync_session(bench))
    assert pulled.orders == 1
    with bench.uow(readonly=True) as uow:
        order = uow.orders.get("SO-5L")
        assert order is not None and [ln.packed for ln in order.lines] == [1] * lines
