"""The whole loop between synced stations and their centre: an order written at the centre reaches a
bench by pull, is packed there, its events reach the centre by push, and every station sees the
result; the sync worker does it on its own (woken, polling, backing off while cut off) and
``packstation sync now|status`` say where a station stands."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pull_support import TEE, Centre, centre_on

from packstation.cli import main as cli_main
from packstation.domain.barcodes import RawScan
from packstation.domain.lifecycle import OrderStatus, ReturnStatus
from packstation.domain.packing import Verdict
from packstation.services import users
from packstation.services.sync.status import sync_status

pytestmark = pytest.mark.postgres


@pytest.fixture
def centre(pg_server_instance: Any, tmp_path: Path) -> Iterator[Centre]:
    yield from centre_on(pg_server_instance, tmp_path)


def _with_packer(centre: Centre) -> None:
    centre.seed()
    users.add_user(centre.admin.ctx, centre.session(), "Pat Packer", "packer", "PACKER-001")


def _pack_so1(station: Any) -> None:
    _finish_so1(_claim_so1(station))


def _claim_so1(station: Any) -> Any:
    """Log in and claim SO-1 (a lease from the centre when synced): the terminal, at the order."""
    t = station.terminal()
    assert t.scan("PACKER-001").verdict is Verdict.LOGGED_IN
    assert t.scan("SO-1").verdict is Verdict.ORDER_OPENED
    return t


def _finish_so1(t: Any) -> None:
    assert t.scan("BOX-S").verdict is Verdict.CARTON_OPENED
    for _ in range(2):
        assert t.scan(RawScan.from_wire(TEE)).verdict is Verdict.ACCEPTED
    assert t.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    assert t.handler.close_with_weight(150 + 2 * 200).verdict is Verdict.ORDER_COMPLETE


def _central_status(centre: Centre, order_id: str) -> OrderStatus:
    with centre.admin.uow(readonly=True) as uow:
        order = uow.orders.get(order_id)
    assert order is not None
    return order.status


def test_an_order_from_the_centre_is_packed_at_a_bench_and_the_centre_knows(centre: Centre) -> None:
    _with_packer(centre)
    bench, other = centre.station("BENCH-01"), centre.station("BENCH-02")
    for st in (bench, other):
        assert st.sync_now().error == ""  # users, products, orders pulled
    _pack_so1(bench)
    result = bench.sync_now()
    assert result.error == "" and result.drained
    assert _central_status(centre, "SO-1") is OrderStatus.PACKED
    status = sync_status(bench.ctx, bench.system_session())
    assert status.online and status.waiting == 0 and status.refused == 0 and status.last_push and status.last_pull
    other.sync_now()
    with other.uow(readonly=True) as uow:
        assert uow.orders.get("SO-1").status is OrderStatus.PACKED  # the other bench sees it packed


def test_the_sync_worker_keeps_it_in_step_and_says_when_it_is_cut_off(centre: Centre) -> None:
    _with_packer(centre)
    bench = centre.station("BENCH-01")
    bench.sync_worker.poll_s = 0.5
    bench.start_workers()
    assert _wait(lambda: bench.sync_worker.rounds > 0 and _has_order(bench, "SO-1"))
    terminal = _claim_so1(bench)  # the bench holds SO-1 (its lease) ...
    centre.path.cut()  # ... when the network goes down
    _finish_so1(terminal)  # offline: packing goes on, on the orders this bench holds
    bench.sync_worker.wake()
    assert _wait(lambda: not sync_status(bench.ctx, bench.system_session()).online)
    down = sync_status(bench.ctx, bench.system_session())
    assert down.waiting > 0 and down.last_error
    centre.path.mend()
    assert _wait(lambda: sync_status(bench.ctx, bench.system_session()).waiting == 0, timeout_s=60)
    assert _central_status(centre, "SO-1") is OrderStatus.PACKED  # (scan speed offline: bench/bench_leases.py)
    worker = bench.sync_worker._thread
    bench.close()
    assert worker is not None and not worker.is_alive()  # closing the station stops its sync worker


def _lease_at_centre(centre: Centre, order_id: str) -> Any:
    with centre.admin.uow(readonly=True) as uow:
        return uow.leases.holder(order_id)


def test_the_sync_worker_renews_the_leases_the_bench_holds_and_a_leads_release_frees_one(centre: Centre) -> None:
    from packstation.services import packing

    _with_packer(centre)
    users.add_user(centre.admin.ctx, centre.session(), "Lee Lead", "lead", "LEAD-001", pin="2468")
    bench = centre.station("BENCH-01")
    bench.sync_now()
    _claim_so1(bench)
    taken = _lease_at_centre(centre, "SO-1")
    assert taken.station_id == "BENCH-01" and taken.expires_at is not None
    bench.sync_worker.poll_s = 0.2
    bench.sync_worker.renew_every_s = 0.2
    bench.start_workers()
    # the worker's heartbeat moves the expiry on (by the centre's clock), the token stays
    assert _wait(lambda: _lease_at_centre(centre, "SO-1").expires_at > taken.expires_at)
    assert _lease_at_centre(centre, "SO-1").token == taken.token
    bench.sync_worker.stop()
    lead = bench.ctx.auth.login("LEAD-001", "2468")
    released = packing.release_claim(bench.ctx, lead, "SO-1", "packer went home")
    assert released.verdict is Verdict.ORDER_RELEASED, released.message
    assert _lease_at_centre(centre, "SO-1").station_id is None  # freed at the centre, not only here
    with centre.admin.uow(readonly=True) as uow:
        assert [e.kind for e in uow.events.for_order("SO-1")].count("order.lease_released") == 1


def test_sync_now_and_status_on_the_command_line(centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                 ) -> None:
    _with_packer(centre)
    bench = centre.station("BENCH-01")
    bench.sync_now()
    _pack_so1(bench)
    config_file = tmp_path / "bench01.toml"
    data = tmp_path / "BENCH-01"
    config_file.write_text(f'data_dir = "{data}"\n[station]\nid = "BENCH-01"\n[database]\n'
                           f'local = "sqlite:///{data / "station.db"}"\ncentral = "{centre.station_url()}"\n',
                           encoding="utf-8")
    assert cli_main(["--config", str(config_file), "sync", "status", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert before["waiting"] > 0 and set(before) >= {"online", "waiting", "refused", "last_push", "last_pull",
                                                     "clock_offset_s"}
    assert cli_main(["--config", str(config_file), "sync", "now"]) == 0
    out = capsys.readouterr().out
    assert "applied" in out and "online" in out
    assert cli_main(["--config", str(config_file), "sync", "status", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["waiting"] == 0 and after["online"] is True
    # cut off, with an event the centre does not have: said, and a non-zero exit
    centre.path.cut()
    with bench.uow() as uow:
        from packstation.domain.events import Event

        uow.events.add(Event("audit.note", None, "cli:test", None, {}), "BENCH-01", bench.ctx.clock())
        uow.commit()
    assert cli_main(["--config", str(config_file), "sync", "now"]) == 1
    err = capsys.readouterr().err
    assert "does not have everything" in err and "cannot be reached" in err
    centre.path.mend()
    assert cli_main(["--config", str(config_file), "sync", "now"]) == 0


def test_a_station_clock_a_day_off_is_said(centre: Centre) -> None:
    from datetime import UTC, datetime, timedelta

    _with_packer(centre)
    bench = centre.station("BENCH-01", clock=lambda: datetime.now(UTC) + timedelta(hours=24))
    bench.sync_now()  # the users come
    assert bench.terminal().scan("PACKER-001").verdict is Verdict.LOGGED_IN  # an event to push, dated by this clock
    bench.sync_now()
    status = sync_status(bench.ctx, bench.system_session())
    assert status.clock_offset_s is not None and abs(status.clock_offset_s - 86400) < 300
    assert status.clock_warning and "ahead of" in status.clock_warning


def _has_order(station: Any, order_id: str) -> bool:
    with station.uow(readonly=True) as uow:
        return uow.orders.get(order_id) is not None


def _wait(check, timeout_s: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_return_received_at_a_synced_desk_reaches_the_centre_once_even_offline(centre: Centre) -> None:
    """A parcel back from a customer: the order was packed at another bench, so the returns desk
    reads what left in it from the centre; items received while the network is down reach the
    centre once when it is back."""
    _with_packer(centre)
    users.add_user(centre.admin.ctx, centre.session(), "Rita Returns", "returns", "RETURNS-001")
    bench, desk_station = centre.station("BENCH-01"), centre.station("RET-01")
    bench.sync_now()
    _pack_so1(bench)
    assert bench.sync_now().drained
    desk_station.sync_now()
    desk = desk_station.terminal()
    assert desk.scan("RETURNS-001").verdict is Verdict.LOGGED_IN
    opened = desk.scan("RET-SO-1")
    if opened.verdict is Verdict.NEEDS_REASON:  # no RMA yet: the desk opens one, reason by number
        opened = desk.scan("1")
    assert opened.verdict is Verdict.RETURN_OPENED, opened
    assert desk.scan(RawScan.from_wire(TEE)).verdict is Verdict.ITEM_RECEIVED  # matched to the centre's scans
    centre.path.cut()
    assert desk.scan(RawScan.from_wire(TEE)).verdict is Verdict.ITEM_RECEIVED  # offline: the parcel stays open
    assert desk.scan(RawScan.from_wire(TEE)).verdict is Verdict.MORE_THAN_SHIPPED  # 2 shipped
    assert desk_station.sync_now().error  # cut off: said
    centre.path.mend()
    for _ in range(2):  # the second round finds everything there: nothing twice
        result = desk_station.sync_now()
        assert result.error == "" and result.drained
    with centre.admin.uow(readonly=True) as uow:
        [ret] = [r for r in uow.returns.for_order("SO-1")]
        received = uow.returns.items_of_order("SO-1")
        shipped = {s.item.scan_id for s in uow.shipments.scans("SO-1")}
    # opened at the desk (reason 1), two units received, none graded yet: received, not inspected
    assert (ret.rma_id, ret.origin, ret.reason, ret.status) == ("RMA-RET-01-00001", "desk", "damaged in transit",
                                                              ReturnStatus.RECEIVED)
    assert [(ln.sku, ln.qty, ln.received, ln.unexpected) for ln in ret.lines] == [("TS-1", 2, 2, False)]
    assert sorted((i.sku, i.qty, i.station_id, i.received_by, i.grade) for i in received) == [
        ("TS-1", 1, "RET-01", "person:Rita Returns", None)] * 2
    assert len(shipped) == 2 and {i.matched_scan for i in received} == shipped  # each unit matched to its own scan
    with desk_station.uow(readonly=True) as uow:  # and the desk's copy says the same
        here = uow.returns.get("RMA-RET-01-00001")
    assert here is not None and here.status is ReturnStatus.RECEIVED and [ln.received for ln in here.lines] == [2]


def test_the_lead_view_shows_the_sync_state_and_refused_events(centre: Centre, qtbot: Any) -> None:
    """A refused event (a step the centre's lifecycle does not allow) is listed for the lead, with
    its conflict, and a resolution is recorded."""
    from packstation.domain.events import Event
    from packstation.ui.lead_view import LeadView

    _with_packer(centre)
    users.add_user(centre.admin.ctx, centre.session(), "Lee Lead", "lead", "LEAD-001", pin="2468")
    bench = centre.station("BENCH-01")
    bench.sync_now()
    with bench.uow() as uow:  # a station claims SO-2 was delivered while the centre has it released
        uow.events.add(Event("order.delivered", "SO-2", "person:Pat Packer", "Pat Packer", {"from": "packing",
                                                                                           "to": "delivered"}),
                       "BENCH-01", bench.ctx.clock())
        uow.commit()
    bench.sync_now()
    lead = bench.ctx.auth.login("LEAD-001", "2468")
    view = LeadView(bench, lead)
    qtbot.addWidget(view)
    assert "Sync" in [view.tabs.tabText(i) for i in range(view.tabs.count())]
    rows = [[view.sync_table.item(r, c).text() for c in range(5)] for r in range(view.sync_table.rowCount())]
    assert [(r[1], r[2], r[3]) for r in rows] == [("order.delivered", "SO-2", "refused")]
    qtbot.waitUntil(lambda: view.conflict_table.rowCount() == 1, timeout=30_000)  # asked off the GUI thread
    assert "REFUSED" in view.sync_caption.text() and "asking" not in view.sync_caption.text()
    view.conflict_table.selectRow(0)
    view.resolve_note.setText("checked with the carrier: not delivered")
    view.resolve_selected()
    assert "resolved" in view.message.text()
