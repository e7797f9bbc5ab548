"""Keyboard-wedge scanners inside the Qt window: tell a scanner burst from a person typing.

A wedge scanner types its code as very fast keystrokes ending in Enter (or Tab). This
application-wide event filter holds printable key presses back for at most
``max_interval_ms``: if more keys follow that fast and an Enter/Tab ends a burst of at least
``min_length`` characters, the burst is swallowed and emitted as one :class:`RawScan`
(source "wedge"), whichever widget has focus. Otherwise the held keys are replayed, in order,
to the widget they were meant for, so a person's typing arrives intact (a few ms late).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from shiboken6 import isValid

from packstation.domain.barcodes import RawScan

_ENDS = {Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab}
_MODIFIER_KEYS = {
    Qt.Key.Key_Shift,
    Qt.Key.Key_Control,
    Qt.Key.Key_Alt,
    Qt.Key.Key_AltGr,
    Qt.Key.Key_Meta,
    Qt.Key.Key_CapsLock,
}


@dataclass
class _Held:
    receiver: QObject
    key: int
    modifiers: Qt.KeyboardModifier
    text: str
    auto_repeat: bool


class WedgeFilter(QObject):
    """Install with ``app.installEventFilter(wedge)``; connect :attr:`scanned`."""

    scanned = Signal(object)  # RawScan

    def __init__(
        self,
        max_interval_ms: int = 35,
        min_length: int = 3,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.max_interval_s = max_interval_ms / 1000
        self.min_length = min_length
        self._clock = clock
        self._held: list[_Held] = []
        self._last = 0.0
        self._replaying = False
        self._swallowed_releases: list[int] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(1, max_interval_ms + 5))
        self._timer.timeout.connect(self.flush)

    @classmethod
    def from_config(cls, scanner_config: object, parent: QObject | None = None) -> WedgeFilter:
        return cls(
            int(getattr(scanner_config, "wedge_max_interval_ms", 35)),
            int(getattr(scanner_config, "wedge_min_length", 3)),
            parent=parent,
        )

    def flush(self) -> None:
        """Replay held keys to their widgets: they were typed by a person after all."""
        self._timer.stop()
        held, self._held = self._held, []
        self._replaying = True
        try:
            for h in held:
                if not isValid(h.receiver):
                    continue
                press = QKeyEvent(QEvent.Type.KeyPress, h.key, h.modifiers, h.text, h.auto_repeat)
                QCoreApplication.sendEvent(h.receiver, press)
                release = QKeyEvent(QEvent.Type.KeyRelease, h.key, h.modifiers, h.text)
                QCoreApplication.sendEvent(h.receiver, release)
        finally:
            self._replaying = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if self._replaying or not obj.isWidgetType():
            return False  # QWindow sees each key first; we act once, on the widget
        etype = event.type()
        if etype == QEvent.Type.KeyRelease:
            key = event.key()  # type: ignore[attr-defined]
            if key in self._swallowed_releases:  # its press was swallowed (or replayed)
                self._swallowed_releases.remove(key)
                return True
            return False
        if etype != QEvent.Type.KeyPress:
            return False
        assert isinstance(event, QKeyEvent)
        key = Qt.Key(event.key())
        if key in _MODIFIER_KEYS:
            return False
        now = self._clock()
        fast = bool(self._held) and now - self._last <= self.max_interval_s
        if key in _ENDS:
            if fast and len(self._held) >= self.min_length:
                text = "".join(h.text for h in self._held)
                self._held.clear()
                self._timer.stop()
                self._swallowed_releases.append(int(key))
                self.scanned.emit(RawScan.from_wire(text, source="wedge"))
                return True
            self.flush()
            return False
        text = event.text()
        typed = len(text) == 1 and (text.isprintable() or text == "\x1d")
        no_command = (
            not event.modifiers()
            & (
                Qt.KeyboardModifier.ControlModifier
                | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.MetaModifier
            )
            or text == "\x1d"
        )
        if not (typed and no_command) or event.isAutoRepeat():
            self.flush()  # a held-down key repeats fast, but a scanner never auto-repeats
            return False
        if self._held and not fast:
            self.flush()  # a pause: what was held is a person's typing
        self._held.append(_Held(obj, int(key), event.modifiers(), text, event.isAutoRepeat()))
        self._swallowed_releases.append(int(key))
        self._last = now
        self._timer.start()
        return True
