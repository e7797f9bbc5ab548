"""The keyboard-wedge filter: scanner bursts become scans, a person's typing reaches the field."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

from packstation.domain.barcodes import RawScan
from packstation.ui.wedge import WedgeFilter


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def bench(qtbot):
    clock = FakeClock()
    window = QWidget()
    layout = QVBoxLayout(window)
    first, second = QLineEdit(), QLineEdit()
    layout.addWidget(first)
    layout.addWidget(second)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    first.setFocus()
    wedge = WedgeFilter(max_interval_ms=35, min_length=3, clock=clock)
    app = QApplication.instance()
    app.installEventFilter(wedge)
    scans: list[RawScan] = []
    wedge.scanned.connect(scans.append)
    yield clock, first, second, wedge, scans
    app.removeEventFilter(wedge)


def type_keys(qtbot, widget, clock, text: str, gap_s: float) -> None:
    for ch in text:
        clock.t += gap_s
        qtbot.keyClick(widget, ch)


def test_fast_burst_ending_in_enter_is_a_scan_and_never_lands_in_the_field(qtbot, bench):
    clock, first, _second, _wedge, scans = bench
    entered = []
    first.returnPressed.connect(lambda: entered.append(True))
    type_keys(qtbot, first, clock, "]C14006381333931", 0.004)
    clock.t += 0.004
    qtbot.keyClick(first, Qt.Key.Key_Return)
    assert scans == [RawScan(data="4006381333931", symbology="]C1", source="wedge")]
    qtbot.wait(80)  # give a wrongly armed replay timer the chance to fire
    assert first.text() == ""
    assert entered == []


def test_scan_works_whichever_widget_has_focus(qtbot, bench):
    clock, _first, second, _wedge, scans = bench
    second.setFocus()
    type_keys(qtbot, second, clock, "ORD-1001", 0.005)
    clock.t += 0.005
    qtbot.keyClick(second, Qt.Key.Key_Tab)
    assert [s.data for s in scans] == ["ORD-1001"]
    assert second.text() == ""


def test_slow_typing_passes_through_in_order(qtbot, bench):
    clock, first, _second, _wedge, scans = bench
    type_keys(qtbot, first, clock, "hello", 0.200)
    qtbot.waitUntil(lambda: first.text() == "hello", timeout=3000)
    clock.t += 0.2
    entered = []
    first.returnPressed.connect(lambda: entered.append(True))
    qtbot.keyClick(first, Qt.Key.Key_Return)
    assert entered == [True]
    assert scans == []


def test_fast_but_too_short_burst_is_typing(qtbot, bench):
    clock, first, _second, _wedge, scans = bench
    entered = []
    first.returnPressed.connect(lambda: entered.append(first.text()))
    type_keys(qtbot, first, clock, "ab", 0.003)
    clock.t += 0.003
    qtbot.keyClick(first, Qt.Key.Key_Return)
    assert scans == []
    assert first.text() == "ab"
    assert entered == ["ab"]  # the replayed keys arrived before the Enter


def test_pause_before_enter_is_not_a_scan(qtbot, bench):
    clock, first, _second, _wedge, scans = bench
    type_keys(qtbot, first, clock, "12345", 0.004)
    clock.t += 0.5
    qtbot.keyClick(first, Qt.Key.Key_Return)
    assert scans == []
    assert first.text() == "12345"


def test_typing_after_a_scan_still_reaches_the_field(qtbot, bench):
    clock, first, _second, _wedge, scans = bench
    type_keys(qtbot, first, clock, "ABC123", 0.004)
    clock.t += 0.004
    qtbot.keyClick(first, Qt.Key.Key_Return)
    clock.t += 1.0
    type_keys(qtbot, first, clock, "x", 0.3)
    qtbot.waitUntil(lambda: first.text() == "x", timeout=3000)
    assert [s.data for s in scans] == ["ABC123"]


def test_from_config_reads_the_scanner_section(qapp):
    from packstation.config import ScannerConfig

    wedge = WedgeFilter.from_config(ScannerConfig(wedge_max_interval_ms=50, wedge_min_length=6))
    assert wedge.max_interval_s == pytest.approx(0.05)
    assert wedge.min_length == 6


def test_keys_delivered_through_the_window_like_real_input(qtbot, bench):
    """Platform key events reach the QWindow first, then the focus widget: act once."""
    from PySide6.QtTest import QTest

    clock, first, _second, _wedge, scans = bench
    handle = first.window().windowHandle()
    for ch in "BOX-M":
        clock.t += 0.004
        QTest.keyClick(handle, ch)
    clock.t += 0.004
    QTest.keyClick(handle, Qt.Key.Key_Return)
    assert [s.data for s in scans] == ["BOX-M"]
    assert first.text() == ""
    for ch in "ok":
        clock.t += 0.3
        QTest.keyClick(handle, ch)
    qtbot.waitUntil(lambda: first.text() == "ok", timeout=3000)


def test_held_down_key_auto_repeat_is_typing(qtbot, bench):
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    clock, first, _second, _wedge, scans = bench
    for i in range(5):
        clock.t += 0.004
        event = QKeyEvent(
            QEvent.Type.KeyPress, Qt.Key.Key_X, Qt.KeyboardModifier.NoModifier, "x", i > 0
        )
        QApplication.sendEvent(first, event)
    clock.t += 0.004
    qtbot.keyClick(first, Qt.Key.Key_Return)
    assert scans == []
    assert first.text() == "xxxxx"


def test_a_control_character_inside_a_burst_makes_it_one_refused_scan_leaving_nothing_behind(qtbot, bench):
    """Issue 9: CMD- Ctrl+G UNDO Enter gave 'Unknown barcode UNDO' and left CMD- in the field."""
    clock, first, _second, _wedge, scans = bench
    type_keys(qtbot, first, clock, "CMD-", 0.004)
    clock.t += 0.004
    qtbot.keyClick(first, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    type_keys(qtbot, first, clock, "UNDO", 0.004)
    clock.t += 0.004
    qtbot.keyClick(first, Qt.Key.Key_Return)
    assert [s.data for s in scans] == ["CMD-\x07UNDO"]
    qtbot.wait(80)
    assert first.text() == ""  # nothing left to glue onto the next scan
    from packstation.domain.barcodes import BarcodeError, interpret

    with pytest.raises(BarcodeError, match="control characters"):
        interpret(scans[0])


def test_a_burst_into_another_window_fills_its_field_instead_of_scanning(qtbot):
    """Issue 9: a badge scanned into the lead view's Add user form went to the bench behind it."""
    clock = FakeClock()
    station_window, dialog = QWidget(), QWidget()
    field = QLineEdit(dialog)
    QVBoxLayout(dialog).addWidget(field)
    for w in (station_window, dialog):
        qtbot.addWidget(w)
        w.show()
        qtbot.waitExposed(w)
    wedge = WedgeFilter(max_interval_ms=35, min_length=3, clock=clock,
                        accepts=lambda receiver: receiver.window() is station_window)
    app = QApplication.instance()
    app.installEventFilter(wedge)
    scans: list[RawScan] = []
    wedge.scanned.connect(scans.append)
    entered = []
    field.returnPressed.connect(lambda: entered.append(True))
    try:
        field.setFocus()
        type_keys(qtbot, field, clock, "PACKER-042", 0.004)
        clock.t += 0.004
        qtbot.keyClick(field, Qt.Key.Key_Return)
        assert scans == []
        assert field.text() == "PACKER-042"
        assert entered == []  # the scanner's Enter does not submit the form on its own
    finally:
        app.removeEventFilter(wedge)


def test_the_gap_between_keys_is_measured_by_their_timestamps_not_when_they_are_handled(qtbot, bench):
    """A GUI thread stalled mid-burst (a loaded machine) split scans in two; the keys' own
    timestamps (X server time) say they came 5 ms apart however late they are handled."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    clock, first, _second, _wedge, scans = bench

    def key(k: Qt.Key, text: str, ts: int) -> None:
        press = QKeyEvent(QEvent.Type.KeyPress, k, Qt.KeyboardModifier.NoModifier, text)
        press.setTimestamp(ts)
        QApplication.sendEvent(first, press)
        release = QKeyEvent(QEvent.Type.KeyRelease, k, Qt.KeyboardModifier.NoModifier, text)
        release.setTimestamp(ts)
        QApplication.sendEvent(first, release)

    code = "5900001002216"
    for n, ch in enumerate(code):
        clock.t += 0.2 if n == 6 else 0.001  # handled 200 ms late in the middle: the thread stalled
        key(Qt.Key(ord(ch)), ch, 1_000_000 + 5 * n)
    clock.t += 0.001
    key(Qt.Key.Key_Return, "\r", 1_000_000 + 5 * len(code))
    assert [s.data for s in scans] == [code]
    assert first.text() == ""
