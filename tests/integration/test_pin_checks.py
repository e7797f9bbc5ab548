"""PIN checks under concurrency: the wrong-PIN counter counts every attempt, and the slow argon2
verification holds no write lock (issue 8: "on PostgreSQL the wrong-PIN counter is read and
rewritten without a row lock"; "PIN verification runs inside a write transaction").
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest
from packstation_tests_station import LEAD_PIN, StationFactory, stock

from packstation.bootstrap import Station
from packstation.domain.identity import Permission
from packstation.services import auth
from packstation.services.auth import LoginRefused

ATTEMPTS = 8


def test_concurrent_wrong_pins_on_postgresql_each_count(
        make_pg_station: StationFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """ATTEMPTS stations (own engine and connection each) get a wrong PIN for one badge at once."""
    first = make_pg_station("BENCH-00")
    stock(first)
    stations = [first] + [make_pg_station(f"BENCH-{i:02d}") for i in range(1, ATTEMPTS)]
    monkeypatch.setattr(auth, "MAX_PIN_FAILURES", 100)  # no lock in the middle: only the count matters
    # every attempt leaves the (slow) PIN check at the same moment, so the writes really overlap
    together = threading.Barrier(ATTEMPTS)

    def wrong(pin_hash: str, pin: str) -> bool:
        together.wait(timeout=60)
        return False

    monkeypatch.setattr(auth, "_pin_matches", wrong)
    results: list[Any] = [None] * ATTEMPTS

    def attempt(i: int) -> None:
        try:
            stations[i].ctx.auth.login("LEAD-001", "0000")
        except LoginRefused as exc:
            results[i] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    assert all(isinstance(r, str) and r.startswith("Wrong PIN") for r in results), results
    [lead] = hf.rows(first, "users", badge="LEAD-001")
    assert lead["failed_pins"] == ATTEMPTS  # a read-then-write counter loses some of these
    left = sorted(int(r.split(": ")[1].split()[0]) for r in results)
    assert left == sorted(100 - n for n in range(1, ATTEMPTS + 1))  # each attempt saw its own count
    failed = [e for e in hf.rows(first, "events") if e["kind"] == "user.pin_failed"]
    assert len(failed) == ATTEMPTS


def test_wrong_pins_from_two_stations_lock_the_badge_after_five_in_all(make_pg_station: StationFactory) -> None:
    first = make_pg_station("BENCH-A")
    stock(first)
    second = make_pg_station("BENCH-B")
    for station in (first, second, first, second):
        with pytest.raises(LoginRefused, match="Wrong PIN"):
            station.ctx.auth.login("LEAD-001", "0000")
    with pytest.raises(LoginRefused, match="5 times: Lee Lead's badge is locked"):
        first.ctx.auth.login("LEAD-001", "0000")
    with pytest.raises(LoginRefused, match="locked"):  # on the other station too, even with the right PIN
        second.ctx.auth.login("LEAD-001", LEAD_PIN)


class _BlockingHasher:
    """argon2's verify, held until the test lets it go (so the test can act while it runs)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.entered = threading.Event()
        self.release = threading.Event()

    def verify(self, pin_hash: str, pin: str) -> bool:
        self.entered.set()
        assert self.release.wait(30), "the test never released the PIN check"
        return bool(self.real.verify(pin_hash, pin))


@pytest.mark.parametrize("check", ["login", "approve"])
def test_a_pin_being_verified_holds_no_write_lock(
        station: Station, monkeypatch: pytest.MonkeyPatch, check: str) -> None:
    """While one station's PIN check runs, another connection writes to the same SQLite file."""
    hasher = _BlockingHasher(auth._hasher)
    monkeypatch.setattr(auth, "_hasher", hasher)
    outcome: list[Any] = []

    def run() -> None:
        try:
            if check == "login":
                outcome.append(station.ctx.auth.login("LEAD-001", LEAD_PIN))
            else:
                outcome.append(station.ctx.auth.approve("LEAD-001", LEAD_PIN, Permission.APPROVE, "A short-ship"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert hasher.entered.wait(30), "the PIN check never started"
        db = Path(hf.engine_of(station).url.database or "")
        other = sqlite3.connect(db, timeout=0.5, isolation_level=None)  # a short busy timeout
        try:
            started = time.monotonic()
            other.execute("BEGIN IMMEDIATE")  # the write lock: taken at once, nobody holds it
            other.execute("UPDATE users SET active = active WHERE badge = 'PACKER-001'")
            other.execute("COMMIT")
            assert time.monotonic() - started < 0.5
        finally:
            other.close()
    finally:
        hasher.release.set()
        thread.join(30)
    assert len(outcome) == 1 and outcome[0].name == "Lee Lead", outcome
