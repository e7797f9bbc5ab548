"""Printer transports: move bytes to a printer, chosen by URL. They know no printer language.

``tcp://HOST:PORT`` (raw port 9100), a serial device path or pyserial URL, ``usb://VID:PID``,
``cups://QUEUE`` (``lp -d QUEUE -o raw``) and ``file:///PATH``. Every failure is a
:class:`PrinterError` subclass whose message says what to check.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import unquote, urlparse

DEFAULT_TIMEOUT_S = 10.0


class PrinterError(Exception):
    """A job could not be handed to the printer."""


class PrinterConfigError(PrinterError):
    """The printer URL cannot work as written."""


class PrinterUnreachable(PrinterError):
    """Connection refused, host unknown, device missing: nothing was sent."""


class PrinterTimeout(PrinterError):
    """The printer accepted the connection but stopped taking data (or answering)."""


class PrinterNoReply(PrinterTimeout):
    """A status query got no answer at all: the printer took the request and said nothing."""


class PrinterVanished(PrinterError):
    """The connection broke in the middle of a job: the label may be partly printed."""


class Transport(Protocol):
    url: str

    def send(self, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S) -> None: ...

    def query(
        self, request: bytes, timeout_s: float = 2.0, until: Callable[[bytes], bool] | None = None
    ) -> bytes: ...


class TcpTransport:
    """Raw TCP (JetDirect / port 9100). One connection per job, as printers expect."""

    def __init__(self, host: str, port: int, url: str = "") -> None:
        self.host, self.port = host, port
        self.url = url or f"tcp://{host}:{port}"

    def _connect(self, timeout_s: float) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=timeout_s)
        except ConnectionRefusedError as exc:
            raise PrinterUnreachable(
                f"printer {self.url} refused the connection: is it switched on, and is the "
                "port right (raw printing is usually 9100)?"
            ) from exc
        except TimeoutError as exc:
            raise PrinterTimeout(
                f"no connection to printer {self.url} within {timeout_s:g} s: check its network "
                "cable and IP address"
            ) from exc
        except OSError as exc:
            raise PrinterUnreachable(f"cannot reach printer {self.url}: {exc}") from exc

    def send(self, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Send one job; return once the printer has taken all of it and closed its side."""
        deadline = time.monotonic() + timeout_s
        sock = self._connect(timeout_s)
        with sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                # A raw-port printer closes its side once it has the whole job. Waiting for
                # that turns "dropped mid-job" and "stopped reading" into errors, not silence.
                while True:
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                    if not sock.recv(4096):
                        return
            except TimeoutError as exc:
                raise PrinterTimeout(
                    f"printer {self.url} stopped taking data for {timeout_s:g} s: check for "
                    "paper out, an open head or a pause; the job is kept for a retry"
                ) from exc
            except OSError as exc:  # reset, broken pipe, ENOTCONN after a reset, ...
                raise PrinterVanished(
                    f"printer {self.url} dropped the connection mid-job ({exc.strerror or exc}); "
                    "check the printer, then retry the job"
                ) from exc

    def query(
        self, request: bytes, timeout_s: float = 2.0, until: Callable[[bytes], bool] | None = None
    ) -> bytes:
        """Send *request*; collect the reply until ``until(reply)`` holds, EOF or timeout."""
        deadline = time.monotonic() + timeout_s
        sock = self._connect(timeout_s)
        reply = b""
        with sock:
            try:
                sock.sendall(request)
                while not (until and until(reply)):
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            except TimeoutError:
                pass  # what came so far is the answer (possibly nothing)
            except OSError as exc:
                raise PrinterVanished(f"printer {self.url} dropped the connection: {exc}") from exc
        if not reply:
            raise PrinterNoReply(f"printer {self.url} did not answer within {timeout_s:g} s")
        return reply


