"""The way to the customer, by scans: import -> pack (carrier labels) -> dock -> manifest -> delivered.

Everything runs on a real SQLite file (and the main flow on PostgreSQL too) through the station's
composition root, with the simulated carrier for the carrier accounts.
"""

from __future__ import annotations

import json
import sys

import pytest

from packstation.cli import main as cli_main
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import Verdict
from packstation.services import carriers as carrier_service
from packstation.services.dock import list_manifests
from packstation.services.imports import import_records
from packstation.services.orders import CancelRefused, cancel_order
from packstation.services.reports import order_status

S = sys.modules["packstation_tests_shipping"]


def status(station, order_id):
    return order_status(station.ctx, station.system_session(), order_id)


def dock_scan(terminal, code):
    return terminal.scan(code)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_multi_carton_order_from_import_to_delivered(db, make_shipping_station, request):
    url = request.getfixturevalue("fresh_pg_database") if db == "postgresql" else None
    station = make_shipping_station(url=url)
    bench = S.login(station, "PACKER-001")
    seals = S.pack(bench, "SO-4C", [["TS-1"], ["HW-1"], ["TY-1"], ["CP-1"]])
    assert [s.verdict for s in seals] == [Verdict.CARTON_CLOSED] * 3 + [Verdict.ORDER_COMPLETE]
    # every carton carries the simulated DHL's tracking number and label (printed once each)
    cartons = S.cartons_of(station, "SO-4C")
    assert len(cartons) == 4 and all(c["label_carrier"] == "DHL" for c in cartons)
    numbers = [c["tracking_number"] for c in cartons]
    assert len(set(numbers)) == 4 and all(n.startswith("00340434") and len(n) == 20 for n in numbers)
    results = station.print_worker.drain()
    labels = [r for r in results if r.job.kind == "shipping_label"]
    assert len(labels) == 4 and all(r.ok for r in labels)
    assert all(r.job.payload.startswith(b"%PDF") for r in labels)  # no label printer: PDF in the folder
    assert seals[0].data["tracking_number"] == numbers[0]

    dock = S.login(station, "DISPATCH-001")
    assert dock.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    for c in cartons[:2]:
        assert dock.scan(c["sscc"]).verdict is Verdict.CARTON_LOADED
    # a carrier tracking barcode loads as well as the SSCC
    assert dock.scan(cartons[2]["tracking_number"]).verdict is Verdict.CARTON_LOADED
    # the SSCC as the label's GS1-128 reads it: (00) + 18 digits
    assert dock.scan("]C100" + cartons[3]["sscc"]).verdict is Verdict.CARTON_LOADED
    closed = dock.scan("CMD-CLOSE-MANIFEST")
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    assert closed.data["number"] == 1
    jobs = station.print_worker.drain()
    assert [j.job.kind for j in jobs] == ["manifest"] and jobs[0].job.payload.startswith(b"%PDF")
    assert status(station, "SO-4C")["status"] == "handed_over"
    # the simulated carrier had its end-of-day close
    account = station.ctx.carriers.for_carrier("DHL")
    assert len(account.closes) == 1
    [manifest] = list_manifests(station.ctx, station.system_session())
    assert manifest.carrier_ref == account.closes[0].reference and len(manifest.cartons) == 4

    # tracking: in transit after the close, delivered later; each once, never backwards
    poller = carrier_service.TrackingPoller(clock=lambda: 0.0)
    first = carrier_service.poll_tracking(station.ctx, poller)
    assert status(station, "SO-4C")["status"] == "in_transit" and len(first) == 1
    account.deliver_after_s = 0
    poller.last_asked.clear()
    assert len(carrier_service.poll_tracking(station.ctx, poller)) == 1
    poller.last_asked.clear()
    assert carrier_service.poll_tracking(station.ctx, poller) == []  # a repeat changes nothing
    final = status(station, "SO-4C")
    assert final["status"] == "delivered"
    stages = [(s["stage"], s["source"]) for s in final["stages"]]
    assert stages == [("received", "import"), ("released", "import"), ("packing", "bench"), ("packed", "bench"),
                      ("handed_over", "dock"), ("in_transit", "carrier tracking"), ("delivered", "carrier tracking")]
    by_stage = {s["stage"]: s for s in final["stages"]}
    assert by_stage["handed_over"]["by"] == "person:Dan Dispatch" and by_stage["handed_over"]["manifest"] == "M-000001"
    assert by_stage["delivered"]["by"] == "carrier:DHL"
    assert final["manifests"][0]["code"] == "M-000001" and len(final["manifests"][0]["cartons"]) == 4


