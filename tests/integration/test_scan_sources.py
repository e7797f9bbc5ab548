"""Every scan records its source, and a typed SKU is no item scan unless the warehouse says so
(issue 8: "scans do not record their source; a typed SKU counts as an item scan").

The serial and evdev scans come from the real readers (a pty, a FIFO of input events), the
keyboard-wedge burst as the window's wedge delivers it, typed text as the window's entry field.
"""

from __future__ import annotations

import json
import os
import queue
from datetime import timedelta
from pathlib import Path

import helpers_faults as hf
import pytest
from packstation_tests_station import MUG_EAN, NOW, TEE_EAN, TOY_EAN, StationFactory, stock

from packstation.adapters.devices import evdev_keymap as keys
from packstation.adapters.devices.evdev_scanner import (
    EV_KEY,
    EV_SYN,
    EvdevScannerReader,
    encode_event,
)
from packstation.adapters.devices.serial_scanner import SerialScannerReader
from packstation.adapters.devices.simulators.pty_scanner import PtyScannerSimulator
from packstation.adapters.devices.state import DeviceState, Status
from packstation.bootstrap import Station
from packstation.config import PackingConfig, parse_config
from packstation.domain.barcodes import RawScan
from packstation.domain.packing import Verdict
from packstation.services.reports import order_status
from packstation.services.stats import shift_figures

# linux/input-event-codes.h: KEY_1 = 2 ... KEY_9 = 10, KEY_0 = 11
DIGIT_KEYS = {str(d): 1 + d for d in range(1, 10)} | {"0": 11}


def _connected(states: queue.Queue[DeviceState]) -> None:
    while states.get(timeout=10).status is not Status.CONNECTED:
        pass


def from_serial_scanner(text: str) -> RawScan:
    with PtyScannerSimulator(terminator="crlf", aim="]E0") as scanner:
        got: queue.Queue[RawScan] = queue.Queue()
        states: queue.Queue[DeviceState] = queue.Queue()
        reader = SerialScannerReader(scanner.port, got.put, on_state=states.put).start()
        try:
            _connected(states)  # a scan before the port is open is never read (as with a real scanner)
            scanner.scan(text)
            return got.get(timeout=10)
        finally:
            reader.stop()


def from_evdev_scanner(text: str, tmp_path: Path) -> RawScan:
    fifo = tmp_path / "event-scanner"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    got: queue.Queue[RawScan] = queue.Queue()
    states: queue.Queue[DeviceState] = queue.Queue()
    reader = EvdevScannerReader(str(fifo), got.put, grab=False, on_state=states.put).start()
    try:
        _connected(states)
        data = b""
        for ch in text:
            code = DIGIT_KEYS[ch]
            data += encode_event(EV_KEY, code, 1) + encode_event(EV_SYN, 0, 0)
            data += encode_event(EV_KEY, code, 0) + encode_event(EV_SYN, 0, 0)
        data += encode_event(EV_KEY, keys.KEY_ENTER, 1) + encode_event(EV_KEY, keys.KEY_ENTER, 0)
        os.write(writer, data)
        return got.get(timeout=10)
    finally:
        reader.stop()
        os.close(writer)


def typed(text: str) -> RawScan:
    return RawScan.from_wire(text, source="typed")


def test_every_scan_records_its_source_in_the_scans_and_their_events(station: Station, tmp_path: Path) -> None:
    bench = hf.login(station, "PACKER-001")
    assert [bench.scan(s).verdict for s in ("SO-2", "BOX-M")] == [Verdict.ORDER_OPENED, Verdict.CARTON_OPENED]
    serial = from_serial_scanner(TEE_EAN)
    evdev = from_evdev_scanner(TEE_EAN, tmp_path)
    assert (serial.source, serial.symbology, evdev.source) == ("serial", "]E0", "evdev")
    for scan in (RawScan.from_wire(TEE_EAN), serial, evdev, typed(TEE_EAN)):
        assert bench.scan(scan).verdict is Verdict.ACCEPTED
    # the lot answered on the keyboard: the item is still the scanner's
    assert bench.scan(from_serial_scanner(MUG_EAN)).verdict is Verdict.NEEDS_LOT
    assert bench.scan(typed("M-1")).verdict is Verdict.ACCEPTED
    assert bench.scan(typed(TOY_EAN)).verdict is Verdict.WRONG_ITEM  # refused scans say so too

    scans = hf.rows(station, "scans", order_by="seq")
    assert [(r["sku"], r["source"]) for r in scans] == [
        ("TS-1", "wedge"), ("TS-1", "serial"), ("TS-1", "evdev"), ("TS-1", "typed"), ("HW-1", "serial")]
    events = [(e["kind"], json.loads(e["payload"])) for e in hf.rows(station, "events", order_by="seq")
              if e["kind"] in ("scan.recorded", "scan.refused")]
    assert [(kind, p["source"]) for kind, p in events] == [
        ("scan.recorded", "wedge"), ("scan.recorded", "serial"), ("scan.recorded", "evdev"),
        ("scan.recorded", "typed"), ("scan.recorded", "serial"), ("scan.refused", "typed")]
    # ... and the lot, typed in answer to the prompt, says so in its scan's event
    assert [p.get("detail_source") for _, p in events] == [None, None, None, None, "typed", None]
    assert events[4][1]["lot"] == "M-1"
    status = {ln["sku"]: ln for ln in order_status(station.ctx, hf.admin(station), "SO-2")["lines"]}
    assert [s["source"] for s in status["TS-1"]["scans"]] == ["wedge", "serial", "evdev", "typed"]


