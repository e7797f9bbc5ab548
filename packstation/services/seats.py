"""One running station per station id: the seat a window takes at start and keeps with a heartbeat.

Two windows with the same station id (two starts on one data folder, or a copied config on
another PC sharing the database) would both show and pack the same claimed order: everything
counted twice. The first start takes the seat; a second is refused with who holds it. A seat not
renewed for ``SEAT_TTL`` (the holder crashed or lost power) may be taken over.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from packstation.domain.identity import Session
from packstation.services.context import Context, record
from packstation.services.ports import StationSeat

SEAT_TTL = timedelta(seconds=45)


class SeatTaken(RuntimeError):
    """Another running window holds this station id; the message says who and what to do."""

    def __init__(self, message: str, seat: StationSeat):
        super().__init__(message)
        self.seat = seat


def take_seat(ctx: Context, session: Session, holder: str, ttl: timedelta = SEAT_TTL, *,
              stale_token: str | None = None) -> StationSeat:
    """Take the seat; *stale_token*: the seat of a holder known to be gone (its process died on
    this machine: a restart after a crash need not wait for the lease to run out)."""
    now = ctx.clock()
    seat = StationSeat(ctx.station_id, holder, uuid.uuid4().hex, now, now + ttl)
    with ctx.uow() as uow:
        other = uow.stations.take(seat, now, stale_token=stale_token)
        if other is not None:
            seen = max(0, int((now - (other.expires_at - ttl)).total_seconds()))
            raise SeatTaken(f"Station {ctx.station_id} is already running: {other.holder}, since "
                            f"{other.since:%Y-%m-%d %H:%M} UTC (last heard from {seen} s ago). Close that window "
                            f"first, or give this one its own [station] id.", other)
        record(uow, ctx, session, "station.started", None,
               {"holder": holder, **({"took_over_from": stale_token} if stale_token else {})})
        uow.commit()
    return seat


def renew_seat(ctx: Context, seat: StationSeat, ttl: timedelta = SEAT_TTL) -> bool:
    with ctx.uow() as uow:
        ok = uow.stations.renew(seat.station_id, seat.token, ctx.clock() + ttl)
        uow.commit()
    return ok


def release_seat(ctx: Context, seat: StationSeat) -> None:
    with ctx.uow() as uow:
        uow.stations.release(seat.station_id, seat.token)
        uow.commit()


__all__ = ["SEAT_TTL", "SeatTaken", "release_seat", "renew_seat", "take_seat"]