def test_tracking_poll_respects_the_carriers_rate_limit(shipping_station):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    dock.scan(S.cartons_of(station, "SO-1C")[0]["sscc"])
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_CLOSED
    account = station.ctx.carriers.for_carrier("DHL")
    asked = []
    real_track = account.track
    account.track = lambda numbers: asked.append(list(numbers)) or real_track(numbers)
    account.min_poll_interval_s = 900
    now = [1000.0]
    poller = carrier_service.TrackingPoller(clock=lambda: now[0])
    carrier_service.poll_tracking(station.ctx, poller)
    now[0] += 899
    carrier_service.poll_tracking(station.ctx, poller)
    assert len(asked) == 1  # not again within 900 s
    now[0] += 2
    carrier_service.poll_tracking(station.ctx, poller)
    assert len(asked) == 2


def test_tracking_import_keeps_working_and_never_goes_backwards(shipping_station, tmp_path):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    number = S.cartons_of(station, "SO-1C")[0]["tracking_number"]
    session = station.system_session()
    report = import_records(station.ctx, session, "tracking", [("line 2", {"tracking_number": number, "status": "delivered",
                                                                           "at": "2026-03-11T10:00:00Z"})], "t.csv")
    assert report.ok and report.updated == 1
    again = import_records(station.ctx, session, "tracking", [("line 2", {"tracking_number": number, "status": "in_transit",
                                                                          "at": "2026-03-12T10:00:00Z"})], "t.csv")
    assert again.ok and again.unchanged == 1
    assert status(station, "SO-1C")["status"] == "delivered"


def test_the_carrier_label_prints_instead_of_ours_and_orders_without_an_account_keep_the_sscc_label(shipping_station):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-DPD", [["HW-1"]])
    S.pack(bench, "SO-MKT", [["TY-1"]])
    S.pack(bench, "SO-UPS", [["TS-1"]])
    dpd, mkt, ups = (S.cartons_of(station, o)[0] for o in ("SO-DPD", "SO-MKT", "SO-UPS"))
    assert dpd["label_carrier"] is None and dpd["tracking_number"] is None  # our own label, as before
    assert mkt["label_carrier"] == "marketplace" and mkt["tracking_number"] == "TBA123456789000"
    assert ups["label_carrier"] == "UPS" and ups["tracking_number"].startswith("1Z999AA1")
    printed = {r.job.ref.split("/")[0]: r for r in station.print_worker.drain() if r.job.kind == "shipping_label"}
    assert printed["SO-MKT"].job.payload == S.MARKET_ZPL.encode()  # the marketplace's label, as given
    assert printed["SO-MKT"].where.endswith(".zpl")
    assert printed["SO-DPD"].job.payload.startswith(b"%PDF")


