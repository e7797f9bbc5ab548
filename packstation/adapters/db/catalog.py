"""Products with their barcodes, carton types and stock lots, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, Connection, String, any_, bindparam, delete, insert, select, update

from packstation.adapters.db import tables as t
from packstation.adapters.db.chunks import chunks
from packstation.domain.model import CartonType, PackBarcode, Product, StockLot, Tracking
from packstation.services.ports import CatalogRepository

p = t.products.c
b = t.barcodes.c
ct = t.carton_types.c
sl = t.stock_lots.c
_KNOWN_ANY = select(p.sku).where(p.sku == any_(bindparam("skus", type_=ARRAY(String))))


class SqlCatalog(CatalogRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def products(self, skus: Iterable[str]) -> dict[str, Product]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows: list[Any] = []
        codes: dict[str, list[tuple[str, int]]] = {}
        for part in chunks(wanted):
            rows.extend(self.conn.execute(select(t.products).where(p.sku.in_(part))).mappings().all())
            for r in self.conn.execute(select(b.code, b.sku, b.qty).where(b.sku.in_(part))):
                codes.setdefault(r[1], []).append((r[0], r[2]))
        return {r["sku"]: _product(r, codes.get(r["sku"], [])) for r in rows}

    def by_barcode(self, key: str) -> tuple[Product, int] | None:
        row = self.conn.execute(select(b.sku, b.qty).where(b.code == key)).first()
        sku, qty = (row[0], row[1]) if row else (key, 1)
        product = self.products([sku]).get(sku)
        return (product, qty) if product else None

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        if self.conn.dialect.name == "postgresql":  # one array parameter: one statement text, prepared once
            return {r[0] for r in self.conn.execute(_KNOWN_ANY, {"skus": sorted(set(skus))})}
        found: set[str] = set()
        for part in chunks(sorted(set(skus))):
            found.update(r[0] for r in self.conn.execute(select(p.sku).where(p.sku.in_(part))))
        return found

    def carton_type(self, code: str) -> CartonType | None:
        row = self.conn.execute(select(t.carton_types).where(ct.code == code)).mappings().first()
        return _carton_type(row) if row else None

    def carton_types(self) -> list[CartonType]:
        rows = self.conn.execute(select(t.carton_types).order_by(ct.tare_g, ct.code)).mappings()
        return [_carton_type(r) for r in rows]

    def lots(self, sku: str) -> list[StockLot]:
        rows = self.conn.execute(select(t.stock_lots).where(sl.sku == sku)).mappings().all()
        lots = [StockLot(sku=r["sku"], lot=r["lot"], expiry=r["expiry"], location=r["location"], qty=r["qty"])
                for r in rows]
        return sorted(lots, key=lambda x: (x.expiry is None, x.expiry or date.max, x.lot))

    # --- imports -------------------------------------------------------------------------
    def imported_products(self, skus: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in chunks(skus):
            out.update((r[0], r[1]) for r in self.conn.execute(select(p.sku, p.content_hash).where(p.sku.in_(part))))
        return out

    def barcode_owners(self, codes: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in chunks(codes):
            out.update((r[0], r[1]) for r in self.conn.execute(select(b.code, b.sku).where(b.code.in_(part))))
        return out

    def put_products(self, products: Sequence[tuple[Product, str]], at: datetime) -> None:
        if not products:
            return
        skus = [prod.sku for prod, _ in products]
        existing = set(self.imported_products(skus))
        for part in chunks(skus):
            self.conn.execute(delete(t.barcodes).where(b.sku.in_(part)))
        new = [(prod, fp) for prod, fp in products if prod.sku not in existing]
        for prod, fp in products:
            if prod.sku in existing:
                self.conn.execute(update(t.products).where(p.sku == prod.sku).values(**_product_row(prod, fp, at)))
        if new:
            self.conn.execute(insert(t.products), [_product_row(prod, fp, at) for prod, fp in new])
        codes = [{"code": code, "sku": prod.sku, "qty": 1} for prod, _ in products for code in prod.barcodes]
        codes += [{"code": pack.barcode, "sku": prod.sku, "qty": pack.qty} for prod, _ in products
                  for pack in prod.pack_barcodes]
        if codes:
            self.conn.execute(insert(t.barcodes), codes)

    def imported_cartons(self, codes: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in chunks(codes):
            out.update((r[0], r[1]) for r in self.conn.execute(select(ct.code, ct.content_hash).where(ct.code.in_(part))))
        return out

    def put_cartons(self, cartons: Sequence[tuple[CartonType, str]]) -> None:
        existing = set(self.imported_cartons([c.code for c, _ in cartons]))
        for carton, fp in cartons:
            row = _carton_row(carton, fp)
            if carton.code in existing:
                self.conn.execute(update(t.carton_types).where(ct.code == carton.code).values(**row))
            else:
                self.conn.execute(insert(t.carton_types).values(**row))

    def put_lots(self, lots: Sequence[StockLot]) -> None:
        for lot in lots:
            row = {"k_sku": lot.sku, "k_lot": lot.lot, "expiry": lot.expiry, "location": lot.location, "qty": lot.qty}
            if self.conn.execute(_UPDATE_LOT, row).rowcount == 0:
                self.conn.execute(_INSERT_LOT, {"sku": lot.sku, "lot": lot.lot, "expiry": lot.expiry,
                                                "location": lot.location, "qty": lot.qty})


# Built once: a stock file writes one lot per record.
_UPDATE_LOT = (update(t.stock_lots).where(sl.sku == bindparam("k_sku"), sl.lot == bindparam("k_lot"))
               .values(expiry=bindparam("expiry"), location=bindparam("location"), qty=bindparam("qty")))
_INSERT_LOT = insert(t.stock_lots)


def _product(r: Any, codes: list[tuple[str, int]]) -> Product:
    return Product(
        sku=r["sku"], name=r["name"], weight_g=r["weight_g"], location=r["location"],
        tracking=Tracking(r["tracking"]),
        barcodes=tuple(code for code, qty in codes if qty == 1),
        pack_barcodes=tuple(PackBarcode(code, qty) for code, qty in codes if qty != 1),
    )


def _product_row(prod: Product, fingerprint: str, at: datetime) -> dict[str, Any]:
    return {"sku": prod.sku, "name": prod.name, "weight_g": prod.weight_g, "location": prod.location,
            "tracking": prod.tracking.value, "content_hash": fingerprint, "updated_at": at}


def _carton_type(r: Any) -> CartonType:
    return CartonType(code=r["code"], name=r["name"], tare_g=r["tare_g"], inner_l_mm=r["inner_l_mm"],
                      inner_w_mm=r["inner_w_mm"], inner_h_mm=r["inner_h_mm"], max_weight_g=r["max_weight_g"])


def _carton_row(c: CartonType, fingerprint: str) -> dict[str, Any]:
    return {"code": c.code, "name": c.name, "tare_g": c.tare_g, "inner_l_mm": c.inner_l_mm,
            "inner_w_mm": c.inner_w_mm, "inner_h_mm": c.inner_h_mm, "max_weight_g": c.max_weight_g,
            "content_hash": fingerprint}
