"""Fault injection on the station core: read-only database, full disk, SIGKILL mid-packing.

A scan is acknowledged to the packer only once it is durable. When the database cannot take
the write the bench answers STORAGE_FAILED with a message that says what to do, the in-memory
session stays as it was and nothing is stored; once the fault is gone the same scan works.

How the faults are made (the tests run as root in CI, and root ignores file permissions, so a
chmod would not make SQLite fail):

- read-only: the station's connections are reopened either through a ``mode=ro`` URI (SQLite
  then opens the file O_RDONLY, exactly what it falls back to when a non-root user has lost
  write permission) or with ``PRAGMA query_only=ON`` (SQLite refuses every write itself).
  Both give SQLITE_READONLY, the error a real read-only file gives. A chmod variant runs too
  when the tests do not run as root.
- full disk: the database lives on a small tmpfs mounted for the test, and a filler file
  takes the remaining space (skipped, saying why, where mount is not permitted; a failure in
  CI, which runs as root).
  ``PRAGMA max_page_count`` was not used: it only fails writes that need a new page, and a
  scan row usually fits in a page that has room, so it would not fail reliably.
- crash: a worker process packs through Terminal.scan and is killed with SIGKILL at random
  moments, 20 times; the database must hold every acknowledged scan exactly once.
"""

from __future__ import annotations

import dataclasses
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import helpers_faults as hf
import pytest
from sqlalchemy import event

from packstation.adapters.db.engine import make_engine
from packstation.adapters.db.numbers import LocalBlocks
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.bootstrap import Station, build_station
from packstation.domain.packing import Verdict

HELPERS_PATH = Path(__file__).with_name("helpers_faults.py")


@pytest.fixture
def packing(tmp_path: Path) -> Iterator[tuple[Station, object]]:
    """A station with a packer logged in, an order claimed and a carton open with one item."""
    order_ids = hf.seed_for_packing(tmp_path / "data", orders=3)
    station = build_station(hf.station_config(tmp_path / "data"), seed_demo=False)
    bench = hf.login(station, hf.BADGE)
    assert bench.scan(order_ids[0]).verdict is Verdict.ORDER_OPENED
    assert hf.pack_next_unit(bench).verdict is Verdict.ACCEPTED
    try:
        yield station, bench
    finally:
        station.close()


def _snapshot(bench: object) -> tuple:
    s = hf.pack_of(bench)
    return (
        s.order.order_id,
        [(ln.line_no, ln.packed, ln.short) for ln in s.order.lines],
        [(c.seq, c.status, c.measured_g, c.sscc, [i.scan_id for i in c.items]) for c in s.cartons],
        s.pending,
        s.pending_qty,
    )


def _db_path(station: Station) -> Path:
    return Path(hf.engine_of(station).url.database or "")


# --- read-only database ---------------------------------------------------------------------


