"""One sync round (push, then pull) and what a station knows of its sync: ``packstation sync``.

A round pushes every waiting event (``push_all``), then pulls every change (``pull_once``), and
writes what happened into the station's own bookkeeping (``sync_state``): online or not, the last
successful push and pull, the centre's last number of this station, the clock offset and the
last error. The worker thread, ``packstation sync now`` and the window's status all read it there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from packstation.domain.identity import Permission, Session
from packstation.services.context import Context
from packstation.services.ports import CentralOutbox, StorageError, SyncState
from packstation.services.sync.pull import PullReport, pull_once
from packstation.services.sync.push import PushReport, push_all

ONLINE, LAST_PUSH, LAST_PULL, LAST_ERROR = "online", "last_push", "last_pull", "last_error"
CENTRE_HAS, CLOCK_OFFSET, LAST_ROUND = "centre_last_seq", "clock_offset_s", "last_round"
CLOCK_WARNING_S = 60.0  # a station clock further off than this is said so


@dataclass(frozen=True)
class RoundResult:
    push: PushReport | None
    pull: PullReport | None
    error: str = ""

    @property
    def drained(self) -> bool:
        return not self.error and self.push is not None and self.push.drained


@dataclass(frozen=True)
class SyncStatus:
    synced: bool  # a central database is configured
    online: bool
    waiting: int  # this station's events the centre does not have yet
    refused: int  # refused by the centre, or held behind a refused one of the same order
    last_push: str | None
    last_pull: str | None
    clock_offset_s: float | None
    last_error: str | None

    @property
    def clock_warning(self) -> str | None:
        if self.clock_offset_s is None or abs(self.clock_offset_s) <= CLOCK_WARNING_S:
            return None
        way = "ahead of" if self.clock_offset_s > 0 else "behind"
        return (f"This station's clock is {abs(self.clock_offset_s):.0f} s {way} the central database's: "
                "set the time (NTP). Events keep their order per station either way.")

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "clock_warning": self.clock_warning}


def sync_round(ctx: Context, session: Session, outbox: CentralOutbox, *, numbers: dict[str, int] | None = None,
               ) -> RoundResult:
    """Push, then pull; record the outcome. Never raises for an unreachable centre: says so."""
    ctx.auth.require(session, Permission.SYNC, "Syncing with the central database")
    push: PushReport | None = None
    pull: PullReport | None = None
    error = ""
    try:
        push = push_all(ctx, session, outbox)
        if push.problem:
            error = push.problem
        pull = pull_once(ctx, session, numbers=numbers)
    except StorageError as exc:
        error = str(exc)
    now = ctx.clock().isoformat()
    try:
        with ctx.uow() as uow:
            book = uow.sync_state
            reached = push is not None and (push.centre_now is not None or push.sent == 0)
            book.put(ONLINE, "1" if reached and pull is not None else "0")
            book.put(LAST_ROUND, now)
            book.put(LAST_ERROR, error)
            if push is not None and push.problem is None:
                book.put(LAST_PUSH, now)
                if push.last_seq is not None:
                    book.put(CENTRE_HAS, str(push.last_seq))
                if push.clock_offset_s is not None:
                    book.put(CLOCK_OFFSET, repr(push.clock_offset_s))
            uow.commit()
    except StorageError:
        pass  # the local database refuses: the next round writes it
    return RoundResult(push, pull, error)


def sync_status(ctx: Context, session: Session) -> SyncStatus:
    ctx.auth.check(session, "The sync status")
    if ctx.central is None:
        return SyncStatus(False, False, 0, 0, None, None, None, None)
    with ctx.uow(readonly=True) as uow:
        book = uow.sync_state.all()
        centre_has = int(book.get(CENTRE_HAS) or 0)
        waiting = uow.events.waiting(ctx.station_id, centre_has=centre_has)
        counts = uow.events.counts(ctx.station_id)
    offset = book.get(CLOCK_OFFSET)
    return SyncStatus(
        synced=True,
        online=book.get(ONLINE) == "1",
        waiting=waiting,
        refused=counts.get(SyncState.REFUSED, 0) + counts.get(SyncState.HELD, 0),
        last_push=book.get(LAST_PUSH) or None,
        last_pull=book.get(LAST_PULL) or None,
        clock_offset_s=float(offset) if offset else None,
        last_error=book.get(LAST_ERROR) or None,
    )


def status_line(status: SyncStatus) -> str:
    """One line for the status bar: ``online · 3 waiting · last sync 10:02:11``."""
    if not status.synced:
        return "standalone"
    parts = ["online" if status.online else "OFFLINE"]
    if status.waiting:
        parts.append(f"{status.waiting} waiting")
    if status.refused:
        parts.append(f"{status.refused} REFUSED")
    last = status.last_pull or status.last_push
    if last:
        parts.append(f"last sync {datetime.fromisoformat(last):%H:%M:%S}")
    return " · ".join(parts)


def dumps(status: SyncStatus) -> str:
    return json.dumps(status.as_json(), indent=2, sort_keys=True)


__all__ = ["CLOCK_WARNING_S", "RoundResult", "SyncStatus", "dumps", "status_line", "sync_round", "sync_status"]
