"""Engines for the station database: durable SQLite settings, and Alembic upgrades on start."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(RuntimeError):
    """The station database cannot be opened or written; the message says what to do."""


def make_engine(url: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """An engine for *url*. SQLite gets WAL, synchronous=FULL and BEGIN IMMEDIATE writes.

    Connections opened with ``execution_options(readonly=True)`` begin a deferred
    transaction instead, so readers never queue behind the write lock.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
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
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


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
