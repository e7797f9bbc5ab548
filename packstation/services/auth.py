"""Sessions: badge + PIN give a person a session; the command line, imports and API clients get
one too; every use case checks the session it is handed.

The :class:`Authenticator` is built once by the composition root with a secret key of its own
process. It signs every session it issues (HMAC-SHA256 over the fields that carry authority),
so a ``Session`` made up elsewhere in the code, or one whose role was edited, is refused by
:meth:`Authenticator.require`. Nothing else can mint one.

PIN checks are slow on purpose (argon2, ~0.1 s): :meth:`Authenticator.login` and
:meth:`Authenticator.approve` read the user in a read-only transaction, verify the PIN outside
any transaction (so no write lock is held meanwhile), then record the result in a short write
transaction whose wrong-PIN count is one atomic UPDATE. The window calls them off its GUI thread.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from packstation.domain.events import Event
from packstation.domain.identity import ActorKind, Desk, Permission, Role, Session
from packstation.domain.model import User
from packstation.services.ports import Clock, Credentials, UnitOfWorkFactory

MAX_PIN_FAILURES = 5
LOCK_DURATION = timedelta(minutes=5)
_hasher = PasswordHasher()


class UserError(ValueError):
    """A user command or login that cannot be done; the message says why."""


class LoginRefused(UserError):
    """The badge (and PIN) do not give a session; the message says why and what to do."""


class PinRequired(UserError):
    """The badge is known and needs a PIN: ask for it."""

    def __init__(self, user: User):
        super().__init__(f"{user.name}: enter your PIN.")
        self.user = user


class NotAllowed(PermissionError):
    """The acting session may not do this (wrong role, not issued here, ended); says why."""


def hash_pin(pin: str) -> str:
    return _hasher.hash(validate_pin(pin))


def validate_pin(pin: str) -> str:
    pin = pin.strip()
    if not pin.isascii() or not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise UserError("A PIN is 4 to 12 digits.")
    return pin


def _pin_matches(pin_hash: str, pin: str) -> bool:
    try:
        return _hasher.verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class BadgeCheck:
    """What a scanned badge needs before it gives a session."""

    user: User
    needs_pin: bool


class Authenticator:
    def __init__(self, uow: UnitOfWorkFactory, station_id: str, clock: Clock, *,
                 lead_pin_required: bool = True, key: bytes | None = None) -> None:
        self._uow = uow
        self.station_id = station_id
        self.clock = clock
        self.lead_pin_required = lead_pin_required
        self._key = key or os.urandom(32)

    # --- issuing and checking sessions ------------------------------------------------------
    def _sign(self, session: Session) -> Session:
        proof = hmac.new(self._key, session.signed_fields().encode(), hashlib.sha256).hexdigest()
        return session.with_proof(proof)

    def vouches_for(self, session: object) -> bool:
        if not isinstance(session, Session) or not session.proof:
            return False
        expected = hmac.new(self._key, session.signed_fields().encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, session.proof)

    def check(self, session: object, what: str) -> Session:
        """The session, if this authenticator issued it (any role may read); else NotAllowed."""
        if not self.vouches_for(session):
            raise NotAllowed(f"{what}: not shown — the request does not come from a session issued at "
                             "this station. Log in with your badge.")
        assert isinstance(session, Session)
        return session

    def require(self, session: object, permission: Permission, what: str) -> Session:
        """The session, if this authenticator issued it and its role may; else NotAllowed."""
        self.check(session, what)
        assert isinstance(session, Session)
        if not session.may(permission):
            raise NotAllowed(f"{what} needs {_who_may(permission)}; {session.name} is {session.role.value}.")
        return session

    def system(self, kind: ActorKind, name: str, role: Role = Role.ADMIN) -> Session:
        """A session for the command line, an import, an API client or a worker of this station.

        Only the composition root and the driving adapters it builds call this: having the
        station's database credentials is what gives the command line its authority.
        """
        if kind is ActorKind.PERSON:
            raise ValueError("people get sessions from login(), with their badge")
        return self._sign(Session(id=str(uuid.uuid4()), kind=kind, name=name, role=role,
                                  station_id=self.station_id, started_at=self.clock()))

    def _person(self, user: User, desk: Desk | None) -> Session:
        if desk is None and len(user.role.desks) == 1:
            desk = user.role.desks[0]
        return self._sign(Session(id=str(uuid.uuid4()), kind=ActorKind.PERSON, name=user.name, role=user.role,
                                  station_id=self.station_id, started_at=self.clock(), user_id=user.id, desk=desk))

    def choose_desk(self, session: Session, desk: Desk) -> Session:
        if not self.vouches_for(session):
            raise NotAllowed("Log in with your badge first.")
        if desk not in session.role.desks:
            raise NotAllowed(f"{session.name} ({session.role.value}) does not work at the {desk.label.lower()}.")
        return self._sign(replace(session, desk=desk))

    # --- badges and PINs --------------------------------------------------------------------
    def check_badge(self, badge: str) -> BadgeCheck:
        """Who the badge is and whether a PIN must follow (quick: a read, no PIN hashing).

        Raises LoginRefused (unknown, disabled, locked, a lead without the PIN leads need)."""
        with self._uow(readonly=True) as uow:
            creds = uow.users.by_badge(badge.strip())
        return BadgeCheck(self._usable(creds).user, needs_pin=bool(creds and creds.pin_hash))

    def _usable(self, creds: Credentials | None) -> Credentials:
        if creds is None:
            raise LoginRefused("Unknown badge. Ask a lead to add you.")
        user = creds.user
        if not user.active:
            raise LoginRefused(f"{user.name} is disabled. Ask a lead.")
        now = self.clock()
        if creds.locked_until is not None and creds.locked_until > now:
            mins = max(1, round((creds.locked_until - now).total_seconds() / 60))
            raise LoginRefused(f"{user.name}'s badge is locked after wrong PINs; try again in {mins} min, "
                               "or a lead unlocks it (Lead view → Users).")
        if self.lead_pin_required and user.role.can_authorise and not creds.pin_hash:
            raise LoginRefused(f"{user.name} is a {user.role.value}: leads and admins need a PIN. Set one with "
                               f"'packstation users set-pin \"{user.name}\" --pin-stdin'.")
        return creds

    def is_badge(self, code: str) -> bool:
        """Whether *code* is some user's badge (to tell a packer a badge is not an item)."""
        with self._uow(readonly=True) as uow:
            return uow.users.by_badge(code.strip()) is not None

    def login(self, badge: str, pin: str | None = None, *, desk: Desk | None = None) -> Session:
        """A person's session from their badge and PIN. Raises PinRequired or LoginRefused."""
        user = self._verify(badge, pin, kind="user.login")
        return self._person(user, desk)

    def approve(self, badge: str, pin: str | None, permission: Permission, what: str) -> Session:
        """A lead's approval on the spot (badge + PIN on the keypad): a session to act with.

        The approval is recorded with the action it approves (by the use case that takes it)."""
        user = self._verify(badge, pin, kind=None)
        session = self._person(user, None)
        if not session.may(permission):
            raise NotAllowed(f"{what} needs {_who_may(permission)}: {user.name} is {user.role.value}.")
        return session

    def _verify(self, badge: str, pin: str | None, *, kind: str | None) -> User:
        with self._uow(readonly=True) as uow:
            creds = self._usable(uow.users.by_badge(badge.strip()))
        user = creds.user
        if creds.pin_hash:
            if pin is None:
                raise PinRequired(user)
            ok = _pin_matches(creds.pin_hash, pin.strip())  # slow, and outside any transaction
        else:
            ok = True
        with self._uow() as uow:
            now = self.clock()
            actor = f"{ActorKind.PERSON.value}:{user.name}"
            if not ok:
                failures = uow.users.pin_failed(user.id, MAX_PIN_FAILURES, now + LOCK_DURATION)
                uow.events.add(Event("user.pin_failed", None, actor, user.name,
                                     {"failures": failures, "station": self.station_id}), self.station_id, now)
                uow.commit()
                if failures >= MAX_PIN_FAILURES:
                    raise LoginRefused(f"Wrong PIN {MAX_PIN_FAILURES} times: {user.name}'s badge is locked for "
                                       f"{int(LOCK_DURATION.total_seconds() // 60)} min.")
                left = MAX_PIN_FAILURES - failures
                raise LoginRefused(f"Wrong PIN: {left} {'try' if left == 1 else 'tries'} left.")
            fresh = uow.users.by_id(user.id)
            self._usable(fresh)  # locked or disabled meanwhile (by another station's attempts)
            uow.users.pin_ok(user.id)
            if kind is not None:
                uow.events.add(Event(kind, None, actor, user.name, {"station": self.station_id}),
                               self.station_id, now)
            uow.commit()
        return user


def _who_may(permission: Permission) -> str:
    """``a lead``, ``a packer or lead``, ``an admin``: who may, with the article."""
    roles = [r.value for r in Role if r.may(permission) and r is not Role.ADMIN] or ["admin"]
    return ("an " if roles[0][0] in "aeiou" else "a ") + " or ".join(roles)


__all__ = [
    "Authenticator", "BadgeCheck", "LoginRefused", "NotAllowed", "PinRequired", "UserError", "hash_pin",
    "validate_pin",
]
