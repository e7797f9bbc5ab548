"""Events: every change of state in the product is one, naming its actor.

An event is written in the same transaction as the change it records (the outbox the central
sync ships). Its id is a UUID made where the change happened, so the centre can apply it
exactly once however often it is sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str  # "scan.recorded", "order.packed", "user.added", ...
    order_id: str | None
    actor: str  # Session.actor: "person:Pat Packer", "cli:root", "import:root", "api:acme"
    user: str | None = None  # the person, for per-person figures (None for machines)
    payload: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime | None = None  # set by the store from its clock
    station_id: str = ""  # set by the store
    seq: int = 0  # the station's own order of its events, set by the store


__all__ = ["Event"]
