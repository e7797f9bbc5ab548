"""Waiting for SQLite's write lock (``adapters.db.engine.begin_immediate``) on a real WAL file.

SQLite's own busy handler retries every 100 ms once it has waited a while, so a bench could miss
the short gaps a big import leaves between chunks; the station retries every few ms instead and
keeps the busy timeout for everything else.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from packstation.adapters.db.engine import begin_immediate, make_engine


class _Counting:
    """A sqlite3 connection that counts the BEGIN IMMEDIATE it is asked for."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.begins = conn, 0

    def execute(self, sql: str, *args: Any) -> Any:
        self.begins += sql == "BEGIN IMMEDIATE"
        return self.conn.execute(sql, *args)


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "station.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    return path


def _hold(path: Path, seconds: float, held: threading.Event) -> threading.Thread:
    def run() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        threading.Event().wait(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_writer_tries_again_every_few_ms_and_gets_the_lock_when_it_is_free(tmp_path: Path) -> None:
    path = _db(tmp_path)
    held = threading.Event()
    holder = _hold(path, 0.6, held)
    assert held.wait(10)
    conn = _Counting(sqlite3.connect(path, isolation_level=None))
    conn.execute("PRAGMA busy_timeout=5000")
    begin_immediate(conn, 5000)  # returns once the holder has committed
    holder.join()
    conn.execute("INSERT INTO t VALUES (1)")
    conn.execute("COMMIT")
    # 0.6 s of waiting at one try every 4 ms is some 150 tries (10 leave room for a busy machine's
    # late wake-ups); SQLite's own handler would make a handful, every 100 ms
    assert conn.begins >= 10, conn.begins
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000  # kept for every other statement


def test_a_writer_that_waits_out_its_timeout_is_told_the_database_is_locked(tmp_path: Path) -> None:
    path = _db(tmp_path)
    held = threading.Event()
    holder = _hold(path, 1.5, held)
    assert held.wait(10)
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=200)
    try:
        with pytest.raises(OperationalError, match="database is locked"), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        holder.join()
        with engine.begin() as conn:  # free again: the same engine writes at once
            conn.execute(text("INSERT INTO t VALUES (3)"))
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
        with engine.connect() as conn:
            assert [r[0] for r in conn.execute(text("SELECT x FROM t"))] == [3]
    finally:
        engine.dispose()
