"""Wake the pull when the centre says something changed (LISTEN/NOTIFY), and on a timer anyway.

The centre's change-log trigger calls ``pg_notify('packstation', entity)`` for every change it
logs (delivered when the transaction commits). :class:`ChangeListener` keeps one autocommit
psycopg 3 connection that ``LISTEN packstation`` and calls ``wake()`` for each notification. A
notification is only a hint: it is lost when the listener is down, the network drops or the
connection is being re-made, so the listener also calls ``wake()`` every ``poll_s`` whatever
happens (connected or not) and once after every (re)connect. The pull reads the change log from
its cursor each time, so a lost notification only costs up to ``poll_s`` of delay, never a
change. It runs on its own thread, never on the window's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "packstation"


class ChangeListener:
    def __init__(self, engine: Engine, wake: Callable[[], None], *, poll_s: float = 5.0,
                 max_backoff_s: float = 30.0) -> None:
        self.engine = engine  # the central database's (its URL, timeouts and TLS settings)
        self.wake = wake
        self.poll_s = poll_s
        self.max_backoff_s = max_backoff_s
        self.notifications = 0  # received so far
        self.connects = 0  # times it (re)connected and listened
        self.polls = 0  # timer wakes so far
        self.last_error = ""
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def listening(self) -> bool:
        """Connected and listening (notifications arrive)."""
        return self._listening.is_set()

    def wait_listening(self, timeout_s: float) -> bool:
        return self._listening.wait(timeout_s)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="central-listener", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _connect(self) -> psycopg.Connection[Any]:
        args, params = self.engine.dialect.create_connect_args(self.engine.url)
        conn = psycopg.connect(*args, **params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        backoff = 0.5
        next_poll = time.monotonic() + self.poll_s
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except psycopg.Error as exc:
                self.last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.info("central listener: cannot connect (%s); polling every %.1f s", self.last_error, self.poll_s)
                deadline = time.monotonic() + backoff
                backoff = min(backoff * 2, self.max_backoff_s)
                while not self._stop.is_set() and time.monotonic() < deadline:
                    next_poll = self._tick(next_poll)
                    self._stop.wait(max(0.0, min(deadline, next_poll) - time.monotonic()))
                continue
            backoff = 0.5
            self.connects += 1
            self._conn = conn
            self._listening.set()
            self.last_error = ""
            self._fire()  # what changed while nobody listened
            next_poll = time.monotonic() + self.poll_s
            try:
                while not self._stop.is_set():
                    # short slices so stop() is prompt; every notification wakes at once
                    for _ in conn.notifies(timeout=min(1.0, max(0.05, next_poll - time.monotonic()))):
                        self.notifications += 1
                        self._fire()
                    next_poll = self._tick(next_poll)
            except psycopg.Error as exc:
                self.last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.info("central listener: connection lost (%s); reconnecting", self.last_error)
            finally:
                self._listening.clear()
                self._conn = None
                try:
                    conn.close()
                except psycopg.Error:
                    pass

    def _tick(self, next_poll: float) -> float:
        """The timer: wake every poll_s, connected or not. Returns the next time."""
        now = time.monotonic()
        if now < next_poll:
            return next_poll
        self.polls += 1
        self._fire()
        return now + self.poll_s

    def _fire(self) -> None:
        try:
            self.wake()
        except Exception:  # noqa: BLE001 - a failing callback must not end the listener
            log.exception("central listener: wake callback failed")


__all__ = ["CHANNEL", "ChangeListener"]
