"""What every use case receives besides the acting session: built once by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from packstation.domain.events import Event
from packstation.domain.identity import Session
from packstation.domain.packing import Tolerance
from packstation.domain.returns import ReturnsPolicy
from packstation.services.ports import Clock, StagingFactory, UnitOfWork, UnitOfWorkFactory

if TYPE_CHECKING:
    from packstation.services.auth import Authenticator
    from packstation.services.carriers import Carriers
    from packstation.services.photos import Cameras
    from packstation.services.printing import Documents


@dataclass(frozen=True)
class PackingSettings:
    tolerance: Tolerance = Tolerance()
    gs1_company_prefix: str = "0614141"
    sscc_extension: int = 0
    carton_prefix: str = "BOX-"
    accept_typed_sku: bool = False  # a SKU typed on the keyboard counts as an item scan
    unknown_lot: str = "refuse"  # refuse | warn: a lot the warehouse's stock does not know


@dataclass(frozen=True)
class Context:
    uow: UnitOfWorkFactory
    auth: Authenticator
    station_id: str
    documents: Documents | None = None  # renders print jobs; None: this process prints nothing
    packing: PackingSettings = PackingSettings()
    clock: Clock = field(default=lambda: datetime.now(UTC))
    # the central database all stations share, when one is configured: its units of work (the
    # same repositories, on PostgreSQL). None: a standalone station. Never used on the scan path.
    central: UnitOfWorkFactory | None = None
    # the carrier accounts of [carriers.*] (labels, tracking, end-of-day close); None: none configured,
    # every carton gets our own SSCC label
    carriers: Carriers | None = None
    returns: ReturnsPolicy = ReturnsPolicy()  # [returns]: grades, photos, fees, credit-note series
    cameras: Cameras | None = None  # [returns] camera and [bench] camera
    # scratch areas for big imports (services/imports.py): one per import, thrown away after it
    staging: StagingFactory | None = None

    @property
    def synced(self) -> bool:
        return self.central is not None


def record(uow: UnitOfWork, ctx: Context, session: Session, kind: str, order_id: str | None,
           payload: dict[str, object] | None = None) -> str:
    """Write one event naming *session* as its actor, in *uow*'s transaction."""
    event = Event(kind, order_id, session.actor, session.user_name, dict(payload or {}))
    return uow.events.add(event, ctx.station_id, ctx.clock())


__all__ = ["Context", "PackingSettings", "record"]
