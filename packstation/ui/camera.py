"""A camera through Qt Multimedia: ``[returns] camera = "qt"`` (the first camera) or ``"qt:<name>"``
(the first whose description contains *name*), and the same for ``[bench] camera``.

Implements the ``services.photos.Camera`` port on the GUI thread: :meth:`QtCamera.capture` starts
the camera the first time (so a station without a camera starts as fast and as quietly as one
with), takes one still, and hands it back as a JPEG at most 1280 px on its longer side (small
enough to sync). Where no video device exists it says so without loading Qt Multimedia at all
(its back-ends log warnings when there is nothing to open).
"""

from __future__ import annotations

import glob

from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, Qt, QTimer
from PySide6.QtGui import QImage

from packstation.services.photos import Camera, CameraError, Picture, check_picture

MAX_SIDE = 1280
CAPTURE_TIMEOUT_MS = 5000


def video_devices_present() -> bool:
    return bool(glob.glob("/dev/video*"))


def jpeg(image: QImage, quality: int = 80) -> bytes:
    """*image* as JPEG bytes, scaled down to MAX_SIDE on its longer side."""
    if max(image.width(), image.height()) > MAX_SIDE:
        image = image.scaled(MAX_SIDE, MAX_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "JPEG", quality):
        raise CameraError("the picture could not be encoded as JPEG")
    buffer.close()
    return bytes(data.data())


class QtCamera(Camera):
    def __init__(self, name: str = "", *, devices_present=video_devices_present) -> None:  # type: ignore[no-untyped-def]
        self.wanted = name.strip()
        self._present = devices_present
        self._camera = None
        self._session = None
        self._capture = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"camera {self.wanted}" if self.wanted else "camera"

    def _open(self) -> None:
        if self._capture is not None:
            return
        if not self._present():
            raise CameraError("no camera found (this machine has no /dev/video* device): plug it in and restart the "
                              "station, or set [returns] camera in the config")
        try:
            from PySide6.QtMultimedia import (
                QCamera,
                QImageCapture,
                QMediaCaptureSession,
                QMediaDevices,
            )
        except ImportError as exc:
            raise CameraError(f"Qt Multimedia is not installed ({exc})") from exc
        devices = [d for d in QMediaDevices.videoInputs()
                   if not self.wanted or self.wanted.casefold() in d.description().casefold()]
        if not devices:
            known = ", ".join(d.description() for d in QMediaDevices.videoInputs()) or "none"
            raise CameraError(f"no camera matches {self.wanted or 'any'} (cameras: {known})")
        self._camera = QCamera(devices[0])
        self._session = QMediaCaptureSession()
        self._capture = QImageCapture()
        self._session.setCamera(self._camera)
        self._session.setImageCapture(self._capture)
        self._camera.start()

    def capture(self) -> Picture:
        self._open()
        capture = self._capture
        assert capture is not None
        loop = QEventLoop()
        got: dict[str, object] = {}
        if not capture.isReadyForCapture():
            capture.readyForCaptureChanged.connect(lambda ready: loop.quit() if ready else None)
            QTimer.singleShot(CAPTURE_TIMEOUT_MS, loop.quit)
            loop.exec()
            if not capture.isReadyForCapture():
                raise CameraError(f"{self.name} is not ready (in use by another program?)")

        def taken(_id: int, image: QImage) -> None:
            got["image"] = image
            loop.quit()

        def failed(_id: int, _error: object, text: str) -> None:
            got["error"] = text
            loop.quit()

        capture.imageCaptured.connect(taken)
        capture.errorOccurred.connect(failed)
        try:
            capture.capture()
            QTimer.singleShot(CAPTURE_TIMEOUT_MS, loop.quit)
            loop.exec()
        finally:
            capture.imageCaptured.disconnect(taken)
            capture.errorOccurred.disconnect(failed)
        if "error" in got:
            raise CameraError(f"{self.name}: {got['error']}")
        image = got.get("image")
        if not isinstance(image, QImage) or image.isNull():
            raise CameraError(f"{self.name} gave no picture within {CAPTURE_TIMEOUT_MS // 1000} s")
        return check_picture(Picture(jpeg(image), "image/jpeg"))


__all__ = ["QtCamera", "jpeg", "video_devices_present"]