class SerialTransport:
    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.url = port
        self.baudrate = baudrate

    def _open(self, timeout_s: float):  # noqa: ANN202 - pyserial has no public base type
        import serial

        try:
            return serial.serial_for_url(
                self.url, baudrate=self.baudrate, timeout=timeout_s, write_timeout=timeout_s
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PrinterUnreachable(
                f"cannot open printer port {self.url}: {exc}; check the cable and the url"
            ) from exc

    def send(self, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        import serial

        port = self._open(timeout_s)
        try:
            port.write(data)
            port.flush()
        except serial.SerialTimeoutException as exc:
            raise PrinterTimeout(f"printer on {self.url} stopped taking data: {exc}") from exc
        except (serial.SerialException, OSError) as exc:
            raise PrinterVanished(f"printer on {self.url} vanished mid-job: {exc}") from exc
        finally:
            port.close()

    def query(
        self, request: bytes, timeout_s: float = 2.0, until: Callable[[bytes], bool] | None = None
    ) -> bytes:
        port = self._open(timeout_s)
        try:
            port.reset_input_buffer()
            port.write(request)
            reply = port.read(1)
            while reply and until and not until(reply):
                chunk = port.read(port.in_waiting or 1)
                if not chunk:
                    break
                reply += chunk
        finally:
            port.close()
        if not reply:
            raise PrinterNoReply(f"printer on {self.url} did not answer within {timeout_s:g} s")
        return reply


class CupsTransport:
    """A CUPS queue in raw mode (the printer language passes through untouched)."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.url = f"cups://{queue}"

    def send(self, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        lp = shutil.which("lp")
        if lp is None:
            raise PrinterUnreachable("the CUPS 'lp' command is missing: install cups-client")
        try:
            done = subprocess.run(
                [lp, "-d", self.queue, "-o", "raw"],
                input=data,
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PrinterTimeout(
                f"CUPS did not take the job for {self.queue} in {timeout_s:g} s"
            ) from exc
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
            raise PrinterUnreachable(
                f"CUPS refused the job for queue {self.queue!r}: {err} (see `lpstat -p {self.queue}`)"
            )

    def query(
        self, request: bytes, timeout_s: float = 2.0, until: Callable[[bytes], bool] | None = None
    ) -> bytes:
        raise PrinterError("a CUPS queue cannot pass a printer's status back")


class FileTransport:
    """Append jobs to a file (or write to a device node such as /dev/usb/lp0)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"file://{path}"

    def send(self, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        try:
            with open(self.path, "ab") as fh:
                fh.write(data)
        except OSError as exc:
            raise PrinterUnreachable(f"cannot write to {self.path}: {exc.strerror}") from exc

    def query(
        self, request: bytes, timeout_s: float = 2.0, until: Callable[[bytes], bool] | None = None
    ) -> bytes:
        raise PrinterError(f"{self.url} is a file: it cannot answer a status query")


class UsbTransport:
    """A USB printer through python-escpos' Usb class (needs pyusb and a udev rule)."""

    def __init__(self, vendor: int, product: int) -> None:
        self.vendor, self.product = vendor, product
        self.url = f"usb://{vendor:04x}:{product:04x}"

    def _printer(self, timeout_s: float):  # noqa: ANN202 - escpos has no public types
        from packstation.adapters.devices.escpos_support import import_escpos_printer

        try:
            usb_cls = import_escpos_printer().Usb
            return usb_cls(self.vendor, self.product, timeout=int(timeout_s * 1000))
        except Exception as exc:  # noqa: BLE001 - pyusb raises many unrelated types
            raise PrinterUnreachable(
                f"cannot open USB printer {self.url}: {exc} (is pyusb installed, the printer "
                "plugged in, and a udev rule giving the station user access?)"
            ) from exc

    def send(self, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        printer = self._printer(timeout_s)
        try:
            printer._raw(data)
        except Exception as exc:  # noqa: BLE001
            raise PrinterVanished(f"USB printer {self.url} failed mid-job: {exc}") from exc
        finally:
            printer.close()

    def query(
        self, request: bytes, timeout_s: float = 2.0, until: Callable[[bytes], bool] | None = None
    ) -> bytes:
        printer = self._printer(timeout_s)
        try:
            printer._raw(request)
            return bytes(printer._read())
        finally:
            printer.close()


def open_transport(url: str, *, baudrate: int = 9600) -> Transport:
    """The transport for a printer URL (see module doc). Raises PrinterConfigError."""
    if not url:
        raise PrinterConfigError("no printer configured: set url in [label_printer]")
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "tcp":
        if not parsed.hostname:
            raise PrinterConfigError(f"printer url {url!r} has no host: use tcp://HOST:9100")
        try:
            port = parsed.port or 9100
        except ValueError as exc:
            raise PrinterConfigError(f"printer url {url!r} has a bad port") from exc
        return TcpTransport(parsed.hostname, port, url)
    if scheme == "file":
        path = unquote(parsed.path)
        if not path:
            raise PrinterConfigError(f"printer url {url!r} has no path: use file:///PATH")
        return FileTransport(path)
    if scheme == "cups":
        queue = parsed.netloc or parsed.path.lstrip("/")
        if not queue:
            raise PrinterConfigError(f"printer url {url!r} names no queue: use cups://QUEUE")
        return CupsTransport(queue)
    if scheme == "usb":
        try:
            vid, pid = (int(part, 16) for part in (parsed.netloc or parsed.path).split(":"))
        except ValueError as exc:
            raise PrinterConfigError(
                f"printer url {url!r} is not usb://VID:PID in hex (e.g. usb://0a5f:0164)"
            ) from exc
        return UsbTransport(vid, pid)
    serial_schemes = ("rfc2217", "socket", "loop", "spy", "alt", "hwgrep")
    if (
        (scheme == "" and url.startswith("/"))
        or scheme in serial_schemes
        or url.upper().startswith("COM")
    ):
        return SerialTransport(url, baudrate)
    raise PrinterConfigError(
        f"printer url {url!r} is not understood: use tcp://HOST:PORT, file:///PATH, "
        "usb://VID:PID, cups://QUEUE or a serial device path"
    )


def open_printer(printer_config: object) -> Transport:
    """The transport for a ``[label_printer]`` / ``[document_printer]`` section (URL and baud rate)."""
    return open_transport(str(getattr(printer_config, "url", "")),
                          baudrate=int(getattr(printer_config, "baudrate", 9600) or 9600))
