"""Alembic migrations build exactly the schema in tables.py, on SQLite and PostgreSQL alike.

The station upgrades its database on every start, so a second upgrade must be a no-op, and
the migrated schema must match the metadata the code queries (autogenerate finds nothing).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from packstation.adapters.db.engine import DatabaseError, alembic_config, make_engine, migrate
from packstation.adapters.db.tables import metadata
from packstation.services.ports import StorageError


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield request.getfixturevalue("fresh_pg_database")


@pytest.fixture
def engine(empty_db: str) -> Iterator[sa.Engine]:
    eng = make_engine(empty_db)
    yield eng
    eng.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def index_names(engine: sa.Engine, table: str) -> set[str]:
    """Every index on *table* as the database lists it (expression indexes too, which SQLite's
    reflection, and so the schema diff, leaves out)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
        else:
            sql = "SELECT indexname FROM pg_indexes WHERE tablename = :t"
        return {r[0] for r in conn.execute(sa.text(sql), {"t": table})}


def schema_diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite's reflection skips expression indexes (test_migrated_schema_matches_tables_py checks them)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        return list(compare_metadata(ctx, metadata))


def test_upgrade_head_on_an_empty_database_creates_every_table(engine: sa.Engine) -> None:
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == head_revision()
    tables = set(sa.inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert tables - set(metadata.tables) == {"alembic_version"}


def test_migrated_schema_matches_tables_py(engine: sa.Engine) -> None:
    migrate(engine)
    assert schema_diff(engine) == []
    expression_indexes = {ix.name for table in metadata.tables.values() for ix in table.indexes
                          if any(not isinstance(x, sa.Column) for x in ix.expressions)}
    assert expression_indexes == {"ix_orders_order_id_upper"}
    assert expression_indexes <= index_names(engine, "orders")


def test_a_second_upgrade_is_a_no_op_and_keeps_the_data(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(metadata.tables["number_series"]).values(series="sscc", next_value=42, last_value=999))
    migrate(engine)
    migrate(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(sa.text("select next_value from number_series where series = 'sscc'")).scalar_one() == 42
        assert conn.execute(sa.text("select count(*) from alembic_version")).scalar_one() == 1


def test_schema_diff_notices_a_missing_column(engine: sa.Engine) -> None:
    """The comparison above can fail: a column the code expects but the database lacks shows up."""
    migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE print_jobs DROP COLUMN error")  # SQLite >= 3.35 and PostgreSQL
    diff = schema_diff(engine)
    assert any(d[0] == "add_column" and d[3].name == "error" for d in diff if isinstance(d, tuple)), diff


def test_sqlite_station_database_uses_wal_and_full_sync(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'nested' / 'station.db'}")
    try:
        migrate(eng)
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        eng.dispose()


_START_A_BENCH = """
import sys
from packstation.adapters.db.engine import make_engine, migrate
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # go: every bench upgrades at the same moment
migrate(engine)
engine.dispose()
print("up", flush=True)
"""


def test_benches_starting_together_on_a_new_central_database_all_come_up(fresh_pg_database: str) -> None:
    """After a deploy every bench starts at once and runs the upgrade: none may fail."""
    procs = [subprocess.Popen([sys.executable, "-c", _START_A_BENCH, fresh_pg_database], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [(proc.returncode, out.strip()) for proc, (out, _) in zip(procs, outputs, strict=True)] == [(0, "up")] * 4, [
        err[-2000:] for _, err in outputs]
    engine = make_engine(fresh_pg_database)
    try:
        assert current_revision(engine) == head_revision()
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_upgrades_in_threads_of_one_process_do_not_overlap(fresh_pg_database: str) -> None:
    """Alembic's state is module-global: two threads upgrading at once must take turns."""
    engines = [make_engine(fresh_pg_database) for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def start(engine: sa.Engine) -> None:
        try:
            barrier.wait(timeout=60)
            migrate(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,), daemon=True) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not any(thread.is_alive() for thread in threads), "an upgrade hung"
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()


def test_a_read_only_file_uri_opens_the_existing_file_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "station.db"
    writable = make_engine(f"sqlite:///{db}")
    migrate(writable)
    writable.dispose()
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    ro = make_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    try:
        with ro.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar_one() == 0
    finally:
        ro.dispose()
    assert list(work.iterdir()) == []  # no stray 'file:' folder


def test_a_data_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(DatabaseError, match="Cannot create the station's data folder .*not-a-folder"):
        make_engine(f"sqlite:///{blocker / 'station.db'}")


def test_an_unreachable_central_server_is_a_clear_error_at_start() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/packstation?connect_timeout=5")
    try:
        with pytest.raises(StorageError, match="The database server cannot be reached"):
            migrate(engine)
    finally:
        engine.dispose()


def test_0002_numbers_the_scans_already_stored_in_the_order_they_were_made(engine: sa.Engine) -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.commit()
    t0 = "2026-03-10 09:00:00"
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO products (sku, name, weight_g, location, tracking, content_hash, updated_at)"
                             " VALUES ('TS-1', 'Tee', 200, 'A-1', 'none', '', :t)"), {"t": t0})
        conn.execute(sa.text(
            "INSERT INTO orders (order_id, channel, placed_at, customer_name, customer_email, customer_phone, ship_name,"
            " ship_line1, ship_line2, ship_city, ship_region, ship_postcode, ship_country, currency, payment_method,"
            " payment_status, carrier, service, status, content_hash, created_at, updated_at) VALUES ('SO-1', 'web', :t,"
            " 'A', '', '', 'A', 'L1', '', 'C', '', 'P', 'DE', 'EUR', 'prepaid', 'paid', 'DHL', '', 'packing', '', :t, :t)"),
            {"t": t0})
        for scan_id, minute in (("b", "09:02"), ("a", "09:01"), ("c", "09:02")):
            conn.execute(sa.text(
                "INSERT INTO scans (id, order_id, line_no, sku, carton_seq, qty, barcode, user_name, station_id, scanned_at)"
                " VALUES (:id, 'SO-1', 1, 'TS-1', 1, 1, 'X', 'p', 'B1', :t)"), {"id": scan_id, "t": f"2026-03-10 {minute}:00"})
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, seq FROM scans ORDER BY seq")).all()
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 2), ("c", 3)]


def test_0004_continues_the_sscc_series_after_the_old_counter(empty_db: str, engine: sa.Engine, tmp_path: Path) -> None:
    """A station upgraded from 0003 had handed out SSCC serials 1-41 from its counter: the next is 42."""
    from alembic import command

    from packstation.bootstrap import build_station
    from packstation.config import Config, DatabaseConfig, StationConfig

    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.commit()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO counters (name, value) VALUES ('sscc', 41)"))
    station = build_station(Config(station=StationConfig(id="BENCH-01"), database=DatabaseConfig(local=empty_db),
                                   data_dir=tmp_path / "data"), seed_demo=False)  # upgrades to head on start
    try:
        assert current_revision(engine) == head_revision()
        with station.uow() as uow:
            assert [uow.numbers.next("sscc") for _ in range(2)] == [42, 43]
            uow.commit()
        with engine.connect() as conn:
            assert "counters" not in sa.inspect(conn).get_table_names()
    finally:
        station.close()
