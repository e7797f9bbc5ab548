"""A raw-TCP (port 9100 style) label printer on 127.0.0.1 that records jobs.

Answers Zebra ``~HS`` and ESC/POS ``DLE EOT n`` status queries, and can misbehave on
demand: ``refuse`` (nothing listens), ``hang`` (accepts, never reads or closes), ``drop``
(reads a little of the job, then resets the connection), ``silent`` (takes jobs, answers no
status query). Conditions: ``paper_out``, ``ribbon_out``, ``head_open``, ``paused``. As the ZPL
Programming Guide says of ``~HS``, a Zebra sends no reply while out of media or ribbon or with
the head open (set ``answers_hs_in_error`` to get the flags anyway); it does report a pause.
ESC/POS real-time status answers in every condition.
One connection = one job, ended by the client's shutdown, as with a real raw port.
"""

from __future__ import annotations

import socket
import struct
import threading

from packstation.adapters.devices.printer_status import format_host_status

FAULTS = ("refuse", "hang", "drop", "silent")


class TcpPrinterSimulator:
    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.jobs: list[bytes] = []
        self.queries: list[bytes] = []
        self.fault: str | None = None
        self.paper_out = False
        self.ribbon_out = False
        self.head_open = False
        self.paused = False
        self.answers_hs_in_error = False  # a real Zebra does not (ZPL Programming Guide, ~HS)
        self.drop_after = 8  # bytes read before a "drop"
        self._lock = threading.Lock()
        self._job_done = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._conns: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = port
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, name="sim-printer", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(8)
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def set_fault(self, fault: str | None) -> None:
        """One of FAULTS, or None to behave again."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")
        with self._job_done:
            self.fault = fault
            # the accept thread owns the listening socket; wait until it has (un)bound it
            self._job_done.wait_for(lambda: (self._listener is None) == (fault == "refuse"), 5)

    def wait_for_jobs(self, count: int, timeout_s: float = 5.0) -> list[bytes]:
        with self._job_done:
            self._job_done.wait_for(lambda: len(self.jobs) >= count, timeout_s)
            return list(self.jobs)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            with self._job_done:
                if self.fault == "refuse" and self._listener is not None:
                    self._listener.close()
                    self._listener = None
                elif self.fault != "refuse" and self._listener is None:
                    self._listen()
                self._job_done.notify_all()
                listener = self._listener
            if listener is None:
                self._stop.wait(0.02)
                continue
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._conns = [c for c in self._conns if c.is_alive()] + [t]
            t.start()

    def _status_reply(self, data: bytes) -> bytes:
        out = b""
        if self.fault == "silent":
            return out
        in_error = self.paper_out or self.ribbon_out or self.head_open
        if b"~HS" in data and (self.answers_hs_in_error or not in_error):
            out += format_host_status(
                paper_out=self.paper_out,
                paused=self.paused,
                head_open=self.head_open,
                ribbon_out=self.ribbon_out,
                formats=len(self.jobs) % 1000,
            )
        i = data.find(b"\x10\x04")
        while i >= 0 and i + 2 < len(data) + 1 and len(data) > i + 2:
            n = data[i + 2]
            byte = 0x12
            if n == 2:
                byte |= (0x20 if self.paper_out else 0) | (0x04 if self.head_open else 0)
            elif n == 4:
                byte |= 0x60 if self.paper_out else 0
            out += bytes([byte])
            i = data.find(b"\x10\x04", i + 3)
        return out

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.05)
            fault = self.fault
            if fault == "hang":
                while not self._stop.is_set() and self.fault == "hang":
                    self._stop.wait(0.05)
                return
            data = b""
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(self.drop_after if fault == "drop" else 65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if fault == "drop":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closing with linger 0 sends RST: the job is cut off
                if not chunk:
                    break
                data += chunk
                reply = self._status_reply(chunk)
                if reply:
                    with self._lock:
                        self.queries.append(chunk)
                    conn.sendall(reply)
            job = data.replace(b"~HS\r\n", b"").replace(b"~HS", b"")
            job = _strip_dle_eot(job)
            if job:
                with self._job_done:
                    self.jobs.append(job)
                    self._job_done.notify_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for t in self._conns:
            t.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> TcpPrinterSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _strip_dle_eot(data: bytes) -> bytes:
    i = data.find(b"\x10\x04")
    while i >= 0 and len(data) > i + 2 and data[i + 2] in (1, 2, 3, 4):
        data = data[:i] + data[i + 3 :]
        i = data.find(b"\x10\x04", i)
    return data
