"""Who acts: roles, the desks they work at, what each role may do, and the acting session.

Every use case receives a :class:`Session` (a person logged in with badge and PIN, or the
command line, an import, an API client, a carrier's tracking feed) and checks it itself. A
session is only worth something if the authenticator that issued it vouches for it: its
``proof`` is a keyed hash that a made-up ``Session(role=LEAD)`` does not have (see
``services.auth``). This module only holds the rules; it knows no keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    PACKER = "packer"
    LEAD = "lead"
    RETURNS = "returns"
    DISPATCH = "dispatch"
    ADMIN = "admin"

    @property
    def can_authorise(self) -> bool:
        """Leads (and admins) approve overrides, short-ships and reprints, and release claims."""
        return self in (Role.LEAD, Role.ADMIN)

    @property
    def desks(self) -> tuple[Desk, ...]:
        """The desks this role may work at; a role with more than one chooses after login."""
        return ROLE_DESKS[self]

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self]


class Desk(StrEnum):
    BENCH = "bench"  # packing
    DOCK = "dock"  # dispatch: cartons onto carrier manifests
    RETURNS = "returns"  # returns desk: receive, inspect, resolve

    @property
    def label(self) -> str:
        return {Desk.BENCH: "Pack bench", Desk.DOCK: "Dispatch dock", Desk.RETURNS: "Returns desk"}[self]


ROLE_DESKS: dict[Role, tuple[Desk, ...]] = {
    Role.PACKER: (Desk.BENCH,),
    Role.DISPATCH: (Desk.DOCK,),
    Role.RETURNS: (Desk.RETURNS,),
    Role.LEAD: (Desk.BENCH, Desk.DOCK, Desk.RETURNS),
    Role.ADMIN: (Desk.BENCH, Desk.DOCK, Desk.RETURNS),
}


class Permission(StrEnum):
    PACK = "pack"  # claim, scan, seal at a bench
    DISPATCH = "dispatch"  # load cartons onto manifests, close manifests
    RETURNS = "returns"  # receive, inspect and resolve returns
    APPROVE = "approve"  # on-the-spot approval: override, short-ship, reprint, split a manifest
    RELEASE_CLAIM = "release_claim"  # free an order another station holds
    MANAGE_USERS = "manage_users"  # add, disable, unlock users (not admins: see MANAGE_ADMINS)
    MANAGE_ADMINS = "manage_admins"  # create admins, change anyone's role
    IMPORT = "import"  # load files, take orders over the API
    VIEW_FIGURES = "view_figures"  # shift and returns figures
    SYNC = "sync"  # push and pull with the central database
    CANCEL_ORDERS = "cancel_orders"  # cancel an order that has not been handed over yet
    MANAGE_INTEGRATIONS = "manage_integrations"  # API tokens, webhook subscriptions


_LEAD = frozenset({Permission.PACK, Permission.DISPATCH, Permission.RETURNS, Permission.APPROVE,
                   Permission.RELEASE_CLAIM, Permission.MANAGE_USERS, Permission.VIEW_FIGURES,
                   Permission.CANCEL_ORDERS})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PACKER: frozenset({Permission.PACK}),
    Role.DISPATCH: frozenset({Permission.DISPATCH}),
    Role.RETURNS: frozenset({Permission.RETURNS}),
    Role.LEAD: _LEAD,
    Role.ADMIN: frozenset(Permission),
}


class ActorKind(StrEnum):
    PERSON = "person"  # badge (+ PIN) at a station
    CLI = "cli"  # the packstation command, as the operating-system user running it
    IMPORT = "import"  # a file import (names the OS user)
    API = "api"  # an API client (by its token's name) or a shop's webhook
    CARRIER = "carrier"  # a carrier's tracking feed
    SYSTEM = "system"  # the station itself (print worker, sync worker)


@dataclass(frozen=True)
class Session:
    """Who is acting, with what authority, where. Issued and vouched for by ``services.auth``."""

    id: str
    kind: ActorKind
    name: str  # the person's name, the OS user, the API client, the carrier
    role: Role
    station_id: str
    started_at: datetime
    user_id: int | None = None  # people only
    desk: Desk | None = None  # people only, once chosen
    proof: str = field(default="", repr=False, compare=False)

    @property
    def actor(self) -> str:
        """How events name this actor: ``person:Pat Packer``, ``cli:root``, ``api:acme-shop``."""
        return f"{self.kind.value}:{self.name}"

    @property
    def user_name(self) -> str | None:
        """The person's name for per-person figures (None for machines and scripts)."""
        return self.name if self.kind is ActorKind.PERSON else None

    @property
    def is_person(self) -> bool:
        return self.kind is ActorKind.PERSON

    def may(self, permission: Permission) -> bool:
        return self.role.may(permission)

    def signed_fields(self) -> str:
        """The text the proof covers: every field that gives the session its authority."""
        return "\x1f".join([
            self.id, self.kind.value, self.name, self.role.value, self.station_id,
            self.started_at.isoformat(), str(self.user_id or ""), self.desk.value if self.desk else "",
        ])

    def with_proof(self, proof: str) -> Session:
        return replace(self, proof=proof)


def mask_badge(badge: str) -> str:
    """A badge code as people may see it: enough to tell two apart, never enough to copy.

    ``LEAD-001`` becomes ``L••••01``; codes of 4 characters or fewer show only their last one.
    """
    badge = badge.strip()
    if len(badge) <= 4:
        return "•" * max(len(badge) - 1, 3) + badge[-1:]
    return f"{badge[0]}{'•' * 4}{badge[-2:]}"


__all__ = ["ActorKind", "Desk", "Permission", "Role", "Session", "mask_badge"]
