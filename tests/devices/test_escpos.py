"""ESC/POS bytes built with python-escpos reach the printer unchanged."""

from __future__ import annotations

import os
import select
import subprocess
import sys

import pytest

from packstation.adapters.devices.escpos_support import (
    dummy_printer,
    escpos_test_receipt,
    open_escpos,
)
from packstation.adapters.devices.simulators.pty_link import PtyLink
from packstation.adapters.devices.transports import PrinterConfigError, open_transport


def test_test_receipt_is_what_python_escpos_renders(capsys):
    reference = dummy_printer()
    reference.hw("INIT")
    reference.set(align="center", bold=True, double_height=True)
    reference.textln("PACKSTATION TEST")
    ours = escpos_test_receipt("B1")
    assert ours.startswith(reference.output)
    assert ours.startswith(b"\x1b@")  # ESC @ initialise
    assert b"\x1dkI" in ours  # GS k 73: CODE128 with explicit length
    assert b"{BTEST-B1" in ours  # Code 128 data starts with a code-set selector
    assert ours.endswith(b"\x1dV\x00")  # GS V 0: full cut
    assert capsys.readouterr().out == ""  # the barcode renderer's prints were swallowed


def test_receipt_reaches_the_simulator_byte_for_byte(printer_sim):
    data = escpos_test_receipt("B2")
    open_transport(printer_sim.url).send(data, timeout_s=5)
    assert printer_sim.wait_for_jobs(1) == [data]


def test_importing_escpos_leaves_logging_alone(tmp_path):
    """escpos.capabilities calls logging.basicConfig() on first import: we undo it."""
    code = (
        "import logging\n"
        "from packstation.adapters.devices.escpos_support import import_escpos_printer\n"
        "import_escpos_printer()\n"
        "import escpos.capabilities\n"
        "print(len(logging.getLogger().handlers))\n"
    )
    env = {**os.environ, "ESCPOS_CAPABILITIES_PICKLE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "0"


def _same_commands(p) -> None:
    p.hw("INIT")
    p.set(align="center", bold=True)
    p.textln("ORDER 10042")
    p.cut()


def test_python_escpos_network_printer_against_the_simulator(printer_sim):
    reference = dummy_printer()
    _same_commands(reference)
    p = open_escpos(printer_sim.url)
    p.open()
    _same_commands(p)
    p.close()
    assert printer_sim.wait_for_jobs(1) == [reference.output]


def test_python_escpos_file_printer(tmp_path):
    reference = dummy_printer()
    _same_commands(reference)
    out = tmp_path / "lp0"
    out.touch()
    p = open_escpos(f"file://{out}")
    p.open()
    _same_commands(p)
    p.close()
    assert out.read_bytes() == reference.output


def test_python_escpos_serial_printer_through_a_pty():
    reference = dummy_printer()
    _same_commands(reference)
    link = PtyLink(name="escpos")
    try:
        p = open_escpos(link.path, timeout_s=2)
        p.open()
        _same_commands(p)
        p.close()
        received = b""
        while len(received) < len(reference.output):
            ready, _, _ = select.select([link.master], [], [], 5)
            assert ready, f"only {received!r} arrived"
            received += os.read(link.master, 4096)
    finally:
        link.close()
    assert received == reference.output


def test_open_escpos_rejects_cups():
    with pytest.raises(PrinterConfigError, match="cannot be driven by python-escpos"):
        open_escpos("cups://Receipts")
