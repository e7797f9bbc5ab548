"""Users: add, list, disable; badge (+ PIN) login with a lock-out after wrong PINs.

PINs are stored only as argon2 hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from packstation.domain.barcodes import COMMANDS
from packstation.domain.model import Role, User
from packstation.services.ports import UnitOfWork, UnitOfWorkFactory

MAX_PIN_FAILURES = 5
LOCK_DURATION = timedelta(minutes=5)
_hasher = PasswordHasher()


class UserError(ValueError):
    """A user command or login that cannot be done; the message says why."""


class PinRequired(UserError):
    """The badge is known and has a PIN: ask for it."""

    def __init__(self, user: User):
        super().__init__(f"{user.name}: enter your PIN.")
        self.user = user


def _user(row: dict[str, Any]) -> User:
    return User(id=row["id"], name=row["name"], role=Role(row["role"]), badge=row["badge"],
                has_pin=bool(row["pin_hash"]), active=bool(row["active"]))


def validate_pin(pin: str) -> str:
    pin = pin.strip()
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise UserError("A PIN is 4 to 12 digits.")
    return pin


def add_user(uow_factory: UnitOfWorkFactory, name: str, role: str, badge: str, pin: str | None = None) -> User:
    name, badge = name.strip(), badge.strip()
    if not name:
        raise UserError("A user needs a name.")
    # the column sizes (PostgreSQL enforces them; SQLite would silently store anything)
    if len(name) > 100 or any(ord(c) < 0x20 for c in name):
        raise UserError("A user name has at most 100 printable characters.")
    if len(badge) > 64:
        raise UserError("A badge code has at most 64 characters.")
    try:
        role_ = Role(role)
    except ValueError:
        raise UserError(f"Unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}.") from None
    if len(badge) < 3 or any(ord(c) < 0x20 for c in badge):
        raise UserError("A badge code has at least 3 printable characters.")
    if badge.upper() in COMMANDS:
        # the bench reads a command barcode as a command, so this badge could never log in
        raise UserError(f"{badge!r} is a bench command barcode; give the user another badge code.")
    pin_hash = _hasher.hash(validate_pin(pin)) if pin else None
    with uow_factory() as uow:
        if uow.user_row(name=name):
            raise UserError(f"There is already a user called {name!r}.")
        if uow.user_row(badge=badge):
            raise UserError(f"Badge {badge!r} already belongs to another user.")
        user_id = uow.add_user(name, role_, badge, pin_hash)
        uow.add_event("user.added", None, None, {"name": name, "role": role_.value, "pin": bool(pin_hash)})
        uow.commit()
    return User(id=user_id, name=name, role=role_, badge=badge, has_pin=bool(pin_hash))


def list_users(uow_factory: UnitOfWorkFactory) -> list[User]:
    with uow_factory(readonly=True) as uow:
        return uow.list_users()


def disable_user(uow_factory: UnitOfWorkFactory, name: str) -> User:
    with uow_factory() as uow:
        row = uow.user_row(name=name)
        if row is None:
            raise UserError(f"No user called {name!r}. 'packstation users list' shows the names.")
        if not row["active"]:  # already disabled: nothing to change, no second event
            return _user(row)
        uow.update_user(row["id"], active=False)
        uow.add_event("user.disabled", None, None, {"name": name})
        uow.commit()
    return _user({**row, "active": False})


def _locked_until(row: dict[str, Any], now: datetime) -> datetime | None:
    locked = row["locked_until"]
    if locked is None:
        return None
    return locked if locked > now else None


def find_by_badge(uow: UnitOfWork, badge: str) -> User | None:
    """The active user behind a badge scanned to approve something (a lead's override).

    A badge locked after wrong PINs approves nothing until the lock ends: otherwise a found
    lead badge whose PIN someone failed to guess still authorised short-ships and overrides.
    """
    row = uow.user_row(badge=badge.strip())
    if row is None or not row["active"] or _locked_until(row, uow.clock()) is not None:
        return None
    return _user(row)


def login(
    uow_factory: UnitOfWorkFactory,
    badge: str,
    pin: str | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> User:
    """The user behind *badge*. Raises PinRequired when a PIN is needed, UserError otherwise."""
    with uow_factory() as uow:
        row = uow.user_row(badge=badge.strip())
        if row is None:
            raise UserError("Unknown badge. Ask a lead to add you.")
        if not row["active"]:
            raise UserError(f"{row['name']} is disabled. Ask a lead.")
        user = _user(row)
        now = clock()
        locked = _locked_until(row, now)
        if locked is not None:
            mins = max(1, round((locked - now).total_seconds() / 60))
            raise UserError(f"Badge locked after wrong PINs; try again in {mins} min or ask a lead.")
        if row["pin_hash"]:
            if pin is None:
                raise PinRequired(user)
            try:
                _hasher.verify(row["pin_hash"], pin)
            except (VerificationError, InvalidHashError):
                failures = row["failed_pins"] + 1
                values: dict[str, object] = {"failed_pins": failures}
                if failures >= MAX_PIN_FAILURES:
                    values = {"failed_pins": 0, "locked_until": now + LOCK_DURATION}
                uow.update_user(row["id"], **values)
                uow.add_event("user.pin_failed", None, user.name, {"failures": failures})
                uow.commit()
                if failures >= MAX_PIN_FAILURES:
                    raise UserError(f"Wrong PIN {MAX_PIN_FAILURES} times: badge locked for {int(LOCK_DURATION.total_seconds() // 60)} min.") from None
                raise UserError(f"Wrong PIN ({MAX_PIN_FAILURES - failures} tries left).") from None
        uow.update_user(row["id"], failed_pins=0, locked_until=None)
        uow.add_event("user.login", None, user.name, {"station": uow.station_id})
        uow.commit()
    return user
