"""ESC/POS bytes built with python-escpos reach the printer unchanged."""

from __future__ import annotations

import os
import subprocess
import sys

from packstation.adapters.devices.escpos_support import (
    dummy_printer,
    escpos_test_receipt,
)
from packstation.adapters.devices.transports import open_transport


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