def test_each_refused_dock_scan_has_its_own_verdict(shipping_station):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-2C", [["TS-1"], ["HW-1"]])
    S.pack(bench, "SO-UPS", [["TS-1"]])
    S.pack(bench, "SO-EXP", [["CP-1"]])
    S.pack(bench, "SO-CAN", [["TS-1"]])
    # an order left half-packed: one carton sealed, the order still open at the bench
    assert bench.scan("SO-OPEN").verdict is Verdict.ORDER_OPENED
    bench.scan("BOX-M")
    bench.scan(S.TEE)
    bench.scan("CMD-CLOSE-CARTON")
    bench.handler.close_with_weight(bench.handler.pack.expected_weight(bench.handler.pack.open_carton))
    bench.scan("BOX-M")  # the second carton stays open (not sealed)
    cancel_order(station.ctx, station.system_session(), "SO-CAN", "customer cancelled")
    two, ups, exp, can, half = (S.cartons_of(station, o) for o in ("SO-2C", "SO-UPS", "SO-EXP", "SO-CAN", "SO-OPEN"))

    dock = S.login(station, "DISPATCH-001")
    # before any manifest is open, a carton scan is still checked
    assert dock.scan(two[0]["sscc"]).verdict is Verdict.NO_MANIFEST
    dock.scan("CARRIER-DHL/PAKET")
    assert dock.scan(two[0]["sscc"]).verdict is Verdict.CARTON_LOADED
    seen = {
        "already loaded": dock.scan(two[0]["sscc"]),
        "other carrier": dock.scan(ups[0]["sscc"]),
        "other service": dock.scan(exp[0]["sscc"]),
        "cancelled": dock.scan(can[0]["sscc"]),
        "not packed (order still at the bench)": dock.scan(half[0]["sscc"]),
        "unknown": dock.scan("006141419999999997"),
        "unknown text": dock.scan("NOT-A-CARTON"),
    }
    verdicts = {what: out.verdict for what, out in seen.items()}
    assert verdicts == {
        "already loaded": Verdict.ALREADY_LOADED, "other carrier": Verdict.WRONG_CARRIER,
        "other service": Verdict.WRONG_CARRIER, "cancelled": Verdict.ORDER_PULLED,
        "not packed (order still at the bench)": Verdict.NOT_SEALED, "unknown": Verdict.UNKNOWN_CODE,
        "unknown text": Verdict.UNKNOWN_CODE,
    }
    assert seen["other carrier"].data["headline"] == "WRONG CARRIER — UPS"
    assert seen["other service"].data["headline"] == "WRONG SERVICE — Express"
    assert "PULL" in seen["cancelled"].data["headline"]
    # nothing refused was loaded; the already-loaded scan changed nothing
    view = dock.handler.view()
    assert [(c.order_id, c.seq) for c in view.manifest.cartons] == [("SO-2C", 1)]
    # the pulled carton is recorded and leaves the to-pull list
    assert all(c.order_id != "SO-CAN" for c in view.pull)
    kinds = [e["kind"] for e in status(station, "SO-CAN")["events"]]
    assert "carton.pulled" in kinds
    # handed over on a closed manifest: refused at the next one
    dock.scan(two[1]["sscc"])
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_CLOSED
    dock.scan("CARRIER-DHL")
    again = dock.scan(two[0]["sscc"])
    assert again.verdict is Verdict.ON_CLOSED_MANIFEST and "M-000001" in again.message
    # a carton whose carrier label has not been created yet waits
    assert dock.scan("CMD-UNDO").verdict is Verdict.NOTHING_TO_UNDO
    # CMD-UNDO unloads the last carton loaded
    dock.scan("CARRIER-UPS")
    dock.scan(ups[0]["sscc"])
    undone = dock.scan("CMD-UNDO")
    assert undone.verdict is Verdict.CARTON_UNLOADED and undone.data["sscc"] == ups[0]["sscc"]
    assert dock.handler.view().manifest.cartons == []


def test_a_close_with_3_of_4_cartons_is_refused_then_approved_by_a_lead(shipping_station):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-4C", [["TS-1"], ["HW-1"], ["TY-1"], ["CP-1"]])
    cartons = S.cartons_of(station, "SO-4C")
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    for c in cartons[:3]:
        assert dock.scan(c["sscc"]).verdict is Verdict.CARTON_LOADED
    refused = dock.scan("CMD-CLOSE-MANIFEST")
    assert refused.verdict is Verdict.MANIFEST_INCOMPLETE
    assert "3 of 4 cartons" in refused.message and cartons[3]["sscc"] in refused.message
    assert status(station, "SO-4C")["status"] == "packed"
    assert dock.scan("3").verdict is Verdict.NEEDS_LEAD  # reason 3: driver's truck full
    assert dock.scan("PACKER-001").verdict is Verdict.NOT_ALLOWED  # not a lead: the close is cancelled
    assert status(station, "SO-4C")["status"] == "packed"
    dock.scan("CMD-CLOSE-MANIFEST")
    dock.scan("3")
    assert dock.scan("LEAD-001").verdict is Verdict.NEEDS_PIN
    assert dock.enter_pin("0000").verdict is Verdict.NOT_ALLOWED  # a wrong PIN approves nothing
    dock.scan("LEAD-001")
    closed = dock.enter_pin(S.LEAD_PIN)
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    assert "Split approved by person:Lee Lead (driver's truck full)" in closed.message
    [manifest] = list_manifests(station.ctx, station.system_session())
    assert manifest.split_by == "person:Lee Lead" and manifest.split_reason == "driver's truck full"
    assert len(manifest.cartons) == 3
    assert status(station, "SO-4C")["status"] == "handed_over"
    event = next(e for e in station_events(station) if e.kind == "manifest.closed")
    assert event.payload["split"] == ["SO-4C"] and event.actor == "person:Lee Lead"


def station_events(station):
    with station.uow(readonly=True) as uow:
        return uow.events.since(S.NOW)


def test_a_retried_close_gives_one_manifest(shipping_station):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    dock.scan(S.cartons_of(station, "SO-1C")[0]["sscc"])
    desk = dock.handler
    from packstation.services.dock import close_manifest

    manifest_id = desk.manifest.id
    first = close_manifest(station.ctx, dock.session, manifest_id, close_key="close-123")
    # the answer was lost (the dock crashed, the network dropped): the same close again
    again = close_manifest(station.ctx, dock.session, manifest_id, close_key="close-123")
    assert again.again and again.manifest.number == first.manifest.number == 1
    assert len(list_manifests(station.ctx, station.system_session())) == 1
    kinds = [e.kind for e in station_events(station)]
    assert kinds.count("manifest.closed") == 1 and kinds.count("order.handed_over") == 1
    assert len([r for r in station.print_worker.drain() if r.job.kind == "manifest"]) == 1
    # the desk retrying with the key it kept: the same answer, no second manifest
    desk.close_key = "close-123"
    desk.manifest = first.manifest
    out = dock.scan("CMD-CLOSE-MANIFEST")
    assert out.verdict is Verdict.MANIFEST_CLOSED and "closed already" in out.message
    assert len(list_manifests(station.ctx, station.system_session())) == 1


