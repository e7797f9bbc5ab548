"""Keyboard-wedge scanners inside the Qt window: tell a scanner burst from a person typing.

A wedge scanner types its code as very fast keystrokes ending in Enter (or Tab). This
application-wide event filter holds printable key presses back for at most
``max_interval_ms``: if more keys follow that fast and an Enter/Tab ends a burst of at least
``min_length`` characters, the burst is swallowed and emitted as one :class:`RawScan`
(source "wedge"), whichever widget of the station window has focus. Otherwise the held keys
are replayed, in order, to the widget they were meant for, so a person's typing arrives intact
(a few ms late).

A burst typed into another window (a dialog: the lead scans a new user's badge into the Add
user form) is replayed into that window's field, and its Enter swallowed, instead of going to
the bench behind it. A control character inside a burst (Ctrl+G between ``CMD-`` and ``UNDO``)
makes the whole burst one scan, which the station refuses with the reason: nothing of it is
left in a field to glue onto the next scan.
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
        accepts: Callable[[QObject], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self.accepts = accepts or (lambda receiver: True)
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
    def from_config(cls, scanner_config: object, parent: QObject | None = None,
                    accepts: Callable[[QObject], bool] | None = None) -> WedgeFilter:
        return cls(
            int(getattr(scanner_config, "wedge_max_interval_ms", 35)),
            int(getattr(scanner_config, "wedge_min_length", 3)),
            parent=parent,
            accepts=accepts,
        )

    def flush(self) -> None:
        """Replay held keys to their widgets: they were typed by a person after all.

        A burst that held a control character is no typing: it goes out whole as a scan (the
        station refuses it and says why) instead of being replayed into a field."""
        self._timer.stop()
        if any(_is_control(h.text) for h in self._held) and self.accepts(self._held[0].receiver):
            text = "".join(h.text for h in self._held)
            self._held.clear()
            self.scanned.emit(RawScan.from_wire(text, source="wedge"))
            return
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
        # The gap between keys is measured by the keys' own timestamps (the X server's, in ms) when
        # the platform gives them: a GUI thread busy for 40 ms in the middle of a burst must not
        # split the scan in two. Without timestamps (0: offscreen, synthetic events) the clock.
        stamp = event.timestamp()
        now = stamp / 1000.0 if stamp else self._clock()
        gap = now - self._last
        fast = bool(self._held) and 0 <= gap <= self.max_interval_s
        if key in _ENDS:
            if fast and len(self._held) >= self.min_length:
                if not self.accepts(self._held[0].receiver):  # a burst into a dialog's field: it is the field's
                    self._swallowed_releases.append(int(key))
                    held = self._held
                    self._held = [h for h in held if not _is_control(h.text)]
                    self.flush()
                    return True
                text = "".join(h.text for h in self._held)
                self._held.clear()
                self._timer.stop()
                self._swallowed_releases.append(int(key))
                self.scanned.emit(RawScan.from_wire(text, source="wedge"))
                return True
            self.flush()
            return False
        text = event.text()
        if not _is_control(text) and event.modifiers() & Qt.KeyboardModifier.ControlModifier \
                and Qt.Key.Key_A <= key <= Qt.Key.Key_Z:
            text = chr(int(key) - int(Qt.Key.Key_A) + 1)  # Ctrl+G is BEL (0x07), whatever the platform typed
        if fast and _is_control(text) and not event.isAutoRepeat():
            # a control character in the middle of a burst (Ctrl+G from a misconfigured scanner):
            # held with the rest, so the burst is refused whole instead of split in two
            self._held.append(_Held(obj, int(key), event.modifiers(), text, False))
            self._swallowed_releases.append(int(key))
            self._last = now
            self._timer.start()
            return True
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


def _is_control(text: str) -> bool:
    return len(text) == 1 and (ord(text) < 0x20 or ord(text) == 0x7F) and text not in ("\x1d", "\r", "\n", "\t")
