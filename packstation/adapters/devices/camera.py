"""Cameras that need no window: a folder of images stands in for a camera.

``[returns] camera = "folder:/path"`` (or ``[bench] camera``): every picture taken is the next
image of the folder (JPEG or PNG, by name, round and round). Tests use it, and so can a camera
that drops its pictures into a folder. ``"qt"`` / ``"qt:<name>"`` is a Qt Multimedia camera:
only the station window can drive it (``ui.camera``), so here it is a slot the window fills.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from packstation.services.photos import Camera, CameraError, CameraSlot, Picture, check_picture

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class FolderCamera(Camera):
    folder: Path
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"folder {self.folder}"

    def images(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        except OSError as exc:
            raise CameraError(f"cannot read the camera folder {self.folder}: {exc.strerror or exc}") from exc

    def capture(self) -> Picture:
        images = self.images()
        if not images:
            raise CameraError(f"the camera folder {self.folder} holds no .jpg or .png image")
        with self._lock:
            path = images[self._next % len(images)]
            self._next += 1
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CameraError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return check_picture(Picture(data, "image/png" if path.suffix.lower() == ".png" else "image/jpeg"))


def open_camera(spec: str) -> Camera | None:
    """The camera a config value names ("" is none); the config check has refused anything else."""
    spec = spec.strip()
    if not spec:
        return None
    if spec.startswith("folder:"):
        return FolderCamera(Path(spec.removeprefix("folder:")).expanduser())
    return CameraSlot(spec)


__all__ = ["FolderCamera", "IMAGE_SUFFIXES", "open_camera"]
