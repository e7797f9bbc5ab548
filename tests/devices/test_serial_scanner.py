"""Serial scanners: framing, AIM identifiers, GS1 separators, garbage, unplug and reconnect."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packstation.adapters.devices.scan_framing import LineFramer, Rejected
from packstation.adapters.devices.serial_scanner import SerialScannerReader
from packstation.adapters.devices.simulators.pty_scanner import PtyScannerSimulator
from packstation.adapters.devices.state import Status
from packstation.domain.barcodes import GS, RawScan, interpret


def test_framer_handles_cr_lf_crlf_and_split_reads():
    framer = LineFramer("serial")
    out = framer.feed(b"AB")
    out += framer.feed(b"C\r\nDEF\rGH")
    out += framer.feed(b"I\n\n\r")
    assert [s.data for s in out] == ["ABC", "DEF", "GHI"]


def test_framer_rejects_overlong_lines_once_and_recovers():
    framer = LineFramer("serial", max_length=10)
    out = framer.feed(b"X" * 8)
    out += framer.feed(b"Y" * 8)
    out += framer.feed(b"Z" * 30 + b"\rOK1\r")
    assert isinstance(out[0], Rejected) and "longer than 10 bytes" in out[0].reason
    assert [o for o in out[1:]] == [RawScan("OK1", None, "serial")]


def test_framer_rejects_bad_utf8_and_control_characters_but_keeps_gs():
    framer = LineFramer("serial")
    bad_utf8, ctrl, gs1 = framer.feed(b"\xff\xfeAB\rAB\x07C\r]C101095011010209171\x1d10LOT7\r")
    assert isinstance(bad_utf8, Rejected) and "not UTF-8" in bad_utf8.reason
    assert isinstance(ctrl, Rejected) and "0x07" in ctrl.reason
    assert gs1 == RawScan("01095011010209171" + GS + "10LOT7", "]C1", "serial")


class Collector:
    def __init__(self) -> None:
        self.scans: queue.Queue[RawScan] = queue.Queue()
        self.states: list = []
        self.rejected: list[Rejected] = []
        self._changed = threading.Condition()

    def on_state(self, state) -> None:
        with self._changed:
            self.states.append(state)
            self._changed.notify_all()

    def wait_state(self, status: Status, after: int = 0, timeout: float = 5.0):
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(s.status is status for s in self.states[after:]), timeout
            )
        assert ok, f"no {status} state; got {self.states}"
        return next(s for s in self.states[after:] if s.status is status)

    def next_scan(self, timeout: float = 5.0) -> RawScan:
        return self.scans.get(timeout=timeout)


@pytest.fixture
def reader_on():
    readers: list[SerialScannerReader] = []

    def start(url: str) -> Collector:
        c = Collector()
        r = SerialScannerReader(
            url,
            c.scans.put,
            on_state=c.on_state,
            on_reject=c.rejected.append,
            backoff_s=0.05,
            max_backoff_s=0.2,
        )
        readers.append(r.start())
        c.wait_state(Status.CONNECTED)
        return c

    yield start
    for r in readers:
        r.stop()


@pytest.mark.parametrize("terminator", ["cr", "lf", "crlf"])
def test_scans_through_a_pty_with_each_terminator(reader_on, terminator):
    with PtyScannerSimulator(terminator=terminator) as sim:
        c = reader_on(sim.port)
        sim.scan("ORD-10042")
        sim.scan("4006381333931")
        assert c.next_scan().data == "ORD-10042"
        assert c.next_scan().data == "4006381333931"
        assert c.scans.empty()


def test_aim_identifier_and_gs1_fields(reader_on):
    with PtyScannerSimulator(aim="]C1") as sim:
        c = reader_on(sim.port)
        sim.scan("0104006381333931" + "17271231" + "10AB-12" + GS + "21SN999")
        scan = c.next_scan()
    assert scan.symbology == "]C1" and scan.source == "serial"
    code = interpret(scan)
    assert (code.value, code.lot, code.serial, code.expiry.isoformat()) == (
        "04006381333931",
        "AB-12",
        "SN999",
        "2027-12-31",
    )


def test_garbage_is_rejected_and_reading_continues(reader_on):
    with PtyScannerSimulator() as sim:
        c = reader_on(sim.port)
        sim.write(b"\x80\x81\xfe\r")
        sim.write(b"A\x00B\r")
        sim.scan("STILL-HERE")
        assert c.next_scan().data == "STILL-HERE"
    assert [("UTF-8" in r.reason, "0x00" in r.reason) for r in c.rejected] == [
        (True, False),
        (False, True),
    ]


def test_unplug_reports_disconnected_and_replug_reconnects(reader_on):
    with PtyScannerSimulator() as sim:
        c = reader_on(sim.port)
        sim.scan("BEFORE")
        assert c.next_scan().data == "BEFORE"
        mark = len(c.states)
        sim.unplug()
        gone = c.wait_state(Status.DISCONNECTED, after=mark)
        assert gone.reason
        time.sleep(0.2)  # a few reconnect attempts fail while it is unplugged
        mark = len(c.states)
        sim.replug()
        c.wait_state(Status.CONNECTED, after=mark)
        sim.scan("AFTER")
        assert c.next_scan().data == "AFTER"


def test_missing_port_is_reported_then_retried(tmp_path):
    c = Collector()
    r = SerialScannerReader(
        str(tmp_path / "ttyACM9"), c.scans.put, on_state=c.on_state, backoff_s=0.05
    ).start()
    try:
        state = c.wait_state(Status.DISCONNECTED)
        assert "No such file" in state.reason
    finally:
        r.stop()
    assert c.states[-1].reason == "stopped"


def test_loop_url_works_like_a_device():
    c = Collector()
    r = SerialScannerReader("loop://", c.scans.put, on_state=c.on_state)
    r.start()
    try:
        c.wait_state(Status.CONNECTED)
        r._port.write(b"]E04006381333931\r\n")  # loop:// reads back what is written
        scan = c.next_scan()
    finally:
        r.stop()
    assert (scan.data, scan.symbology) == ("4006381333931", "]E0")


@given(
    scans=st.lists(
        st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
            min_size=1,
            max_size=40,
        ).filter(lambda t: not t.startswith("]")),
        min_size=1,
        max_size=8,
    ),
    ends=st.lists(st.sampled_from([b"\r", b"\n", b"\r\n"]), min_size=8, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_framing_does_not_depend_on_how_reads_split_the_stream(scans, ends, cuts):
    stream = b"".join(s.encode("utf-8") + e for s, e in zip(scans, ends, strict=False))
    framer = LineFramer("serial")
    out = []
    last = 0
    for cut in sorted({c % (len(stream) + 1) for c in cuts}) + [len(stream)]:
        out += framer.feed(stream[last:cut])
        last = cut
    assert [o.data for o in out] == scans
