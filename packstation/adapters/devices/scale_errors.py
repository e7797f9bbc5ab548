"""What can go wrong when weighing, as distinct exceptions a packer (or lead) can act on."""

from __future__ import annotations


class ScaleError(Exception):
    """Base class: the scale gave no usable stable weight."""


class ScaleNotSettled(ScaleError):
    """The weight kept moving for the whole timeout."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            f"the scale never settled within {timeout_s:g} s: keep the carton still, "
            "away from the edges, and weigh again"
        )


class ScaleOverCapacity(ScaleError):
    def __init__(self) -> None:
        super().__init__(
            "the scale reports over capacity: take the carton off and use a scale rated for it"
        )


class ScaleBelowZero(ScaleError):
    def __init__(self) -> None:
        super().__init__(
            "the scale reads below zero: empty the platform, press zero (or send zero), weigh again"
        )


class ScaleNoAnswer(ScaleError):
    def __init__(self, port: str, waited_s: float, hint: str = "") -> None:
        super().__init__(
            f"no answer from the scale on {port} within {waited_s:g} s: check that it is switched "
            f"on and its cable is plugged in{hint}"
        )


class ScaleGarbage(ScaleError):
    def __init__(self, port: str, sample: bytes, protocol: str) -> None:
        super().__init__(
            f"unreadable data from the scale on {port} ({sample[:32]!r}): check that the scale is "
            f"set to the {protocol} protocol and that baud rate and parity match the config"
        )


class ScaleFault(ScaleError):
    """The scale reported an internal fault or refused a command."""


class ScaleUnsupported(ScaleError):
    """The protocol has no such command (e.g. tare on a continuous-output scale)."""


class ScaleConfigError(ScaleError):
    """The [scale] section cannot work: unknown protocol, missing port."""


class ScaleDisconnected(ScaleError):
    """The port cannot be opened or vanished while in use."""
