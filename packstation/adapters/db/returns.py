"""Returns (RMAs) and their lines, receipts, received items, resolutions and credit notes, on SQLite
or PostgreSQL. (Restocks go into the stock ledger: ``adapters.db.stock``.)"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from packstation.adapters.db import tables as t
from packstation.adapters.db.chunks import chunks
from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.returns import (
    CreditNote,
    Receipt,
    ReceivedItem,
    Resolution,
    ResolutionKind,
    ResolvedLine,
    Return,
    ReturnLine,
    ShippedUnit,
)
from packstation.services.ports import (
    Conflict,
    ImportedState,
    ReturnFact,
    ReturnRepository,
)

r = t.returns.c
rl = t.return_lines.c
ri = t.return_items.c
rr = t.return_receipts.c
rrm = t.return_receipt_rmas.c
res = t.return_resolutions.c
cn = t.credit_notes.c
sc = t.scans.c
ca = t.cartons.c
ph = t.photos.c


# the receive path's statements, built once (SQLAlchemy then skips building and keying them per scan)
_ONE_RETURN = select(t.returns).where(r.rma_id == bindparam("rma"))
_LINES_OF = select(t.return_lines).where(rl.rma_id == bindparam("rma")).order_by(rl.line_no)
_RECEIVED_OF = (select(ri.line_no, func.sum(ri.qty)).where(ri.rma_id == bindparam("rma")).group_by(ri.line_no))
_ITEMS_OF_ORDER = select(t.return_items).where(ri.order_id == bindparam("order"))
_NEXT_ITEM_SEQ = select(func.coalesce(func.max(ri.seq), 0) + 1).where(ri.rma_id == bindparam("rma"))
_ADD_ITEM = insert(t.return_items)
_SERIAL = select(t.serial_registry.c.order_id).where(and_(t.serial_registry.c.sku == bindparam("sku"),
                                                          t.serial_registry.c.serial == bindparam("serial")))


class SqlReturns(ReturnRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    # --- returns and lines ---------------------------------------------------------------------
    def get(self, rma_id: str) -> Return | None:
        row = self.conn.execute(_ONE_RETURN, {"rma": rma_id}).mappings().first()
        if row is None:
            return None
        received = {n: int(q) for n, q in self.conn.execute(_RECEIVED_OF, {"rma": rma_id})}
        lines = [_line(x, received.get(x["line_no"], 0)) for x in self.conn.execute(_LINES_OF, {"rma": rma_id}).mappings()]
        return _return(row, lines)

    def for_order(self, order_id: str) -> list[Return]:
        rows = self.conn.execute(select(t.returns).where(r.order_id == order_id).order_by(r.rma_id)).mappings().all()
        return self._build(rows)

    def get_many(self, rma_ids: Sequence[str]) -> dict[str, Return]:
        rows: list[Any] = []
        for part in chunks(sorted(set(rma_ids))):
            rows += self.conn.execute(select(t.returns).where(r.rma_id.in_(part))).mappings().all()
        return {ret.rma_id: ret for ret in self._build(rows)}

    def recent(self, status: ReturnStatus | None = None, limit: int = 500) -> list[Return]:
        q = select(t.returns)
        if status is not None:
            q = q.where(r.status == status.value)
        rows = self.conn.execute(q.order_by(r.updated_at.desc(), r.rma_id).limit(limit)).mappings().all()
        return self._build(rows)

    def _build(self, rows: Sequence[Any]) -> list[Return]:
        ids = [row["rma_id"] for row in rows]
        lines: dict[str, list[ReturnLine]] = {i: [] for i in ids}
        received: dict[tuple[str, int], int] = {}
        for part in chunks(ids):
            for x in self.conn.execute(select(t.return_lines).where(rl.rma_id.in_(part))
                                       .order_by(rl.rma_id, rl.line_no)).mappings():
                lines[x["rma_id"]].append(_line(x, 0))
            for rma_id, line_no, qty in self.conn.execute(
                    select(ri.rma_id, ri.line_no, func.sum(ri.qty)).where(ri.rma_id.in_(part))
                    .group_by(ri.rma_id, ri.line_no)):
                received[(rma_id, line_no)] = int(qty)
        out = []
        for row in rows:
            mine = lines[row["rma_id"]]
            for ln in mine:
                ln.received = received.get((row["rma_id"], ln.line_no), 0)
            out.append(_return(row, mine))
        return out

    def with_tracking(self, number: str) -> list[Return]:
        rows = self.conn.execute(select(t.returns).where(r.tracking_number == number).order_by(r.rma_id)).mappings().all()
        return self._build(rows)

    def awaiting_pickup(self, carrier: str) -> list[tuple[str, str]]:
        q = (select(r.rma_id, r.tracking_number)
             .where(and_(r.status == ReturnStatus.INITIATED.value, r.tracking_number.is_not(None),
                         func.upper(r.carrier) == carrier.upper()))
             .order_by(r.rma_id))
        return [(x[0], x[1]) for x in self.conn.execute(q)]

    def imported(self, rma_ids: Sequence[str]) -> dict[str, ImportedState]:
        out: dict[str, ImportedState] = {}
        for part in chunks(rma_ids):
            for x in self.conn.execute(select(r.rma_id, r.content_hash, r.status, r.order_id).where(r.rma_id.in_(part))):
                out[x[0]] = ImportedState(fingerprint=x[1], status=x[2], order_id=x[3])
        return out

    def put(self, ret: Return, fingerprint: str, at: datetime) -> None:
        values = {"order_id": ret.order_id, "reason": ret.reason, "status": ret.status.value, "content_hash": fingerprint,
                  "updated_at": at, "origin": ret.origin, "tracking_number": ret.tracking_number, "carrier": ret.carrier}
        done = self.conn.execute(update(t.returns).where(r.rma_id == ret.rma_id).values(**values))
        if done.rowcount == 0:
            self.conn.execute(insert(t.returns).values(rma_id=ret.rma_id, created_at=at, **values))
        self.conn.execute(delete(t.return_lines).where(rl.rma_id == ret.rma_id))
        if ret.lines:
            self.conn.execute(insert(t.return_lines), [_line_row(ret.rma_id, ln) for ln in ret.lines])

    def add(self, ret: Return, at: datetime) -> None:
        self.conn.execute(insert(t.returns).values(
            rma_id=ret.rma_id, order_id=ret.order_id, reason=ret.reason, status=ret.status.value, content_hash="",
            origin=ret.origin, tracking_number=ret.tracking_number, carrier=ret.carrier, created_at=at, updated_at=at))
        if ret.lines:
            self.conn.execute(insert(t.return_lines), [_line_row(ret.rma_id, ln) for ln in ret.lines])

    def put_line(self, rma_id: str, line: ReturnLine) -> None:
        done = self.conn.execute(update(t.return_lines).where(and_(rl.rma_id == rma_id, rl.line_no == line.line_no))
                                 .values(qty=line.qty))
        if done.rowcount == 0:
            self.conn.execute(insert(t.return_lines).values(**_line_row(rma_id, line)))

    def set_status(self, rma_id: str, expected: ReturnStatus, status: ReturnStatus, at: datetime) -> None:
        values: dict[str, Any] = {"status": status.value, "updated_at": at}
        if status is ReturnStatus.CLOSED:
            values["closed_at"] = at
        done = self.conn.execute(update(t.returns).where(and_(r.rma_id == rma_id, r.status == expected.value))
                                 .values(**values))
        if done.rowcount != 1:
            raise Conflict(f"Return {rma_id} is no longer {expected.value}: it changed meanwhile. Scan it again.")

    # --- what shipped --------------------------------------------------------------------------
    def shipped(self, order_id: str) -> list[ShippedUnit]:
        cartons = {x.seq: x for x in self.conn.execute(
            select(ca.seq, ca.sscc, ca.measured_g, ca.closed_at, ca.tracking_number).where(ca.order_id == order_id))}
        photos: dict[str, str] = {}
        if cartons:
            refs = [f"{order_id}/{seq}" for seq in cartons]
            for ref, photo_id in self.conn.execute(
                    select(ph.owner_ref, ph.id).where(and_(ph.owner_kind == "carton", ph.owner_ref.in_(refs)))
                    .order_by(ph.taken_at, ph.id)):
                photos[ref] = photo_id  # the newest photo of each carton wins
        out = []
        for x in self.conn.execute(
                select(sc.id, sc.sku, sc.qty, sc.carton_seq, sc.user_name, sc.station_id, sc.scanned_at, sc.lot, sc.serial)
                .where(and_(sc.order_id == order_id, sc.undone_at.is_(None))).order_by(sc.seq)):
            carton = cartons.get(x.carton_seq)
            out.append(ShippedUnit(
                scan_id=x.id, order_id=order_id, sku=x.sku, qty=x.qty, carton_seq=x.carton_seq, packer=x.user_name,
                station_id=x.station_id, scanned_at=x.scanned_at, lot=x.lot, serial=x.serial,
                sscc=carton.sscc if carton else None, weight_g=carton.measured_g if carton else None,
                sealed_at=carton.closed_at if carton else None, tracking_number=carton.tracking_number if carton else None,
                carton_photo=photos.get(f"{order_id}/{x.carton_seq}")))
        return out

    def serial_left_in(self, sku: str, serial: str) -> str | None:
        row = self.conn.execute(_SERIAL, {"sku": sku, "serial": serial}).first()
        return row[0] if row else None

    # --- receipts ------------------------------------------------------------------------------
    def open_receipt(self, receipt: Receipt) -> None:
        self.conn.execute(insert(t.return_receipts).values(
            id=receipt.id, station_id=receipt.station_id, customer=receipt.customer, opened_by=receipt.opened_by,
            opened_at=receipt.opened_at))
        for rma_id in receipt.rma_ids:
            self.join_receipt(receipt.id, rma_id)

    def join_receipt(self, receipt_id: str, rma_id: str) -> None:
        known = self.conn.execute(select(rrm.rma_id).where(and_(rrm.receipt_id == receipt_id, rrm.rma_id == rma_id))).first()
        if known:
            return
        seq = self.conn.execute(select(func.coalesce(func.max(rrm.seq), 0) + 1)
                                .where(rrm.receipt_id == receipt_id)).scalar_one()
        self.conn.execute(insert(t.return_receipt_rmas).values(receipt_id=receipt_id, rma_id=rma_id, seq=seq))

    def close_receipt(self, receipt_id: str, at: datetime) -> None:
        self.conn.execute(update(t.return_receipts).where(and_(rr.id == receipt_id, rr.closed_at.is_(None)))
                          .values(closed_at=at))

    def receipt_of(self, station_id: str) -> Receipt | None:
        row = self.conn.execute(select(t.return_receipts).where(and_(rr.station_id == station_id, rr.closed_at.is_(None)))
                                .order_by(rr.opened_at.desc()).limit(1)).mappings().first()
        if row is None:
            return None
        rmas = tuple(x[0] for x in self.conn.execute(select(rrm.rma_id).where(rrm.receipt_id == row["id"])
                                                     .order_by(rrm.seq)))
        return Receipt(id=row["id"], station_id=row["station_id"], customer=row["customer"], opened_by=row["opened_by"],
                       opened_at=row["opened_at"], rma_ids=rmas, closed_at=row["closed_at"])

    # --- items ---------------------------------------------------------------------------------
    def add_item(self, item: ReceivedItem) -> None:
        seq = self.conn.execute(_NEXT_ITEM_SEQ, {"rma": item.rma_id}).scalar_one()
        self.conn.execute(_ADD_ITEM, dict(
            id=item.id, seq=seq, rma_id=item.rma_id, order_id=item.order_id, line_no=item.line_no,
            receipt_id=item.receipt_id, sku=item.sku, qty=item.qty, barcode=item.barcode, lot=item.lot,
            serial=item.serial, unexpected=item.unexpected, matched_scan=item.matched_scan, carton_seq=item.carton_seq,
            sscc=item.sscc, packer=item.packer, received_by=item.received_by, station_id=item.station_id,
            received_at=item.received_at, grade=item.grade, notes=item.notes, disposition=item.disposition,
            location=item.location, restocked_at=item.restocked_at))

    def items(self, rma_ids: Sequence[str]) -> list[ReceivedItem]:
        rows: list[Any] = []
        for part in chunks(list(rma_ids)):
            rows += self.conn.execute(select(t.return_items).where(ri.rma_id.in_(part))).mappings().all()
        return self._items(rows)

    def items_of_order(self, order_id: str) -> list[ReceivedItem]:
        return self._items(self.conn.execute(_ITEMS_OF_ORDER, {"order": order_id}).mappings().all(), photos=False)

    def _items(self, rows: Sequence[Any], *, photos: bool = True) -> list[ReceivedItem]:
        rows = sorted(rows, key=lambda x: (x["received_at"], x["rma_id"], x["seq"]))
        taken: dict[str, list[str]] = {}
        ids = [x["id"] for x in rows] if photos else []
        for part in chunks(ids):
            for owner, photo_id in self.conn.execute(
                    select(ph.owner_ref, ph.id).where(and_(ph.owner_kind == "return_item", ph.owner_ref.in_(part)))
                    .order_by(ph.taken_at, ph.id)):
                taken.setdefault(owner, []).append(photo_id)
        return [_item(x, tuple(taken.get(x["id"], ()))) for x in rows]

    def grade_item(self, item_id: str, grade: str, notes: str, by: str, at: datetime) -> None:
        self.conn.execute(update(t.return_items).where(ri.id == item_id)
                          .values(grade=grade, notes=notes, graded_by=by, graded_at=at))

    def note_item(self, item_id: str, notes: str) -> None:
        self.conn.execute(update(t.return_items).where(ri.id == item_id).values(notes=notes))

    def decide_item(self, item_id: str, disposition: str, location: str | None, by: str, at: datetime) -> None:
        self.conn.execute(update(t.return_items).where(and_(ri.id == item_id, ri.restocked_at.is_(None)))
                          .values(disposition=disposition, location=location, decided_by=by, decided_at=at))

    def mark_restocked(self, item_id: str, location: str, at: datetime) -> bool:
        done = self.conn.execute(update(t.return_items).where(and_(ri.id == item_id, ri.restocked_at.is_(None)))
                                 .values(restocked_at=at, location=location))
        return done.rowcount == 1

    # --- resolutions ---------------------------------------------------------------------------
    def add_resolution(self, resolution: Resolution) -> None:
        if self.conn.execute(select(res.id).where(res.key == resolution.key)).first() is not None:
            raise Conflict(f"Return {resolution.rma_id}: this resolution was submitted already.")
        self.conn.execute(insert(t.return_resolutions).values(**_resolution_row(resolution)))
        for ln in resolution.lines:
            done = self.conn.execute(update(t.return_lines).where(and_(
                rl.rma_id == resolution.rma_id, rl.line_no == ln.line_no, rl.resolution_id.is_(None)))
                .values(resolution_id=resolution.id))
            if done.rowcount != 1:
                raise Conflict(f"Return {resolution.rma_id} line {ln.line_no} is resolved already (or unknown).")

    def resolutions(self, rma_id: str) -> list[Resolution]:
        rows = self.conn.execute(select(t.return_resolutions).where(res.rma_id == rma_id)
                                 .order_by(res.created_at, res.id)).mappings()
        return [Resolution(
            id=x["id"], rma_id=x["rma_id"], kind=ResolutionKind(x["kind"]), key=x["key"], currency=x["currency"],
            lines=tuple(ResolvedLine(int(ln["line_no"]), int(ln["qty"]), Decimal(ln["amount"]), Decimal(ln["fee"]))
                        for ln in json.loads(x["lines"])),
            by=x["created_by"], at=x["created_at"], credit_note=x["credit_note"],
            replacement_order=x["replacement_order"]) for x in rows]

    def add_credit_note(self, note: CreditNote) -> None:
        self.conn.execute(insert(t.credit_notes).values(
            number=note.number, legal_entity=note.legal_entity, station_id=note.station_id, rma_id=note.rma_id,
            order_id=note.order_id, resolution_id=note.resolution_id, currency=note.currency, total=str(note.total),
            issued_at=note.issued_at))

    def credit_notes(self, rma_id: str) -> list[CreditNote]:
        rows = self.conn.execute(select(t.credit_notes).where(cn.rma_id == rma_id)
                                 .order_by(cn.issued_at, cn.number)).mappings()
        return [CreditNote(number=x["number"], legal_entity=x["legal_entity"], station_id=x["station_id"],
                           rma_id=x["rma_id"], order_id=x["order_id"], resolution_id=x["resolution_id"],
                           currency=x["currency"], total=Decimal(x["total"]), issued_at=x["issued_at"]) for x in rows]

    # --- the centre's copy (a synced station's pull) -------------------------------------------
    def put_copy(self, ret: Return, fingerprint: str, items: Sequence[ReceivedItem],
                 resolutions: Sequence[Resolution], credit_notes: Sequence[CreditNote], at: datetime) -> None:
        self.put(ret, fingerprint, at)
        if ret.status is ReturnStatus.CLOSED:
            self.conn.execute(update(t.returns).where(and_(r.rma_id == ret.rma_id, r.closed_at.is_(None)))
                              .values(closed_at=at))
        known = {x[0] for x in self.conn.execute(select(ri.id).where(ri.rma_id == ret.rma_id))}
        for item in items:
            if item.id not in known:
                self.add_item(item)
                continue
            self.conn.execute(update(t.return_items).where(ri.id == item.id).values(
                line_no=item.line_no, qty=item.qty, grade=item.grade, notes=item.notes, disposition=item.disposition,
                location=item.location, restocked_at=item.restocked_at))
        have = {x[0] for x in self.conn.execute(select(res.id).where(res.rma_id == ret.rma_id))}
        for resolution in resolutions:  # the lines came with their resolution_id (put, above)
            if resolution.id not in have:
                self.conn.execute(insert(t.return_resolutions).values(**_resolution_row(resolution)))
        numbers = {x[0] for x in self.conn.execute(select(cn.number).where(cn.rma_id == ret.rma_id))}
        for note in credit_notes:
            if note.number not in numbers:
                self.add_credit_note(note)

    # --- figures -------------------------------------------------------------------------------
    def facts(self, since: datetime | None = None) -> list[ReturnFact]:
        q = (select(ri.rma_id, r.reason, ri.sku, ri.qty, ri.grade, ri.packer, ri.unexpected, ri.received_at)
             .select_from(t.return_items.join(t.returns, r.rma_id == ri.rma_id)))
        if since is not None:
            q = q.where(ri.received_at >= since)
        return [ReturnFact(rma_id=x[0], reason=x[1], sku=x[2], qty=x[3], grade=x[4], packer=x[5], unexpected=bool(x[6]),
                           received_at=x[7]) for x in self.conn.execute(q.order_by(ri.received_at, ri.rma_id, ri.seq))]


def _return(row: Any, lines: list[ReturnLine]) -> Return:
    return Return(rma_id=row["rma_id"], order_id=row["order_id"], reason=row["reason"], status=ReturnStatus(row["status"]),
                  lines=lines, origin=row["origin"], tracking_number=row["tracking_number"], carrier=row["carrier"])


def _resolution_row(resolution: Resolution) -> dict[str, Any]:
    return dict(
        id=resolution.id, rma_id=resolution.rma_id, kind=resolution.kind.value, key=resolution.key,
        lines=json.dumps([{"line_no": ln.line_no, "qty": ln.qty, "amount": str(ln.amount), "fee": str(ln.fee)}
                          for ln in resolution.lines]),
        currency=resolution.currency, total=str(resolution.total), credit_note=resolution.credit_note,
        replacement_order=resolution.replacement_order, created_by=resolution.by, created_at=resolution.at)


def _line(x: Any, received: int) -> ReturnLine:
    return ReturnLine(line_no=x["line_no"], sku=x["sku"], qty=x["qty"], grade=x["grade"], disposition=x["disposition"],
                      unit_price=Decimal(x["unit_price"]) if x["unit_price"] is not None else None,
                      unexpected=bool(x["unexpected"]), resolution_id=x["resolution_id"], received=received)


def _line_row(rma_id: str, ln: ReturnLine) -> dict[str, Any]:
    return {"rma_id": rma_id, "line_no": ln.line_no, "sku": ln.sku, "qty": ln.qty, "grade": ln.grade,
            "disposition": ln.disposition, "unit_price": str(ln.unit_price) if ln.unit_price is not None else None,
            "unexpected": ln.unexpected, "resolution_id": ln.resolution_id}


def _item(x: Any, photos: tuple[str, ...]) -> ReceivedItem:
    return ReceivedItem(
        id=x["id"], rma_id=x["rma_id"], order_id=x["order_id"], line_no=x["line_no"], sku=x["sku"], qty=x["qty"],
        barcode=x["barcode"], received_by=x["received_by"], station_id=x["station_id"], received_at=x["received_at"],
        receipt_id=x["receipt_id"], lot=x["lot"], serial=x["serial"], unexpected=bool(x["unexpected"]),
        matched_scan=x["matched_scan"], carton_seq=x["carton_seq"], sscc=x["sscc"], packer=x["packer"],
        grade=x["grade"], notes=x["notes"] or "", disposition=x["disposition"], location=x["location"],
        restocked_at=x["restocked_at"], photos=photos)
