"""Run a blocking call (a port, a printer, a subprocess) on a thread pool; get the result on the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Carrier(QObject):
    done = Signal(object, object)  # result, exception


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], carrier: _Carrier) -> None:
        super().__init__()
        self.fn, self.carrier = fn, carrier

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread to show
            self.carrier.done.emit(None, exc)
        else:
            self.carrier.done.emit(result, None)


def run_in_pool(pool: QThreadPool, owner: QObject, fn: Callable[[], Any],
                on_done: Callable[[Any, BaseException | None], None]) -> None:
    """Call *fn* on *pool*; then ``on_done(result, error)`` on *owner*'s (the GUI) thread."""
    carrier = _Carrier(owner)

    def finish(result: Any, error: BaseException | None) -> None:
        carrier.deleteLater()
        on_done(result, error)

    carrier.done.connect(finish)
    pool.start(_Task(fn, carrier))
