"""ESC/POS bytes built with python-escpos (imported through packstation.adapters.escpos_lib)."""

from __future__ import annotations

import contextlib
import io

from packstation.adapters.escpos_lib import import_escpos_printer


def dummy_printer(profile: str = "default"):  # noqa: ANN201 - escpos has no typed API
    """A python-escpos Dummy that renders commands to bytes (``.output``) without a device."""
    return import_escpos_printer().Dummy(profile=profile)


def escpos_test_receipt(station: str, profile: str = "default") -> bytes:
    """A short ESC/POS test print: init, bold title, text, a hardware Code 128, cut."""
    p = dummy_printer(profile)
    p.hw("INIT")
    p.set(align="center", bold=True, double_height=True)
    p.textln("PACKSTATION TEST")
    p.set(align="left", bold=False, normal_textsize=True)
    p.textln(f"Station: {station}")
    p.textln("If you can read this, the printer works.")
    with contextlib.redirect_stdout(io.StringIO()):  # escpos prints while rendering barcodes
        p.barcode("{BTEST-" + station, "CODE128", function_type="B", pos="BELOW")
    p.cut()
    return bytes(p.output)


def open_escpos(
    url: str, *, profile: str = "default", baudrate: int = 9600, timeout_s: float = 10.0
):  # noqa: ANN201
    """A python-escpos printer object for a printer URL, for code that drives escpos directly.

    ``tcp://`` -> Network, a device path -> Serial, ``usb://VID:PID`` -> Usb, ``file://`` ->
    File. The device opens on first use; call ``close()`` after the job. Jobs that must not
    be lost go through the spooler instead (render with :func:`dummy_printer`, then submit).
    """
    from urllib.parse import unquote, urlparse

    from packstation.adapters.devices.transports import PrinterConfigError

    printer = import_escpos_printer()
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "tcp" and parsed.hostname:
        return printer.Network(
            parsed.hostname, parsed.port or 9100, timeout=timeout_s, profile=profile
        )
    if scheme == "file" and parsed.path:
        return printer.File(unquote(parsed.path), profile=profile)
    if scheme == "usb":
        vid, _, pid = (parsed.netloc or parsed.path).partition(":")
        try:
            return printer.Usb(int(vid, 16), int(pid, 16), profile=profile)
        except ValueError as exc:
            raise PrinterConfigError(f"printer url {url!r} is not usb://VID:PID in hex") from exc
    if scheme == "" and url.startswith("/"):
        return printer.Serial(url, baudrate=baudrate, timeout=timeout_s, profile=profile)
    raise PrinterConfigError(
        f"printer url {url!r} cannot be driven by python-escpos: use tcp://, file://, usb:// "
        "or a serial device path"
    )
