"""The cartons of an order and the scans in them, on SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from packstation.adapters.db import tables as t
from packstation.domain.model import CartonType
from packstation.domain.packing import Carton, CartonStatus, PackedItem
from packstation.services.ports import ScanRecord, ShipmentRepository

c = t.cartons.c
s = t.scans.c
sr = t.serial_registry.c

# the scan path's statements, built once (see orders.py)
_NEXT_SEQ = select(func.coalesce(func.max(s.seq), 0) + 1).where(s.order_id == bindparam("oid"))
_INSERT_SCAN = insert(t.scans)
_INSERT_SERIAL = insert(t.serial_registry)


class SqlShipments(ShipmentRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def cartons(self, order_id: str, types: dict[str, CartonType]) -> list[Carton]:
        cartons: dict[int, Carton] = {}
        for r in self.conn.execute(select(t.cartons).where(c.order_id == order_id).order_by(c.seq)).mappings():
            ctype = types.get(r["type_code"]) or CartonType(r["type_code"], r["type_code"], 0)
            cartons[r["seq"]] = Carton(
                seq=r["seq"], type=ctype, status=CartonStatus(r["status"]), measured_g=r["measured_g"],
                sscc=r["sscc"], override_by=r["override_by"], tracking_number=r["tracking_number"],
                expected_g=r["expected_g"], closed_at=r["closed_at"], label_carrier=r["label_carrier"],
                shipment_id=r["shipment_id"],
            )
        for r in self.conn.execute(
            select(t.scans).where(and_(s.order_id == order_id, s.undone_at.is_(None))).order_by(s.seq)
        ).mappings():
            cartons[r["carton_seq"]].items.append(_item(r))
        return list(cartons.values())

    def add_carton(self, order_id: str, carton: Carton, opened_by: str, station_id: str, at: datetime) -> None:
        self.conn.execute(insert(t.cartons).values(
            id=str(uuid.uuid4()), order_id=order_id, seq=carton.seq, type_code=carton.type.code,
            status=carton.status.value, opened_by=opened_by, station_id=station_id, opened_at=at,
        ))

    def save_carton(self, order_id: str, carton: Carton, at: datetime) -> None:
        values: dict[str, Any] = {
            "type_code": carton.type.code, "status": carton.status.value, "measured_g": carton.measured_g,
            "expected_g": carton.expected_g, "sscc": carton.sscc, "override_by": carton.override_by,
            "tracking_number": carton.tracking_number, "label_carrier": carton.label_carrier,
            "shipment_id": carton.shipment_id,
        }
        if carton.status is CartonStatus.CLOSED:
            values["closed_at"] = at
        self.conn.execute(update(t.cartons).where(and_(c.order_id == order_id, c.seq == carton.seq)).values(**values))

    def remove_carton(self, order_id: str, seq: int) -> None:
        self.conn.execute(delete(t.cartons).where(and_(c.order_id == order_id, c.seq == seq)))

    def carton_by_sscc(self, sscc: str) -> tuple[str, int] | None:
        row = self.conn.execute(select(c.order_id, c.seq).where(c.sscc == sscc)).first()
        return (row[0], row[1]) if row else None

    def add_item(self, order_id: str, item: PackedItem, station_id: str, at: datetime) -> None:
        # the next number in this order's scan sequence; the write transaction (BEGIN IMMEDIATE,
        # or the order row locked by the claim check on PostgreSQL) keeps it unique
        seq = self.conn.execute(_NEXT_SEQ, {"oid": order_id}).scalar_one()
        self.conn.execute(_INSERT_SCAN, {
            "seq": seq, "id": item.scan_id, "order_id": order_id, "line_no": item.line_no, "sku": item.sku,
            "carton_seq": item.carton_seq, "qty": item.qty, "barcode": item.barcode, "lot": item.lot,
            "expiry": item.expiry, "serial": item.serial, "user_name": item.user, "station_id": station_id,
            "scanned_at": at, "source": item.source, "undone_at": None, "undone_by": None,
        })
        if item.serial:
            self.conn.execute(_INSERT_SERIAL, {"sku": item.sku, "serial": item.serial, "order_id": order_id,
                                               "scan_id": item.scan_id})

    def undo_item(self, item: PackedItem, by: str, at: datetime) -> None:
        self.conn.execute(update(t.scans).where(s.id == item.scan_id).values(undone_at=at, undone_by=by))
        if item.serial:
            self.conn.execute(delete(t.serial_registry).where(sr.scan_id == item.scan_id))

    def serial_shipped(self, sku: str, serial: str) -> bool:
        return self.conn.execute(select(sr.order_id).where(and_(sr.sku == sku, sr.serial == serial))).first() is not None

    def scans(self, order_id: str) -> list[ScanRecord]:
        rows = self.conn.execute(select(t.scans).where(s.order_id == order_id).order_by(s.seq)).mappings()
        return [ScanRecord(item=_item(r), station_id=r["station_id"], undone_at=r["undone_at"], undone_by=r["undone_by"])
                for r in rows]


def _item(r: Any) -> PackedItem:
    return PackedItem(
        scan_id=r["id"], line_no=r["line_no"], sku=r["sku"], qty=r["qty"], carton_seq=r["carton_seq"],
        barcode=r["barcode"], user=r["user_name"], lot=r["lot"], expiry=r["expiry"], serial=r["serial"],
        source=r["source"], scanned_at=r["scanned_at"],
    )
