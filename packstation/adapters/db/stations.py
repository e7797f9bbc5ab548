"""Station seats on SQLite or PostgreSQL: the lease a running window holds on its station id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from packstation.adapters.db import tables as t
from packstation.services.ports import StationRepository, StationSeat

c = t.station_seats.c


class SqlStations(StationRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def take(self, seat: StationSeat, now: datetime, *, stale_token: str | None = None) -> StationSeat | None:
        row = self.conn.execute(select(t.station_seats).where(c.station_id == seat.station_id)
                                .with_for_update()).mappings().first()
        if row is None:
            self.conn.execute(insert(t.station_seats).values(
                station_id=seat.station_id, holder=seat.holder, token=seat.token, since=seat.since,
                expires_at=seat.expires_at))
            return None
        if row["token"] not in (seat.token, stale_token) and row["expires_at"] > now:
            return StationSeat(row["station_id"], row["holder"], row["token"], row["since"], row["expires_at"])
        self.conn.execute(update(t.station_seats).where(and_(
            c.station_id == seat.station_id, or_(c.token == seat.token, c.token == stale_token, c.expires_at <= now)))
            .values(holder=seat.holder, token=seat.token, since=seat.since, expires_at=seat.expires_at))
        return None

    def renew(self, station_id: str, token: str, expires_at: datetime) -> bool:
        res = self.conn.execute(update(t.station_seats).where(and_(c.station_id == station_id, c.token == token))
                                .values(expires_at=expires_at))
        return res.rowcount == 1

    def release(self, station_id: str, token: str) -> None:
        self.conn.execute(delete(t.station_seats).where(and_(c.station_id == station_id, c.token == token)))