def test_a_typed_sku_is_refused_by_default(station: Station) -> None:
    bench = hf.login(station, "PACKER-001")
    assert [bench.scan(s).verdict for s in ("SO-1", "BOX-S")] == [Verdict.ORDER_OPENED, Verdict.CARTON_OPENED]
    refused = bench.scan(typed("ts-1"))
    assert refused.verdict is Verdict.NOT_ALLOWED and "typed" in refused.message and "accept_typed_sku" in refused.message
    assert hf.rows(station, "scans") == []
    [event] = [e for e in hf.rows(station, "events") if e["kind"] == "scan.refused"]
    assert json.loads(event["payload"])["source"] == "typed"
    # the same SKU scanned (a printed shelf label read by the scanner) is an item scan
    assert bench.scan("TS-1").verdict is Verdict.ACCEPTED
    assert [r["source"] for r in hf.rows(station, "scans")] == ["wedge"]


def test_a_typed_sku_counts_with_accept_typed_sku(make_station: StationFactory, tmp_path: Path) -> None:
    setting = parse_config(f'data_dir = "{tmp_path}"\n[packing]\naccept_typed_sku = true\n').packing
    assert setting == PackingConfig(accept_typed_sku=True)
    station = make_station(packing=setting)
    stock(station)
    bench = hf.login(station, "PACKER-001")
    assert [bench.scan(s).verdict for s in ("SO-1", "BOX-S")] == [Verdict.ORDER_OPENED, Verdict.CARTON_OPENED]
    assert bench.scan(typed("TS-1")).verdict is Verdict.ACCEPTED
    assert [(r["sku"], r["source"], r["barcode"]) for r in hf.rows(station, "scans")] == [("TS-1", "typed", "TS-1")]


@pytest.mark.parametrize("text", ["accept_typed_sku = 1", 'accept_typed_sku = "yes"'])
def test_accept_typed_sku_must_be_true_or_false(tmp_path: Path, text: str) -> None:
    from packstation.config import ConfigError

    with pytest.raises(ConfigError, match="accept_typed_sku must be true or false"):
        parse_config(f'data_dir = "{tmp_path}"\n[packing]\n{text}\n')


def test_shift_figures_count_typed_scans_per_packer(station: Station, make_station: StationFactory) -> None:
    pat = hf.login(station, "PACKER-001")
    assert [pat.scan(s).verdict for s in ("SO-5", "BOX-S")] == [Verdict.ORDER_OPENED, Verdict.CARTON_OPENED]
    for scan in (typed(TEE_EAN), RawScan.from_wire(TEE_EAN), typed(TEE_EAN)):
        assert pat.scan(scan).verdict is Verdict.ACCEPTED
    olu = hf.login(make_station("BENCH-02"), "PACKER-002")
    assert [olu.scan(s).verdict for s in ("SO-1", "BOX-S", TEE_EAN, TEE_EAN)] == [
        Verdict.ORDER_OPENED, Verdict.CARTON_OPENED, Verdict.ACCEPTED, Verdict.ACCEPTED]
    figures = {f.user: f for f in shift_figures(station.ctx, hf.person(station, "LEAD-001"), NOW - timedelta(days=1))}
    assert (figures["Pat Packer"].scans, figures["Pat Packer"].typed) == (3, 2)
    assert (figures["Olu Other"].scans, figures["Olu Other"].typed) == (2, 0)
