"""Carrier tracking in the product: the tracking worker the composition root starts, who polls
(``[carriers] poll_tracking``), ``packstation serve`` polling, and ``packstation tracking poll``.

Orders are packed and handed over by scans at a real SQLite station; carriers are the simulated
carrier, and DHL Parcel DE through karrio against the local stub of ``test_karrio_dhl.py`` (it
answers with karrio's own tracking sample: piece 00340434161094015902 delivered in Bonn on
18.03.2016 at 10:02, ``samples/README.md``). Waits are polls with a deadline, never timings.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from test_karrio_dhl import DhlStub, account

from packstation.adapters.carriers.simulated import SimulatedCarrier
from packstation.cli import main as cli_main
from packstation.config import Config, DatabaseConfig
from packstation.domain.packing import Verdict
from packstation.services.carriers import CarrierTimeout
from packstation.services.reports import order_status

S = sys.modules["packstation_tests_shipping"]
# DhlStub: the DHL Parcel DE stub of test_karrio_dhl.py; account(): a warehouse's account for it
SAMPLE_PIECE = "00340434161094015902"  # karrio's DHL Parcel DE tracking sample (TrackingResponseXML)


def wait_for(what: Callable[[], Any], *, timeout_s: float = 20.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, message or "condition not reached"
        time.sleep(0.02)


def status(station: Any, order_id: str) -> str:
    return order_status(station.ctx, station.system_session(), order_id)["status"]


def hand_over(station: Any, carrier: str, order_id: str, cartons: list[list[str]]) -> None:
    """Pack *order_id* at the bench and close it onto *carrier*'s manifest at the dock."""
    S.pack(S.login(station, "PACKER-001"), order_id, cartons)
    dock = S.login(station, "DISPATCH-001")
    assert dock.scan(f"CARRIER-{carrier}").verdict is Verdict.MANIFEST_OPENED
    for carton in S.cartons_of(station, order_id):
        assert dock.scan(carton["sscc"]).verdict is Verdict.CARTON_LOADED
    closed = dock.scan("CMD-CLOSE-MANIFEST")
    assert closed.verdict is Verdict.MANIFEST_CLOSED, closed.message
    assert status(station, order_id) == "handed_over"


class FlakyCarrier(SimulatedCarrier):
    """The simulated carrier whose tracking fails the first times it is asked, with *failures* in turn."""

    def __init__(self, cfg: Any, failures: list[Exception]) -> None:
        super().__init__(cfg)
        self.failures = list(failures)
        self.asked = 0

    def track(self, tracking_numbers: list[str]) -> list[Any]:
        self.asked += 1
        if self.failures:
            raise self.failures.pop(0)
        return super().track(tracking_numbers)


def test_the_station_runs_the_tracking_worker_and_orders_reach_in_transit_then_delivered(make_shipping_station):
    station = make_shipping_station(carriers=(S.simulated("DHL", track_every_s=0.01),))
    worker = station.tracking_worker
    assert worker is not None  # a standalone station with carrier accounts is its deployment's poller
    hand_over(station, "DHL", "SO-2C", [["TS-1"], ["HW-1"]])
    worker.poll_s = 0.05
    station.start_workers()
    wait_for(lambda: status(station, "SO-2C") == "in_transit", message="the worker did not move SO-2C on")
    station.ctx.carriers.for_carrier("DHL").deliver_after_s = 0  # the driver has delivered both parcels
    wait_for(lambda: status(station, "SO-2C") == "delivered", message="the worker did not see the delivery")
    stages = order_status(station.ctx, station.system_session(), "SO-2C")["stages"]
    moved = [(s["stage"], s["source"], s["by"]) for s in stages[-2:]]
    assert moved == [("in_transit", "carrier tracking", "carrier:DHL"), ("delivered", "carrier tracking", "carrier:DHL")]
    assert worker.running
    worker.stop()
    assert not worker.running  # stopped cleanly (the fixture's close stops it again: no harm)


