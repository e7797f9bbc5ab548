"""The carrier side of a central deployment (issue 11): what a synced bench's carrier did reaches the
centre, where the dock and the tracking poller work.

A real setup: the centre made by ``central init`` (its triggers and its station role), a synced bench
with a carrier account packing and pushing its events, a dock station whose ``[database] central``
is the centre as the station role, and the order API's host on the centre polling tracking. Nothing
is packed on the centre directly: everything the dock sees came through the push.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import central_dock_support as cds
import pytest
from test_sync_push import PRODUCTS, Central, import_all, make_central, orders

from packstation.adapters.carriers.simulated import SimulatedCarrier
from packstation.adapters.central.outbox import SqlCentralOutbox
from packstation.bootstrap import Station, build_api, build_station
from packstation.config import Config, DatabaseConfig, StationConfig
from packstation.domain.barcodes import interpret
from packstation.domain.identity import ActorKind
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import Verdict
from packstation.services import carriers, packing, users
from packstation.services.sync.push import push_all

pytestmark = pytest.mark.postgres

SUPPORT = Path(__file__).with_name("central_dock_support.py")


@dataclass
class Deployment:
    central: Central
    admin_url: str
    carrier: SimulatedCarrier  # the one carrier behind every station's DHL account
    bench: Station
    folder: Path
    records: list[dict[str, Any]]

    def pack(self, order: dict[str, Any]) -> Any:
        ctx = self.bench.ctx
        pat = ctx.auth.login("PACKER-BENCH-01")
        pack = packing.claim_order(ctx, pat, order["order_id"])
        assert packing.open_carton(ctx, pat, pack, "BOX-M").accepted
        codes = {p["sku"]: p["barcodes"][0] for p in PRODUCTS}
        for line in order["lines"]:
            for _ in range(line["qty"]):
                assert packing.record_item_scan(ctx, pat, pack, interpret(codes[line["sku"]])).accepted
        return packing.close_carton(ctx, pat, pack, pack.expected_weight(pack.open_carton))

    def push(self) -> None:
        ctx = self.bench.ctx
        report = push_all(ctx, ctx.auth.system(ActorKind.SYSTEM, "sync-worker"), SqlCentralOutbox(ctx.central))
        assert report.drained and report.refused == 0 and report.held == 0, report

    def carrier_fails(self, failing: bool) -> None:
        self.carrier.cfg = replace(self.carrier.cfg, simulate="error" if failing else "ok")

    def local_carton(self, order_id: str) -> Any:
        with self.bench.uow(readonly=True) as u:
            [carton] = u.shipments.cartons(order_id, {})
        return carton

    def dock_station(self) -> Station:
        station = build_station(cds.dock_config(self.folder / "dock.db", self.folder / "dock", self.central.station_url),
                                seed_demo=False)
        share(station, self.carrier)
        return station


def share(station: Any, carrier: SimulatedCarrier) -> None:
    assert station.ctx.carriers is not None
    station.ctx.carriers.accounts["DHL"] = carrier


@pytest.fixture
def deployment(fresh_pg_database: str, pg_server_instance: Any, tmp_path: Path) -> Iterator[Deployment]:
    records = orders("SO", 3, lines=1, qty=1)
    central = make_central(fresh_pg_database, pg_server_instance.port, records)  # central init + import
    bench = build_station(cds.bench_config("BENCH-01", tmp_path, central.station_url), seed_demo=False)
    cli = bench.system_session()
    import_all(bench.ctx, cli, records)
    users.add_user(bench.ctx, cli, "Pat Packer", "packer", "PACKER-BENCH-01")
    assert bench.ctx.carriers is not None
    carrier = bench.ctx.carriers.accounts["DHL"]
    assert isinstance(carrier, SimulatedCarrier)
    try:
        yield Deployment(central, fresh_pg_database, carrier, bench, tmp_path, records)
    finally:
        bench.close()
        central.admin.dispose()


def dock_login(station: Station, *, first: bool = True) -> Any:
    if first:
        users.add_user(station.ctx, station.system_session(), "Dan Dispatch", "dispatch", "DISPATCH-001")
    terminal = station.terminal()
    assert terminal.scan("DISPATCH-001").verdict is Verdict.LOGGED_IN
    return terminal


def test_the_dock_on_the_centre_loads_by_tracking_number_and_waits_for_missing_labels(deployment: Deployment) -> None:
    d = deployment
    labelled, unlabelled = d.records[0], d.records[1]
    assert d.pack(labelled).verdict is Verdict.ORDER_COMPLETE
    d.carrier_fails(True)
    assert d.pack(unlabelled).verdict is Verdict.LABEL_NOT_CREATED
    d.carrier_fails(False)
    d.push()
    first = d.local_carton(labelled["order_id"])
    assert first.tracking_number and first.shipment_id

    # the centre has what the carrier said: tracking number, carrier, shipment; the missing label waits
    rows = d.central.rows("SELECT order_id, tracking_number, label_carrier, shipment_id FROM cartons ORDER BY order_id")
    assert rows == [(labelled["order_id"], first.tracking_number, "DHL", first.shipment_id),
                    (unlabelled["order_id"], None, "DHL", None)]
    assert d.central.rows("SELECT order_id, station_id, status, attempts FROM label_requests") == [
        (unlabelled["order_id"], "BENCH-01", "failed", 1)]

    dock_station = d.dock_station()
    try:
        dock = dock_login(dock_station)
        assert dock.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
        out = dock.scan(first.tracking_number)  # the carrier's barcode on its label
        assert out.verdict is Verdict.CARTON_LOADED and out.data["sscc"] == first.sscc
        waiting = d.local_carton(unlabelled["order_id"])
        out = dock.scan(waiting.sscc)
        assert out.verdict is Verdict.LABEL_MISSING, out.message  # NO CARRIER LABEL YET, as at a standalone dock
        assert dock.scan("00340434999999999999").verdict is Verdict.UNKNOWN_CODE

        # the bench's label worker gets the label at last; once pushed, the dock loads the carton
        ctx = d.bench.ctx
        with d.bench.uow(readonly=True) as u:
            [request] = u.label_requests.waiting()
        result = carriers.retry_label(ctx, ctx.auth.system(ActorKind.SYSTEM, "label-worker"), request.id)
        assert result is not None and result.ok
        assert dock.scan(waiting.sscc).verdict is Verdict.LABEL_MISSING  # not at the centre yet
        d.push()
        assert d.central.rows("SELECT status, attempts FROM label_requests") == [("done", 2)]
        out = dock.scan(result.tracking_number)
        assert out.verdict is Verdict.CARTON_LOADED and out.data["sscc"] == waiting.sscc

        closed = dock.scan("CMD-CLOSE-MANIFEST")
        assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
        # the carrier's end-of-day close was given both shipments (their ids came through the push)
        shipped = {s.tracking_number: s for s in d.carrier.shipments.values()}
        assert shipped[first.tracking_number].closed_at is not None
        assert shipped[result.tracking_number].closed_at is not None
        [manifest] = d.central.rows("SELECT number, status FROM manifests")
        assert manifest == (1, "closed")
        [job] = dock_station.print_worker.drain()
        assert job.ok and job.job.kind == "manifest"
    finally:
        dock_station.close()

    # the deployment's tracking poller (the order API's host on the centre) moves both orders on
    api = build_api(Config(station=StationConfig(id="CENTRE-API"), data_dir=d.folder / "api",
                           database=DatabaseConfig(local=f"sqlite:///{d.folder / 'api.db'}", central=d.admin_url),
                           carriers=(cds.DHL,)))
    try:
        share(api, d.carrier)
        written = carriers.poll_tracking(api.ctx, carriers.TrackingPoller())
        assert len(written) == 2
    finally:
        api.close()
    assert d.central.rows("SELECT order_id, status FROM orders WHERE order_id IN (:a, :b) ORDER BY order_id",
                          a=labelled["order_id"], b=unlabelled["order_id"]) == [
        (labelled["order_id"], OrderStatus.IN_TRANSIT.value), (unlabelled["order_id"], OrderStatus.IN_TRANSIT.value)]


def test_a_dock_killed_right_after_the_centre_committed_its_close_prints_the_manifest_at_its_next_start(
        deployment: Deployment) -> None:
    d = deployment
    order = d.records[0]
    assert d.pack(order).verdict is Verdict.ORDER_COMPLETE
    d.push()
    carton = d.local_carton(order["order_id"])
    dock_station = d.dock_station()
    dock = dock_login(dock_station)
    assert dock.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    assert dock.scan(carton.tracking_number).verdict is Verdict.CARTON_LOADED
    dock_station.close()

    proc = subprocess.run([sys.executable, str(SUPPORT), "close", str(d.folder / "dock.db"), str(d.folder / "dock"),
                           d.central.station_url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, (proc.stdout, proc.stderr)
    assert d.central.rows("SELECT number, status FROM manifests") == [(1, "closed")]  # the close happened
    assert d.central.rows("SELECT status FROM orders WHERE order_id = :o", o=order["order_id"]) == [("handed_over",)]

    again = d.dock_station()  # the next start
    try:
        with again.uow(readonly=True) as u:
            assert u.print_jobs.waiting("DOCK-01") == []  # the station stopped before it had the job
        again.print_worker.resume()  # what the print worker does when it starts
        [printed] = again.print_worker.drain()
        assert printed.ok and printed.job.kind == "manifest" and printed.job.ref.startswith("M-000001")
        # once: a second start (or a dock login) takes nothing more
        again.print_worker.resume()
        dock_login(again, first=False)
        assert again.print_worker.drain() == []
        assert d.central.rows("SELECT kind, station_id, status FROM print_jobs") == [("manifest", "DOCK-01", "done")]
    finally:
        again.close()
