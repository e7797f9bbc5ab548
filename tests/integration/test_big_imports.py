"""Big imports on a real SQLite station: killed with SIGKILL mid-way, scanned against, and into the centre.

The import runs as ``python -m packstation import orders FILE`` in a subprocess, as a warehouse
runs it; the test watches its journal (``import_batches``) through a read-only connection of its
own and kills it with SIGKILL at the moment it wants. "Visible" means what a bench can get at:
an order it can claim (``try_claim``), the ready list, a pick wave. Figures (orders/s, memory)
are measured in bench/bench_imports.py, never here.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest

from packstation import demo
from packstation.bootstrap import build_station
from packstation.config import load_config
from packstation.domain.identity import ActorKind
from packstation.services import users
from packstation.services.imports import import_records
from packstation.services.ports import BatchState

REPO = Path(__file__).parents[2]
WORKER = Path(__file__).with_name("scan_worker.py")


def _config(tmp_path: Path, central: str = "") -> Path:
    data = tmp_path / "data"
    hf.new_station(data).close()
    path = tmp_path / "station.toml"
    text = f'data_dir = "{data}"\n[station]\nid = "BENCH-07"\n[database]\nlocal = "{data / "packstation.db"}"\n'
    if central:
        text += f'central = "{central}"\n'
    path.write_text(text, encoding="utf-8")
    return path


def _master_data(station: Any) -> list[dict[str, Any]]:
    """Catalog and cartons, a packer, and BIG-1: one line of 9,999 units a bench can scan for ever."""
    products = demo.catalog(300)
    session = station.system_session(ActorKind.IMPORT, "tests")
    for kind, recs in (("catalog", products), ("cartons", list(demo.CARTON_TYPES))):
        assert import_records(station.ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(recs, 1)], kind).ok
    plain = next(p for p in products if p["tracking"] == "none")
    big = {**demo.orders(products, 1)[0], "order_id": "BIG-1", "tote": None,
           "payment": {"method": "prepaid", "status": "paid"},
           "lines": [{"sku": plain["sku"], "qty": 9999, "unit_price": "1.00"}]}
    assert import_records(station.ctx, session, "orders", [("record 1", big)], "big").ok
    users.add_user(station.ctx, station.system_session(), "Pat Packer", "packer", "PACKER-001")
    return products


def _orders_file(path: Path, products: list[dict[str, Any]], n: int, **changes: Any) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for rec in demo.orders(products, n, random.Random(5))[:n]:  # (without the two showcase orders)
            rec.pop("tote")  # demo totes repeat every 1,000 orders: a real file's would not
            f.write(json.dumps({**rec, **changes}, ensure_ascii=False) + "\n")
    return path


def _import_process(config: Path, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "packstation", "--config", str(config), "import", "orders", str(path)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _journal(db: Path) -> tuple[str, int] | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT state, stored FROM import_batches ORDER BY started_at DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return (row[0], row[1]) if row else None


def _kill_when(proc: subprocess.Popen[str], db: Path, state: str, stored: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = _journal(db)
        if seen and seen[0] == state and seen[1] >= stored:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            pytest.fail(f"the import ended before it was {state} with {stored} stored: {proc.communicate()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"the import never reached {state} with {stored} stored (last seen {_journal(db)})")


def _readers_of(path: Path) -> list[int]:
    """Processes reading *path* for a pipelined import (``services.import_reader``)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"packstation.services.import_reader" in argv and str(path).encode() in argv:
            found.append(int(proc.name))
    return found