def test_manifest_numbers_have_no_gaps_and_a_label_after_a_close_goes_to_the_next_manifest(shipping_station):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    dock.scan(S.cartons_of(station, "SO-1C")[0]["sscc"])
    assert dock.scan("CMD-CLOSE-MANIFEST").data["number"] == 1
    # an empty manifest cannot close (and draws no number)
    dock.scan("CARRIER-DHL")
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.NOT_ALLOWED
    S.pack(bench, "SO-2C", [["TS-1", "HW-1"]])
    dock.scan(S.cartons_of(station, "SO-2C")[0]["sscc"])
    assert dock.scan("CMD-CLOSE-MANIFEST").data["number"] == 2
    assert [m.code for m in list_manifests(station.ctx, station.system_session())] == ["M-000002", "M-000001"]


def test_cancel_until_handed_over(shipping_station):
    station = shipping_station
    admin = station.system_session()
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    dock.scan(S.cartons_of(station, "SO-1C")[0]["sscc"])
    # cancelled while on the open manifest: it leaves the manifest and is to be pulled
    done = cancel_order(station.ctx, admin, "SO-1C", "customer cancelled")
    assert done.was is OrderStatus.PACKED and len(done.pull) == 1
    view = dock.handler.view()
    assert view.manifest.cartons == [] and [c.order_id for c in view.pull] == ["SO-1C"]
    S.pack(bench, "SO-2C", [["TS-1", "HW-1"]])
    dock.scan(S.cartons_of(station, "SO-2C")[0]["sscc"])
    dock.scan("CMD-CLOSE-MANIFEST")
    with pytest.raises(CancelRefused, match="can no longer be cancelled"):
        cancel_order(station.ctx, admin, "SO-2C", "too late")
    with pytest.raises(CancelRefused, match="reason"):
        cancel_order(station.ctx, admin, "SO-3C", " ")
    # a dispatch user may not cancel
    from packstation.services.auth import NotAllowed

    with pytest.raises(NotAllowed):
        cancel_order(station.ctx, dock.session, "SO-UPS", "no")


def test_a_bench_holding_an_order_that_is_cancelled_stops_at_its_next_scan(shipping_station):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    bench.scan("SO-2C")
    bench.scan("BOX-M")
    cancel_order(station.ctx, station.system_session(), "SO-2C", "fraud suspected")
    out = bench.scan(S.TEE)
    assert out.verdict is Verdict.ORDER_REFUSED and "cancelled" in out.message


