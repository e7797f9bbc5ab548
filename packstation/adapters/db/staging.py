"""The staging area of one import: a scratch SQLite file of its own, beside the station's data.

An import reads its file once, validates every record and keeps the valid ones here (with the
few values the cross-record checks need as *tags*), so that it holds nothing in memory that grows
with the file and takes no lock on the station database while it checks. The file is thrown
away when the import ends; it is never needed after a crash (an import killed before its file
was committed is rolled back, one killed after continues from the station database alone).

Durability is not wanted here: no journal, no fsync. Record data is kept with ``marshal``
(plain values only), which is fast and never outlives the process that wrote it.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from packstation.services.ports import ImportStaging, StagedRecord, StorageError


def _writing(method: Any) -> Any:
    """A staging write that fails (a full disk, most often) says so as the station's storage does."""

    def write(self: SqliteStaging, *args: Any) -> Any:
        try:
            return method(self, *args)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    return write


class SqliteStaging(ImportStaging):
    def __init__(self, path: Path | None = None) -> None:
        """A new staging file at *path* (None: in memory, for small imports and tests)."""
        self.path = path
        try:
            self._open()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: sqlite3.Error) -> StorageError:
        where = self.path.parent if self.path is not None else "memory"
        return StorageError(f"The import's staging file in {where} cannot be written ({exc}): it needs about four "
                            "fifths of the import file's size. Free space in the station's data folder and import again")

    def _open(self) -> None:
        self.conn = sqlite3.connect(":memory:" if self.path is None else str(self.path), isolation_level=None)
        cur = self.conn.cursor()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", "cache_size=-16000",
                       "locking_mode=EXCLUSIVE"):
            cur.execute(f"PRAGMA {pragma}")
        # the data apart: the checks read keys and fingerprints of millions of records, not their data
        cur.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, pos TEXT NOT NULL, key TEXT NOT NULL, "
                    "fp TEXT NOT NULL, rejected INTEGER NOT NULL DEFAULT 0)")
        cur.execute("CREATE TABLE record_data (seq INTEGER PRIMARY KEY, data BLOB)")
        cur.execute("CREATE TABLE tags (tag TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL)")
        cur.execute("CREATE TABLE csv_rows (key TEXT NOT NULL, n INTEGER NOT NULL, data BLOB)")
        self._indexed = False

    # --- records ---------------------------------------------------------------------------
    @_writing
    def add(self, records: Sequence[StagedRecord]) -> None:
        cur = self.conn.cursor()
        cur.execute("BEGIN")
        cur.executemany("INSERT INTO records (seq, pos, key, fp) VALUES (?, ?, ?, ?)",
                        [(r.seq, r.position, r.key, r.fingerprint) for r in records])
        cur.executemany("INSERT INTO record_data (seq, data) VALUES (?, ?)",
                        [(r.seq, marshal.dumps(r.data)) for r in records])
        tags = [(tag, value, r.seq) for r in records for tag, value in r.tags]
        if tags:
            cur.executemany("INSERT INTO tags (tag, value, seq) VALUES (?, ?, ?)", tags)
        cur.execute("COMMIT")
        self._indexed = False

    def _index(self) -> None:
        # built once, after the file is in (much cheaper than keeping them up while inserting)
        if not self._indexed:
            self.conn.execute("CREATE INDEX IF NOT EXISTS records_key ON records (key, seq)")
            self.conn.execute("CREATE INDEX IF NOT EXISTS tags_value ON tags (tag, value, seq)")
            self._indexed = True

    @_writing
    def reject(self, seqs: Iterable[int]) -> None:
        cur = self.conn.cursor()
        cur.execute("BEGIN")
        cur.executemany("UPDATE records SET rejected = 1 WHERE seq = ?", [(s,) for s in seqs])
        cur.execute("COMMIT")

    def repeats(self, tag: str) -> Iterator[tuple[StagedRecord, str, StagedRecord]]:
        self._index()
        if tag == "key":
            live = "SELECT seq, key AS value FROM records WHERE rejected = 0"
            args: tuple[str, ...] = ()
        else:
            live = ("SELECT t.seq, t.value FROM tags t JOIN records r ON r.seq = t.seq "
                    "WHERE t.tag = ? AND r.rejected = 0")
            args = (tag,)
        sql = (f"WITH live AS ({live}), "
               "firsts AS (SELECT value, MIN(seq) AS first FROM live GROUP BY value HAVING COUNT(*) > 1) "
               "SELECT live.value, a.seq, a.pos, a.key, a.fp, b.seq, b.pos, b.key, b.fp "
               "FROM live JOIN firsts USING (value) JOIN records a ON a.seq = live.seq "
               "JOIN records b ON b.seq = firsts.first WHERE live.seq > firsts.first ORDER BY live.seq")
        for value, *both in self.conn.execute(sql, args):
            yield StagedRecord(*both[:3], fingerprint=both[3]), value, StagedRecord(*both[4:7], fingerprint=both[7])

    def values(self, tag: str) -> Iterator[str]:
        self._index()
        rows = self.conn.execute("SELECT DISTINCT t.value FROM tags t JOIN records r ON r.seq = t.seq "
                                 "WHERE t.tag = ? AND r.rejected = 0 ORDER BY t.value", (tag,))
        for (value,) in rows:
            yield value

    def tagged(self, tag: str, values: Iterable[str]) -> Iterator[tuple[StagedRecord, str]]:
        self._index()
        cur = self.conn.cursor()
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (value TEXT PRIMARY KEY)")
        cur.execute("DELETE FROM wanted")
        cur.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(v,) for v in values])
        rows = list(cur.execute(
            "SELECT t.value, r.seq, r.pos, r.key, r.fp FROM tags t JOIN wanted w ON w.value = t.value "
            "JOIN records r ON r.seq = t.seq WHERE t.tag = ? AND r.rejected = 0 ORDER BY t.seq", (tag,)))
        for value, seq, pos, key, fp in rows:
            yield StagedRecord(seq, pos, key, fingerprint=fp), value

    def records(self, after: int = 0, limit: int = 1000, *, data: bool = True) -> list[StagedRecord]:
        if data:
            rows = self.conn.execute("SELECT r.seq, r.pos, r.key, r.fp, d.data FROM records r JOIN record_data d "
                                     "ON d.seq = r.seq WHERE r.rejected = 0 AND r.seq > ? ORDER BY r.seq LIMIT ?",
                                     (after, limit))
            return [StagedRecord(seq, pos, key, marshal.loads(blob), fp) for seq, pos, key, fp, blob in rows]
        rows = self.conn.execute("SELECT seq, pos, key, fp FROM records WHERE rejected = 0 AND seq > ? "
                                 "ORDER BY seq LIMIT ?", (after, limit))
        return [StagedRecord(seq, pos, key, None, fp) for seq, pos, key, fp in rows]

    def get(self, seq: int) -> StagedRecord | None:
        row = self.conn.execute("SELECT r.seq, r.pos, r.key, r.fp, d.data FROM records r JOIN record_data d "
                                "ON d.seq = r.seq WHERE r.seq = ?", (seq,)).fetchone()
        return StagedRecord(row[0], row[1], row[2], marshal.loads(row[4]), row[3]) if row else None

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM records WHERE rejected = 0").fetchone()[0])

    # --- CSV rows grouped into records -----------------------------------------------------------
    @_writing
    def add_rows(self, rows: Sequence[tuple[str, int, Any]]) -> None:
        cur = self.conn.cursor()
        cur.execute("BEGIN")
        # an empty key is a group of its own: give it a key no real one can have
        cur.executemany("INSERT INTO csv_rows (key, n, data) VALUES (?, ?, ?)",
                        [(key or f"\x00{n}", n, marshal.dumps(cells)) for key, n, cells in rows])
        cur.execute("COMMIT")

    def grouped_rows(self) -> Iterator[list[tuple[int, Any]]]:
        self.conn.execute("CREATE INDEX IF NOT EXISTS csv_rows_key ON csv_rows (key, n)")
        rows = self.conn.execute(
            "WITH firsts AS (SELECT key, MIN(n) AS first FROM csv_rows GROUP BY key) "
            "SELECT firsts.first, r.n, r.data FROM csv_rows r JOIN firsts USING (key) ORDER BY firsts.first, r.n")
        group: list[tuple[int, Any]] = []
        current = None
        for first, n, blob in rows:
            if first != current and group:
                yield group
                group = []
            current = first
            group.append((n, marshal.loads(blob)))
        if group:
            yield group

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            if self.path is not None:
                self.path.unlink(missing_ok=True)


class StagingFolder:
    """Makes staging files in one folder (the station's ``imports`` folder); the composition root's
    ``ctx.staging``. Files left by a process that died are removed when the next one is made."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def __call__(self) -> SqliteStaging:
        if self.folder is None:
            return SqliteStaging(None)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sweep()
        return SqliteStaging(self.folder / f"staging-{os.getpid()}-{uuid.uuid4().hex[:12]}.db")

    def _sweep(self) -> None:
        assert self.folder is not None
        for leftover in self.folder.glob("staging-*-*.db"):
            try:
                pid = int(leftover.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if pid == os.getpid() or _alive(pid):
                continue
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
