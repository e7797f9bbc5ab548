"""Users and their credentials, on SQLite or PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, insert, select, update

from packstation.adapters.db import tables as t
from packstation.domain.model import Role, User
from packstation.services.ports import Credentials, UserRepository

u = t.users.c


class SqlUsers(UserRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def _one(self, cond: Any) -> Credentials | None:
        r = self.conn.execute(select(t.users).where(cond)).mappings().first()
        return _credentials(r) if r else None

    def by_badge(self, badge: str) -> Credentials | None:
        return self._one(u.badge == badge)

    def by_name(self, name: str) -> Credentials | None:
        return self._one(u.name == name)

    def by_id(self, user_id: int) -> Credentials | None:
        return self._one(u.id == user_id)

    def add(self, name: str, role: Role, badge: str, pin_hash: str | None, at: datetime) -> User:
        res = self.conn.execute(insert(t.users).values(
            name=name, role=role.value, badge=badge, pin_hash=pin_hash, active=True, failed_pins=0, created_at=at))
        user_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        return User(id=user_id, name=name, role=role, badge=badge, has_pin=bool(pin_hash))

    def update(self, user_id: int, *, role: Role | None = None, active: bool | None = None,
               pin_hash: str | None = None) -> None:
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role.value
        if active is not None:
            values["active"] = active
        if pin_hash is not None:
            values["pin_hash"] = pin_hash
        if values:
            self.conn.execute(update(t.users).where(u.id == user_id).values(**values))

    def pin_failed(self, user_id: int, lock_after: int, locked_until: datetime) -> int:
        # One statement: the increment happens in the database, under its row lock, so two
        # stations failing at the same moment both count (a read-then-write lost one).
        reached = u.failed_pins + 1 >= lock_after
        row = self.conn.execute(
            update(t.users).where(u.id == user_id)
            .values(failed_pins=case((reached, 0), else_=u.failed_pins + 1),
                    locked_until=case((reached, locked_until), else_=u.locked_until))
            .returning(u.failed_pins, u.locked_until)
        ).first()
        if row is None:
            raise KeyError(user_id)
        return lock_after if row[0] == 0 else int(row[0])

    def pin_ok(self, user_id: int) -> None:
        self.conn.execute(update(t.users).where(u.id == user_id).values(failed_pins=0, locked_until=None))

    def list(self) -> list[User]:
        return [_credentials(r).user for r in self.conn.execute(select(t.users).order_by(u.name)).mappings()]

    def upsert(self, user: User, pin_hash: str | None, at: datetime) -> User:
        other = self.conn.execute(select(u.id).where(u.badge == user.badge, u.name != user.name)).first()
        if other is not None:  # the centre gave this badge to someone else: theirs no more
            self.conn.execute(update(t.users).where(u.id == other[0])
                              .values(active=False, badge=f"~{other[0]}~{user.badge}"[:64]))
        values = {"role": user.role.value, "badge": user.badge, "pin_hash": pin_hash, "active": user.active,
                  "locked_until": user.locked_until}
        res = self.conn.execute(update(t.users).where(u.name == user.name).values(**values))
        if res.rowcount == 0:
            self.conn.execute(insert(t.users).values(name=user.name, failed_pins=0, created_at=at, **values))
        stored = self.by_name(user.name)
        assert stored is not None
        return stored.user


def _credentials(r: Any) -> Credentials:
    user = User(id=r["id"], name=r["name"], role=Role(r["role"]), badge=r["badge"], has_pin=bool(r["pin_hash"]),
                active=bool(r["active"]), locked_until=r["locked_until"])
    return Credentials(user=user, pin_hash=r["pin_hash"], failed_pins=r["failed_pins"], locked_until=r["locked_until"])
