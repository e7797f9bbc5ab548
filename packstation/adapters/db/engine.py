"""Engines for the station database: durable SQLite settings, and Alembic upgrades on start."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from packstation.services.ports import StorageError

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(StorageError):
    """The station database cannot be opened or written; the message says what to do.

    A StorageError, so every place that already reports storage failures (bench, CLI) shows
    it with its hint instead of a traceback.
    """


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if str(url.query.get("uri", "")).lower() == "true" or url.database.startswith("file:"):
        return Path(url.database.removeprefix("file:").split("?", 1)[0]).expanduser()
    return Path(url.database).expanduser()


def _disk_nearly_full(url: URL | None) -> bool:
    path = _sqlite_file(url) if url is not None else None
    if path is None:
        return False
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free < 1024 * 1024
    except OSError:
        return False


def database_hint(exc: BaseException, url: URL | None = None) -> str:
    """What a packer or lead reads when the database refuses: what happened and what to do."""
    text = str(getattr(exc, "orig", None) or exc) or exc.__class__.__name__
    low = text.lower()
    if "readonly" in low or "read-only" in low or "read only" in low:
        hint = "The database file is read-only. Ask IT to check the station's data folder permissions."
    elif "disk is full" in low or "no space" in low or ("disk i/o error" in low and _disk_nearly_full(url)):
        hint = "The disk is full. Ask IT to free space on this station."
    elif "disk i/o error" in low:
        hint = "The disk could not be read or written. Ask IT to check the station's disk."
    elif "locked" in low or "busy" in low:
        hint = "The database is busy. Scan again in a moment."
    elif "unable to open database file" in low:
        hint = "The station database cannot be opened. Ask IT to check that the data folder exists and is writable."
    elif "certificate" in low:  # TLS verification (an "SSL SYSCALL error" is the network's)
        hint = ("The database server's TLS certificate was refused. Ask IT to check the host name in the "
                "central URL and sslrootcert (the CA file) in [database].")
    elif "could not connect" in low or "connection" in low or "server closed" in low:
        hint = "The database server cannot be reached. Check the network, then scan again."
    else:
        hint = "The database refused the change. Scan again; if it repeats, call a lead."
    first = text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__
    return f"{hint} ({first})"


def make_engine(url: str, *, busy_timeout_ms: int = 5_000) -> Engine:
    """An engine for *url*. SQLite gets WAL, synchronous=FULL and BEGIN IMMEDIATE writes.

    Connections opened with ``execution_options(readonly=True)`` begin a deferred
    transaction instead, so readers never queue behind the write lock.

    Scans are stored on the window's thread, so waits are bounded: a bench that cannot get the
    write lock (a big import holds it) or reach the server within a few seconds says
    "database busy / cannot be reached, scan again" instead of freezing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return postgres_engine(parsed)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)

    path = _sqlite_file(parsed)
    # A file: URI (uri=true, e.g. mode=ro) names an existing file with options: create nothing.
    if path is not None and str(parsed.query.get("uri", "")).lower() != "true":
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"Cannot create the station's data folder {path.parent}: "
                                f"{exc.strerror or exc}. Ask IT to check the disk and the data_dir setting.") from exc
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode and str(mode[0]).lower() not in ("wal", "memory"):
            # A read-only file cannot switch to WAL; writes will fail with a clear error later.
            pass
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            try:
                begin_immediate(conn.connection.dbapi_connection, busy_timeout_ms)
            except sqlite3.OperationalError as exc:  # as SQLAlchemy would raise it (the callers map it)
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc

    return engine


WRITE_POLL_S = 0.004  # how often a writer waiting for SQLite's write lock tries again


def begin_immediate(dbapi_conn: Any, timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting up to *timeout_ms* for the write lock, trying every few ms.

    SQLite queues no writers: one that finds the lock taken sleeps in its busy handler and tries
    again, after 1, 2, 5, 10 ... ms and then every 100 ms, and gets it only if it is free at that
    instant. A writer that retried only every 100 ms could wait out its timeout behind a big
    import's back-to-back chunks unless the import left gaps longer than 100 ms (it did: 0.12 s
    per second of lock, a tenth of its time). Here the wait is a loop of our own that tries every
    :data:`WRITE_POLL_S`, so a gap of a few tens of ms lets every waiting bench in. Only BEGIN
    waits so (in WAL mode nothing else takes the write lock); every other statement keeps the
    busy timeout."""
    deadline = time.monotonic() + timeout_ms / 1000
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                time.sleep(min(WRITE_POLL_S, left))
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={timeout_ms}")


def postgres_url(url: str | URL) -> URL:
    """*url* on psycopg 3 (``postgresql://`` and ``postgresql+psycopg2://`` are read as psycopg 3)."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql+psycopg")


def postgres_engine(url: str | URL, *, application_name: str = "packstation", statement_timeout_ms: int = 10_000,
                    pool_size: int = 5, pre_ping: bool = True) -> Engine:
    """A PostgreSQL engine (psycopg 3) that notices a dead network in seconds, never minutes.

    Connect timeout 5 s; TCP keepalives after 5 s idle, every 2 s, 2 probes; ``tcp_user_timeout``
    5 s (unacknowledged data); statement and lock timeouts. libpq parameters in the URL (sslmode,
    sslrootcert, sslcert, ...) pass through to the connection unchanged: ``sslmode=verify-full``
    works as libpq documents it. *pre_ping* False saves a round trip per checkout (the order API,
    which retries a request once anyway): a dead connection then fails its first statement, and
    the pool replaces every connection it holds.
    """
    parsed = postgres_url(url)
    defaults = {"connect_timeout": "5", "keepalives": "1", "keepalives_idle": "5", "keepalives_interval": "2",
                "keepalives_count": "2", "tcp_user_timeout": "5000", "application_name": application_name}
    query = {**defaults, **{k: v for k, v in parsed.query.items()}}
    options = str(query.pop("options", ""))
    if "statement_timeout" not in options:
        options += f" -c statement_timeout={statement_timeout_ms} -c lock_timeout=5000"
    query["options"] = options.strip()
    return create_engine(parsed.set(query=query), pool_pre_ping=pre_ping, pool_size=pool_size, future=True)


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


# Alembic keeps the running migration in module-level state (alembic.context, alembic.op):
# two upgrades in one process must not overlap.
_MIGRATING = threading.Lock()
# Any fixed number: the PostgreSQL advisory lock every station takes around its upgrade.
_PG_MIGRATION_LOCK = 0x7061636B  # "pack"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (no-op when it already is).

    Every bench runs this on start. On the shared PostgreSQL database several benches start
    at once after a deploy, so the upgrade runs under a session advisory lock: the first
    bench migrates, the others wait and then find nothing to do (without the lock two of
    them would both try to create the same tables).
    """
    try:
        _upgrade(engine)
    except DBAPIError as exc:  # the first connection of a start: full disk, read-only file, no server
        raise DatabaseError(database_hint(exc, engine.url)) from exc


def _upgrade(engine: Engine) -> None:
    cfg = alembic_config()
    with _MIGRATING, engine.connect() as conn:
        locked = conn.dialect.name == "postgresql"
        if locked:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})")
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if locked:
                conn.rollback()
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})")
                conn.commit()
