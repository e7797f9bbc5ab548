"""Loading and closing at the dispatch dock (issue 11): a carton on another open manifest, the rest
of a split order, a carton loaded while a close waits for the carrier, a carrier whose end-of-day
close fails, and the manifest numbers of docks closing at the same time.

Real SQLite files and real PostgreSQL servers, through the station's composition root; the docks
work by scans, with the simulated carrier for the accounts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from packstation.domain.lifecycle import TransitionRefused
from packstation.domain.packing import Verdict
from packstation.services import dock as dock_service
from packstation.services.carriers import CarrierError, CarrierTimeout
from packstation.services.dock import list_manifests
from packstation.services.reports import order_status

S = sys.modules["packstation_tests_shipping"]
DB = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def status(station, order_id):
    return order_status(station.ctx, station.system_session(), order_id)


def events(station, kind):
    with station.uow(readonly=True) as uow:
        return [e for e in uow.events.since(S.NOW) if e.kind == kind]


def split_close(dock, cartons):
    """Load *cartons* and close with a lead's approval (reason 3: driver's truck full)."""
    dock.scan("CARRIER-DHL")
    for c in cartons:
        assert dock.scan(c["sscc"]).verdict is Verdict.CARTON_LOADED
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_INCOMPLETE
    assert dock.scan("3").verdict is Verdict.NEEDS_LEAD
    assert dock.scan("LEAD-001").verdict is Verdict.NEEDS_PIN
    closed = dock.enter_pin(S.LEAD_PIN)
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    return closed


def pdf_text(payload: bytes, tmp_path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.fail("pdftotext is missing; install the Debian package poppler-utils")
    pdf = tmp_path / "manifest.pdf"
    pdf.write_bytes(payload)
    return subprocess.run([exe, str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60).stdout


# --- a carton on another open manifest ----------------------------------------------------------


def test_a_carton_on_another_open_manifest_is_refused_with_its_own_sound(shipping_station):
    from packstation.ui.sounds import VERDICT_PATTERNS

    station = shipping_station
    S.pack(S.login(station, "PACKER-001"), "SO-1C", [["TY-1"]])
    sscc = S.cartons_of(station, "SO-1C")[0]["sscc"]
    paket, every = S.login(station, "DISPATCH-001"), S.login(station, "DISPATCH-001")
    paket.scan("CARRIER-DHL/PAKET")
    assert paket.scan(sscc).verdict is Verdict.CARTON_LOADED
    every.scan("CARRIER-DHL")  # the manifest for every DHL service: another one
    out = every.scan(sscc)
    assert out.verdict is Verdict.ON_OTHER_MANIFEST and out.data["headline"] == "ON ANOTHER MANIFEST"
    assert "not loaded here" in out.message
    assert VERDICT_PATTERNS[Verdict.ON_OTHER_MANIFEST] != VERDICT_PATTERNS[Verdict.ALREADY_LOADED]
    assert out.verdict.tone is not Verdict.ALREADY_LOADED.tone  # red, not the amber no-op
    assert every.handler.view().manifest.cartons == []
    [refused] = events(station, "dock.refused")
    assert refused.payload["verdict"] == "on_other_manifest"


# --- the rest of a split order ------------------------------------------------------------------


@pytest.mark.parametrize("db", DB)
def test_the_rest_of_a_split_order_goes_on_the_next_manifest(db, make_shipping_station, request):
    url = request.getfixturevalue("fresh_pg_database") if db == "postgresql" else None
    station = make_shipping_station(url=url)
    S.pack(S.login(station, "PACKER-001"), "SO-4C", [["TS-1"], ["HW-1"], ["TY-1"], ["CP-1"]])
    cartons = S.cartons_of(station, "SO-4C")
    dock = S.login(station, "DISPATCH-001")
    assert split_close(dock, cartons[:3]).data["number"] == 1
    assert status(station, "SO-4C")["status"] == "handed_over"

    # the 4th carton ("driver's truck full") goes with the next driver
    assert dock.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    loaded = dock.scan(cartons[3]["sscc"])
    assert loaded.verdict is Verdict.CARTON_LOADED, loaded.message
    assert loaded.data["headline"] == "LOADED — REST OF A SPLIT ORDER"
    # its handed-over cartons are not "missing": the page shows the order whole
    assert dock.handler.view().missing == []
    # a carton that left on M-000001 is still refused here
    again = dock.scan(cartons[0]["sscc"])
    assert again.verdict is Verdict.ON_CLOSED_MANIFEST and "M-000001" in again.message
    closed = dock.scan("CMD-CLOSE-MANIFEST")  # no split this time: nothing of the order is left behind
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    assert closed.data["number"] == 2 and "1 carton(s) of 1 order(s)" in closed.message

    final = status(station, "SO-4C")
    assert final["status"] == "handed_over"  # it stays handed over: never back, never twice
    assert [s["stage"] for s in final["stages"]].count("handed_over") == 1
    assert [(m["code"], m["status"], m["cartons"]) for m in final["manifests"]] == [
        ("M-000001", "closed", [c["sscc"] for c in cartons[:3]]), ("M-000002", "closed", [cartons[3]["sscc"]])]
    [rest] = [e for e in final["events"] if e["kind"] == "carton.handed_over"]
    assert rest["data"]["sscc"] == cartons[3]["sscc"] and rest["data"]["manifest"] == "M-000002"
    assert rest["data"]["seq"] == 4 and rest["data"]["order_status"] == "handed_over"
    assert rest["actor"] == "person:Dan Dispatch"
    assert len(events(station, "order.handed_over")) == 1
    second = dock_service.find_manifest(station.ctx, station.system_session(), "M-000002")
    assert [(c.order_id, c.seq) for c in second.cartons] == [("SO-4C", 4)] and second.split_by is None
    [event] = [e for e in events(station, "manifest.closed") if e.payload["number"] == 2]
    assert event.payload["cartons"] == [{"order_id": "SO-4C", "seq": 4, "sscc": cartons[3]["sscc"]}]
    assert event.payload["split"] == []


def test_the_rest_of_a_split_order_must_leave_whole_too(shipping_station):
    """Two cartons left behind: loading one of them is a split again (1 of the 2 still to go)."""
    station = shipping_station
    S.pack(S.login(station, "PACKER-001"), "SO-4C", [["TS-1"], ["HW-1"], ["TY-1"], ["CP-1"]])
    cartons = S.cartons_of(station, "SO-4C")
    dock = S.login(station, "DISPATCH-001")
    split_close(dock, cartons[:2])
    dock.scan("CARRIER-DHL")
    assert dock.scan(cartons[2]["sscc"]).verdict is Verdict.CARTON_LOADED
    refused = dock.scan("CMD-CLOSE-MANIFEST")
    assert refused.verdict is Verdict.MANIFEST_INCOMPLETE
    assert "1 of 2 cartons" in refused.message and cartons[3]["sscc"] in refused.message
    dock.scan("CMD-UNDO")  # cancels the close
    assert dock.scan(cartons[3]["sscc"]).verdict is Verdict.CARTON_LOADED
    assert dock.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_CLOSED
    assert [len(m["cartons"]) for m in status(station, "SO-4C")["manifests"]] == [2, 2]
    assert len(events(station, "carton.handed_over")) == 2


# --- a carton loaded while the close waits for the carrier -------------------------------------


def _two_docks(make_shipping_station, url):
    """Two dock stations on one database (PostgreSQL), or two docks of one station (SQLite file)."""
    a_station = make_shipping_station(url=url)
    b_station = make_shipping_station(url=url, station_id="DOCK-02", stocked=False) if url else a_station
    return a_station, b_station


@pytest.mark.parametrize("db", DB)
def test_a_carton_loaded_while_the_close_waits_for_the_carrier_refuses_the_close(db, make_shipping_station,
                                                                                 request, tmp_path):
    url = request.getfixturevalue("fresh_pg_database") if db == "postgresql" else None
    a_station, b_station = _two_docks(make_shipping_station, url)
    bench = S.login(a_station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    S.pack(bench, "SO-2C", [["TS-1", "HW-1"]])
    one, two = (S.cartons_of(a_station, o)[0]["sscc"] for o in ("SO-1C", "SO-2C"))
    a, b = S.login(a_station, "DISPATCH-001"), S.login(b_station, "DISPATCH-001")
    assert a.scan("CARRIER-DHL").verdict is b.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    assert a.handler.manifest.id == b.handler.manifest.id  # one open DHL manifest, two docks
    assert a.scan(one).verdict is Verdict.CARTON_LOADED
    a_station.print_worker.drain()

    # the carrier's end-of-day close is the close's window between its read and its write
    account = a_station.ctx.carriers.for_carrier("DHL")
    real_close = account.close_manifest
    seen = []

    def close_while_b_loads(shipment_ids, tracking_numbers):
        if not seen:
            seen.append(b.scan(two).verdict)
        return real_close(shipment_ids, tracking_numbers)

    account.close_manifest = close_while_b_loads
    out = a.scan("CMD-CLOSE-MANIFEST")
    assert seen == [Verdict.CARTON_LOADED]
    assert out.verdict is Verdict.NOT_ALLOWED and out.data["headline"] == "MANIFEST NOT CLOSED"
    assert f"loaded meanwhile: {two}" in out.message and "Nothing was closed" in out.message
    # nothing closed, nothing lost: both cartons on the open manifest, both orders still packed
    [manifest] = list_manifests(a_station.ctx, a_station.system_session())
    assert manifest.status.value == "open" and {c.order_id for c in manifest.cartons} == {"SO-1C", "SO-2C"}
    assert status(a_station, "SO-1C")["status"] == status(a_station, "SO-2C")["status"] == "packed"
    assert events(a_station, "manifest.closed") == []
    assert [r.job.kind for r in a_station.print_worker.drain()] == []

    # closed again: exactly what is on it, on the PDF and in the event, with the number not used up
    closed = a.scan("CMD-CLOSE-MANIFEST")
    assert closed.verdict is Verdict.MANIFEST_CLOSED and closed.data["number"] == 1, closed.message
    assert status(a_station, "SO-1C")["status"] == status(a_station, "SO-2C")["status"] == "handed_over"
    [event] = events(a_station, "manifest.closed")
    assert {c["sscc"] for c in event.payload["cartons"]} == {one, two}
    [manifest] = list_manifests(a_station.ctx, a_station.system_session())
    assert {c.sscc for c in manifest.cartons} == {one, two}
    [job] = [r.job for r in a_station.print_worker.drain() if r.job.kind == "manifest"]
    printed = pdf_text(job.payload, tmp_path)
    assert "SO-1C" in printed and "SO-2C" in printed


def _lock_waiters(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar_one())


@pytest.mark.postgres
def test_a_load_while_the_close_writes_waits_for_it_and_is_refused(make_shipping_station, fresh_pg_database,
                                                                   monkeypatch):
    """PostgreSQL: the close's write transaction holds the manifest's row (FOR UPDATE); a load at
    another dock in that moment waits for the close's commit, then finds the manifest closed."""
    a_station, b_station = _two_docks(make_shipping_station, fresh_pg_database)
    bench = S.login(a_station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    S.pack(bench, "SO-2C", [["TS-1", "HW-1"]])
    one, two = (S.cartons_of(a_station, o)[0]["sscc"] for o in ("SO-1C", "SO-2C"))
    a, b = S.login(a_station, "DISPATCH-001"), S.login(b_station, "DISPATCH-001")
    a.scan("CARRIER-DHL")
    b.scan("CARRIER-DHL")
    assert a.scan(one).verdict is Verdict.CARTON_LOADED
    watcher = create_engine(fresh_pg_database)
    b_out = []
    waited = []
    real_change = dock_service.change_status

    def change_while_b_loads(*args, **kwargs):  # inside the close's write transaction
        if not waited:
            loader = threading.Thread(target=lambda: b_out.append(b.scan(two)), daemon=True)
            loader.start()
            deadline = time.monotonic() + 30
            while not _lock_waiters(watcher) and loader.is_alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            waited.append((loader, loader.is_alive()))
        return real_change(*args, **kwargs)

    monkeypatch.setattr(dock_service, "change_status", change_while_b_loads)
    try:
        closed = a.scan("CMD-CLOSE-MANIFEST")
        [(loader, blocked)] = waited
        loader.join(30)
    finally:
        watcher.dispose()
    assert blocked, f"the load did not wait for the close: {b_out[0].verdict if b_out else 'still running'}"
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    [refused] = b_out
    assert refused.verdict is Verdict.NO_MANIFEST and refused.data["headline"] == "MANIFEST CLOSED — NOT LOADED"
    assert "closed meanwhile" in refused.message and "scan CARRIER-DHL" in refused.message
    [manifest] = list_manifests(a_station.ctx, a_station.system_session())
    assert [c.sscc for c in manifest.cartons] == [one]
    assert status(a_station, "SO-2C")["status"] == "packed" and status(a_station, "SO-2C")["manifests"] == []
    # the carton goes on the next manifest
    b.scan("CARRIER-DHL")
    assert b.scan(two).verdict is Verdict.CARTON_LOADED


def test_a_carton_scanned_onto_a_manifest_another_dock_closed_is_refused_not_a_no_op(shipping_station):
    """Dock B still shows the DHL manifest dock A has closed: B's next carton is not loaded, and B
    hears a refusal, not the already-loaded tone; the carton goes on the next manifest."""
    station = shipping_station
    bench = S.login(station, "PACKER-001")
    S.pack(bench, "SO-1C", [["TY-1"]])
    S.pack(bench, "SO-2C", [["TS-1", "HW-1"]])
    one, two = (S.cartons_of(station, o)[0]["sscc"] for o in ("SO-1C", "SO-2C"))
    a, b = S.login(station, "DISPATCH-001"), S.login(station, "DISPATCH-001")
    a.scan("CARRIER-DHL")
    b.scan("CARRIER-DHL")
    a.scan(one)
    assert a.scan("CMD-CLOSE-MANIFEST").verdict is Verdict.MANIFEST_CLOSED
    out = b.scan(two)
    assert out.verdict is Verdict.NO_MANIFEST and out.data["headline"] == "MANIFEST CLOSED — NOT LOADED"
    from packstation.ui.sounds import PATTERNS, VERDICT_PATTERNS

    # its sound: the no-manifest warning, not the already-loaded tone (the dock has its own for that)
    assert out.verdict not in VERDICT_PATTERNS and PATTERNS[out.verdict.tone] != VERDICT_PATTERNS[Verdict.ALREADY_LOADED][0]
    assert status(station, "SO-2C")["manifests"] == [] and status(station, "SO-2C")["status"] == "packed"
    # the dock let go of the closed manifest: the next scan asks for the carrier, then the carton loads
    assert b.scan(two).verdict is Verdict.NO_MANIFEST
    assert b.scan("CARRIER-DHL").verdict is Verdict.MANIFEST_OPENED
    assert b.scan(two).verdict is Verdict.CARTON_LOADED


# --- the carrier's end-of-day close fails -------------------------------------------------------


@pytest.mark.parametrize("failure", [CarrierError("DHL: 503 Service Unavailable (end of day)"),
                                     CarrierTimeout("DHL did not answer within 5 s")])
def test_a_failing_end_of_day_close_is_said_and_recorded_and_the_hand_over_stands(shipping_station, failure):
    station = shipping_station
    S.pack(S.login(station, "PACKER-001"), "SO-2C", [["TS-1"], ["HW-1"]])
    cartons = S.cartons_of(station, "SO-2C")
    account = station.ctx.carriers.for_carrier("DHL")

    def refuse(shipment_ids, tracking_numbers):
        raise failure

    account.close_manifest = refuse
    dock = S.login(station, "DISPATCH-001")
    dock.scan("CARRIER-DHL")
    for c in cartons:
        dock.scan(c["sscc"])
    station.print_worker.drain()
    out = dock.scan("CMD-CLOSE-MANIFEST")
    # the driver leaves with the cartons: the manifest closes and prints; the dock hand is told
    assert out.verdict is Verdict.MANIFEST_CLOSED and out.data["number"] == 1
    assert f"DHL's end-of-day close FAILED ({failure}): tell the lead." in out.message
    assert [r.job.kind for r in station.print_worker.drain()] == ["manifest"]
    assert status(station, "SO-2C")["status"] == "handed_over"
    [manifest] = list_manifests(station.ctx, station.system_session())
    assert manifest.carrier_ref == f"end-of-day close failed: {failure}"
    [event] = events(station, "manifest.closed")
    assert event.payload["carrier_error"] == str(failure) and event.payload["carrier_ref"] is None
    assert len(event.payload["cartons"]) == 2


# --- manifest numbers: two docks at once, a close that fails -------------------------------------


@pytest.mark.postgres
def test_two_docks_closing_at_once_get_consecutive_numbers_and_a_failed_close_gives_its_number_back(
        make_shipping_station, fresh_pg_database, monkeypatch):
    rounds = 4
    extra = [S.order(f"SO-D{i}", {"TY-1": 1}) for i in range(rounds)]
    extra += [S.order(f"SO-U{i}", {"TS-1": 1}, carrier="UPS", service="Standard") for i in range(rounds)]
    a_station = make_shipping_station(url=fresh_pg_database, stocked=False)
    S.stock(a_station, [*S.ORDERS, *extra])
    b_station = make_shipping_station(url=fresh_pg_database, station_id="DOCK-02", stocked=False)
    bench = S.login(a_station, "PACKER-001")
    for i in range(rounds):
        S.pack(bench, f"SO-D{i}", [["TY-1"]])
        S.pack(bench, f"SO-U{i}", [["TS-1"]])
    S.pack(bench, "SO-1C", [["TY-1"]])
    a, b = S.login(a_station, "DISPATCH-001"), S.login(b_station, "DISPATCH-001")

    # a close that fails after it drew its number gives the number back
    a.scan("CARRIER-DHL")
    a.scan(S.cartons_of(a_station, "SO-1C")[0]["sscc"])

    def refuse(*args, **kwargs):
        raise TransitionRefused("the order changed while closing (injected after the number was drawn)")

    with monkeypatch.context() as patch:
        patch.setattr(dock_service, "change_status", refuse)
        failed = a.scan("CMD-CLOSE-MANIFEST")
    assert failed.verdict is Verdict.NOT_ALLOWED and "injected" in failed.message
    assert list_manifests(a_station.ctx, a_station.system_session(), status=dock_service.ManifestStatus.CLOSED) == []
    assert a.scan("CMD-UNDO").verdict is Verdict.CARTON_UNLOADED  # SO-1C waits for the last round

    numbers: dict[str, list[int]] = {"A": [], "B": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2, timeout=60)

    def work(name, terminal, station, carrier, prefix):
        try:
            for i in range(rounds):
                assert terminal.scan(f"CARRIER-{carrier}").verdict is Verdict.MANIFEST_OPENED
                out = terminal.scan(S.cartons_of(station, f"{prefix}{i}")[0]["sscc"])
                assert out.verdict is Verdict.CARTON_LOADED, out.message
                start.wait()  # both docks close together
                out = terminal.scan("CMD-CLOSE-MANIFEST")
                assert out.verdict is Verdict.MANIFEST_CLOSED, out.message
                numbers[name].append(out.data["number"])
        except BaseException as exc:  # reported below
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=work, args=("A", a, a_station, "DHL", "SO-D")),
               threading.Thread(target=work, args=("B", b, b_station, "UPS", "SO-U"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    given = numbers["A"] + numbers["B"]
    assert sorted(given) == list(range(1, 2 * rounds + 1)), numbers  # no gap (the failed close's 1 too), no twice
    # and the next close, at either dock, takes the next number
    a.scan("CARRIER-DHL")
    a.scan(S.cartons_of(a_station, "SO-1C")[0]["sscc"])
    assert a.scan("CMD-CLOSE-MANIFEST").data["number"] == 2 * rounds + 1
    codes = sorted(m.code for m in list_manifests(b_station.ctx, b_station.system_session()))
    assert codes == [f"M-{n:06d}" for n in range(1, 2 * rounds + 2)]
