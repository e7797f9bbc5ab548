"""Fixtures for device tests: simulators that are always stopped, and a config writer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from packstation.adapters.devices.simulators.pty_scale import PtyScaleSimulator
from packstation.adapters.devices.simulators.tcp_printer import TcpPrinterSimulator


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every reader and simulator thread a test starts must be gone when it ends."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for t in leftover:
        t.join(timeout=5)
    assert [t.name for t in leftover if t.is_alive()] == []


@pytest.fixture
def scale_sim() -> Iterator[Callable[..., PtyScaleSimulator]]:
    made: list[PtyScaleSimulator] = []

    def make(protocol: str, grams: int = 0, **kw: object) -> PtyScaleSimulator:
        sim = PtyScaleSimulator(protocol, grams, **kw)  # type: ignore[arg-type]
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def printer_sim() -> Iterator[TcpPrinterSimulator]:
    with TcpPrinterSimulator() as sim:
        yield sim


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], str]:
    def write(text: str) -> str:
        path = tmp_path / "station.toml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


class ScriptedScale:
    """A scale on loopback TCP (``socket://`` URL) that answers with bytes copied from a manual.

    *replies* maps a command (without terminator) to the replies it gets, in turn; the last one
    repeats. *stream* is a list of frames sent over and over, for continuous-output scales.
    Nothing here is computed: the test spells out every byte, so it checks the driver against
    the document and not against our own simulator.
    """

    def __init__(
        self,
        replies: dict[bytes, list[bytes]] | None = None,
        *,
        stream: list[bytes] | None = None,
        terminated: bool = True,
        period_s: float = 0.02,
    ) -> None:
        self.replies = {cmd: list(r) for cmd, r in (replies or {}).items()}
        self.stream = stream
        self.terminated = terminated
        self.period_s = period_s
        self.commands: list[bytes] = []
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(1)
        self._server.settimeout(0.05)
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scripted-scale", daemon=True)
        self._thread.start()

    def _answer(self, cmd: bytes) -> bytes:
        self.commands.append(cmd)
        queue = self.replies.get(cmd)
        if not queue:
            return b""
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(self.period_s)
                buf = b""
                i = 0
                while not self._stop.is_set():
                    try:
                        data = conn.recv(256)
                        if not data:
                            break
                        buf += data
                    except TimeoutError:
                        pass
                    except OSError:
                        break
                    try:
                        if self.stream:
                            conn.sendall(self.stream[min(i, len(self.stream) - 1)])
                            i += 1
                            buf = b""
                            continue
                        if self.terminated:
                            *cmds, buf = buf.split(b"\r\n")
                        else:
                            cmds, buf = [bytes([c]) for c in buf], b""
                        for cmd in cmds:
                            if cmd:
                                conn.sendall(self._answer(cmd))
                    except OSError:
                        break

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()


@pytest.fixture
def scripted_scale() -> Iterator[Callable[..., ScriptedScale]]:
    made: list[ScriptedScale] = []

    def make(*args: object, **kw: object) -> ScriptedScale:
        peer = ScriptedScale(*args, **kw)  # type: ignore[arg-type]
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.stop()
