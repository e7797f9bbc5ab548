"""Photos of returned items and sealed cartons (with their bytes), on SQLite or PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, insert, select

from packstation.adapters.db import tables as t
from packstation.domain.returns import Photo
from packstation.services.ports import PhotoRepository

p = t.photos.c
_META = [p.id, p.owner_kind, p.owner_ref, p.mime, p.sha256, p.size, p.taken_by, p.station_id, p.taken_at]


class SqlPhotos(PhotoRepository):
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, photo: Photo, data: bytes) -> None:
        self.conn.execute(insert(t.photos).values(
            id=photo.id, owner_kind=photo.owner_kind, owner_ref=photo.owner_ref, mime=photo.mime, sha256=photo.sha256,
            size=len(data), data=data, taken_by=photo.taken_by, station_id=photo.station_id, taken_at=photo.taken_at))

    def get(self, photo_id: str) -> Photo | None:
        row = self.conn.execute(select(*_META).where(p.id == photo_id)).mappings().first()
        return _photo(row) if row else None

    def data(self, photo_id: str) -> bytes | None:
        row = self.conn.execute(select(p.data).where(p.id == photo_id)).first()
        return bytes(row[0]) if row else None

    def of(self, owner_kind: str, owner_ref: str) -> list[Photo]:
        rows = self.conn.execute(select(*_META).where(and_(p.owner_kind == owner_kind, p.owner_ref == owner_ref))
                                 .order_by(p.taken_at, p.id)).mappings()
        return [_photo(x) for x in rows]


def _photo(x: Any) -> Photo:
    return Photo(id=x["id"], owner_kind=x["owner_kind"], owner_ref=x["owner_ref"], mime=x["mime"], sha256=x["sha256"],
                 size=x["size"], taken_by=x["taken_by"], station_id=x["station_id"], taken_at=x["taken_at"])
