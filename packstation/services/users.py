"""User management: add, disable, unlock, set a PIN, change a role; checked against the acting session.

Leads and admins manage users. A lead cannot create or change an admin, change their own role
or disable themselves; these rules live here, so the window, the command line and the API all
get them. PINs are stored only as argon2 hashes.
"""

from __future__ import annotations

from packstation.domain.barcodes import COMMANDS
from packstation.domain.identity import Permission, Role, Session
from packstation.domain.model import User
from packstation.services.auth import UserError, hash_pin
from packstation.services.context import Context, record
from packstation.services.ports import Credentials, UnitOfWork

__all__ = ["UserError", "add_user", "disable_user", "list_users", "set_pin", "set_role", "unlock_user"]


def _clean(name: str, badge: str) -> tuple[str, str]:
    name, badge = name.strip(), badge.strip()
    if not name:
        raise UserError("A user needs a name.")
    if len(name) > 100 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise UserError("A user name has at most 100 printable characters.")
    if len(badge) > 64:
        raise UserError("A badge code has at most 64 characters.")
    if len(badge) < 3 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in badge):
        raise UserError("A badge code has at least 3 printable characters.")
    if badge.upper() in COMMANDS or badge.upper().startswith(("CMD-", "DESK-", "CARRIER-")):
        # the station reads these as commands, so this badge could never log in
        raise UserError(f"{badge!r} looks like a station command barcode; give the user another badge code.")
    return name, badge


def _role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserError(f"Unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}.") from None


def _require_over(ctx: Context, session: Session, target: Role, what: str) -> None:
    """Managing a user of role *target*: admins only for admins."""
    ctx.auth.require(session, Permission.MANAGE_USERS, what)
    if target is Role.ADMIN:
        ctx.auth.require(session, Permission.MANAGE_ADMINS, f"{what} (an admin)")


def _user(uow: UnitOfWork, name: str) -> Credentials:
    creds = uow.users.by_name(name.strip())
    if creds is None:
        raise UserError(f"No user called {name!r}. 'packstation users list' shows the names.")
    return creds


def add_user(ctx: Context, session: Session, name: str, role: str | Role, badge: str, pin: str | None = None) -> User:
    name, badge = _clean(name, badge)
    role_ = _role(role)
    _require_over(ctx, session, role_, "Adding a user")
    if ctx.auth.lead_pin_required and role_.can_authorise and not pin:
        raise UserError(f"A {role_.value} needs a PIN (their approvals are badge + PIN): give one with --pin-stdin.")
    pin_hash = hash_pin(pin) if pin else None
    with ctx.uow() as uow:
        if uow.users.by_name(name):
            raise UserError(f"There is already a user called {name!r}.")
        if uow.users.by_badge(badge):
            raise UserError("That badge already belongs to another user.")
        user = uow.users.add(name, role_, badge, pin_hash, ctx.clock())
        record(uow, ctx, session, "user.added", None, {"name": name, "role": role_.value, "pin": bool(pin_hash)})
        uow.commit()
    return user


def list_users(ctx: Context, session: Session) -> list[User]:
    ctx.auth.require(session, Permission.MANAGE_USERS, "The user list")
    with ctx.uow(readonly=True) as uow:
        return uow.users.list()


def disable_user(ctx: Context, session: Session, name: str) -> User:
    with ctx.uow() as uow:
        creds = _user(uow, name)
        user = creds.user
        _require_over(ctx, session, user.role, "Disabling a user")
        if session.user_id is not None and session.user_id == user.id:
            raise UserError("You cannot disable yourself: ask another lead.")
        if not user.active:  # already disabled: nothing to change, no second event
            return user
        uow.users.update(user.id, active=False)
        record(uow, ctx, session, "user.disabled", None, {"name": user.name})
        uow.commit()
    return User(id=user.id, name=user.name, role=user.role, badge=user.badge, has_pin=user.has_pin, active=False)


def unlock_user(ctx: Context, session: Session, name: str) -> User:
    """Lift a lock after wrong PINs (the person is standing there, a lead vouches for them)."""
    with ctx.uow() as uow:
        creds = _user(uow, name)
        _require_over(ctx, session, creds.user.role, "Unlocking a badge")
        uow.users.pin_ok(creds.user.id)
        record(uow, ctx, session, "user.unlocked", None, {"name": creds.user.name})
        uow.commit()
    return creds.user


def set_pin(ctx: Context, session: Session, name: str, pin: str) -> User:
    pin_hash = hash_pin(pin)
    with ctx.uow() as uow:
        creds = _user(uow, name)
        ctx.auth.check(session, "Setting a PIN")  # your own PIN, but in a session issued here
        if session.user_id != creds.user.id:  # your own PIN you may always change
            _require_over(ctx, session, creds.user.role, "Setting a PIN")
        uow.users.update(creds.user.id, pin_hash=pin_hash)
        uow.users.pin_ok(creds.user.id)
        record(uow, ctx, session, "user.pin_set", None, {"name": creds.user.name})
        uow.commit()
    return creds.user


def set_role(ctx: Context, session: Session, name: str, role: str | Role) -> User:
    role_ = _role(role)
    with ctx.uow() as uow:
        creds = _user(uow, name)
        user = creds.user
        if session.user_id is not None and session.user_id == user.id:
            raise UserError("You cannot change your own role: ask an admin.")
        _require_over(ctx, session, user.role, "Changing a role")
        _require_over(ctx, session, role_, "Changing a role")
        if ctx.auth.lead_pin_required and role_.can_authorise and not creds.pin_hash:
            raise UserError(f"{user.name} has no PIN: set one first (a {role_.value} approves with badge + PIN).")
        if user.role is role_:
            return user
        uow.users.update(user.id, role=role_)
        record(uow, ctx, session, "user.role_changed", None, {"name": user.name, "from": user.role.value,
                                                              "to": role_.value})
        uow.commit()
    return User(id=user.id, name=user.name, role=role_, badge=user.badge, has_pin=user.has_pin, active=user.active)
