"""Fixtures for the station-window tests: a demo station on its own SQLite file per test.

Every test under tests/ui fails on Qt warnings (pytest-qt ``qt_log_level_fail`` mark), except
the offscreen platform's notice that it cannot propagate size hints (harmless, platform-only).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from packstation.bootstrap import Station, build_station
from packstation.config import Config, StationConfig
from packstation.services.packing import Outcome

HERE = Path(__file__).resolve().parent
QT_IGNORED = r"This plugin does not support propagateSizeHints\(\)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(QT_IGNORED))


@pytest.fixture(autouse=True)
def no_threads_left_behind():
    """Every reader, worker and simulator thread a test starts is stopped by its end."""
    import threading

    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()
            and not isinstance(t, threading._DummyThread)]  # Qt's pool threads seen from Python
    for thread in left:  # give a thread that is just finishing a moment
        thread.join(5)
    left = [t.name for t in left if t.is_alive()]
    assert not left, f"threads left running: {left}"


def demo_config(data_dir: Path, **station: object) -> Config:
    return Config(station=StationConfig(demo=True, **station), data_dir=data_dir)  # type: ignore[arg-type]


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    st = build_station(demo_config(tmp_path))
    yield st
    st.close()


@pytest.fixture
def make_window(qtbot, station: Station):
    """Build a station window (fast simulated scale) on *station*, or on another station."""
    from packstation.ui.sounds import SoundPlayer
    from packstation.ui.station_window import create_window
    from packstation.ui.weighing import SimulatedWeigher

    made = []

    def make(on: Station | None = None, **kwargs):
        weigher = kwargs.pop("weigher", None) or SimulatedWeigher(delay_ms=1, seed=5)
        # silent unless a test brings its own player: a developer's sound card must not change results
        kwargs.setdefault("sounds", SoundPlayer(output_present=lambda: False))
        window = create_window(on or station, weigher=weigher, **kwargs)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def type_scan(qtbot):
    """``type_scan(window, text)``: type *text* + Enter the way a wedge scanner (or a person) does."""

    def scan(window, text: str) -> Outcome:
        before = window.controller.last
        window.scan_edit.setFocus()
        qtbot.keyClicks(window.scan_edit, text)
        qtbot.keyClick(window.scan_edit, Qt.Key.Key_Return)
        outcome = window.controller.last
        assert outcome is not None and outcome is not before, f"the scan {text!r} was not handled"
        return outcome

    return scan
