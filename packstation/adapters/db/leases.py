"""Order leases on PostgreSQL (the centre) or SQLite (the same contract, for tests and one-room set-ups).

``take`` is ONE conditional statement: ``INSERT ... ON CONFLICT (order_id) DO UPDATE ... WHERE
free OR ours OR expired RETURNING token``. On PostgreSQL two stations taking the same lease at
once queue on the row (or on the unique index for a first take) and the second one re-checks the
condition against the first one's committed row, so exactly one gets it; the token comes from
``lease_token_seq`` (created by ``packstation central init``) and expiry from the server's
``now()``. SQLite serialises writers (``BEGIN IMMEDIATE``), so the next token is simply one more
than the largest, and "now" is this machine's clock (the database file's only clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Interval,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from packstation.adapters.db import tables as t
from packstation.adapters.db.chunks import chunks
from packstation.services.ports import Conflict, Lease, LeaseRepository

L = t.leases
c = L.c
_RETRIES = 3  # a holder that released between our statement and our look at it: try again


def _times(pg: bool) -> tuple[Any, Any]:
    """(now, now + ttl) as SQL: the server's clock on PostgreSQL; on SQLite bound from ours."""
    if pg:
        return func.now(), func.now() + bindparam("ttl", type_=Interval())
    return bindparam("now", type_=t.TS), bindparam("until", type_=t.TS)


def _take_statement(pg: bool) -> Any:
    """The one conditional statement of ``take``, built once per dialect (its parameters bound per call)."""
    now, until = _times(pg)
    if pg:
        ins: Any = postgresql.insert(L)
        token: Any = literal_column("nextval('lease_token_seq')")
    else:
        ins = sqlite.insert(L)
        token = select(func.coalesce(func.max(c.token), 0) + 1).scalar_subquery()
    ins = ins.values(order_id=bindparam("order_id"), station_id=bindparam("station_id"), holder=bindparam("holder"),
                     token=token, taken_at=now, expires_at=until)
    ours = c.station_id == ins.excluded.station_id
    return ins.on_conflict_do_update(
        index_elements=[c.order_id],
        set_={
            "station_id": ins.excluded.station_id,
            "holder": ins.excluded.holder,
            # one's own lease taken again keeps its token (and since when it is held)
            "token": case((ours, c.token), else_=ins.excluded.token),
            "taken_at": case((ours, c.taken_at), else_=ins.excluded.taken_at),
            "expires_at": ins.excluded.expires_at,
        },
        where=or_(c.station_id.is_(None), ours, c.expires_at < now),
    ).returning(*_COLUMNS)


_COLUMNS = (c.order_id, c.station_id, c.holder, c.token, c.taken_at, c.expires_at)
_TAKE = {True: _take_statement(True), False: _take_statement(False)}
_HOLDER = select(*_COLUMNS).where(c.order_id == bindparam("order_id"))


class SqlLeases(LeaseRepository):
    def __init__(self, conn: Connection):
        self.conn = conn
        self._pg = conn.dialect.name == "postgresql"

    def _params(self, ttl: timedelta) -> dict[str, Any]:
        if self._pg:
            return {"ttl": ttl}
        now = datetime.now(UTC)
        return {"now": now, "until": now + ttl}

    def take(self, order_id: str, station_id: str, holder: str, ttl: timedelta) -> Lease:
        params = {"order_id": order_id, "station_id": station_id, "holder": holder, **self._params(ttl)}
        for _ in range(_RETRIES):
            row = self.conn.execute(_TAKE[self._pg], params).first()
            if row is not None:
                return _lease(row)
            current = self.holder(order_id)
            if current is not None and current.station_id not in (None, station_id):
                return current
        raise Conflict(f"The lease on order {order_id} keeps changing hands; try again.")

    def renew(self, order_ids: Sequence[str], station_id: str, ttl: timedelta) -> dict[str, datetime]:
        _, until = _times(self._pg)
        out: dict[str, datetime] = {}
        for part in chunks(list(order_ids)):
            rows = self.conn.execute(
                update(L).where(and_(c.order_id.in_(part), c.station_id == station_id))
                .values(expires_at=until).returning(c.order_id, c.expires_at), self._params(ttl))
            out.update({r[0]: r[1] for r in rows})
        return out

    def release(self, order_id: str, token: int) -> bool:
        res = self.conn.execute(
            update(L).where(and_(c.order_id == order_id, c.token == token, c.station_id.is_not(None)))
            .values(station_id=None, holder="", expires_at=None))
        return res.rowcount == 1

    def holder(self, order_id: str) -> Lease | None:
        row = self.conn.execute(_HOLDER, {"order_id": order_id}).first()
        return _lease(row) if row is not None else None


def _lease(row: Any) -> Lease:
    return Lease(order_id=row[0], station_id=row[1], holder=row[2], token=int(row[3]), taken_at=row[4],
                 expires_at=row[5])