def test_a_carrier_that_fails_keeps_the_worker_alive_the_others_are_asked_and_it_is_asked_again(make_shipping_station):
    station = make_shipping_station(carriers=(S.simulated("DHL", track_every_s=0.01),
                                              S.simulated("UPS", track_every_s=0.01)))
    dhl_cfg = station.ctx.carriers.for_carrier("DHL").cfg
    # DHL's connection times out below the adapter (not a CarrierError), then DHL says it timed out
    flaky = FlakyCarrier(dhl_cfg, [TimeoutError("The read operation timed out"),
                                   CarrierTimeout("DHL did not answer within 5 s")])
    station.ctx.carriers.accounts["DHL"] = flaky
    hand_over(station, "DHL", "SO-1C", [["TY-1"]])
    hand_over(station, "UPS", "SO-UPS", [["TS-1"]])
    rounds: list[Any] = []
    worker = station.tracking_worker
    worker.poll_s = 0.05
    worker.on_round = rounds.append
    station.start_workers()
    wait_for(lambda: status(station, "SO-1C") == "in_transit", message="DHL was not asked again after failing")
    assert worker.running and flaky.asked >= 3  # the error, the timeout, then the answer
    first = next(r for r in rounds if r.failed)
    assert first.failed == {"DHL": "The read operation timed out"}
    # the same round asked UPS all the same and moved its order
    assert first.polled == ["DHL", "UPS"] and len(first.events) == 1
    assert status(station, "SO-UPS") == "in_transit"


def test_who_polls_a_standalone_station_by_default_unless_switched_off(make_shipping_station, tmp_path):
    from packstation.bootstrap import build_api

    assert make_shipping_station(station_id="A", stocked=False).tracking_worker is not None
    assert make_shipping_station(station_id="B", stocked=False, poll_tracking=False).tracking_worker is None
    assert make_shipping_station(station_id="C", stocked=False, carriers=()).tracking_worker is None  # nothing to ask
    # packstation serve on a standalone database does not poll unless told to (the station does)
    db = DatabaseConfig(local=f"sqlite:///{tmp_path / 'api.db'}")
    carriers = (S.simulated("DHL"),)
    for setting, polls in ((None, False), (True, True)):
        host = build_api(Config(database=db, data_dir=tmp_path / "api", carriers=carriers, poll_tracking=setting))
        try:
            assert (host.tracking_worker is not None) is polls
        finally:
            host.close()


@pytest.mark.postgres
def test_with_a_central_database_the_api_server_polls_and_the_stations_do_not(fresh_pg_database, tmp_path):
    from packstation.adapters.db.engine import make_engine, migrate
    from packstation.bootstrap import build_api, build_station
    from packstation.config import StationConfig

    engine = make_engine(fresh_pg_database)
    migrate(engine)
    engine.dispose()
    carriers = (S.simulated("DHL"),)

    def synced(station_id: str, **kw: Any) -> Config:
        return Config(station=StationConfig(id=station_id), data_dir=tmp_path / station_id, carriers=carriers,
                      database=DatabaseConfig(local=f"sqlite:///{tmp_path / station_id}.db", central=fresh_pg_database),
                      **kw)

    for cfg, polls in ((synced("BENCH-01"), False), (synced("BENCH-02", poll_tracking=True), True)):
        station = build_station(cfg, seed_demo=False)
        try:
            assert (station.tracking_worker is not None) is polls
        finally:
            station.close()
    host = build_api(synced("API"))
    try:
        assert host.tracking_worker is not None
    finally:
        host.close()


# --- packstation serve and packstation tracking poll, against the DHL stub ---------------------


@pytest.fixture
def dhl() -> Any:
    stub = DhlStub().start()
    yield stub
    stub.stop()


def handed_over_at_dhl(make_shipping_station: Any, dhl: DhlStub) -> Any:
    """SO-1C packed (DHL's label from the stub) and handed over; its parcel is the one karrio's
    tracking sample is about (the stub's shipping sample gives another number: set it here)."""
    station = make_shipping_station(carriers=(account(dhl),))
    hand_over(station, "DHL", "SO-1C", [["TY-1"]])
    with station.uow() as uow:
        types = {ct.code: ct for ct in uow.catalog.carton_types()}
        [carton] = uow.shipments.cartons("SO-1C", types)
        carton.tracking_number = SAMPLE_PIECE
        uow.shipments.save_carton("SO-1C", carton, S.NOW)
        uow.commit()
    return station


def config_file(tmp_path: Path, station: Any, dhl: DhlStub, extra: str = "") -> Path:
    db = station.info.database.split(" ", 1)[1]
    path = tmp_path / "tracking.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n{extra}\n[database]\nlocal = "{db}"\n'
                    f'[carriers.DHL]\nconnector = "dhl_parcel_de"\nserver_url = "{dhl.url}"\n'
                    'credentials = { username = "user-valid", password = "SandboxPasswort2023!", '
                    'client_id = "client", client_secret = "secret" }\n', encoding="utf-8")
    return path


