"""Photos: of a returned item at the returns desk, and (optionally) of each sealed carton at the bench.

A :class:`Camera` is a port: ``adapters.devices.camera.FolderCamera`` hands out the images of a
folder in turn (tests, and a camera that drops its pictures into a folder), the window's
``ui.camera.QtCamera`` takes a picture with Qt Multimedia. A camera that only the window can
drive is a :class:`CameraSlot` until the window installs it.

A photo is stored in the database with its bytes (so it syncs and survives the PC), and its
event carries the bytes too (base64): the centre can store it from the event alone. Photos are
kept small: at most :data:`MAX_PHOTO_BYTES`.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from packstation.domain.identity import Permission, Session
from packstation.domain.returns import Photo
from packstation.services.context import Context, record
from packstation.services.ports import StorageError, UnitOfWork

MAX_PHOTO_BYTES = 2_000_000
_MIMES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class CameraError(RuntimeError):
    """No picture: the camera is missing, busy or gave nothing; the message says what to check."""


@dataclass(frozen=True)
class Picture:
    data: bytes = field(repr=False)
    mime: str  # image/jpeg or image/png


class Camera(ABC):
    name: str = "camera"

    @abstractmethod
    def capture(self) -> Picture:
        """Take one picture now; raises CameraError."""


@dataclass
class CameraSlot(Camera):
    """A camera only the station window can drive (Qt Multimedia): it works once the window has
    installed it; before that (the command line, a test without a window) it says so."""

    spec: str
    backend: Camera | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.backend.name if self.backend is not None else self.spec

    def install(self, backend: Camera) -> None:
        self.backend = backend

    def capture(self) -> Picture:
        if self.backend is None:
            raise CameraError(f"the camera {self.spec!r} works only in the station window")
        return self.backend.capture()


@dataclass
class Cameras:
    """The station's cameras: ``[returns] camera`` and ``[bench] camera`` (either may be None)."""

    returns: Camera | None = None
    bench: Camera | None = None


def sniff(data: bytes) -> str | None:
    """image/jpeg or image/png from the first bytes; None for anything else."""
    return next((mime for magic, mime in _MIMES.items() if data.startswith(magic)), None)


def check_picture(picture: Picture) -> Picture:
    if not picture.data:
        raise CameraError("the camera gave an empty picture")
    if len(picture.data) > MAX_PHOTO_BYTES:
        raise CameraError(f"the picture is {len(picture.data) // 1000} kB, more than the {MAX_PHOTO_BYTES // 1000} kB "
                          "allowed: set the camera to a smaller resolution")
    mime = sniff(picture.data)
    if mime is None:
        raise CameraError("the camera gave something that is neither a JPEG nor a PNG picture")
    return Picture(picture.data, mime)


def store_photo(uow: UnitOfWork, ctx: Context, session: Session, owner_kind: str, owner_ref: str, picture: Picture,
                *, order_id: str | None, event: str, **payload: object) -> Photo:
    """Store *picture* for its owner with its event (bytes included, base64), in *uow*'s transaction."""
    picture = check_picture(picture)
    photo = Photo(id=str(uuid.uuid4()), owner_kind=owner_kind, owner_ref=owner_ref, mime=picture.mime,
                  sha256=hashlib.sha256(picture.data).hexdigest(), size=len(picture.data), taken_by=session.actor,
                  station_id=ctx.station_id, taken_at=ctx.clock())
    uow.photos.add(photo, picture.data)
    record(uow, ctx, session, event, order_id, {
        "photo_id": photo.id, "owner_kind": owner_kind, "owner_ref": owner_ref, "mime": photo.mime,
        "sha256": photo.sha256, "size": photo.size, "taken_at": photo.taken_at, "data_b64":
        base64.b64encode(picture.data).decode("ascii"), **payload})
    return photo


def photograph_carton(ctx: Context, session: Session, order_id: str, seq: int, camera: Camera) -> Photo:
    """The bench's photo of a sealed carton (``[bench] camera``): its evidence when it comes back.

    Raises CameraError (nothing stored) or StorageError."""
    ctx.auth.require(session, Permission.PACK, "A carton photo")
    picture = camera.capture()
    with ctx.uow() as uow:
        photo = store_photo(uow, ctx, session, "carton", f"{order_id}/{seq}", picture, order_id=order_id,
                            event="carton.photographed", seq=seq)
        uow.commit()
    return photo


def photo_data(ctx: Context, session: Session, photo_id: str) -> tuple[Photo, bytes] | None:
    """The photo and its bytes: from this station's database, else (a synced station) from the
    central database, which has every station's photos (their events carry the bytes): a bench's
    carton photo at a returns desk elsewhere (then kept here as well). None when neither has it (or
    the centre cannot be reached: the desk shows the evidence without the picture)."""
    ctx.auth.check(session, "A photo")
    with ctx.uow(readonly=True) as uow:
        found = _photo(uow, photo_id)
    if found is not None or ctx.central is None:
        return found
    try:
        with ctx.central(readonly=True) as central:
            found = _photo(central, photo_id)
    except StorageError:
        return None
    if found is not None:  # kept here too: shown again without the centre, offline included (no event:
        try:               # a copy of the centre's, like a pull's)
            with ctx.uow() as uow:
                if uow.photos.get(photo_id) is None:
                    uow.photos.add(*found)
                    uow.commit()
        except StorageError:
            pass  # the copy is a convenience; the photo was read
    return found


def _photo(uow: UnitOfWork, photo_id: str) -> tuple[Photo, bytes] | None:
    photo = uow.photos.get(photo_id)
    data = uow.photos.data(photo_id) if photo else None
    return (photo, data) if photo is not None and data is not None else None


__all__ = ["MAX_PHOTO_BYTES", "Camera", "CameraError", "CameraSlot", "Cameras", "Picture", "check_picture",
           "photo_data", "photograph_carton", "sniff", "store_photo"]
