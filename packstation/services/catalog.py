"""Read-side views of the catalog for the command line and the window."""

from __future__ import annotations

from packstation.domain.identity import Session
from packstation.domain.model import CartonType
from packstation.services.context import Context


def carton_types(ctx: Context, session: Session) -> list[CartonType]:
    """Every carton type of the station's database, lightest first (the command card lists them)."""
    ctx.auth.check(session, "The carton types")
    with ctx.uow(readonly=True) as uow:
        return uow.catalog.carton_types()


__all__ = ["carton_types"]