def test_packstation_serve_polls_when_it_is_the_poller(make_shipping_station, dhl, tmp_path):
    from packstation.api.server import app_for
    from packstation.bootstrap import build_api
    from packstation.config import load_config

    station = handed_over_at_dhl(make_shipping_station, dhl)
    config = load_config(config_file(tmp_path, station, dhl, "[carriers]\npoll_tracking = true"))
    host = build_api(config)
    assert host.tracking_worker is not None
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app_for(host), host="127.0.0.1", port=port, log_level="critical",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: status(station, "SO-1C") == "delivered", message="packstation serve did not poll")
        assert host.tracking_worker.running
        [stage] = [s for s in order_status(station.ctx, station.system_session(), "SO-1C")["stages"]
                   if s["stage"] == "delivered"]
        assert stage["by"] == "carrier:DHL" and stage["tracking_number"] == SAMPLE_PIECE
        # the carrier's time, from karrio's sample (18.03.2016 10:02)
        assert datetime.fromisoformat(stage["at"]) == datetime(2016, 3, 18, 10, 2, tzinfo=UTC)
        assert stage["station"] == "API"
    finally:
        server.should_exit = True
        thread.join(10)
    assert not host.tracking_worker.running  # stopped with the server
    assert len(dhl.of("tracking")) == 1  # asked once: its track_every_s (900 s) has not passed


def free_port() -> int:  # noqa: N802 - beside the shared helpers' names
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tracking_poll_once_prints_what_moved(make_shipping_station, dhl, tmp_path, capsys):
    station = handed_over_at_dhl(make_shipping_station, dhl)
    # the window does not poll here (cron does): no warning about asking from two places
    config = config_file(tmp_path, station, dhl, "[carriers]\npoll_tracking = false")
    capsys.readouterr()
    assert cli_main(["--config", str(config), "tracking", "poll", "--once", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {"polled": ["DHL"], "events": 1, "failed": {},
                                   "moved": [{"order_id": "SO-1C", "carrier": "DHL", "from": "handed_over",
                                              "to": "delivered"}]}
    assert "from both places" not in out.err
    assert status(station, "SO-1C") == "delivered"
    assert 'piece-code="00340434161094015902"' in dhl.of("tracking")[0]["xml"]
    # again: nothing is on the way any more, nothing moves, DHL is not asked
    assert cli_main(["--config", str(config), "tracking", "poll", "--once"]) == 0
    assert capsys.readouterr().out == "Nothing moved (polled: DHL).\n"
    assert len(dhl.of("tracking")) == 1


def test_tracking_poll_says_when_the_window_polls_too_and_when_there_is_nothing_to_ask(tmp_path, capsys):
    config = tmp_path / "s.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[carriers.DHL]\nconnector = "simulated"\n', encoding="utf-8")
    assert cli_main(["--config", str(config), "tracking", "poll", "--once"]) == 0
    out = capsys.readouterr()
    assert "Nothing moved (polled: DHL)." in out.out and "asked from both places" in out.err
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    assert cli_main(["--config", str(config), "tracking", "poll", "--once"]) == 2
    assert "no carrier accounts in the config" in capsys.readouterr().err


def test_tracking_poll_keeps_polling_until_stopped(make_shipping_station, dhl, tmp_path):
    """``packstation tracking poll`` as a systemd service runs it: its own process, stopped by SIGTERM."""
    import signal
    import subprocess

    station = handed_over_at_dhl(make_shipping_station, dhl)
    config = config_file(tmp_path, station, dhl, "[carriers]\npoll_tracking = false")
    proc = subprocess.Popen([sys.executable, "-m", "packstation", "--config", str(config), "tracking", "poll", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the first round's (the pytest timeout bounds the wait)
        assert json.loads(line)["moved"] == [{"order_id": "SO-1C", "carrier": "DHL", "from": "handed_over",
                                              "to": "delivered"}], proc.stderr.read() if not line else line
        assert proc.poll() is None  # still polling
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert status(station, "SO-1C") == "delivered"
    assert proc.stdout.read() == ""  # nothing else moved, nothing printed for idle rounds
