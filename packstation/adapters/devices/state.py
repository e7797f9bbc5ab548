"""Device state as reader threads report it: connected, disconnected, or error with a reason.

Readers call a plain callback with a :class:`DeviceState`; the UI turns that into a Qt
signal (``packstation.ui.device_signals``). Nothing here knows about Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Status(Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    ERROR = "error"


@dataclass(frozen=True)
class DeviceState:
    device: str  # e.g. "scanner /dev/ttyACM0", "scale socket://10.0.0.5:4001"
    status: Status
    reason: str = ""

    def __str__(self) -> str:
        text = f"{self.device}: {self.status.value}"
        return f"{text} ({self.reason})" if self.reason else text


StateCallback = Callable[[DeviceState], None]


def ignore_state(_state: DeviceState) -> None:
    """Default state callback for callers that do not show device state."""