def test_cli_manifest_list_show_and_status_stages(shipping_station, capsys, tmp_path, monkeypatch):
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-2C", [["TS-1"], ["HW-1"]])
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    for c in S.cartons_of(station, "SO-2C"):
        dock.scan(c["sscc"])
    dock.scan("CMD-CLOSE-MANIFEST")
    db = station.info.database.split(" ", 1)[1]
    config = tmp_path / "station.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nlocal = "{db}"\n'
                      '[carriers.DHL]\nconnector = "simulated"\n', encoding="utf-8")
    station.close()
    capsys.readouterr()
    assert cli_main(["--config", str(config), "manifest", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["code"] == "M-000001" and listed["orders"] == ["SO-2C"] and len(listed["cartons"]) == 2
    pdf = tmp_path / "m.pdf"
    assert cli_main(["--config", str(config), "manifest", "show", "M-000001", "--json", "--pdf", str(pdf)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "closed" and pdf.read_bytes().startswith(b"%PDF")
    assert cli_main(["--config", str(config), "manifest", "show", "M-000009"]) == 1
    capsys.readouterr()
    assert cli_main(["--config", str(config), "status", "SO-2C", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["stage"] for s in out["stages"]] == ["received", "released", "packing", "packed", "handed_over"]
    assert all(s["at"] and s["by"] for s in out["stages"])
    assert cli_main(["--config", str(config), "cancel", "SO-1C", "--reason", "customer cancelled"]) == 0
    assert "SO-1C cancelled" in capsys.readouterr().out


def test_a_marketplace_label_url_is_fetched_over_http_and_printed(make_shipping_station, tmp_path):
    """``label_url``: the label is downloaded (a real HTTP server on a free port) and printed as given;
    a download that fails is retried like a carrier that does not answer."""
    import http.server
    import threading

    pdf = b"%PDF-1.4\n% a marketplace label\n%%EOF\n"
    state = {"ok": False, "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            state["hits"] += 1
            if not state["ok"]:
                self.send_error(503, "label server busy")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(len(pdf)))
            self.end_headers()
            self.wfile.write(pdf)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/labels/SO-URL.pdf"
        clock = S.TickingClock(step_s=0.001)
        station = make_shipping_station(clock=clock, stocked=False)
        S.stock(station, [*S.ORDERS, S.order("SO-URL", {"TY-1": 1}, tracking_number="AWB-42", label_url=url)])
        bench = S.login(station, "PACKER-001")
        [seal] = S.pack(bench, "SO-URL", [["TY-1"]])
        assert seal.verdict is Verdict.LABEL_NOT_CREATED and "503" in seal.message
        state["ok"] = True
        clock.advance(20)
        [result] = station.label_worker.drain()
        assert result.ok and result.tracking_number == "AWB-42"
        [label] = [r for r in station.print_worker.drain() if r.job.kind == "shipping_label"]
        assert label.job.payload == pdf and state["hits"] == 2
        assert S.cartons_of(station, "SO-URL")[0]["tracking_number"] == "AWB-42"
    finally:
        server.shutdown()
        server.server_close()


def test_import_refuses_a_bad_marketplace_label(shipping_station):
    session = shipping_station.system_session()
    bad = [("record 1", S.order("SO-X1", {"TY-1": 1}, label_zpl="not zpl")),
           ("record 2", S.order("SO-X2", {"TY-1": 1}, label_url="ftp://x/y")),
           ("record 3", S.order("SO-X3", {"TY-1": 1}, label_zpl=S.MARKET_ZPL, label_url="https://x/y"))]
    report = import_records(shipping_station.ctx, session, "orders", bad, "bad.ndjson")
    reasons = [r.reason for r in report.rejected]
    assert reasons == ["label_zpl must be one ZPL label, from ^XA to ^XZ",
                       "label_url must be an http(s) address of the label (at most 500 characters), got 'ftp://x/y'",
                       "give label_zpl or label_url, not both"]


@pytest.mark.postgres
def test_with_a_central_database_the_dock_works_on_the_centre(make_shipping_station, fresh_pg_database, tmp_path):
    """ctx.central set: every dock scan is checked against the centre, the manifest is stored there.
    (The cartons are packed on the centre directly here; tests/integration/test_central_dock.py has
    them come from a synced bench's push, carrier labels and all.)"""
    from packstation.adapters.db.engine import make_engine, migrate
    from packstation.config import DatabaseConfig

    engine = make_engine(fresh_pg_database)
    migrate(engine)
    engine.dispose()
    # the centre knows the packed order (packed at another bench, synced): pack it there
    centre = make_shipping_station(url=fresh_pg_database, station_id="BENCH-07")
    S.pack(S.login(centre, "PACKER-001"), "SO-2C", [["TS-1"], ["HW-1"]])
    ssccs = [c["sscc"] for c in S.cartons_of(centre, "SO-2C")]
    from packstation.bootstrap import build_station
    from packstation.config import Config, StationConfig

    dock_station = build_station(Config(station=StationConfig(id="DOCK-01"), data_dir=tmp_path / "dock",
                                        database=DatabaseConfig(local=f"sqlite:///{tmp_path / 'dock.db'}",
                                                                central=fresh_pg_database),
                                        carriers=(S.simulated("DHL"),)), seed_demo=False)
    try:
        S.stock(dock_station)  # the dock's own database has the users (and the orders, not their cartons)
        dock = S.login(dock_station, "DISPATCH-001")
        dock.scan("CARRIER-DHL")
        assert [dock.scan(code).verdict for code in ssccs] == [Verdict.CARTON_LOADED] * 2
        closed = dock.scan("CMD-CLOSE-MANIFEST")
        assert closed.verdict is Verdict.MANIFEST_CLOSED and closed.data["number"] == 1
        assert status(centre, "SO-2C")["status"] == "handed_over"  # at the centre
        with dock_station.uow(readonly=True) as local:
            assert local.manifests.recent() == [] and local.orders.get("SO-2C").status is OrderStatus.RELEASED
        # the manifest's print job is this station's (its printers)
        assert [r.job.kind for r in dock_station.print_worker.drain()] == ["manifest"]
    finally:
        dock_station.close()
