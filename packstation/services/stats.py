"""Read-side figures for the lead: the shift per person, held orders, orders ready to pack."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from packstation.services.ports import UnitOfWorkFactory


def ready_orders(uow_factory: UnitOfWorkFactory, limit: int = 6) -> list[tuple[str, str]]:
    """(order id, tote) of released orders no bench holds, oldest first (demo hints)."""
    with uow_factory(readonly=True) as uow:
        rows = uow.ready_orders(limit)
    return [(order_id, tote or "—") for order_id, tote in rows]


@dataclass
class PackerFigures:
    """One person's shift, computed from the events table."""

    user: str
    orders: int = 0
    items: int = 0
    scans: int = 0
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


def shift_figures(uow_factory: UnitOfWorkFactory, since: datetime,
                  station_id: str | None = None) -> list[PackerFigures]:
    """Orders, items, cartons, errors by kind and scans per hour per person since *since*.

    An order sealed or short-shipped by a lead counts for the packer who scanned its items.

    Refused scans (wrong item, over-scan …) appear under their verdict once the core records
    them as ``scan.refused`` events with a ``verdict`` field.
    """
    since = _utc(since)
    with uow_factory(readonly=True) as uow:
        rows = uow.events_since(since)
    people: dict[str, PackerFigures] = {}
    packer_of: dict[str, str] = {}  # order id -> who scanned its items last
    for row in rows:
        user = row["user_name"]
        if not user or (station_id and row["station_id"] != station_id):
            continue
        kind = row["kind"]
        if kind == "scan.recorded" and row["order_id"]:
            packer_of[row["order_id"]] = user
        if kind in _ORDER_LEVEL and row["order_id"] in packer_of:
            user = packer_of[row["order_id"]]  # a lead's override or short-ship: the packer's order
        at = _utc(row["occurred_at"])
        fig = people.setdefault(user, PackerFigures(user))
        payload = json.loads(row["payload"] or "{}")
        if kind == "scan.recorded":
            fig.scans += 1
            fig.items += int(payload.get("qty", 1))
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


def claimed_orders(uow_factory: UnitOfWorkFactory) -> list[dict[str, Any]]:
    """Orders some bench holds (claimed and not yet packed), oldest claim first."""
    with uow_factory(readonly=True) as uow:
        rows = uow.claimed_orders()
    return [
        {"order_id": r["order_id"], "station": r["claimed_by"], "user": r["claimed_user"] or "",
         "since": r["claimed_at"], "status": r["status"]}
        for r in rows
    ]
