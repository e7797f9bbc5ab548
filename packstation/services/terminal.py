"""A station's front door: badge (+ PIN) login, the desk the role gets, logout; then every scan
goes to that desk.

Every station runs the same application; the badge decides the desk. A packer gets the pack
bench, a dispatch user the dock, a returns user the returns desk; a lead or admin chooses (scan
``DESK-BENCH``, ``DESK-DOCK`` or ``DESK-RETURNS``, or press the button).

PINs are checked off the GUI thread: :meth:`Terminal.begin_pin` takes what awaits a PIN (a login
or a lead's approval) into a :class:`PinCheck`, whose :meth:`PinCheck.run` does the slow part (on a
worker thread in the window; inline in :meth:`Terminal.enter_pin`), and :meth:`Terminal.finish_pin`
applies the result on the caller's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from packstation.domain.barcodes import Barcode, BarcodeError, RawScan, interpret
from packstation.domain.identity import Desk, Permission, Session
from packstation.domain.packing import Verdict
from packstation.services.auth import LoginRefused, NotAllowed, PinRequired
from packstation.services.context import Context
from packstation.services.outcome import Outcome, storage_failed
from packstation.services.ports import StorageError

DESK_CODES = {"DESK-BENCH": Desk.BENCH, "DESK-DOCK": Desk.DOCK, "DESK-RETURNS": Desk.RETURNS}


@dataclass(frozen=True)
class PinWait:
    """A badge was scanned and its PIN is awaited: to log in, or to approve *what*."""

    badge: str
    name: str
    purpose: str  # "login" | "approve"
    permission: Permission | None = None
    what: str = ""


@dataclass
class PinCheck:
    """One PIN entry being checked; :meth:`run` may be called on any thread."""

    wait: PinWait
    pin: str
    session: Session | None = None
    error: str = ""
    storage: bool = False  # the error is the database's, not a wrong PIN

    def run(self, ctx: Context) -> PinCheck:
        try:
            if self.wait.purpose == "login":
                self.session = ctx.auth.login(self.wait.badge, self.pin)
            else:
                assert self.wait.permission is not None
                self.session = ctx.auth.approve(self.wait.badge, self.pin, self.wait.permission, self.wait.what)
        except (LoginRefused, PinRequired, NotAllowed) as exc:
            self.error = str(exc)
        except StorageError as exc:
            self.error, self.storage = str(exc), True
        return self


class DeskHandler(Protocol):
    """What a desk does with the scans of a logged-in person (the pack bench, the dock, ...)."""

    desk: Desk
    session: Session

    def start(self) -> Outcome: ...
    def handle(self, bc: Barcode, scan: RawScan) -> Outcome: ...
    def approved(self, wait: PinWait, approval: Session | None, error: str) -> Outcome: ...
    def leave(self) -> None: ...


DeskFactory = Callable[[Context, Session], DeskHandler]


@runtime_checkable
class WaitsForCarriers(Protocol):
    """A desk whose actions may wait for a carrier (the bench's seal): with ``labels_in_background``
    it hands the wait back to its caller (the window runs it off the GUI thread)."""

    labels_in_background: bool


@dataclass
class Terminal:
    ctx: Context
    desks: dict[Desk, DeskFactory]
    session: Session | None = None
    handler: DeskHandler | None = None
    pin_wait: PinWait | None = None
    choosing: bool = False  # logged in with a role of several desks, none chosen yet
    labels_in_background: bool = False  # the caller (the window) asks carriers off its own thread
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    # --- entry points ---------------------------------------------------------------------
    def scan(self, scan: RawScan | str) -> Outcome:
        if isinstance(scan, str):
            scan = RawScan.from_wire(scan)
        try:
            bc = interpret(scan)
        except BarcodeError as exc:
            return Outcome(Verdict.INVALID_SCAN, f"Unreadable scan: {exc}. Nothing was counted.",
                           data={"headline": "SCAN NOT READ"})
        try:
            return self._route(bc, scan)
        except NotAllowed as exc:
            return Outcome(Verdict.NOT_ALLOWED, str(exc))
        except StorageError as exc:
            return storage_failed(exc)

    def _route(self, bc: Barcode, scan: RawScan) -> Outcome:
        if self.session is None:
            if bc.is_command or bc.value in DESK_CODES:
                return Outcome(Verdict.NOT_ALLOWED, "Log in first: scan your badge.")
            return self._badge(scan.data.strip())
        if bc.is_command and bc.value == "CMD-LOGOUT":
            return self.logout()
        if bc.value in DESK_CODES:
            return self.choose_desk(DESK_CODES[bc.value])
        if self.handler is None:
            return Outcome(Verdict.NEEDS_DESK, self._desk_prompt())
        if self.pin_wait is not None:  # a PIN is awaited for a lead's approval: a scan cancels it
            wait = self.pin_wait
            self.pin_wait = None
            return self.handler.approved(wait, None, "cancelled: a scan came instead of the PIN. "
                                         "Nothing was counted; scan again")
        outcome = self.handler.handle(bc, scan)
        awaited = outcome.data.get("await_pin")
        if isinstance(awaited, PinWait):
            self.pin_wait = awaited
        return outcome

    def _badge(self, badge: str) -> Outcome:
        try:
            check = self.ctx.auth.check_badge(badge)
        except LoginRefused as exc:
            return Outcome(Verdict.LOGIN_REFUSED, str(exc))
        if check.needs_pin:
            self.pin_wait = PinWait(badge, check.user.name, "login")
            return Outcome(Verdict.NEEDS_PIN, f"{check.user.name}: enter your PIN.")
        try:
            session = self.ctx.auth.login(badge)
        except (LoginRefused, PinRequired) as exc:
            return Outcome(Verdict.LOGIN_REFUSED, str(exc))
        return self._logged_in(session)

    def begin_pin(self, pin: str) -> PinCheck | Outcome:
        """Take the awaited badge and *pin* into a check (quick); an Outcome if nothing awaits one."""
        wait, self.pin_wait = self.pin_wait, None
        if wait is None:
            return Outcome(Verdict.NOT_ALLOWED, "No badge is waiting for a PIN.")
        return PinCheck(wait, pin)

    def finish_pin(self, check: PinCheck) -> Outcome:
        wait = check.wait
        if wait.purpose == "login":
            if check.session is None:
                verdict = Verdict.STORAGE_FAILED if check.storage else Verdict.LOGIN_REFUSED
                return Outcome(verdict, check.error if not check.storage else f"NOT SAVED — scan your badge again. {check.error}")
            return self._logged_in(check.session)
        if self.handler is None:
            return Outcome(Verdict.NOT_ALLOWED, "Nothing is waiting for a lead any more.")
        try:
            outcome = self.handler.approved(wait, check.session, check.error)
        except NotAllowed as exc:
            return Outcome(Verdict.NOT_ALLOWED, str(exc))
        except StorageError as exc:
            return storage_failed(exc)
        again = outcome.data.get("await_pin")
        if isinstance(again, PinWait):
            self.pin_wait = again
        return outcome

    def enter_pin(self, pin: str) -> Outcome:
        """Begin, run and finish a PIN check on this thread (tests, scripts)."""
        check = self.begin_pin(pin)
        if isinstance(check, Outcome):
            return check
        return self.finish_pin(check.run(self.ctx))

    # --- desks ----------------------------------------------------------------------------
    def _logged_in(self, session: Session) -> Outcome:
        self.session = session
        if session.desk is None:
            self.choosing = True
            return Outcome(Verdict.LOGGED_IN, f"Hello {session.name}. {self._desk_prompt()}",
                           data={"choose_desk": [d.value for d in session.role.desks]})
        return self._enter(session)

    def _desk_prompt(self) -> str:
        assert self.session is not None
        names = ", ".join(f"DESK-{d.value.upper()} ({d.label.lower()})" for d in self.session.role.desks)
        return f"Choose your desk: scan {names}."

    def choose_desk(self, desk: Desk) -> Outcome:
        if self.session is None:
            return Outcome(Verdict.NOT_ALLOWED, "Log in first: scan your badge.")
        try:
            session = self.ctx.auth.choose_desk(self.session, desk)
        except NotAllowed as exc:
            return Outcome(Verdict.NOT_ALLOWED, str(exc))
        if self.handler is not None:
            self.handler.leave()
            self.handler = None
        return self._enter(session)

    def _enter(self, session: Session) -> Outcome:
        assert session.desk is not None
        self.session = session
        self.choosing = False
        self.handler = self.desks[session.desk](self.ctx, session)
        if self.labels_in_background and isinstance(self.handler, WaitsForCarriers):
            self.handler.labels_in_background = True
        return self.handler.start()

    def logout(self, why: str = "") -> Outcome:
        name = self.session.name if self.session else "nobody"
        if self.handler is not None:
            self.handler.leave()
        self.session, self.handler, self.pin_wait, self.choosing = None, None, None, False
        return Outcome(Verdict.LOGGED_OUT, why or f"{name} logged out. Scan your badge.")

    @property
    def desk(self) -> Desk | None:
        return self.handler.desk if self.handler is not None else None


@dataclass
class ComingSoonDesk:
    """A desk this station cannot run yet: it says so, and never falls back to the pack bench."""

    ctx: Context
    session: Session
    desk: Desk = Desk.DOCK

    def start(self) -> Outcome:
        return Outcome(Verdict.NOT_ALLOWED, f"Hello {self.session.name}. The {self.desk.label.lower()} is not "
                       "available at this station yet. Scan CMD-LOGOUT.", data={"headline": self.desk.label.upper()})

    def handle(self, bc: Barcode, scan: RawScan) -> Outcome:
        return self.start()

    def approved(self, wait: PinWait, approval: Session | None, error: str) -> Outcome:
        return self.start()

    def leave(self) -> None:
        pass


__all__ = ["DESK_CODES", "ComingSoonDesk", "DeskHandler", "PinCheck", "PinWait", "Terminal", "WaitsForCarriers"]
