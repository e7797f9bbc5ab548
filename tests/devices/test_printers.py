"""Printer transports against the TCP printer simulator, a fake `lp`, files and pyserial URLs."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from packstation.adapters.devices.transports import (
    CupsTransport,
    FileTransport,
    PrinterConfigError,
    PrinterTimeout,
    PrinterUnreachable,
    PrinterVanished,
    SerialTransport,
    TcpTransport,
    UsbTransport,
    open_transport,
)

LABEL = b"^XA^FO50,50^A0N,40,40^FDHello^FS^XZ"


def test_tcp_job_arrives_whole(printer_sim):
    t = open_transport(printer_sim.url)
    assert isinstance(t, TcpTransport)
    t.send(LABEL, timeout_s=5)
    t.send(LABEL * 2000, timeout_s=5)  # bigger than socket buffers
    assert printer_sim.wait_for_jobs(2) == [LABEL, LABEL * 2000]


def test_tcp_refused(printer_sim):
    printer_sim.set_fault("refuse")
    with pytest.raises(PrinterUnreachable, match="refused the connection"):
        open_transport(printer_sim.url).send(LABEL, timeout_s=2)


def test_tcp_hang_times_out(printer_sim):
    printer_sim.set_fault("hang")
    with pytest.raises(PrinterTimeout, match="stopped taking data for 0.5 s"):
        open_transport(printer_sim.url).send(LABEL, timeout_s=0.5)
    printer_sim.set_fault(None)


def test_tcp_dropped_mid_job(printer_sim):
    printer_sim.set_fault("drop")
    with pytest.raises(PrinterVanished, match="dropped the connection mid-job"):
        open_transport(printer_sim.url).send(LABEL * 50, timeout_s=3)
    assert printer_sim.jobs == []


def test_file_transport_appends(tmp_path):
    out = tmp_path / "labels.zpl"
    t = open_transport(f"file://{out}")
    assert isinstance(t, FileTransport)
    t.send(LABEL)
    t.send(LABEL)
    assert out.read_bytes() == LABEL * 2
    with pytest.raises(PrinterUnreachable, match="cannot write"):
        open_transport(f"file://{tmp_path}/missing/dir/x").send(LABEL)


@pytest.fixture
def fake_lp(tmp_path, monkeypatch):
    """An `lp` on PATH that records its arguments and stdin, failing for queue 'broken'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "lp-record"
    script = bin_dir / "lp"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "args = sys.argv[1:]\n"
        "if 'broken' in args:\n"
        "    print('lp: The printer or class does not exist.', file=sys.stderr); sys.exit(1)\n"
        f"open({str(record)!r}, 'wb').write(' '.join(args).encode() + b'\\n' + sys.stdin.buffer.read())\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


def test_cups_sends_raw_through_lp(fake_lp):
    t = open_transport("cups://Zebra_GK420d")
    assert isinstance(t, CupsTransport)
    t.send(LABEL)
    assert fake_lp.read_bytes() == b"-d Zebra_GK420d -o raw\n" + LABEL


def test_cups_failure_carries_lp_message(fake_lp):
    with pytest.raises(PrinterUnreachable, match="does not exist"):
        open_transport("cups://broken").send(LABEL)


def test_cups_without_lp_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrinterUnreachable, match="install cups-client"):
        CupsTransport("q").send(LABEL)


def test_serial_printer_via_pyserial_url():
    t = open_transport("loop://")
    assert isinstance(t, SerialTransport)
    t.send(LABEL)  # loop:// swallows it; the point is the URL opens and writes
    assert t.query(b"\x10\x04\x04", timeout_s=1, until=lambda r: len(r) >= 3) == b"\x10\x04\x04"


def test_serial_printer_missing_port(tmp_path):
    with pytest.raises(PrinterUnreachable, match="cannot open printer port"):
        open_transport(str(tmp_path / "ttyUSB7")).send(LABEL)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "no printer configured"),
        ("tcp://:9100", "has no host"),
        ("usb://zebra", "usb://VID:PID in hex"),
        ("cups://", "names no queue"),
        ("ipp://printer/ipp", "not understood"),
    ],
)
def test_bad_urls_say_what_to_write(url, message):
    with pytest.raises(PrinterConfigError, match=message):
        open_transport(url)


def test_usb_url_parses_vid_pid():
    t = open_transport("usb://0a5f:0164")
    assert isinstance(t, UsbTransport) and (t.vendor, t.product) == (0x0A5F, 0x0164)


# A real USB printer, where one is plugged in: PACKSTATION_TEST_USB_PRINTER=VID:PID (hex, as
# `lsusb` shows them; Zebra is vendor 0a5f) and pyusb installed. It prints one small "Hello" label.
USB_PRINTER = os.environ.get("PACKSTATION_TEST_USB_PRINTER", "").strip()


@pytest.mark.skipif(
    not USB_PRINTER,
    reason="no USB printer named: set PACKSTATION_TEST_USB_PRINTER=VID:PID (printer plugged in, pyusb installed)",
)
def test_usb_printer_prints():
    transport = open_transport(f"usb://{USB_PRINTER}")
    assert isinstance(transport, UsbTransport)
    transport.send(LABEL)


def test_tcp_default_port_is_9100():
    t = open_transport("tcp://printer.local")
    assert isinstance(t, TcpTransport) and t.port == 9100 and t.host == "printer.local"


def test_a_printer_section_opens_with_its_own_baud_rate():
    """Every way in (printing, status probe, test print, settings dialog) goes through
    open_printer, so a serial printer at 19200 baud is never opened at 9600."""
    from packstation.adapters.devices.transports import SerialTransport, open_printer
    from packstation.config import PrinterConfig

    transport = open_printer(PrinterConfig(url="loop://", language="zpl", baudrate=19200))
    assert isinstance(transport, SerialTransport) and transport.baudrate == 19200
    assert open_printer(PrinterConfig(url="/dev/ttyS3", language="escpos")).baudrate == 9600