def _no_reader_left(path: Path, timeout: float = 20) -> None:
    """The import was killed: its reading process notices (its pipe breaks) and ends too."""
    deadline = time.monotonic() + timeout
    while _readers_of(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _readers_of(path) == [], "the import's reading process outlived it"


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        held = ("import_batch IN (SELECT id FROM import_batches WHERE state = 'publishing') "
                "OR order_id IN (SELECT key FROM import_pending)")
        q = {
            "orders": "SELECT COUNT(*) FROM orders WHERE order_id LIKE 'SO-%'",
            "held": f"SELECT COUNT(*) FROM orders WHERE {held}",
            "free": f"SELECT COUNT(*) FROM orders WHERE order_id LIKE 'SO-%' AND NOT ({held})",
            "changed": "SELECT COUNT(*) FROM orders WHERE order_id LIKE 'SO-%' AND carrier = 'TNT'",
            "updated": "SELECT COUNT(*) FROM events WHERE kind = 'order.updated' AND order_id LIKE 'SO-%'",
            "updated_orders": "SELECT COUNT(DISTINCT order_id) FROM events WHERE kind = 'order.updated' "
                              "AND order_id LIKE 'SO-%'",
            "lines": "SELECT COUNT(*) FROM order_lines WHERE order_id LIKE 'SO-%'",
            "received": "SELECT COUNT(*) FROM events WHERE kind = 'order.received' AND order_id LIKE 'SO-%'",
            "received_orders": "SELECT COUNT(DISTINCT order_id) FROM events WHERE kind = 'order.received' "
                               "AND order_id LIKE 'SO-%'",
        }
        return {k: conn.execute(sql).fetchone()[0] for k, sql in q.items()}
    finally:
        conn.close()


def _nothing_claimable(config: Path, n: int) -> None:
    """No order of the file can be claimed, listed as ready or put in a wave (checked through the
    repositories, on a unit of work of our own, without the recovery of a station start)."""
    from packstation.adapters.db.engine import make_engine
    from packstation.adapters.db.numbers import LocalBlocks
    from packstation.adapters.db.uow import SqlUnitOfWork

    engine = make_engine(load_config(config).database_url)
    try:
        with SqlUnitOfWork(engine, "BENCH-09", LocalBlocks({})) as uow:
            ids = [f"SO-{10001 + i}" for i in range(0, n, max(1, n // 50))]
            assert not any(uow.orders.try_claim(i, "BENCH-09", "Olu", _now()) for i in ids)
            assert all(not i.startswith("SO-") for i, _ in uow.orders.ready(50))
            assert all(not o.order_id.startswith("SO-") for o in uow.orders.next_to_pick(50))
    finally:
        engine.dispose()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.fixture
def station_with_data(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]]]:
    config = _config(tmp_path)
    with build_station(load_config(config), seed_demo=False) as station:
        products = _master_data(station)
    return config, tmp_path / "data" / "packstation.db", products


# --- SIGKILL mid-way ---------------------------------------------------------------------------


@pytest.mark.slow
def test_an_import_killed_while_publishing_is_rolled_back_at_the_next_start(
        station_with_data: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    config, db, products = station_with_data
    n = 30_000
    path = _orders_file(tmp_path / "orders.ndjson", products, n)
    proc = _import_process(config, path)
    deadline = time.monotonic() + 60
    while not _readers_of(path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _readers_of(path), "a file this big is read by a second process (PIPELINE_MIN_BYTES)"
    _kill_when(proc, db, BatchState.PUBLISHING.value, 6_000)
    _no_reader_left(path)
    killed = _counts(db)
    assert killed["orders"] >= 6_000 and killed["held"] == killed["orders"] and killed["free"] == 0
    assert killed["received"] == killed["orders"]  # held with the orders, gone with them
    _nothing_claimable(config, n)
    with build_station(load_config(config), seed_demo=False) as station:  # the restart
        with station.uow(readonly=True) as uow:
            assert uow.imports.unfinished() == []
    after = _counts(db)
    assert after == {k: 0 for k in after}  # rolled back: nothing of the file is left
    assert _journal(db)[0] == BatchState.ROLLED_BACK.value
    again = subprocess.run([sys.executable, "-m", "packstation", "--config", str(config), "import", "orders",
                            str(path)], cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{n} orders record(s): {n} new" in again.stdout
    assert _counts(db)["free"] == n


@pytest.mark.slow
def test_an_import_killed_while_applying_its_updates_is_finished_at_the_next_start(
        station_with_data: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    """The second file changes every order of the first (carrier TNT): it is committed, then its
    updates are applied in chunks; killed halfway, the restart applies the rest, each once."""
    config, db, products = station_with_data
    n = 12_000
    first = _orders_file(tmp_path / "first.ndjson", products, n)
    done = subprocess.run([sys.executable, "-m", "packstation", "--config", str(config), "import", "orders",
                           str(first)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    second = _orders_file(tmp_path / "second.ndjson", products, n, carrier="TNT")
    _kill_when(_import_process(config, second), db, BatchState.RELEASING.value, 1_000)
    killed = _counts(db)
    assert killed["orders"] == n and 0 < killed["changed"] < n  # committed, partly applied
    assert killed["held"] == n - killed["changed"]  # the rest held until applied: no bench packs the old content
    assert killed["updated"] == killed["changed"]
    with build_station(load_config(config), seed_demo=False):  # the restart finishes it
        pass
    after = _counts(db)
    assert (after["orders"], after["changed"], after["held"], after["free"]) == (n, n, 0, n)
    assert after["updated"] == after["updated_orders"] == n  # each update's event once, none doubled
    assert after["received"] == after["received_orders"] == n
    assert _journal(db)[0] == BatchState.DONE.value


# --- a bench scanning meanwhile ------------------------------------------------------------------


@pytest.mark.slow
def test_a_bench_scanning_in_another_process_during_a_big_import_is_never_refused(
        station_with_data: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    """60,000 orders by default, several times what made a bench wait past its 5 s lock timeout
    before imports were streamed (20,000 held the write lock for 9 s); PACKSTATION_TEST_BIG_IMPORT
    sets another size (bench/bench_imports.py measures 1,000,000)."""
    config, db, products = station_with_data
    n = int(os.environ.get("PACKSTATION_TEST_BIG_IMPORT", "60000"))
    path = _orders_file(tmp_path / "orders.ndjson", products, n)
    plain = next(p for p in products if p["tracking"] == "none")
    stop = tmp_path / "stop"
    bench = subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / "data"), "BENCH-08", "BIG-1",
                              plain["barcodes"][0], str(stop)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert bench.stdout is not None and bench.stdout.readline().strip() == "READY"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "packstation", "--config", str(config), "import", "orders",
                                 str(path)], cwd=REPO, capture_output=True, text=True, timeout=1800)
        took = time.monotonic() - started
    finally:
        stop.touch()
        out, _ = bench.communicate(timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{n} orders record(s): {n} new" in result.stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["refused"] == 0, figures
    assert figures["other"] == [], figures
    assert figures["scans"] >= 100, (figures, took)  # it really scanned all along
    assert _counts(db)["free"] == n


# --- into the central database --------------------------------------------------------------------


@pytest.mark.postgres
def test_a_station_with_a_central_database_imports_into_the_centre(tmp_path: Path, fresh_pg_database: str) -> None:
    from packstation.adapters.db.engine import make_engine, migrate

    engine = make_engine(fresh_pg_database)
    migrate(engine)
    engine.dispose()
    config = _config(tmp_path, central=fresh_pg_database)
    fixtures = REPO / "tests" / "fixtures"
    for kind, name in (("catalog", "catalog.json"), ("cartons", "cartons.csv"), ("orders", "orders.ndjson")):
        done = subprocess.run([sys.executable, "-m", "packstation", "--config", str(config), "import", kind,
                               str(fixtures / name)], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "into the central database" in done.stderr
    with build_station(load_config(config), seed_demo=False) as station:
        assert station.ctx.central is not None
        with station.ctx.central(readonly=True) as centre:
            order = centre.orders.get("WEB-5001")
            assert order is not None and [ln.sku for ln in order.lines] == ["TS-2001", "CO-2003"]
            events = centre.events.for_order("WEB-5001")
            assert [e.kind for e in events] == ["order.received"]
            assert events[0].actor.startswith("import:") and events[0].station_id == "BENCH-07"
            assert centre.imports.unfinished() == []  # one transaction: no batch
        with station.uow(readonly=True) as local:
            assert local.orders.get("WEB-5001") is None  # stations get it by pulling
    bad = tmp_path / "bad.ndjson"
    lines = (fixtures / "orders.ndjson").read_text(encoding="utf-8").splitlines()
    lines.append(json.dumps({**json.loads(lines[0]), "order_id": "WEB-NEW", "currency": "euro"}))
    lines.insert(0, json.dumps({**json.loads(lines[0]), "order_id": "WEB-NEW-2"}))
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused = subprocess.run([sys.executable, "-m", "packstation", "--config", str(config), "import", "orders",
                              str(bad)], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 1 and "rejected line 6 (WEB-NEW)" in refused.stdout
    with build_station(load_config(config), seed_demo=False) as station, station.ctx.central(readonly=True) as centre:
        assert centre.orders.get("WEB-NEW-2") is None  # whole or nothing at the centre too


@pytest.mark.postgres
def test_a_big_file_goes_into_postgresql_in_one_transaction_that_blocks_no_reader(
        tmp_path: Path, fresh_pg_database: str) -> None:
    """COPY into a staging table and INSERT ... SELECT, many chunks, one transaction: while it runs,
    another connection reads the orders table at once and sees none of the file."""
    import threading

    from sqlalchemy import text

    from packstation.adapters.db.engine import make_engine, migrate

    engine = make_engine(fresh_pg_database)
    migrate(engine)
    config = _config(tmp_path, central=fresh_pg_database)
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            started = time.monotonic()
            with engine.connect() as conn:
                count = conn.execute(text("SELECT COUNT(*) FROM orders WHERE order_id LIKE 'SO-%'")).scalar_one()
            seen.append((time.monotonic() - started, int(count)))
            time.sleep(0.05)

    with build_station(load_config(config), seed_demo=False) as station:
        from dataclasses import replace

        ctx = replace(station.ctx, uow=station.ctx.central)
        session = station.system_session(ActorKind.IMPORT, "tests")
        products = demo.catalog(300)
        assert import_records(ctx, session, "catalog", [(f"record {i}", r) for i, r in enumerate(products, 1)], "c").ok
        path = _orders_file(tmp_path / "orders.ndjson", products, 12_000)
        watcher = threading.Thread(target=reader)
        watcher.start()
        try:
            from packstation.services.imports import import_file

            report = import_file(ctx, session, "orders", path)
        finally:
            stop.set()
            watcher.join()
    assert (report.ok, report.created) == (True, 12_000)
    during = [count for _, count in seen[:-1]]
    assert during and set(during) <= {0, 12_000}  # never half a file
    assert max(took for took, _ in seen) < 2.0  # the reader never waited for the import
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM order_lines WHERE order_id LIKE 'SO-%'")).scalar_one() > 12_000
    engine.dispose()


# --- the stock kind -----------------------------------------------------------------------------


def test_import_stock_validates_and_stores_the_lots(tmp_path: Path) -> None:
    config = _config(tmp_path)
    fixtures = REPO / "tests" / "fixtures"
    run = [sys.executable, "-m", "packstation", "--config", str(config), "import"]
    assert subprocess.run([*run, "catalog", str(fixtures / "catalog.json")], cwd=REPO, capture_output=True).returncode == 0
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,location,lot,expiry,qty\nCO-2003,B-02-01,L-26A,2026-11-11,40\nCO-2003,B-02-02,L-27B,2027-06-30,12\n"
                     "TS-2001,A-01-01,T-1,,5\n", encoding="utf-8")
    done = subprocess.run([*run, "stock", str(stock)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "stock.csv: 3 stock record(s): 3 new, 0 updated, 0 unchanged." in done.stdout
    with build_station(load_config(config), seed_demo=False) as station, station.uow(readonly=True) as uow:
        assert [(lot.lot, str(lot.expiry), lot.qty) for lot in uow.catalog.lots("CO-2003")] == [
            ("L-26A", "2026-11-11", 40), ("L-27B", "2027-06-30", 12)]
    stock.write_text("sku,location,lot,expiry,qty\nNOPE-1,B-02-01,L-1,2026-11-11,1\nCO-2003,B-02-01,L-26A,11/11/2026,4\n",
                     encoding="utf-8")
    refused = subprocess.run([*run, "stock", str(stock)], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[1:] == [
        "  rejected line 2 (NOPE-1): unknown sku NOPE-1: import the catalog first",
        "  rejected line 3 (CO-2003): expiry must be a date YYYY-MM-DD, got '11/11/2026'"]
