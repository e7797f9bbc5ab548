"""Fixtures for device tests: simulators that are always stopped, and a config writer."""

from __future__ import annotations

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
