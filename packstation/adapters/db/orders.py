"""Orders, their lines and their claim, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from packstation.adapters.db import tables as t
from packstation.adapters.db.bulk import insert_tables, select_planned_each_time
from packstation.adapters.db.chunks import chunks
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import Address, Order, OrderLine
from packstation.services.ports import Claim, Conflict, HeldLease, ImportedState, OrderRepository

_PACKABLE = [s.value for s in OrderStatus if s.packable]
_OPEN = [s.value for s in OrderStatus if s.open]
o = t.orders.c
ln = t.order_lines.c
# held by an import that has not finished (services/imports.py): a new order of a batch still
# publishing, or an existing order a batch updates (its new content waiting in import_pending).
# Only orders not held may be claimed, put in a wave or listed as ready.
_PUBLISHING = select(t.import_batches.c.id).where(t.import_batches.c.state == "publishing")
_HELD = and_(o.import_batch.is_not(None),
             or_(o.import_batch.in_(_PUBLISHING), o.order_id.in_(select(t.import_pending.c.key))))
_FREE = or_(o.import_batch.is_(None),
            and_(o.import_batch.not_in(_PUBLISHING), o.order_id.not_in(select(t.import_pending.c.key))))

# The scan path's statements, built once: building a statement per call (``.values(...)``,
# ``.where(...)``) cost more CPU than the SQL itself (issue 8's scan benchmark).
_HOLD = (select(o.claimed_by, o.claimed_user, o.status, o.claimed_at, case((_HELD, o.import_batch)))
         .where(o.order_id == bindparam("oid")).with_for_update(of=t.orders))
_ADD_PACKED = (update(t.order_lines).where(and_(ln.order_id == bindparam("oid"), ln.line_no == bindparam("line")))
               .values(packed_qty=ln.packed_qty + bindparam("delta")))
# imported(): built once (building it per call, its CASE and subqueries, cost more than the query)
_IMPORTED_COLUMNS = (o.order_id, o.content_hash, o.status, o.claimed_by, case((_HELD, o.import_batch)))
_IMPORTED_SQLITE = select(*_IMPORTED_COLUMNS).where(o.order_id.in_(
    select(func.json_each(bindparam("ids")).table_valued("value").c.value)))
_IMPORTED_ANY = select(*_IMPORTED_COLUMNS).where(o.order_id == any_(bindparam("ids", type_=ARRAY(String))))


class SqlOrders(OrderRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    # --- reading ---------------------------------------------------------------------------
    def get(self, order_id: str) -> Order | None:
        r = self.conn.execute(select(t.orders).where(o.order_id == order_id)).mappings().first()
        if r is None:
            return None
        lines = [_line(x) for x in self.conn.execute(
            select(t.order_lines).where(ln.order_id == order_id).order_by(ln.line_no)).mappings()]
        return _order(r, lines)

    def find_id(self, code: str) -> str | None:
        rows = self.conn.execute(
            select(o.order_id, o.status, o.placed_at).where(
                or_(o.order_id == code, o.tote == code, func.upper(o.order_id) == code.upper()))
        ).all()
        if not rows:
            return None

        def rank(row: Any) -> tuple[bool, bool, bool, Any]:
            return (row.order_id == code, row.order_id.upper() == code.upper(), row.status in _PACKABLE, row.placed_at)

        return str(max(rows, key=rank).order_id)

    def find_by_tracking(self, number: str) -> str | None:
        row = self.conn.execute(select(o.order_id).where(o.tracking_number == number).limit(1)).first()
        if row is None:
            row = self.conn.execute(
                select(t.cartons.c.order_id).where(t.cartons.c.tracking_number == number).limit(1)).first()
        return row[0] if row else None

    def hold(self, order_id: str) -> Claim:
        row = self.conn.execute(_HOLD, {"oid": order_id}).first()
        if row is None:
            raise KeyError(order_id)
        return self._claim(order_id, row)

    def claim_of(self, order_id: str) -> Claim | None:
        row = self.conn.execute(
            select(o.claimed_by, o.claimed_user, o.status, o.claimed_at, case((_HELD, o.import_batch)))
            .where(o.order_id == order_id)).first()
        return self._claim(order_id, row) if row else None

    def _claim(self, order_id: str, row: Any) -> Claim:
        importing = None
        if row[4] is not None:
            importing = self.conn.execute(select(t.import_batches.c.file)
                                          .where(t.import_batches.c.id == row[4])).scalar() or "an import"
        return Claim(order_id, OrderStatus(row[2]), row[0], row[1], row[3], importing=importing)

    def held_by(self, station_id: str) -> str | None:
        row = self.conn.execute(
            select(o.order_id).where(and_(o.claimed_by == station_id, o.status == OrderStatus.PACKING.value))
            .order_by(o.claimed_at.desc())
        ).first()
        return row[0] if row else None

    def claims(self) -> list[Claim]:
        q = (select(o.order_id, o.status, o.claimed_by, o.claimed_user, o.claimed_at)
             .where(o.claimed_by.is_not(None)).order_by(o.claimed_at))
        return [Claim(r[0], OrderStatus(r[1]), r[2], r[3], r[4]) for r in self.conn.execute(q)]

    def ready(self, limit: int) -> list[tuple[str, str | None]]:
        q = (select(o.order_id, o.tote)
             .where(and_(o.status == OrderStatus.RELEASED.value, o.claimed_by.is_(None), _FREE))
             .order_by(o.order_id).limit(limit))
        return [(r[0], r[1]) for r in self.conn.execute(q)]

    def next_to_pick(self, limit: int, carrier: str | None = None) -> list[Order]:
        q = (select(o.order_id).where(and_(o.status == OrderStatus.RELEASED.value, o.claimed_by.is_(None), _FREE))
             .order_by(o.placed_at, o.order_id).limit(limit))
        if carrier:
            q = q.where(func.lower(o.carrier) == carrier.lower())
        ids = [r[0] for r in self.conn.execute(q)]
        return [order for i in ids if (order := self.get(i)) is not None]

    # --- claims and status ---------------------------------------------------------------
    def try_claim(self, order_id: str, station_id: str, user: str, at: datetime) -> bool:
        res = self.conn.execute(
            update(t.orders)
            .where(and_(o.order_id == order_id, or_(o.claimed_by.is_(None), o.claimed_by == station_id),
                        o.status.in_(_PACKABLE), _FREE))
            .values(claimed_by=station_id, claimed_user=user, claimed_at=at, updated_at=at)
        )
        return res.rowcount == 1

    def claim_next(self, station_id: str, user: str, at: datetime, carrier: str | None = None) -> str | None:
        q = (select(o.order_id).where(and_(o.status.in_(_PACKABLE), o.claimed_by.is_(None), _FREE))
             .order_by(o.placed_at, o.order_id).limit(1).with_for_update(skip_locked=True))
        if carrier:
            q = q.where(o.carrier == carrier)
        row = self.conn.execute(q).first()
        if row is None:
            return None
        return row[0] if self.try_claim(row[0], station_id, user, at) else None

    def release(self, order_id: str) -> None:
        self.conn.execute(update(t.orders).where(o.order_id == order_id)
                          .values(claimed_by=None, claimed_user=None, claimed_at=None))

    def set_status(self, order_id: str, expected: OrderStatus, status: OrderStatus, at: datetime) -> None:
        res = self.conn.execute(
            update(t.orders).where(and_(o.order_id == order_id, o.status == expected.value))
            .values(status=status.value, updated_at=at)
        )
        if res.rowcount != 1:
            raise Conflict(f"Order {order_id} changed meanwhile (it is no longer {expected.value}); try again.")

    def set_wave(self, order_id: str, wave_id: str) -> None:
        self.conn.execute(update(t.orders).where(o.order_id == order_id).values(wave_id=wave_id))

    def add_packed(self, order_id: str, line_no: int, delta: int) -> None:
        self.conn.execute(_ADD_PACKED, {"oid": order_id, "line": line_no, "delta": delta})

    def set_short(self, order_id: str, line_no: int, short: int, reason: str) -> None:
        self.conn.execute(
            update(t.order_lines).where(and_(ln.order_id == order_id, ln.line_no == line_no))
            .values(short_qty=short, short_reason=reason))

    # --- the central lease (a synced station's copy) --------------------------------------
    def set_lease(self, order_id: str, token: int | None, expires_at: datetime | None) -> None:
        self.conn.execute(update(t.orders).where(o.order_id == order_id)
                          .values(lease_token=token, lease_expires_at=expires_at))

    def leased(self, station_id: str, order_ids: Collection[str] | None = None) -> list[HeldLease]:
        q = (select(o.order_id, o.lease_token, o.lease_expires_at)
             .where(and_(o.claimed_by == station_id, o.lease_token.is_not(None))).order_by(o.order_id))
        if order_ids is not None:
            out = []
            for part in chunks(sorted(order_ids)):
                out += [HeldLease(r[0], int(r[1]), r[2]) for r in self.conn.execute(q.where(o.order_id.in_(part)))]
            return out
        return [HeldLease(r[0], int(r[1]), r[2]) for r in self.conn.execute(q)]

    def claimable(self, limit: int, carrier: str | None = None, exclude: Collection[str] = ()) -> list[str]:
        q = select(o.order_id).where(and_(o.status.in_(_PACKABLE), o.claimed_by.is_(None), _FREE))
        if carrier:
            q = q.where(o.carrier == carrier)
        skip = list(exclude)
        if skip:
            q = q.where(o.order_id.not_in(skip))
        return [r[0] for r in self.conn.execute(q.order_by(o.placed_at, o.order_id).limit(limit))]

    # --- imports -------------------------------------------------------------------------
    def imported(self, order_ids: Sequence[str]) -> dict[str, ImportedState]:
        out: dict[str, ImportedState] = {}
        if self.conn.dialect.name == "sqlite":
            # a big import asks for thousands at a time: one JSON array parameter (json_each) instead of
            # an IN list of that many parameters, which SQLAlchemy renders anew for every call
            rows = self.conn.execute(_IMPORTED_SQLITE, {"ids": json.dumps(list(order_ids))})
        else:  # one array parameter; planned each time (a new centre's orders grow from none)
            rows = select_planned_each_time(self.conn, _IMPORTED_ANY, {"ids": list(order_ids)})
        for r in rows:
            out[r[0]] = ImportedState(fingerprint=r[1], status=r[2], held_by=r[3], import_batch=r[4])
        return out

    def open_order_with_tote(self, tote: str, other_than: str) -> tuple[str, OrderStatus] | None:
        row = self.conn.execute(
            select(o.order_id, o.status).where(and_(o.tote == tote, o.order_id != other_than, o.status.in_(_OPEN)))
            .limit(1)).first()
        return (row[0], OrderStatus(row[1])) if row else None

    def add_many(self, orders: Sequence[tuple[Order, str]], at: datetime) -> None:
        """Insert many orders with their lines (imports, the order API).

        On PostgreSQL both in one statement (``bulk.insert_tables``), not an INSERT per order and
        one per line."""
        if not orders:
            return
        if self.conn.dialect.name == "postgresql":
            insert_tables(self.conn, [
                (t.orders, _ADD_COLUMNS, [(*_row(order).values(), fp, at, at) for order, fp in orders]),
                (t.order_lines, _LINE_COLUMNS, [tuple(_line_row(order.order_id, line).values()) for order, _ in orders
                                                for line in order.lines])])
            return
        self.conn.execute(insert(t.orders), [{**_row(order), "content_hash": fp, "created_at": at, "updated_at": at}
                                             for order, fp in orders])
        self.conn.execute(insert(t.order_lines), [_line_row(order.order_id, line) for order, _ in orders
                                                  for line in order.lines])

    def replace(self, order: Order, fingerprint: str, at: datetime) -> None:
        self.conn.execute(delete(t.order_lines).where(ln.order_id == order.order_id))
        self.conn.execute(update(t.orders).where(o.order_id == order.order_id)
                          .values(**_row(order), content_hash=fingerprint, updated_at=at))
        if order.lines:
            self.conn.execute(insert(t.order_lines), [_line_row(order.order_id, line) for line in order.lines])

    # --- pulls from the central database ---------------------------------------------------
    def get_many(self, order_ids: Sequence[str]) -> dict[str, tuple[Order, Claim]]:
        out: dict[str, tuple[Order, Claim]] = {}
        for part in chunks(sorted(set(order_ids))):
            lines: dict[str, list[OrderLine]] = {}
            for x in self.conn.execute(select(t.order_lines).where(ln.order_id.in_(part))
                                       .order_by(ln.order_id, ln.line_no)).mappings():
                lines.setdefault(x["order_id"], []).append(_line(x))
            for r in self.conn.execute(select(t.orders).where(o.order_id.in_(part))).mappings():
                claim = Claim(r["order_id"], OrderStatus(r["status"]), r["claimed_by"], r["claimed_user"], r["claimed_at"])
                out[r["order_id"]] = (_order(r, lines.get(r["order_id"], [])), claim)
        return out

    def upsert(self, orders: Sequence[tuple[Order, str, Claim | None]], at: datetime) -> None:
        if not orders:
            return
        ids = [order.order_id for order, _, _ in orders]
        existing: set[str] = set()
        for part in chunks(ids):
            existing.update(r[0] for r in self.conn.execute(select(o.order_id).where(o.order_id.in_(part))))
            self.conn.execute(delete(t.order_lines).where(ln.order_id.in_(part)))
        rows = [{**_row(order), "content_hash": fp, "updated_at": at, "claimed_by": claim.station_id if claim else None,
                 "claimed_user": claim.user if claim else None, "claimed_at": claim.since if claim else None,
                 "lease_token": None, "lease_expires_at": None} for order, fp, claim in orders]
        changed = [r for r in rows if r["order_id"] in existing]
        if changed:  # one statement, many parameter sets
            cols = [k for k in changed[0] if k != "order_id"]
            stmt = (update(t.orders).where(o.order_id == bindparam("key_order_id"))
                    .values({k: bindparam(f"key_{k}") for k in cols}))
            self.conn.execute(stmt, [{f"key_{k}": v for k, v in r.items()} for r in changed])
        new = [{**r, "created_at": at} for r in rows if r["order_id"] not in existing]
        if new:
            self.conn.execute(insert(t.orders), new)
        lines = [_line_row(order.order_id, line) for order, _, _ in orders for line in order.lines]
        if lines:
            self.conn.execute(insert(t.order_lines), lines)

    def withdraw(self, order_id: str, status: OrderStatus, at: datetime) -> None:
        self.conn.execute(update(t.orders).where(o.order_id == order_id).values(
            status=status.value, claimed_by=None, claimed_user=None, claimed_at=None, lease_token=None,
            lease_expires_at=None, updated_at=at))


def _row(order: Order) -> dict[str, Any]:
    a = order.ship_to
    return {
        "order_id": order.order_id, "channel": order.channel, "placed_at": order.placed_at,
        "customer_name": order.customer_name, "customer_email": order.customer_email,
        "customer_phone": order.customer_phone, "ship_name": a.name, "ship_line1": a.line1,
        "ship_line2": a.line2, "ship_city": a.city, "ship_region": a.region, "ship_postcode": a.postcode,
        "ship_country": a.country, "currency": order.currency, "payment_method": order.payment_method,
        "payment_status": order.payment_status, "carrier": order.carrier, "service": order.service,
        "tracking_number": order.tracking_number, "tote": order.tote, "status": order.status.value,
        "wave_id": order.wave_id, "label_zpl": order.label_zpl, "label_url": order.label_url,
    }


# the columns of _row() and of _line_row(), in their order (add_many's arrays)
_ADD_COLUMNS = ("order_id", "channel", "placed_at", "customer_name", "customer_email", "customer_phone", "ship_name",
                "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postcode", "ship_country", "currency",
                "payment_method", "payment_status", "carrier", "service", "tracking_number", "tote", "status",
                "wave_id", "label_zpl", "label_url", "content_hash", "created_at", "updated_at")
_LINE_COLUMNS = ("order_id", "line_no", "sku", "qty", "unit_price", "packed_qty", "short_qty", "short_reason")


def _line_row(order_id: str, line: OrderLine) -> dict[str, Any]:
    return {"order_id": order_id, "line_no": line.line_no, "sku": line.sku, "qty": line.qty,
            "unit_price": str(line.unit_price), "packed_qty": line.packed, "short_qty": line.short,
            "short_reason": line.short_reason}


def _line(x: Any) -> OrderLine:
    return OrderLine(line_no=x["line_no"], sku=x["sku"], qty=x["qty"], unit_price=Decimal(x["unit_price"]),
                     packed=x["packed_qty"], short=x["short_qty"], short_reason=x["short_reason"])


def _order(r: Any, lines: list[OrderLine]) -> Order:
    return Order(
        order_id=r["order_id"], channel=r["channel"], placed_at=r["placed_at"],
        customer_name=r["customer_name"], customer_email=r["customer_email"], customer_phone=r["customer_phone"],
        ship_to=Address(name=r["ship_name"], line1=r["ship_line1"], line2=r["ship_line2"], city=r["ship_city"],
                        region=r["ship_region"], postcode=r["ship_postcode"], country=r["ship_country"]),
        currency=r["currency"], payment_method=r["payment_method"], payment_status=r["payment_status"],
        carrier=r["carrier"], service=r["service"], tracking_number=r["tracking_number"],
        status=OrderStatus(r["status"]), lines=lines, tote=r["tote"], wave_id=r["wave_id"],
        label_zpl=r["label_zpl"], label_url=r["label_url"],
    )
