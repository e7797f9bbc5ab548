"""The unit of work over the station database: one transaction, repository methods, events.

``with uow_factory() as uow: ...; uow.commit()`` — leaving the block without ``commit()``
rolls everything back. Every state change the services make goes through here together
with its event row, in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import URL, Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from packstation.adapters.db import tables as t
from packstation.adapters.db.engine import database_hint
from packstation.domain.model import (
    Address,
    CartonType,
    Order,
    OrderLine,
    OrderStatus,
    PackBarcode,
    Product,
    Role,
    Tracking,
    User,
)
from packstation.domain.packing import Carton, CartonStatus, PackedItem
from packstation.services.ports import StorageError

Clock = Callable[[], datetime]


def _storage_error(exc: Exception, url: URL | None = None) -> StorageError:
    return StorageError(database_hint(exc, url))


class SqlUnitOfWork:
    """A transaction on the station database with the repository operations the services use."""

    def __init__(self, engine: Engine, station_id: str, clock: Clock, *, readonly: bool = False):
        self._engine = engine
        self.station_id = station_id
        self.clock = clock
        self._readonly = readonly
        self.conn: Connection

    # --- transaction --------------------------------------------------------------------
    def __enter__(self) -> SqlUnitOfWork:
        try:
            conn = self._engine.connect()
            if self._readonly:
                conn = conn.execution_options(readonly=True)
            self.conn = conn
            self._tx = conn.begin()
        except (OperationalError, DBAPIError) as exc:
            raise _storage_error(exc, self._engine.url) from exc
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        except DBAPIError:
            pass
        finally:
            self.conn.close()
        if isinstance(exc, DBAPIError):
            # Constraint violations too: a unique SSCC or serial taken by another bench must
            # reach the packer as "not saved, scan again", not crash the bench.
            raise _storage_error(exc, self._engine.url) from exc

    def commit(self) -> None:
        try:
            self._tx.commit()
        except DBAPIError as exc:
            raise _storage_error(exc, self._engine.url) from exc


    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # --- events -------------------------------------------------------------------------
    def add_event(
        self, kind: str, order_id: str | None, user: str | None, payload: dict[str, Any] | None = None
    ) -> str:
        event_id = str(uuid.uuid4())
        self.conn.execute(
            insert(t.events).values(
                id=event_id,
                kind=kind,
                order_id=order_id,
                station_id=self.station_id,
                user_name=user,
                occurred_at=self.clock(),
                payload=json.dumps(payload or {}, default=str, sort_keys=True),
            )
        )
        return event_id

    def events_for(self, order_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(t.events).where(t.events.c.order_id == order_id).order_by(t.events.c.seq)
        ).mappings()
        return [
            {
                "id": r["id"],
                "kind": r["kind"],
                "at": _iso(r["occurred_at"]),
                "station": r["station_id"],
                "user": r["user_name"],
                "data": json.loads(r["payload"]),
            }
            for r in rows
        ]

    def events_since(self, since: datetime) -> list[dict[str, Any]]:
        """Events that happened at or after *since*, oldest first (lead figures)."""
        rows = self.conn.execute(
            select(t.events).where(t.events.c.occurred_at >= since).order_by(t.events.c.seq)
        ).mappings()
        return [dict(r) for r in rows]

    # --- counters -----------------------------------------------------------------------
    def next_counter(self, name: str, start: int = 1) -> int:
        """The next value of a persistent counter; never hands out the same value twice.

        One upsert statement, so two benches creating the counter at the same moment do not
        collide on its primary key; the row lock serialises them on PostgreSQL. The value is
        only reserved once this unit of work commits (see ``services.packing._seal``).
        """
        c = t.counters.c
        if self.dialect == "postgresql":
            pg = postgresql.insert(t.counters).values(name=name, value=start)
            stmt: Any = pg.on_conflict_do_update(index_elements=[c.name], set_={"value": c.value + 1})
        else:
            lite = sqlite.insert(t.counters).values(name=name, value=start)
            stmt = lite.on_conflict_do_update(index_elements=[c.name], set_={"value": c.value + 1})
        return int(self.conn.execute(stmt.returning(c.value)).scalar_one())

    # --- catalog ------------------------------------------------------------------------
    def products_by_sku(self, skus: Iterable[str]) -> dict[str, Product]:
        skus = list(set(skus))
        if not skus:
            return {}
        rows = self.conn.execute(select(t.products).where(t.products.c.sku.in_(skus))).mappings().all()
        codes: dict[str, list[tuple[str, int]]] = {}
        for r in self.conn.execute(select(t.barcodes).where(t.barcodes.c.sku.in_(skus))).mappings():
            codes.setdefault(r["sku"], []).append((r["code"], r["qty"]))
        return {r["sku"]: _product(r, codes.get(r["sku"], [])) for r in rows}

    def product_by_barcode(self, key: str) -> tuple[Product, int] | None:
        row = self.conn.execute(select(t.barcodes.c.sku, t.barcodes.c.qty).where(t.barcodes.c.code == key)).first()
        sku, qty = (row[0], row[1]) if row else (key, 1)
        product = self.products_by_sku([sku]).get(sku)
        return (product, qty) if product else None

    def carton_type(self, code: str) -> CartonType | None:
        row = self.conn.execute(select(t.carton_types).where(t.carton_types.c.code == code)).mappings().first()
        return _carton_type(row) if row else None

    def carton_types(self) -> list[CartonType]:
        rows = self.conn.execute(select(t.carton_types).order_by(t.carton_types.c.tare_g)).mappings()
        return [_carton_type(r) for r in rows]

    def ping(self) -> None:
        """A round trip to the database (status bar check)."""
        self.conn.exec_driver_sql("SELECT 1")

    def count(self, table: str) -> int:
        tbl = t.metadata.tables[table]
        return int(self.conn.execute(select(func.count()).select_from(tbl)).scalar_one())

    # --- orders -------------------------------------------------------------------------
    def find_order_id(self, code: str) -> str | None:
        """An order id from a scanned order number or tote barcode.

        An order number wins over a tote. Totes are reused: once an order is packed its tote
        goes back to picking and is linked to a new order, so a tote means the order in it
        that can still be packed (the newest one if several), not the first one ever linked.
        """
        c = t.orders.c
        rows = self.conn.execute(
            select(c.order_id, c.status, c.placed_at).where(
                or_(c.order_id == code, c.tote == code, func.upper(c.order_id) == code.upper())
            )
        ).all()
        if not rows:
            return None
        packable = {s.value for s in OrderStatus if s.packable}

        def rank(row: Any) -> tuple[int, int, int, Any]:
            return (
                row.order_id == code,
                row.order_id.upper() == code.upper(),
                row.status in packable,
                row.placed_at,
            )

        return str(max(rows, key=rank).order_id)

    def load_order(self, order_id: str) -> Order | None:
        r = self.conn.execute(select(t.orders).where(t.orders.c.order_id == order_id)).mappings().first()
        if r is None:
            return None
        lines = [
            OrderLine(
                line_no=lr["line_no"],
                sku=lr["sku"],
                qty=lr["qty"],
                unit_price=Decimal(lr["unit_price"]),
                packed=lr["packed_qty"],
                short=lr["short_qty"],
            )
            for lr in self.conn.execute(
                select(t.order_lines).where(t.order_lines.c.order_id == order_id).order_by(t.order_lines.c.line_no)
            ).mappings()
        ]
        return Order(
            order_id=r["order_id"],
            channel=r["channel"],
            placed_at=r["placed_at"],
            customer_name=r["customer_name"],
            customer_email=r["customer_email"],
            customer_phone=r["customer_phone"],
            ship_to=Address(
                name=r["ship_name"],
                line1=r["ship_line1"],
                line2=r["ship_line2"],
                city=r["ship_city"],
                region=r["ship_region"],
                postcode=r["ship_postcode"],
                country=r["ship_country"],
            ),
            currency=r["currency"],
            payment_method=r["payment_method"],
            payment_status=r["payment_status"],
            carrier=r["carrier"],
            service=r["service"],
            tracking_number=r["tracking_number"],
            status=OrderStatus(r["status"]),
            lines=lines,
        )

    def order_claim(self, order_id: str) -> tuple[str | None, str | None, str]:
        """Who holds *order_id* (station, user) and its status; the row stays locked until commit.

        The lock (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers)
        keeps a lead's release or another bench's claim from slipping in between a bench's
        "is this order still mine?" check and the change it then stores.
        """
        row = self.conn.execute(
            select(t.orders.c.claimed_by, t.orders.c.claimed_user, t.orders.c.status)
            .where(t.orders.c.order_id == order_id)
            .with_for_update()
        ).one()
        return row[0], row[1], row[2]

    def try_claim(self, order_id: str, user: str) -> bool:
        """Atomically claim *order_id* for this station; False if another station holds it."""
        c = t.orders.c
        packable = [s.value for s in OrderStatus if s.packable]
        res = self.conn.execute(
            update(t.orders)
            .where(
                and_(
                    c.order_id == order_id,
                    or_(c.claimed_by.is_(None), c.claimed_by == self.station_id),
                    c.status.in_(packable),
                )
            )
            .values(
                claimed_by=self.station_id,
                claimed_user=user,
                claimed_at=self.clock(),
                status=OrderStatus.PACKING.value,
                updated_at=self.clock(),
            )
        )
        return res.rowcount == 1

    def claim_next(self, user: str, carrier: str | None = None) -> str | None:
        """Claim the oldest packable order nobody holds (SKIP LOCKED on PostgreSQL).

        Packable: released, in a pick wave (picking), or put back half-packed by CMD-CANCEL or
        a lead (packing, unclaimed). Released-only would starve a queue bench once orders go
        through pick waves, and strand every order a bench had released.
        """
        c = t.orders.c
        packable = [s.value for s in OrderStatus if s.packable]
        q = (
            select(c.order_id)
            .where(and_(c.status.in_(packable), c.claimed_by.is_(None)))
            .order_by(c.placed_at, c.order_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if carrier:
            q = q.where(c.carrier == carrier)
        row = self.conn.execute(q).first()
        if row is None:
            return None
        return row[0] if self.try_claim(row[0], user) else None

    def release_claim(self, order_id: str, *, status: OrderStatus | None = None) -> None:
        values: dict[str, Any] = {"claimed_by": None, "claimed_user": None, "claimed_at": None, "updated_at": self.clock()}
        if status is not None:
            values["status"] = status.value
        self.conn.execute(update(t.orders).where(t.orders.c.order_id == order_id).values(**values))

    def set_order_status(self, order_id: str, status: OrderStatus) -> None:
        self.conn.execute(
            update(t.orders).where(t.orders.c.order_id == order_id).values(status=status.value, updated_at=self.clock())
        )

    def claimed_orders(self) -> list[dict[str, Any]]:
        """Orders some bench holds, oldest claim first (the lead's stuck-orders list)."""
        c = t.orders.c
        q = (select(c.order_id, c.claimed_by, c.claimed_user, c.claimed_at, c.status)
             .where(c.claimed_by.is_not(None)).order_by(c.claimed_at))
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def ready_orders(self, limit: int) -> list[tuple[str, str | None]]:
        """(order id, tote) of released orders no bench holds, by order number."""
        c = t.orders.c
        q = (select(c.order_id, c.tote)
             .where(and_(c.status == OrderStatus.RELEASED.value, c.claimed_by.is_(None)))
             .order_by(c.order_id).limit(limit))
        return [(r[0], r[1]) for r in self.conn.execute(q)]

    def claimed_order(self) -> str | None:
        """The order this station holds (after a crash or a power cut)."""
        row = self.conn.execute(
            select(t.orders.c.order_id)
            .where(and_(t.orders.c.claimed_by == self.station_id, t.orders.c.status == OrderStatus.PACKING.value))
            .order_by(t.orders.c.claimed_at.desc())
        ).first()
        return row[0] if row else None

    def add_packed(self, order_id: str, line_no: int, delta: int) -> None:
        c = t.order_lines.c
        self.conn.execute(
            update(t.order_lines)
            .where(and_(c.order_id == order_id, c.line_no == line_no))
            .values(packed_qty=c.packed_qty + delta)
        )

    def set_short(self, order_id: str, line_no: int, short: int, reason: str) -> None:
        c = t.order_lines.c
        self.conn.execute(
            update(t.order_lines)
            .where(and_(c.order_id == order_id, c.line_no == line_no))
            .values(short_qty=short, short_reason=reason)
        )

    # --- cartons and scans ---------------------------------------------------------------
    def load_cartons(self, order_id: str, types: dict[str, CartonType]) -> list[Carton]:
        cartons: dict[int, Carton] = {}
        for r in self.conn.execute(
            select(t.cartons).where(t.cartons.c.order_id == order_id).order_by(t.cartons.c.seq)
        ).mappings():
            ctype = types.get(r["type_code"]) or CartonType(r["type_code"], r["type_code"], 0)
            cartons[r["seq"]] = Carton(
                seq=r["seq"],
                type=ctype,
                status=CartonStatus(r["status"]),
                measured_g=r["measured_g"],
                sscc=r["sscc"],
                override_by=r["override_by"],
                tracking_number=r["tracking_number"],
            )
        for s in self.conn.execute(
            select(t.scans)
            .where(and_(t.scans.c.order_id == order_id, t.scans.c.undone_at.is_(None)))
            .order_by(t.scans.c.seq)
        ).mappings():
            cartons[s["carton_seq"]].items.append(_packed(s))
        return list(cartons.values())

    def insert_carton(self, order_id: str, carton: Carton, user: str) -> None:
        self.conn.execute(
            insert(t.cartons).values(
                id=str(uuid.uuid4()),
                order_id=order_id,
                seq=carton.seq,
                type_code=carton.type.code,
                status=carton.status.value,
                opened_by=user,
                station_id=self.station_id,
                opened_at=self.clock(),
            )
        )

    def update_carton(self, order_id: str, seq: int, **values: Any) -> None:
        if values.get("status") == CartonStatus.CLOSED.value:
            values.setdefault("closed_at", self.clock())
        self.conn.execute(
            update(t.cartons).where(and_(t.cartons.c.order_id == order_id, t.cartons.c.seq == seq)).values(**values)
        )

    def carton_by_sscc(self, sscc: str) -> tuple[str, int] | None:
        row = self.conn.execute(select(t.cartons.c.order_id, t.cartons.c.seq).where(t.cartons.c.sscc == sscc)).first()
        return (row[0], row[1]) if row else None

    def delete_carton(self, order_id: str, seq: int) -> None:
        self.conn.execute(delete(t.cartons).where(and_(t.cartons.c.order_id == order_id, t.cartons.c.seq == seq)))

    def insert_scan(self, order_id: str, item: PackedItem) -> None:
        # the next number in this order's scan sequence; the write transaction (BEGIN IMMEDIATE,
        # or the order row locked by the claim check on PostgreSQL) keeps it unique
        seq = self.conn.execute(
            select(func.coalesce(func.max(t.scans.c.seq), 0) + 1).where(t.scans.c.order_id == order_id)
        ).scalar_one()
        self.conn.execute(
            insert(t.scans).values(
                seq=seq,
                id=item.scan_id,
                order_id=order_id,
                line_no=item.line_no,
                sku=item.sku,
                carton_seq=item.carton_seq,
                qty=item.qty,
                barcode=item.barcode,
                lot=item.lot,
                expiry=item.expiry,
                serial=item.serial,
                user_name=item.user,
                station_id=self.station_id,
                scanned_at=self.clock(),
            )
        )
        if item.serial:
            self.conn.execute(
                insert(t.serial_registry).values(sku=item.sku, serial=item.serial, order_id=order_id, scan_id=item.scan_id)
            )

    def undo_scan(self, item: PackedItem, by: str) -> None:
        self.conn.execute(
            update(t.scans).where(t.scans.c.id == item.scan_id).values(undone_at=self.clock(), undone_by=by)
        )
        if item.serial:
            self.conn.execute(delete(t.serial_registry).where(t.serial_registry.c.scan_id == item.scan_id))

    def serial_shipped(self, sku: str, serial: str) -> bool:
        c = t.serial_registry.c
        return self.conn.execute(select(c.order_id).where(and_(c.sku == sku, c.serial == serial))).first() is not None

    def scans_for(self, order_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(t.scans).where(t.scans.c.order_id == order_id).order_by(t.scans.c.seq)
        ).mappings()
        return [dict(r) for r in rows]

    def cartons_for(self, order_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(t.cartons).where(t.cartons.c.order_id == order_id).order_by(t.cartons.c.seq)
        ).mappings()
        return [dict(r) for r in rows]

    def order_lines_raw(self, order_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(t.order_lines, t.products.c.name)
            .join(t.products, t.products.c.sku == t.order_lines.c.sku)
            .where(t.order_lines.c.order_id == order_id)
            .order_by(t.order_lines.c.line_no)
        ).mappings()
        return [dict(r) for r in rows]

    def order_row(self, order_id: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(t.orders).where(t.orders.c.order_id == order_id)).mappings().first()
        return dict(r) if r else None

    # --- users --------------------------------------------------------------------------
    def user_row(self, *, badge: str | None = None, name: str | None = None) -> dict[str, Any] | None:
        c = t.users.c
        cond = c.badge == badge if badge is not None else c.name == name
        r = self.conn.execute(select(t.users).where(cond)).mappings().first()
        return dict(r) if r else None

    def add_user(self, name: str, role: Role, badge: str, pin_hash: str | None) -> int:
        res = self.conn.execute(
            insert(t.users).values(
                name=name, role=role.value, badge=badge, pin_hash=pin_hash, active=True, failed_pins=0,
                created_at=self.clock(),
            )
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def update_user(self, user_id: int, **values: Any) -> None:
        self.conn.execute(update(t.users).where(t.users.c.id == user_id).values(**values))

    def list_users(self) -> list[User]:
        return [_user(r) for r in self.conn.execute(select(t.users).order_by(t.users.c.name)).mappings()]

    # --- bulk (imports) -------------------------------------------------------------------
    def existing(self, table: str, key: str, values: Sequence[str]) -> dict[str, dict[str, Any]]:
        tbl = t.metadata.tables[table]
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(values):
            for r in self.conn.execute(select(tbl).where(tbl.c[key].in_(chunk))).mappings():
                out[r[key]] = dict(r)
        return out

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(set(skus))):
            found.update(r[0] for r in self.conn.execute(select(t.products.c.sku).where(t.products.c.sku.in_(chunk))))
        return found

    def bulk_insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(insert(t.metadata.tables[table]), rows)

    def bulk_delete(self, table: str, key: str, values: Sequence[str]) -> None:
        tbl = t.metadata.tables[table]
        for chunk in _chunks(values):
            self.conn.execute(delete(tbl).where(tbl.c[key].in_(chunk)))

    def update_row(self, table: str, where: dict[str, Any], values: dict[str, Any]) -> int:
        tbl = t.metadata.tables[table]
        cond = and_(*(tbl.c[k] == v for k, v in where.items()))
        return self.conn.execute(update(tbl).where(cond).values(**values)).rowcount

    def select_rows(self, table: str, where: dict[str, Any] | None = None, order_by: str | None = None) -> list[dict[str, Any]]:
        tbl = t.metadata.tables[table]
        q = select(tbl)
        for k, v in (where or {}).items():
            q = q.where(tbl.c[k] == v)
        if order_by:
            q = q.order_by(tbl.c[order_by])
        return [dict(r) for r in self.conn.execute(q).mappings()]


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """Slices small enough for one IN (...) list on every database."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _product(r: Any, codes: list[tuple[str, int]]) -> Product:
    return Product(
        sku=r["sku"],
        name=r["name"],
        weight_g=r["weight_g"],
        location=r["location"],
        tracking=Tracking(r["tracking"]),
        barcodes=tuple(code for code, qty in codes if qty == 1),
        pack_barcodes=tuple(PackBarcode(code, qty) for code, qty in codes if qty != 1),
    )


def _carton_type(r: Any) -> CartonType:
    return CartonType(
        code=r["code"],
        name=r["name"],
        tare_g=r["tare_g"],
        inner_l_mm=r["inner_l_mm"],
        inner_w_mm=r["inner_w_mm"],
        inner_h_mm=r["inner_h_mm"],
        max_weight_g=r["max_weight_g"],
    )


def _packed(s: Any) -> PackedItem:
    return PackedItem(
        scan_id=s["id"],
        line_no=s["line_no"],
        sku=s["sku"],
        qty=s["qty"],
        carton_seq=s["carton_seq"],
        barcode=s["barcode"],
        user=s["user_name"],
        lot=s["lot"],
        expiry=s["expiry"],
        serial=s["serial"],
    )


def _user(r: Any) -> User:
    return User(
        id=r["id"], name=r["name"], role=Role(r["role"]), badge=r["badge"], has_pin=bool(r["pin_hash"]), active=bool(r["active"])
    )