def _read_only_uri(station: Station, bench: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    # make_engine creates the parent folder of the URL's "database" part; for a file: URI that
    # is a relative "file:..." folder, so keep it inside tmp_path (see the report).
    monkeypatch.chdir(tmp_path)
    ro = make_engine(f"sqlite:///file:{_db_path(station)}?mode=ro&uri=true")
    handler = bench.handler  # type: ignore[attr-defined]
    ctx = handler.ctx

    def ro_uow(*, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(ro, ctx.station_id, LocalBlocks(), readonly=readonly)

    handler.ctx = dataclasses.replace(ctx, uow=ro_uow)  # the bench's use cases now write to a read-only file

    def restore() -> None:
        handler.ctx = ctx
        ro.dispose()

    return restore


def _read_only_pragma(station: Station, bench: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def query_only(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA query_only=ON")

    engine = hf.engine_of(station)
    event.listen(engine, "connect", query_only)
    engine.dispose()  # pooled connections are reopened with the pragma

    def restore() -> None:
        event.remove(engine, "connect", query_only)
        engine.dispose()

    return restore


def _read_only_chmod(station: Station, bench: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions; the mode=ro and query_only variants cover this")
    db = _db_path(station)
    files = [db.parent, db, *(p for p in db.parent.glob(db.name + "-*"))]
    modes = {p: p.stat().st_mode for p in files}
    engine = hf.engine_of(station)
    engine.dispose()
    for p in files:
        p.chmod(0o555 if p.is_dir() else 0o444)

    def restore() -> None:
        for p, mode in modes.items():
            p.chmod(mode)
        engine.dispose()

    return restore


@pytest.mark.parametrize("make_read_only", [_read_only_uri, _read_only_pragma, _read_only_chmod],
                         ids=["mode-ro-uri", "query-only", "chmod"])
def test_scan_on_a_read_only_database_is_refused_and_not_acknowledged(
    packing: tuple[Station, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    make_read_only: Callable[..., Callable[[], None]],
) -> None:
    station, bench = packing
    before_db = hf.table_counts(station)
    before_session = _snapshot(bench)
    restore = make_read_only(station, bench, tmp_path, monkeypatch)
    try:
        item = hf.pack_next_unit(bench)
        close = bench.scan("CMD-CLOSE-CARTON")
        sealed = hf.close_with_weight(bench, close.data["expected_g"])
    finally:
        restore()
    for out in (item, sealed):
        assert out.verdict is Verdict.STORAGE_FAILED, out
        assert "NOT SAVED" in out.message and "scan again" in out.message
        assert "read-only" in out.message and "Ask IT" in out.message
        assert not out.accepted
        assert "scan_id" not in out.data and "sscc" not in out.data
    assert _snapshot(bench) == before_session
    assert hf.table_counts(station) == before_db
    # the fault is gone: the same scan is taken and stored
    again = hf.pack_next_unit(bench)
    assert again.verdict is Verdict.ACCEPTED, again
    assert hf.table_counts(station)["scans"] == before_db["scans"] + 1


def test_login_on_a_read_only_database_says_so(tmp_path: Path) -> None:
    hf.seed_for_packing(tmp_path / "data", orders=1)
    station = build_station(hf.station_config(tmp_path / "data"), seed_demo=False)
    try:
        bench = station.terminal()
        restore = _read_only_pragma(station, bench, tmp_path, pytest.MonkeyPatch())
        try:
            out = bench.scan(hf.BADGE)
        finally:
            restore()
        assert out.verdict is Verdict.STORAGE_FAILED and "read-only" in out.message
        assert bench.session is None
        assert bench.scan(hf.BADGE).verdict is Verdict.LOGGED_IN
    finally:
        station.close()


# --- full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs mounted for this test (needs CAP_SYS_ADMIN, as root in CI has)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        why = (f"cannot mount a small tmpfs here ({res.stderr.strip() or res.returncode}); "
               "run as root with CAP_SYS_ADMIN to test a full disk")
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"{why}; CI runs as root and must run the full-disk tests", pytrace=False)
        pytest.skip(why)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        try:  # the last few blocks, one page at a time
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_scan_on_a_full_disk_is_refused_and_not_acknowledged(small_disk: Path) -> None:
    order_ids = hf.seed_for_packing(small_disk / "data", orders=3)
    station = build_station(hf.station_config(small_disk / "data"), seed_demo=False)
    try:
        bench = hf.login(station, hf.BADGE)
        assert bench.scan(order_ids[0]).verdict is Verdict.ORDER_OPENED
        assert hf.pack_next_unit(bench).verdict is Verdict.ACCEPTED
        before_db = hf.table_counts(station)
        before_session = _snapshot(bench)
        # empty the WAL so the next write must allocate new blocks, then take every free block
        with sqlite3.connect(_db_path(station)) as conn:
            assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        filler = _fill(small_disk)
        try:
            assert os.statvfs(small_disk).f_bavail == 0
            out = hf.pack_next_unit(bench)
        finally:
            filler.unlink()
        assert out.verdict is Verdict.STORAGE_FAILED, out
        assert "NOT SAVED" in out.message and "disk is full" in out.message and "free space" in out.message
        assert "scan_id" not in out.data
        assert _snapshot(bench) == before_session
        assert hf.table_counts(station) == before_db
        again = hf.pack_next_unit(bench)
        assert again.verdict is Verdict.ACCEPTED, again
        with sqlite3.connect(_db_path(station)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        station.close()


# --- SIGKILL in the middle of packing -------------------------------------------------------------

KILLS = 20
MAX_ACKS_PER_RUN = 60
ORDERS = 350  # about 4.7 scans each: more than KILLS * MAX_ACKS_PER_RUN


def _start_worker(data_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HELPERS_PATH), "worker", str(data_dir), "BENCH-KILL"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )


class _Lines:
    """Lines from the worker's stdout, read straight from the pipe (no hidden buffering)."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.eof = False

    def read(self, until: float) -> list[str]:
        """Complete lines that arrive before the monotonic time *until* (or EOF)."""
        while not self.eof:
            wait = until - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, wait))
            if ready:
                chunk = os.read(self.fd, 65536)
                self.eof = not chunk
                self.buf += chunk
                if b"\n" in self.buf:
                    break
            elif wait <= 0:
                break
        *lines, self.buf = self.buf.split(b"\n")
        return [ln.decode() for ln in lines]

    def rest(self) -> list[str]:
        while not self.eof:
            self.read(time.monotonic() + 30)
        lines, self.buf = self.buf.decode().splitlines(), b""
        return lines


@pytest.mark.slow
def test_sigkill_while_packing_loses_no_acknowledged_scan(tmp_path: Path) -> None:
    data = tmp_path / "data"
    hf.seed_for_packing(data, orders=ORDERS)
    rnd = random.Random(20261126)
    acked: list[str] = []
    resumed = 0
    kills = 0
    finished = False

    undoing: set[str] = set()
    undone: set[str] = set()

    def take(line: str) -> None:
        nonlocal finished
        if line.startswith("ACK "):
            acked.append(line.split()[1])
        elif line.startswith("UNDOING "):
            undoing.add(line.split()[1])
        elif line.startswith("UNDONE "):
            undone.add(line.split()[1])
        elif line.startswith("DONE"):
            finished = True
        elif not line.startswith("READY"):
            raise AssertionError(f"worker reported {line!r}")

    while kills < KILLS and not finished:
        proc = _start_worker(data)
        lines = _Lines(proc)
        try:
            first: list[str] = []
            deadline = time.monotonic() + 60
            while not first and not lines.eof and time.monotonic() < deadline:
                first = lines.read(deadline)
            assert first and first[0].startswith("READY"), f"worker did not start: {first}"
            resumed += first[0].split()[1] != "-"
            for line in first[1:]:
                take(line)
            # Some kills land at a random moment right after the start (while resuming); the
            # others after a random number of acknowledged scans plus a random few milliseconds,
            # so the kill falls anywhere inside the next scan's write. Counting scans, not
            # seconds, keeps the workload the same on a slow or busy machine.
            if rnd.random() < 0.15:
                cap = len(acked) + MAX_ACKS_PER_RUN
                kill_at = time.monotonic() + rnd.uniform(0.0, 0.25)
            else:
                cap = len(acked) + rnd.randint(1, MAX_ACKS_PER_RUN)
                kill_at = time.monotonic() + 60
            while time.monotonic() < kill_at and not finished and not lines.eof and len(acked) < cap:
                for line in lines.read(kill_at):
                    take(line)
            if len(acked) >= cap and not finished:
                settle = time.monotonic() + rnd.uniform(0.0, 0.02)
                while time.monotonic() < settle and not lines.eof:
                    for line in lines.read(settle):
                        take(line)
            if not finished:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            for line in lines.rest():  # printed (so acknowledged) before the kill landed
                take(line)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            assert proc.stdout is not None
            proc.stdout.close()
        assert proc.returncode in (0, -signal.SIGKILL), proc.returncode
    assert kills >= 20, f"only {kills} kills: the workload ran out"
    assert resumed >= 1, "no restart resumed a claimed order"
    assert len(acked) >= 50 and len(set(acked)) == len(acked)

    conn = sqlite3.connect(data / "packstation.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, undone_at FROM scans")}
        missing = [a for a in acked if a not in stored]
        assert not missing, f"{len(missing)} acknowledged scans are not in the database"
        # an acknowledged undo is stored; a scan is undone only if its undo was under way
        assert undone and all(stored[a] is not None for a in undone)
        assert all(stored[a] is None for a in acked if a not in undoing)
        bad_lines = conn.execute(
            """SELECT l.order_id, l.line_no, l.qty, l.packed_qty, COALESCE(SUM(s.qty), 0)
                 FROM order_lines l LEFT JOIN scans s
                   ON s.order_id = l.order_id AND s.line_no = l.line_no AND s.undone_at IS NULL
                GROUP BY l.order_id, l.line_no
               HAVING l.packed_qty != COALESCE(SUM(s.qty), 0) OR l.packed_qty > l.qty"""
        ).fetchall()
        assert bad_lines == []
        # every stored scan has its event (same transaction) and vice versa
        events = conn.execute("SELECT count(*) FROM events WHERE kind = 'scan.recorded'").fetchone()[0]
        assert events == len(stored)
        undone_events = conn.execute("SELECT count(*) FROM events WHERE kind = 'scan.undone'").fetchone()[0]
        assert undone_events == sum(v is not None for v in stored.values())
        held = conn.execute("SELECT count(*) FROM orders WHERE status = 'packing'").fetchone()[0]
        assert held <= 1  # one bench, one claimed order at most
        packed = conn.execute("SELECT count(*) FROM orders WHERE status = 'packed'").fetchone()[0]
        assert packed >= 1
        # a packed order is complete and sealed; every sealed carton has its SSCC and its event
        incomplete = conn.execute(
            """SELECT o.order_id FROM orders o JOIN order_lines l ON l.order_id = o.order_id
                WHERE o.status = 'packed' AND l.packed_qty + l.short_qty != l.qty
               UNION SELECT o.order_id FROM orders o JOIN cartons c ON c.order_id = o.order_id
                WHERE o.status = 'packed' AND (c.status != 'closed' OR c.sscc IS NULL)"""
        ).fetchall()
        assert incomplete == []
        closed = conn.execute("SELECT count(*), count(DISTINCT sscc) FROM cartons WHERE status = 'closed'").fetchone()
        assert closed[0] == closed[1] >= packed
        assert conn.execute("SELECT count(*) FROM events WHERE kind = 'carton.closed'").fetchone()[0] == closed[0]
        assert conn.execute("SELECT count(*) FROM events WHERE kind = 'order.packed'").fetchone()[0] == packed
    finally:
        conn.close()


def test_cli_on_a_read_only_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Reading commands still work; writing ones say what is wrong and change nothing."""
    from packstation.cli import main

    data = tmp_path / "data"
    order_ids = hf.seed_for_packing(data, orders=2)
    station = build_station(hf.station_config(data), seed_demo=False)
    before = hf.table_counts(station)
    station.close()
    monkeypatch.chdir(tmp_path)  # make_engine's stray "file:" folder (see the module doc) lands here
    cfg = tmp_path / "ro.toml"
    cfg.write_text(f'data_dir = "{data}"\n[database]\nlocal = "sqlite:///file:{data / "packstation.db"}?mode=ro&uri=true"\n',
                   encoding="utf-8")
    assert main(["--config", str(cfg), "status", order_ids[0], "--json"]) == 0
    assert main(["--config", str(cfg), "users", "list"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "users", "add", "Sam Spare", "--role", "packer", "--badge", "SPARE-1"]) == 3
    assert "The database file is read-only. Ask IT" in capsys.readouterr().err
    fixtures = Path(__file__).parents[1] / "fixtures"
    # the same cartons as stored: nothing to write, so this works even read-only
    assert main(["--config", str(cfg), "import", "cartons", str(fixtures / "cartons.csv")]) == 0
    assert "4 unchanged" in capsys.readouterr().out
    assert main(["--config", str(cfg), "import", "catalog", str(fixtures / "catalog.json")]) == 3
    err = capsys.readouterr().err
    assert "read-only" in err and "Nothing was imported." in err
    station = build_station(hf.station_config(data), seed_demo=False)
    try:
        assert hf.table_counts(station) == before
    finally:
        station.close()


def test_make_engine_with_a_file_uri_creates_no_stray_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hf.new_station(tmp_path / "data").close()
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    engine = make_engine(f"sqlite:///file:{tmp_path / 'data' / 'packstation.db'}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM products").scalar_one()
    finally:
        engine.dispose()
    assert list(work.iterdir()) == []


def test_import_on_a_full_disk_stores_nothing_and_says_so(small_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The disk fills up while the station runs (its window holds the database open)."""
    import json

    from packstation import demo
    from packstation.cli import main

    data = small_disk / "data"
    hf.seed_for_packing(data, orders=2)
    running = build_station(hf.station_config(data), seed_demo=False)
    try:
        hf.login(running, hf.BADGE)  # the window's connection is open
        before = hf.table_counts(running)
        cfg = small_disk / "station.toml"
        cfg.write_text(f'data_dir = "{data}"\n', encoding="utf-8")
        big = small_disk.parent / "catalog.ndjson"  # outside the small disk
        big.write_text("\n".join(json.dumps({**r, "sku": f"Z{r['sku']}", "barcodes": [], "pack_barcodes": []})
                                 for r in demo.catalog(3000)), encoding="utf-8")
        with sqlite3.connect(_db_path(running)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        filler = _fill(small_disk)
        try:
            code = main(["--config", str(cfg), "import", "catalog", str(big)])
        finally:
            filler.unlink()
        out, err = capsys.readouterr()
        assert code == 3 and out == ""
        # the import's staging file (in the data folder, on the full disk) or the database: either says so
        assert ("The disk is full. Ask IT to free space on this station." in err
                or ("staging file" in err and "Free space in the station's data folder" in err)), err
        assert "Nothing was imported." in err
        assert hf.table_counts(running) == before
        with sqlite3.connect(_db_path(running)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert main(["--config", str(cfg), "import", "catalog", str(big)]) == 0  # space again: it goes in whole
        assert "3000 new" in capsys.readouterr().out
    finally:
        running.close()


def test_starting_on_a_full_disk_says_the_disk_is_full(small_disk: Path) -> None:
    from packstation.adapters.db.engine import DatabaseError
    from packstation.services.ports import StorageError

    data = small_disk / "data"
    hf.seed_for_packing(data, orders=1)  # closed: the WAL and -shm files are gone
    filler = _fill(small_disk)
    try:
        assert os.statvfs(small_disk).f_bavail == 0
        with pytest.raises((StorageError, DatabaseError)) as raised:
            build_station(hf.station_config(data), seed_demo=False).close()
    finally:
        filler.unlink()
    message = str(raised.value).lower()
    assert "disk is full" in message or "free space" in message, raised.value


@pytest.mark.slow
def test_import_killed_midway_leaves_all_or_nothing(tmp_path: Path) -> None:
    """SIGKILL a first import of 10,000 products at random moments: the catalog is empty or complete."""
    import json

    from packstation import demo

    records = demo.catalog(10_000)
    all_codes = sum(len(r["barcodes"]) + len(r["pack_barcodes"]) for r in records)
    big = tmp_path / "catalog.ndjson"
    big.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    rnd = random.Random(7)
    outcomes = []
    for n in range(6):
        data = tmp_path / f"data{n}"
        hf.new_station(data).close()
        cfg = tmp_path / f"station{n}.toml"
        cfg.write_text(f'data_dir = "{data}"\n', encoding="utf-8")
        cmd = [sys.executable, "-m", "packstation", "--config", str(cfg), "import", "catalog", str(big)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(rnd.uniform(0.4, 1.4))
        finally:
            proc.kill()
            proc.wait(timeout=30)
        with sqlite3.connect(data / "packstation.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            products, codes = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("products", "barcodes"))
            events = conn.execute("SELECT count(*) FROM events WHERE kind = 'import.catalog'").fetchone()[0]
        assert (products, codes, events) in ((0, 0, 0), (10_000, all_codes, 1)), (products, codes, events)
        outcomes.append(products)
        if products == 0 and outcomes.count(0) == 1:  # killed before the commit: the file then goes in whole
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert res.returncode == 0 and "10000 new" in res.stdout, res.stderr
    # on a machine fast enough to finish every import before its kill, nothing was killed midway
    assert 0 in outcomes, f"no import was killed before its commit: {outcomes}"
