"""The outbox push through crashes: the central server restarted as in a crash while stations sync,
and a station process killed (SIGKILL) at random while it packs and pushes 10,000 events.

Afterwards the centre has exactly the union of the stations' events, each once, and each change once
(tests/integration/test_sync_push.py's ``assert_centre_has_exactly``). The test server runs with
``synchronous_commit=off``: an immediate restart may lose the last commits the stations were already
told about, so these tests also show the station sending those events again (the centre's last
number is behind the station's).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve()


def _sync_tests() -> Any:
    name = "packstation_tests_sync_push"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE.with_name("test_sync_push.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_central_server_restarted_as_in_a_crash_mid_sync(tmp_path: Path, benches: Any) -> None:
    sp = _sync_tests()
    pg = sys.modules["packstation_tests_pg_server"]
    bindir = pg.find_bindir()
    if bindir is None:
        pytest.skip(pg.NOT_INSTALLED)
    server = pg.PgServer(bindir)  # its own server: the restart must not hit the other tests'
    server.start()
    try:
        records = sp.orders("SO", 16) + sp.orders("SX", 16)
        central = sp.make_central(server.url(server.create_database()), server.port, records)
        one = sp.make_bench(central, tmp_path, "BENCH-01", records)
        two = sp.make_bench(central, tmp_path, "BENCH-02", records)
        benches += [one, two]
        for order in records[:16]:
            one.pack(order)
        for order in records[16:]:
            two.pack(order)
        failures = [0]
        restarts = [0]
        stop = threading.Event()

        def sync(bench: Any) -> None:
            end = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < end:
                try:
                    bench.push_all(batch=20)
                except sp.StorageError:
                    failures[0] += 1
                    time.sleep(0.05)

        workers = [threading.Thread(target=sync, args=(b,)) for b in (one, two)]
        for w in workers:
            w.start()
        try:
            for _ in range(2):
                time.sleep(random.uniform(0.3, 0.8))
                server.restart("immediate")
                restarts[0] += 1
        finally:
            stop.set()
            for w in workers:
                w.join(120)
        central.admin.dispose()  # its pooled connections died with the server
        assert restarts[0] == 2 and failures[0] >= 1, (restarts, failures)
        sp.drain(one)
        sp.drain(two)
        sp.assert_centre_has_exactly(central, [one, two])
        central.admin.dispose()
    finally:
        for bench in benches:
            bench.station.close()
        benches.clear()
        server.stop()


@pytest.fixture
def benches() -> Any:
    made: list[Any] = []
    yield made
    for bench in made:
        bench.station.close()


# --- a station process killed at random ---------------------------------------------------------

TARGET_EVENTS = 10_000
LINES, QTY = 10, 10  # 100 item scans per order: ~105 events


class _Local:
    """What assert_centre_has_exactly needs of a bench: its station id and its events."""

    def __init__(self, db: Path, station_id: str):
        self.db, self.station_id = db, station_id

    def events(self) -> list[tuple[str, int | None, str]]:
        import sqlite3

        with sqlite3.connect(self.db) as conn:
            return list(conn.execute("SELECT id, station_seq, sync_state FROM events WHERE station_id = ? ORDER BY seq",
                                     (self.station_id,)))


@pytest.mark.slow
def test_a_station_killed_at_random_over_10000_events_loses_and_doubles_nothing(
        fresh_pg_database: str, pg_server_instance: Any, tmp_path: Path) -> None:
    sp = _sync_tests()
    count = -(-TARGET_EVENTS // (LINES * QTY + 5))
    records = sp.orders("SO", count, lines=LINES, qty=QTY)
    central = sp.make_central(fresh_pg_database, pg_server_instance.port, records)
    bench = sp.make_bench(central, tmp_path, "BENCH-01", records)  # stocks the station's own database
    db, url = bench.db, central.station_url
    bench.station.close()
    spec = json.dumps({"db": str(db), "central": url, "folder": str(tmp_path), "orders": records})
    (tmp_path / "child.json").write_text(spec)
    rnd = random.Random(11)
    kills, started = 0, time.monotonic()
    while True:
        child = subprocess.Popen([sys.executable, str(_HERE), "child", str(tmp_path / "child.json")],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            code = child.wait(timeout=rnd.uniform(1.0, 2.5) if kills < 10 else 240)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            kills += 1
            continue
        output = child.stdout.read() if child.stdout else ""
        assert code == 0, f"the station process failed (exit {code}):\n{output[-3000:]}"
        break
    local = _Local(db, "BENCH-01")
    assert len(local.events()) >= TARGET_EVENTS and kills >= 5, (len(local.events()), kills)
    sp.assert_centre_has_exactly(central, [local])
    packed = central.rows("SELECT count(*) FROM orders WHERE status = 'packed'")[0][0]
    assert packed == count, f"{packed} of {count} orders packed at the centre ({kills} kills, " \
                            f"{time.monotonic() - started:.0f} s)"


def _child(spec_file: str) -> int:
    """A station process: pack every order (resuming after a kill), push all the while, then drain."""
    from packstation.adapters.central.outbox import SqlCentralOutbox
    from packstation.bootstrap import build_station
    from packstation.config import Config, DatabaseConfig, NumbersConfig, StationConfig
    from packstation.domain.barcodes import interpret
    from packstation.domain.identity import ActorKind
    from packstation.services import packing
    from packstation.services.ports import StorageError
    from packstation.services.sync.push import push_all, push_once

    spec = json.loads(Path(spec_file).read_text())
    config = Config(station=StationConfig(id="BENCH-01", name="BENCH-01"),
                    database=DatabaseConfig(local=f"sqlite:///{spec['db']}", central=spec["central"]),
                    numbers=NumbersConfig(sscc_first=100_000, sscc_last=199_999),
                    data_dir=Path(spec["folder"]) / "BENCH-01")
    station = build_station(config, seed_demo=False)
    # A killed process loses nothing SQLite committed to its WAL, fsync or not (only a power cut would):
    # synchronous=NORMAL here only saves the test time, it does not make the crash any kinder.
    from dataclasses import replace

    from sqlalchemy import event

    event.listen(station._engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=NORMAL"))
    station._engine.dispose()

    ctx = replace(station.ctx, documents=None)
    assert ctx.central is not None
    outbox = SqlCentralOutbox(ctx.central)
    worker = ctx.auth.system(ActorKind.SYSTEM, "sync-worker")
    pat = ctx.auth.login("PACKER-BENCH-01")
    done = threading.Event()

    def pusher() -> None:
        while not done.is_set():
            try:
                push_once(ctx, worker, outbox, batch=500)
            except StorageError:
                pass
            time.sleep(0.1)  # as a sync worker woken by the bench would

    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    codes = {p["sku"]: p["barcodes"][0] for p in _sync_tests().PRODUCTS}
    for order in spec["orders"]:
        with ctx.uow(readonly=True) as u:
            if u.orders.get(order["order_id"]).status.value == "packed":  # type: ignore[union-attr]
                continue
        pack = packing.claim_order(ctx, pat, order["order_id"])  # or resume it: this bench holds it
        if pack.open_carton is None:
            assert packing.open_carton(ctx, pat, pack, "BOX-M").accepted
        for line in pack.order.lines:
            for _ in range(line.remaining):
                outcome = packing.record_item_scan(ctx, pat, pack, interpret(codes[line.sku]))
                assert outcome.accepted, outcome.message
        assert packing.close_carton(ctx, pat, pack, pack.expected_weight(pack.open_carton)).accepted
    done.set()
    thread.join()
    while not push_all(ctx, worker, outbox).drained:
        time.sleep(0.1)
    station.close()
    print("done")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(_child(sys.argv[2]))
