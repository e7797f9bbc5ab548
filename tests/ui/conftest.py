"""Fixtures for the station-window tests: a demo station on its own SQLite file per test.

Every test under tests/ui fails on Qt warnings (pytest-qt ``qt_log_level_fail`` mark), except
the offscreen platform's notice that it cannot propagate size hints (harmless, platform-only).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from packstation.bootstrap import Station, build_station
from packstation.config import Config, StationConfig
from packstation.services.outcome import Outcome

sys.modules.setdefault("packstation_tests_ui", sys.modules[__name__])  # test modules import helpers from here

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
    from packstation.ui.app import create_window
    from packstation.ui.sounds import SoundPlayer
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


LEAD_PIN = "1234"  # the demo lead's PIN


@pytest.fixture
def approve(qtbot, type_scan):
    """``approve(window, reason_number)``: a lead approves on the spot — reason by number, badge, PIN."""

    def run(window, reason: str | None = "1", *, badge: str | None = "LEAD-001", pin: str = LEAD_PIN) -> Outcome:
        if reason is not None:
            type_scan(window, reason)
        if badge is not None:
            asked = type_scan(window, badge)
            assert asked.verdict.value == "needs_pin", asked
        assert window.approval.isVisible()
        before = window.controller.last
        qtbot.keyClicks(window.approval.pin, pin)
        qtbot.keyClick(window.approval.pin, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: window.controller.last is not before and not window.controller.checking_pin,
                        timeout=10_000)
        return window.controller.last

    return run


def stock_lots(station, sku: str) -> tuple[list[str], list[str]]:
    """(usable lots, expired lots) of *sku* in the demo stock."""
    with station.uow(readonly=True) as uow:
        lots = uow.catalog.lots(sku)
    today = station.ctx.clock().date()
    fresh = [lot.lot for lot in lots if lot.expiry is None or lot.expiry >= today]
    expired = [lot.lot for lot in lots if lot.expiry is not None and lot.expiry < today]
    return fresh, expired


def fresh_lot(station, window) -> str:
    """A lot of the product the prompt waits for, that the stock knows and that has not expired."""
    return stock_lots(station, window.controller.bench.pack.pending.sku)[0][0]


def other_barcode(exclude: set[str]) -> str:
    """A demo catalogue product's barcode (as its lookup key) that is none of *exclude*."""
    from packstation.demo import catalog
    from packstation.domain.barcodes import lookup_key

    keys = {lookup_key(c) for c in exclude}
    return next(code for p in catalog() for code in p["barcodes"] if lookup_key(code) not in keys)


@pytest.fixture
def login_lead(qtbot, type_scan):
    """``login_lead(window)``: Lee Lead logs in with badge and PIN and takes the pack bench."""

    def run(window, desk: str = "DESK-BENCH") -> Outcome:
        assert type_scan(window, "LEAD-001").verdict.value == "needs_pin"
        before = window.controller.last
        window.login.pin.setFocus()
        qtbot.keyClicks(window.login.pin, LEAD_PIN)
        qtbot.keyClick(window.login.pin, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: window.controller.last is not before and not window.controller.checking_pin,
                        timeout=10_000)
        assert window.terminal.session is not None, window.controller.last
        return type_scan(window, desk) if desk else window.controller.last

    return run


def answer_prompts(station, window, type_scan, outcome: Outcome, serial: str = "SN") -> Outcome:
    """Answer lot / expiry / serial prompts as a packer would: a lot the stock knows, a new serial."""
    import itertools

    counter = itertools.count(1)
    while outcome.verdict.value in ("needs_lot", "needs_expiry", "needs_serial"):
        if outcome.verdict.value == "needs_lot":
            outcome = type_scan(window, fresh_lot(station, window))
        elif outcome.verdict.value == "needs_expiry":
            outcome = type_scan(window, "2099-12-31")
        else:
            outcome = type_scan(window, f"{serial}-{id(window) % 1000}-{next(counter)}-{len(window.controller.results)}")
    return outcome
