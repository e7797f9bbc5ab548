"""Carrier manifests, the cartons on them, and carrier label requests, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, or_, select, update

from packstation.adapters.db import tables as t
from packstation.adapters.db.chunks import chunks
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import CartonStatus
from packstation.domain.shipping import (
    DockCarton,
    LabelRequest,
    LabelRequestStatus,
    LoadedCarton,
    Manifest,
    ManifestStatus,
)
from packstation.services.ports import Conflict, LabelRequestRepository, ManifestRepository

c = t.cartons.c
o = t.orders.c
m = t.manifests.c
mc = t.manifest_cartons.c
lr = t.label_requests.c
_WAITING = [s.value for s in LabelRequestStatus if s.waiting]


def open_key(carrier: str, service: str) -> str:
    return f"{carrier.strip().upper()}/{service.strip().upper()}"


def _dock_query() -> Any:
    pending = (select(lr.id).where(and_(lr.order_id == c.order_id, lr.carton_seq == c.seq, lr.status.in_(_WAITING)))
               .exists())
    return (
        select(c.order_id, c.seq, c.status, c.sscc, c.tracking_number, c.measured_g, c.pulled_at, c.label_carrier,
               c.shipment_id, o.status.label("ostatus"),
               o.carrier, o.service, mc.manifest_id, m.status.label("mstatus"), m.number, pending.label("pending"))
        .select_from(t.cartons.join(t.orders, o.order_id == c.order_id)
                     .outerjoin(t.manifest_cartons, and_(mc.order_id == c.order_id, mc.carton_seq == c.seq))
                     .outerjoin(t.manifests, m.id == mc.manifest_id))
    )


def _dock(r: Any) -> DockCarton:
    return DockCarton(
        order_id=r.order_id, seq=r.seq, status=CartonStatus(r.status), sscc=r.sscc, tracking_number=r.tracking_number,
        order_status=OrderStatus(r.ostatus), carrier=r.carrier, service=r.service, weight_g=r.measured_g,
        manifest_id=r.manifest_id, manifest_status=ManifestStatus(r.mstatus) if r.mstatus else None,
        manifest_number=r.number, label_pending=bool(r.pending), pulled_at=r.pulled_at,
        label_carrier=r.label_carrier, shipment_id=r.shipment_id,
    )


# built once: the dock's scan path reuses the compiled statements
# one statement for both: a carton whose SSCC is the code, else the first whose tracking number is
# (a carrier's tracking barcode often reads as a GS1 SSCC too, so a scan may try two codes: one
# round trip each, not two)
_BY_CODE = (_dock_query().where(or_(c.sscc == bindparam("code"), c.tracking_number == bindparam("code")))
            .order_by(case((c.sscc == bindparam("code"), 0), else_=1), c.order_id, c.seq).limit(1))
# the manifest's row is locked (FOR UPDATE; SQLite's BEGIN IMMEDIATE serializes writers anyway) by
# every load and unload and by the close, so a carton cannot join or leave a manifest between the
# close's last look at its cartons and the close's commit
_LOAD_STATE = (select(m.status, select(func.coalesce(func.max(mc.load_seq), 0) + 1)
                      .where(mc.manifest_id == bindparam("mid")).scalar_subquery()).where(m.id == bindparam("mid"))
               .with_for_update(of=t.manifests))
_LOCK = select(m.status).where(m.id == bindparam("mid")).with_for_update()


class SqlManifests(ManifestRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    # --- the dock's reads ------------------------------------------------------------------
    def carton(self, code: str) -> DockCarton | None:
        code = code.strip()
        if not code:
            return None
        row = self.conn.execute(_BY_CODE, {"code": code}).first()
        return _dock(row) if row else None

    def cartons_of(self, order_ids: Iterable[str]) -> dict[str, list[DockCarton]]:
        out: dict[str, list[DockCarton]] = {}
        for part in chunks(list(order_ids)):
            for r in self.conn.execute(_dock_query().where(c.order_id.in_(part)).order_by(c.order_id, c.seq)):
                out.setdefault(r.order_id, []).append(_dock(r))
        return out

    def to_pull(self) -> list[DockCarton]:
        q = (_dock_query().where(and_(o.status == OrderStatus.CANCELLED.value,
                                      c.sscc.is_not(None), c.pulled_at.is_(None),
                                      or_(m.status.is_(None), m.status != ManifestStatus.CLOSED.value)))
             .order_by(c.order_id, c.seq))
        return [_dock(r) for r in self.conn.execute(q)]

    def mark_pulled(self, order_id: str, seq: int, at: datetime) -> None:
        self.conn.execute(update(t.cartons).where(and_(c.order_id == order_id, c.seq == seq)).values(pulled_at=at))

    def on_the_way(self, label_carrier: str) -> list[tuple[str, OrderStatus, str]]:
        q = (select(c.order_id, o.status, c.tracking_number).select_from(t.cartons.join(t.orders, o.order_id == c.order_id))
             .where(and_(func.upper(c.label_carrier) == label_carrier.upper(), c.tracking_number.is_not(None),
                         o.status.in_([OrderStatus.HANDED_OVER.value, OrderStatus.IN_TRANSIT.value])))
             .order_by(c.order_id, c.seq))
        return [(r[0], OrderStatus(r[1]), r[2]) for r in self.conn.execute(q)]

    def carriers_in_use(self) -> list[tuple[str, str]]:
        live = [st.value for st in OrderStatus if st.open or st is OrderStatus.PACKED]
        q = select(o.carrier, o.service).where(o.status.in_(live)).distinct().order_by(o.carrier, o.service)
        return [(r[0], r[1]) for r in self.conn.execute(q)]

    # --- manifests ----------------------------------------------------------------------------
    def _cartons(self, manifest_ids: list[str]) -> dict[str, list[LoadedCarton]]:
        out: dict[str, list[LoadedCarton]] = {i: [] for i in manifest_ids}
        for part in chunks(manifest_ids):
            q = (select(mc.manifest_id, mc.order_id, mc.carton_seq, mc.sscc, mc.load_seq, mc.loaded_by, mc.loaded_at,
                        c.tracking_number, c.measured_g, o.service)
                 .select_from(t.manifest_cartons
                              .join(t.cartons, and_(c.order_id == mc.order_id, c.seq == mc.carton_seq))
                              .join(t.orders, o.order_id == mc.order_id))
                 .where(mc.manifest_id.in_(part)).order_by(mc.manifest_id, mc.load_seq))
            for r in self.conn.execute(q):
                out[r.manifest_id].append(LoadedCarton(
                    order_id=r.order_id, seq=r.carton_seq, sscc=r.sscc, tracking_number=r.tracking_number,
                    service=r.service, weight_g=r.measured_g or 0, loaded_by=r.loaded_by, loaded_at=r.loaded_at,
                    load_seq=r.load_seq))
        return out

    def _manifests(self, q: Any) -> list[Manifest]:
        rows = list(self.conn.execute(q).mappings())
        cartons = self._cartons([r["id"] for r in rows])
        return [Manifest(
            id=r["id"], carrier=r["carrier"], service=r["service"], status=ManifestStatus(r["status"]),
            opened_at=r["opened_at"], opened_by=r["opened_by"], station_id=r["station_id"], number=r["number"],
            closed_at=r["closed_at"], closed_by=r["closed_by"], close_key=r["close_key"], split_by=r["split_by"],
            split_reason=r["split_reason"], carrier_ref=r["carrier_ref"], cartons=cartons[r["id"]],
        ) for r in rows]

    def _one(self, *where: Any) -> Manifest | None:
        found = self._manifests(select(t.manifests).where(*where))
        return found[0] if found else None

    def open_for(self, carrier: str, service: str) -> Manifest | None:
        return self._one(m.open_key == open_key(carrier, service))

    def get(self, manifest_id: str) -> Manifest | None:
        return self._one(m.id == manifest_id)

    def lock(self, manifest_id: str) -> Manifest | None:
        found = self._manifests(select(t.manifests).where(m.id == manifest_id).with_for_update())
        return found[0] if found else None

    def by_number(self, number: int) -> Manifest | None:
        return self._one(m.number == number)

    def by_close_key(self, key: str) -> Manifest | None:
        return self._one(m.close_key == key)

    def add(self, manifest: Manifest) -> None:
        key = open_key(manifest.carrier, manifest.service)
        if self.conn.execute(select(m.id).where(m.open_key == key)).first() is not None:
            raise Conflict(f"{manifest.label} has an open manifest already.")
        self.conn.execute(insert(t.manifests).values(
            id=manifest.id, carrier=manifest.carrier, service=manifest.service, status=manifest.status.value,
            open_key=key, opened_at=manifest.opened_at, opened_by=manifest.opened_by, station_id=manifest.station_id,
        ))

    def load(self, manifest_id: str, order_id: str, seq: int, sscc: str, by: str, station_id: str,
             at: datetime) -> None:
        # one read (is the manifest open, the next load number), one insert; the caller read the
        # carton in this transaction, so a carton on a manifest already was refused before (if
        # another dock loads it in between, the primary key refuses the insert: not saved, scan again)
        state = self.conn.execute(_LOAD_STATE, {"mid": manifest_id}).first()
        if state is None or state[0] != ManifestStatus.OPEN.value:
            raise Conflict("This manifest was closed meanwhile (at another dock).")
        if self.conn.execute(select(mc.manifest_id).where(and_(mc.order_id == order_id, mc.carton_seq == seq))
                             ).first() is not None:
            raise Conflict(f"Carton {sscc} is on a manifest already.")
        self.conn.execute(insert(t.manifest_cartons).values(
            order_id=order_id, carton_seq=seq, manifest_id=manifest_id, sscc=sscc, load_seq=state[1], loaded_by=by,
            loaded_at=at, station_id=station_id))

    def unload(self, manifest_id: str, order_id: str, seq: int) -> bool:
        state = self.conn.execute(_LOCK, {"mid": manifest_id}).first()
        if state is None or state[0] != ManifestStatus.OPEN.value:
            return False  # closed meanwhile: its cartons stay on it
        res = self.conn.execute(delete(t.manifest_cartons).where(and_(
            mc.manifest_id == manifest_id, mc.order_id == order_id, mc.carton_seq == seq)))
        return res.rowcount == 1

    def close(self, manifest: Manifest) -> bool:
        res = self.conn.execute(update(t.manifests).where(and_(m.id == manifest.id, m.status == ManifestStatus.OPEN.value))
                                .values(status=ManifestStatus.CLOSED.value, open_key=None, number=manifest.number,
                                        closed_at=manifest.closed_at, closed_by=manifest.closed_by,
                                        close_key=manifest.close_key, split_by=manifest.split_by,
                                        split_reason=manifest.split_reason, carrier_ref=manifest.carrier_ref))
        return res.rowcount == 1

    def recent(self, *, status: ManifestStatus | None = None, limit: int = 50) -> list[Manifest]:
        q = select(t.manifests).order_by(m.opened_at.desc(), m.id).limit(limit)
        if status is not None:
            q = q.where(m.status == status.value)
        return self._manifests(q)

    def for_order(self, order_id: str) -> list[Manifest]:
        ids = select(mc.manifest_id).where(mc.order_id == order_id)
        return self._manifests(select(t.manifests).where(m.id.in_(ids)).order_by(m.opened_at))


def _request(r: Any) -> LabelRequest:
    return LabelRequest(
        id=r["id"], order_id=r["order_id"], carton_seq=r["carton_seq"], sscc=r["sscc"], carrier=r["carrier"],
        station_id=r["station_id"], status=LabelRequestStatus(r["status"]), attempts=r["attempts"],
        error=r["error"] or "", next_try_at=r["next_try_at"], created_at=r["created_at"], updated_at=r["updated_at"],
    )


class SqlLabelRequests(LabelRequestRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, request: LabelRequest) -> None:
        at = request.created_at
        self.conn.execute(insert(t.label_requests).values(
            id=request.id, order_id=request.order_id, carton_seq=request.carton_seq, sscc=request.sscc,
            carrier=request.carrier, station_id=request.station_id, status=request.status.value,
            attempts=request.attempts, error=request.error or None, next_try_at=request.next_try_at,
            created_at=at, updated_at=request.updated_at or at,
        ))

    def get(self, request_id: str) -> LabelRequest | None:
        r = self.conn.execute(select(t.label_requests).where(lr.id == request_id)).mappings().first()
        return _request(r) if r else None

    def for_carton(self, order_id: str, seq: int) -> LabelRequest | None:
        r = self.conn.execute(select(t.label_requests).where(and_(lr.order_id == order_id, lr.carton_seq == seq))
                              ).mappings().first()
        return _request(r) if r else None

    def due(self, station_id: str, now: datetime, limit: int = 20) -> list[LabelRequest]:
        q = (select(t.label_requests).where(and_(
            lr.station_id == station_id,
            or_(lr.status == LabelRequestStatus.PENDING.value,
                and_(lr.status == LabelRequestStatus.FAILED.value, or_(lr.next_try_at.is_(None), lr.next_try_at <= now)))))
            .order_by(lr.created_at, lr.id).limit(limit))
        return [_request(r) for r in self.conn.execute(q).mappings()]

    def start(self, request_id: str, at: datetime) -> bool:
        res = self.conn.execute(update(t.label_requests).where(and_(
            lr.id == request_id, lr.status.in_([LabelRequestStatus.PENDING.value, LabelRequestStatus.FAILED.value])))
            .values(status=LabelRequestStatus.WORKING.value, updated_at=at))
        return res.rowcount == 1

    def finish(self, request_id: str, status: LabelRequestStatus, error: str, next_try_at: datetime | None,
               at: datetime) -> None:
        self.conn.execute(update(t.label_requests).where(lr.id == request_id).values(
            status=status.value, error=error or None, next_try_at=next_try_at, attempts=lr.attempts + 1, updated_at=at))

    def waiting(self, station_id: str | None = None) -> list[LabelRequest]:
        q = select(t.label_requests).where(lr.status.in_(_WAITING)).order_by(lr.created_at, lr.id)
        if station_id is not None:
            q = q.where(lr.station_id == station_id)
        return [_request(r) for r in self.conn.execute(q).mappings()]

    def interrupt_working(self, station_id: str, at: datetime) -> list[LabelRequest]:
        ids = [r[0] for r in self.conn.execute(select(lr.id).where(and_(
            lr.station_id == station_id, lr.status == LabelRequestStatus.WORKING.value)))]
        if not ids:
            return []
        self.conn.execute(update(t.label_requests).where(lr.id.in_(ids)).values(
            status=LabelRequestStatus.FAILED.value, next_try_at=at, updated_at=at,
            error="the station stopped while asking the carrier: asked again"))
        rows = self.conn.execute(select(t.label_requests).where(lr.id.in_(ids)).order_by(lr.created_at, lr.id)).mappings()
        return [_request(r) for r in rows]

    def mirror(self, request: LabelRequest) -> None:
        # the caller holds the order (the push locks its row): no one else writes this carton's request now
        found = self.for_carton(request.order_id, request.carton_seq)
        if found is None:
            self.add(request)
            return
        if not found.status.waiting:
            return
        self.conn.execute(update(t.label_requests).where(lr.id == found.id).values(
            status=request.status.value, attempts=max(found.attempts, request.attempts), error=request.error or None,
            next_try_at=request.next_try_at, carrier=request.carrier, station_id=request.station_id,
            updated_at=request.updated_at or request.created_at))
