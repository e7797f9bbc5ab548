"""Background workers of a station: they drive use cases on a timer and when woken, off the GUI thread.

:class:`PrintWorker` sends this station's print jobs in the order they were committed. At start
it first marks jobs a stopped station left half-sent as *interrupted* (a lead decides about them),
then sends every pending job: a label committed with its seal just before a crash prints once
after the restart. A database that refuses is retried with a growing pause; nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packstation.domain.identity import Session
from packstation.services import printing
from packstation.services.context import Context
from packstation.services.ports import StorageError

if TYPE_CHECKING:
    from packstation.services.carriers import TrackingPoller

log = logging.getLogger(__name__)


class SeatHeartbeat:
    """Renews this window's seat on its station id; reports if another start took it over."""

    def __init__(self, ctx: Context, seat: object, *, every_s: float = 15.0,
                 on_lost: Callable[[], None] | None = None) -> None:
        self.ctx = ctx
        self.seat = seat
        self.every_s = every_s
        self.on_lost = on_lost or (lambda: None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seat-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        from packstation.services.seats import renew_seat

        while not self._stop.wait(self.every_s):
            try:
                if not renew_seat(self.ctx, self.seat):  # type: ignore[arg-type]
                    log.error("station seat lost: another window took station %s over", self.ctx.station_id)
                    self.on_lost()
                    return
            except StorageError as exc:  # offline: the seat runs out only if this lasts
                log.warning("seat heartbeat: %s", exc)


class SyncWorker:
    """Keeps a synced station and its central database in step, off the GUI thread.

    Each round pushes the outbox and pulls the centre's changes (``services.sync.status.sync_round``);
    rounds run when woken (a local change, a NOTIFY from the centre), every *poll_s* anyway, and
    while the centre cannot be reached with a growing pause (0.5 s doubling to 30 s). Every
    *renew_every_s* it also renews the leases of the orders this station holds. Going offline
    never blocks or slows a scan: the scan path never waits for this thread.
    """

    def __init__(self, ctx: Context, session: Session, outbox: object, *,
                 listener_factory: Callable[[Callable[[], None]], object | None] | None = None,
                 renew: Callable[[], object] | None = None, poll_s: float = 5.0, renew_every_s: float = 60.0,
                 on_round: Callable[[object], None] | None = None) -> None:
        self.ctx = ctx
        self.session = session
        self.outbox = outbox
        self.poll_s = poll_s
        self.renew = renew
        self.renew_every_s = renew_every_s
        self.on_round = on_round or (lambda result: None)
        self._listener_factory = listener_factory
        self._listener: object | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        if self._listener_factory is not None:
            self._listener = self._listener_factory(self.wake)
            if self._listener is not None:
                self._listener.start()  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._run, name="sync-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()  # type: ignore[attr-defined]
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run_round(self) -> object:
        from packstation.services.sync.status import sync_round

        result = sync_round(self.ctx, self.session, self.outbox)  # type: ignore[arg-type]
        self.rounds += 1
        self.on_round(result)
        return result

    def _run(self) -> None:
        import time

        pause = 0.5
        renewed = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                result = self.run_round()
                ok = not getattr(result, "error", "")
                if ok and self.renew is not None and time.monotonic() - renewed >= self.renew_every_s:
                    self.renew()
                    renewed = time.monotonic()
            except Exception:  # a bug must not stop the sync for the rest of the shift
                log.exception("sync round failed")
                ok = False
            if ok:
                pause = 0.5
                self._wake.wait(self.poll_s)
            else:
                self._wake.wait(pause)
                pause = min(pause * 2, 30.0)


# --- one loop for the workers below: printing, carrier labels, the order API's, tracking ----------


class _Loop:
    """A thread that runs *step* until it finds nothing to do, then waits *poll_s* (or a wake);
    a database that refuses is retried with a growing pause (0.5 s doubling to 30 s)."""

    name = "worker"

    def __init__(self, poll_s: float) -> None:
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> bool:  # pragma: no cover - overridden
        """Do one batch; True if there may be more right away."""
        raise NotImplementedError

    def _begin(self) -> None:
        """Once, on the worker's thread, before the first step (and again after it failed)."""

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def drain(self, max_steps: int = 10_000) -> None:
        """Run steps on this thread until nothing is left (the command line, tests)."""
        for _ in range(max_steps):
            if not self.step():
                return

    def _run(self) -> None:
        pause = 0.5
        begun = False
        while not self._stop.is_set():
            try:
                if not begun:
                    self._begin()
                    begun = True
                more = self.step()
                pause = 0.5
                if more:
                    continue
                self._wake.wait(self.poll_s)
            except StorageError as exc:
                log.warning("%s: %s", self.name, exc)
                self._wake.wait(pause)
                pause = min(pause * 2, 30.0)
            except Exception:  # a bug must not stop the worker for good
                log.exception("%s failed; retrying", self.name)
                self._wake.wait(pause)
                pause = min(pause * 2, 30.0)
            self._wake.clear()


class PrintWorker(_Loop):
    """Sends the print jobs the station's transactions wrote (``services.printing``), oldest first.

    At start, jobs a stopped station was in the middle of are marked interrupted
    (``on_interrupted`` gets them: a lead decides, nothing is resent on its own); then every
    ``poll_s`` (or when woken by a seal) every pending job is sent. ``on_result`` gets each result.
    """

    name = "print-worker"

    def __init__(self, ctx: Context, session: Session, printers: printing.Printers, *,
                 on_result: Callable[[printing.JobResult], None] | None = None,
                 on_interrupted: Callable[[list[object]], None] | None = None, poll_s: float = 5.0) -> None:
        super().__init__(poll_s)
        self.ctx = ctx
        self.session = session
        self.printers = printers
        self.on_result = on_result or (lambda result: None)
        self.on_interrupted = on_interrupted or (lambda jobs: None)
        self._busy = threading.Lock()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop after the job being sent (a job cut short stays in the journal for a retry)."""
        super().stop(timeout_s)

    def resume(self) -> list[object]:
        jobs = printing.resume(self.ctx, self.session)
        if jobs:
            self.on_interrupted(list(jobs))
        return list(jobs)

    def drain(self) -> list[printing.JobResult]:  # type: ignore[override]
        """Send every pending job now, on this thread (the CLI, tests)."""
        results = []
        with self._busy:
            while not self._stop.is_set():
                result = printing.send_next(self.ctx, self.session, self.printers)
                if result is None:
                    break
                results.append(result)
                self.on_result(result)
        return results

    def _begin(self) -> None:
        self.resume()

    def step(self) -> bool:
        self.drain()
        return False


class LabelWorker(_Loop):
    """Asks the carriers again for labels they did not give at the seal (``services.carriers``).

    At start, requests a stopped station was in the middle of are asked again; then every
    ``poll_s`` (or when woken) the requests that are due (15 s doubling to 10 min after each
    failure) are tried, and a label that comes is written as a print job for the print worker.
    ``on_result`` gets each result (the window shows LABEL CREATED / still not created).
    """

    name = "label-worker"

    def __init__(self, ctx: Context, session: Session, *, poll_s: float = 5.0,
                 on_result: Callable[[object], None] | None = None) -> None:
        super().__init__(poll_s)
        self.ctx = ctx
        self.session = session
        self.on_result = on_result or (lambda result: None)
        self._busy = threading.Lock()

    def drain(self) -> list[object]:  # type: ignore[override]
        """Try every due request now, on this thread (the CLI, tests)."""
        from packstation.services import carriers

        with self._busy:
            results = list(carriers.retry_labels(self.ctx, self.session))
        for result in results:
            self.on_result(result)
        return results

    def _begin(self) -> None:
        from packstation.services import carriers

        carriers.resume_labels(self.ctx, self.session)

    def step(self) -> bool:
        self.drain()
        return False


class IntakeWorker(_Loop):
    """Applies shops' webhook deliveries from the inbox (``services.intake.process_inbox``)."""

    name = "webhook-inbox"

    def __init__(self, ctx: Context, reader: object, session_for: Callable[[object], Session], *,
                 poll_s: float = 0.5, batch: int = 50) -> None:
        super().__init__(poll_s)
        self.ctx, self.reader, self.session_for, self.batch = ctx, reader, session_for, batch

    def step(self) -> bool:
        from packstation.services.intake import process_inbox

        run = process_inbox(self.ctx, self.reader, self.session_for, limit=self.batch)  # type: ignore[arg-type]
        return run.claimed >= self.batch


class StatusPushWorker(_Loop):
    """Collects stage changes from the event log and sends their deliveries (``services.status_push``)."""

    name = "status-push"

    def __init__(self, ctx: Context, session: Session, sender: object, *, policy: object = None,
                 poll_s: float = 1.0, batch: int = 200, grace_s: float = 900.0) -> None:
        super().__init__(poll_s)
        self.ctx, self.session, self.sender, self.policy, self.batch = ctx, session, sender, policy, batch
        self.grace_s = grace_s
        self._last_cleanup = 0.0

    def step(self) -> bool:
        import time
        from datetime import timedelta

        from packstation.services import intake, status_push

        collected = status_push.collect(self.ctx, self.session, grace=timedelta(seconds=self.grace_s))
        sent = status_push.send_due(self.ctx, self.session, self.sender, limit=self.batch,  # type: ignore[arg-type]
                                    policy=self.policy)  # type: ignore[arg-type]
        if time.monotonic() - self._last_cleanup > 3600:
            self._last_cleanup = time.monotonic()
            intake.forget_old_answers(self.ctx, self.session)
        return collected.events >= 500 or sent.tried >= self.batch


# --- carrier tracking (issue 11) -----------------------------------------------------------------


@dataclass(frozen=True)
class TrackingMove:
    """One order the carrier's tracking moved on (``handed_over`` -> ``in_transit``, ...)."""

    order_id: str
    carrier: str  # the account code
    before: str  # the order's status before the round (a return's, when rma_id is set)
    after: str  # and after it
    rma_id: str | None = None  # a return of the order, whose return parcel the carrier has (initiated -> picked)


@dataclass
class TrackingRound:
    """What one round of :class:`TrackingWorker` did."""

    polled: list[str] = field(default_factory=list)  # the accounts whose turn it was (track_every_s passed)
    events: list[str] = field(default_factory=list)  # the status-change events written
    moved: list[TrackingMove] = field(default_factory=list)  # with report=True
    failed: dict[str, str] = field(default_factory=dict)  # account -> what went wrong (not a CarrierError)


class TrackingWorker(_Loop):
    """Asks the carrier accounts about their parcels on the way (``services.carriers.poll_tracking``)
    every *poll_s*, and moves orders to *in transit* / *delivered*.

    Each account is asked no more often than its ``track_every_s`` (the poller keeps when it last
    was), so a short *poll_s* costs nothing but a clock reading. Accounts are polled one by one: a
    carrier that times out or fails in any way is logged and asked again when its interval has
    passed, and the other accounts are asked all the same; a database that refuses is retried
    with a growing pause. Runs in one process per deployment (``[carriers] poll_tracking``; the
    composition root decides), or as ``packstation tracking poll``.
    """

    name = "tracking"

    def __init__(self, ctx: Context, *, poller: TrackingPoller | None = None, poll_s: float = 5.0,
                 on_round: Callable[[TrackingRound], None] | None = None, report: bool = False) -> None:
        from packstation.services.carriers import TrackingPoller

        super().__init__(poll_s)
        self.ctx = ctx
        self.poller = poller or TrackingPoller()
        self.on_round = on_round or (lambda result: None)
        self.report = report  # also say which orders moved (one more read per account asked)
        self.rounds = 0

    def step(self) -> bool:
        self.poll_round()
        return False

    def _due(self, code: str) -> bool:
        assert self.ctx.carriers is not None
        return self.poller.due(code, self.ctx.carriers.accounts[code].min_poll_interval_s)

    def _on_the_way(self, code: str) -> dict[str, str]:
        with (self.ctx.central or self.ctx.uow)(readonly=True) as uow:
            return {order_id: status.value for order_id, status, _number in uow.manifests.on_the_way(code)}

    def _awaiting(self, code: str) -> list[str]:
        with (self.ctx.central or self.ctx.uow)(readonly=True) as uow:
            return [rma_id for rma_id, _number in uow.returns.awaiting_pickup(code)]

    def _return_moves(self, code: str, before: list[str]) -> list[TrackingMove]:
        after = set(self._awaiting(code))
        moves = []
        with (self.ctx.central or self.ctx.uow)(readonly=True) as uow:
            for rma_id in before:
                ret = uow.returns.get(rma_id) if rma_id not in after else None
                if ret is not None and ret.status.value != "initiated":
                    moves.append(TrackingMove(ret.order_id, code, "initiated", ret.status.value, rma_id=rma_id))
        return moves

    def _moves(self, code: str, before: dict[str, str]) -> list[TrackingMove]:
        after = self._on_the_way(code)
        moves = []
        with (self.ctx.central or self.ctx.uow)(readonly=True) as uow:
            for order_id, was in before.items():
                now = after.get(order_id)
                if now is None:  # no longer on the way: delivered (or changed by someone else)
                    order = uow.orders.get(order_id)
                    now = order.status.value if order is not None else was
                if now != was:
                    moves.append(TrackingMove(order_id, code, was, now))
        return moves

    def poll_round(self) -> TrackingRound:
        """Ask every account that is due now, on this thread (the worker's thread, the command line)."""
        from packstation.services.carriers import poll_tracking

        result = TrackingRound()
        codes = self.ctx.carriers.codes() if self.ctx.carriers is not None else []
        for code in codes:
            if not self._due(code):
                continue
            result.polled.append(code)
            try:
                before = self._on_the_way(code) if self.report else {}
                awaiting = self._awaiting(code) if self.report else []
                written = poll_tracking(self.ctx, self.poller, accounts=[code])
                result.events += written
                if written and self.report:
                    result.moved += self._moves(code, before) + self._return_moves(code, awaiting)
            except StorageError:
                raise  # the database: the loop pauses and retries
            except Exception as exc:  # noqa: BLE001 - one carrier's failure must not stop the others
                log.warning("tracking at %s failed: %s", code, exc, exc_info=True)
                result.failed[code] = str(exc) or exc.__class__.__name__
                self.poller.last_asked[code] = self.poller.clock()  # asked again once its interval has passed
        self.rounds += 1
        if result.events:
            log.info("tracking: %d order(s) moved on", len(result.events))
        self.on_round(result)
        return result


__all__ = ["IntakeWorker", "LabelWorker", "PrintWorker", "SeatHeartbeat", "StatusPushWorker", "SyncWorker",
           "TrackingMove", "TrackingRound", "TrackingWorker"]
