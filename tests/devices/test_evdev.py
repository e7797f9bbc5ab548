"""evdev scanners: input_event structs decoded to text, fed through a FIFO (no /dev/input here)."""

from __future__ import annotations

import os
import queue

import pytest

from packstation.adapters.devices import evdev_keymap as k
from packstation.adapters.devices.evdev_scanner import (
    EV_KEY,
    EV_SYN,
    INPUT_EVENT,
    EvdevDecoder,
    EvdevScannerReader,
    encode_event,
)
from packstation.adapters.devices.scan_framing import Rejected
from packstation.adapters.devices.state import Status
from packstation.domain.barcodes import GS

# US layout key codes, from linux/input-event-codes.h
CODES = {
    "1": 2,
    "2": 3,
    "0": 11,
    "a": 30,
    "b": 48,
    "c": 46,
    "o": 24,
    "r": 19,
    "d": 32,
    "-": 12,
    "z": 44,
    "y": 21,
}


def keystrokes(text: str, end: int = k.KEY_ENTER) -> bytes:
    """Press/release pairs with SYN reports, as the kernel delivers a scanner's typing."""
    out = b""
    for ch in text:
        shifted = ch.isupper() or ch == "_"
        code = CODES[ch.lower() if ch != "_" else "-"]
        if shifted:
            out += encode_event(EV_KEY, k.KEY_LEFTSHIFT, 1)
        out += encode_event(EV_KEY, code, 1) + encode_event(EV_SYN, 0, 0)
        out += encode_event(EV_KEY, code, 0) + encode_event(EV_SYN, 0, 0)
        if shifted:
            out += encode_event(EV_KEY, k.KEY_LEFTSHIFT, 0)
    out += encode_event(EV_KEY, end, 1) + encode_event(EV_KEY, end, 0)
    return out


def test_struct_is_the_64bit_kernel_layout():
    assert INPUT_EVENT.size == 24


def test_decodes_shifted_text_and_enter():
    dec = EvdevDecoder("us")
    assert dec.feed(keystrokes("Ord_12")) == ["Ord_12"]


def test_tab_ends_a_scan_and_ctrl_bracket_types_gs():
    ctrl_gs = (
        encode_event(EV_KEY, k.KEY_LEFTCTRL, 1)
        + encode_event(EV_KEY, 27, 1)
        + encode_event(EV_KEY, 27, 0)
        + encode_event(EV_KEY, k.KEY_LEFTCTRL, 0)
    )
    data = keystrokes("10ab", end=k.KEY_TAB)[:-48] + ctrl_gs + keystrokes("21", end=k.KEY_TAB)
    assert EvdevDecoder("us").feed(data) == ["10ab" + GS + "21"]


def test_key_repeat_and_caps_lock():
    dec = EvdevDecoder("us")
    data = (
        encode_event(EV_KEY, k.KEY_CAPSLOCK, 1)
        + encode_event(EV_KEY, k.KEY_CAPSLOCK, 0)
        + encode_event(EV_KEY, CODES["a"], 1)
        + encode_event(EV_KEY, CODES["a"], 2)
        + encode_event(EV_KEY, CODES["a"], 0)
        + encode_event(EV_KEY, CODES["1"], 1)
        + encode_event(EV_KEY, k.KEY_ENTER, 1)
    )
    assert dec.feed(data) == ["AA1"]


def test_layout_table_is_configurable():
    # the same physical keys read "zy" on US and "yz" on German QWERTZ
    us = EvdevDecoder("us").feed(keystrokes("zy"))
    de = EvdevDecoder("de").feed(keystrokes("zy"))
    assert (us, de) == (["zy"], ["yz"])
    with pytest.raises(ValueError, match="evdev_layout 'xx' is unknown"):
        EvdevDecoder("xx")


def test_unknown_key_rejects_the_scan():
    data = encode_event(EV_KEY, 200, 1) + keystrokes("ab")
    out = EvdevDecoder("us").feed(data)
    assert len(out) == 1 and isinstance(out[0], Rejected) and "200" in out[0].reason


def test_reader_through_a_fifo(tmp_path):
    fifo = tmp_path / "event7"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # keeps the FIFO open for the reader
    scans: queue.Queue = queue.Queue()
    states: queue.Queue = queue.Queue()
    reader = EvdevScannerReader(str(fifo), scans.put, grab=False, on_state=states.put).start()
    try:
        assert states.get(timeout=5).status is Status.CONNECTED
        data = keystrokes("ORD-1") + keystrokes("abc")
        os.write(writer, data[:37])  # a read may end inside an event
        os.write(writer, data[37:])
        got = [scans.get(timeout=5) for _ in range(2)]
        assert [(s.data, s.source) for s in got] == [("ORD-1", "evdev"), ("abc", "evdev")]
    finally:
        reader.stop()
        os.close(writer)


def test_grab_fails_clearly_on_something_that_is_no_input_device(tmp_path):
    path = tmp_path / "event0"
    path.write_bytes(b"")
    states: queue.Queue = queue.Queue()
    reader = EvdevScannerReader(
        str(path), lambda s: None, grab=True, on_state=states.put, retry_s=0.05
    ).start()
    try:
        state = states.get(timeout=5)
    finally:
        reader.stop()
    assert state.status is Status.ERROR and state.reason


def test_reader_reports_a_vanished_device_and_reopens_it(tmp_path):
    fifo = tmp_path / "event3"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    scans: queue.Queue = queue.Queue()
    states: queue.Queue = queue.Queue()
    reader = EvdevScannerReader(
        str(fifo), scans.put, grab=False, on_state=states.put, retry_s=0.05
    ).start()
    try:
        assert states.get(timeout=5).status is Status.CONNECTED
        os.write(writer, keystrokes("abc"))
        assert scans.get(timeout=5).data == "abc"
        os.close(writer)  # the device goes away: the reader sees end of input
        writer = -1
        gone = states.get(timeout=5)
        assert gone.status is Status.DISCONNECTED and "end of input" in gone.reason
        assert states.get(timeout=5).status is Status.CONNECTED  # reopened
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(writer, keystrokes("ord-1"))
        assert scans.get(timeout=5).data == "ord-1"
    finally:
        reader.stop()
        if writer >= 0:
            os.close(writer)


def test_a_failing_consumer_does_not_stop_the_reader(tmp_path):
    fifo = tmp_path / "event8"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    scans: queue.Queue = queue.Queue()

    def consumer(scan):  # the window's slot raises on the first scan
        if scan.data == "abc":
            raise RuntimeError("consumer bug")
        scans.put(scan)

    reader = EvdevScannerReader(str(fifo), consumer, grab=False).start()
    try:
        os.write(writer, keystrokes("abc") + keystrokes("ORD-1"))
        assert scans.get(timeout=5).data == "ORD-1"
    finally:
        reader.stop()
        os.close(writer)
