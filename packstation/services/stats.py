"""Read-side figures for the lead: the shift per person, held orders, orders ready to pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from packstation.domain.identity import Permission, Session
from packstation.services.context import Context
from packstation.services.ports import Claim


def ready_orders(ctx: Context, limit: int = 6) -> list[tuple[str, str]]:
    """(order id, tote) of released orders no bench holds (demo hints on the idle pack view)."""
    with ctx.uow(readonly=True) as uow:
        rows = uow.orders.ready(limit)
    return [(order_id, tote or "—") for order_id, tote in rows]


@dataclass
class PackerFigures:
    """One person's shift, computed from the events."""

    user: str
    orders: int = 0
    items: int = 0
    scans: int = 0
    typed: int = 0  # item scans typed on the keyboard rather than scanned
    cartons: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    first_scan: datetime | None = None
    last_scan: datetime | None = None

    @property
    def scans_per_hour(self) -> float | None:
        """Scans per hour between the first and the last scan (None under ten minutes)."""
        if self.first_scan is None or self.last_scan is None:
            return None
        hours = (self.last_scan - self.first_scan).total_seconds() / 3600
        return self.scans / hours if hours >= 1 / 6 else None


# event kind -> the error it stands for in the shift figures
_ERROR_EVENTS = {
    "scan.undone": "undone scans",
    "carton.blocked": "blocked cartons",
    "order.short_shipped": "short-ships approved",
    "user.pin_failed": "wrong PINs",
}

# events a lead may write on a packer's order; they count for the packer who packed it
_ORDER_LEVEL = {"order.packed", "carton.closed", "carton.overridden", "order.short_shipped"}


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def shift_figures(ctx: Context, session: Session, since: datetime, station_id: str | None = None) -> list[PackerFigures]:
    """Orders, items, cartons, typed scans, errors by kind and scans per hour per person since *since*.

    An order sealed or short-shipped by a lead counts for the packer who scanned its items.
    """
    ctx.auth.require(session, Permission.VIEW_FIGURES, "Shift figures")
    since = _utc(since)
    with ctx.uow(readonly=True) as uow:
        events = uow.events.since(since)
    people: dict[str, PackerFigures] = {}
    packer_of: dict[str, str] = {}  # order id -> who scanned its items last
    for ev in events:
        user = ev.user
        if not user or (station_id and ev.station_id != station_id):
            continue
        kind = ev.kind
        if kind == "scan.recorded" and ev.order_id:
            packer_of[ev.order_id] = user
        if kind in _ORDER_LEVEL and ev.order_id in packer_of:
            user = packer_of[ev.order_id]  # a lead's override or short-ship: the packer's order
        at = _utc(ev.occurred_at)
        fig = people.setdefault(user, PackerFigures(user))
        payload = ev.payload
        if kind == "scan.recorded":
            fig.scans += 1
            fig.items += int(payload.get("qty", 1))
            fig.typed += payload.get("source") == "typed"
            fig.first_scan = fig.first_scan or at
            fig.last_scan = at
        elif kind == "order.packed":
            fig.orders += 1
        elif kind in ("carton.closed", "carton.overridden"):
            fig.cartons += 1
        elif kind in _ERROR_EVENTS:
            if kind == "scan.undone":  # taken back out of the carton: not packed after all
                fig.items -= int(payload.get("qty", 1))
            what = _ERROR_EVENTS[kind]
            fig.errors[what] = fig.errors.get(what, 0) + 1
        elif kind == "scan.refused":
            what = str(payload.get("verdict", "refused")).replace("_", " ")
            fig.errors[what] = fig.errors.get(what, 0) + 1
    return sorted(people.values(), key=lambda f: f.user)


def claimed_orders(ctx: Context, session: Session) -> list[Claim]:
    """Orders some bench holds (claimed and not yet packed), oldest claim first."""
    ctx.auth.require(session, Permission.RELEASE_CLAIM, "The list of held orders")
    with ctx.uow(readonly=True) as uow:
        return uow.orders.claims()
