"""Importing python-escpos safely, and ESC/POS bytes built with it.

python-escpos has three import-time habits we must tame: escpos.capabilities calls
``logging.basicConfig()`` (so the app's logging must be configured after it, with
force=True), it pickles its capability database into ``ESCPOS_CAPABILITIES_PICKLE_DIR``
(or a fresh temp folder each run), and barcode rendering prints to stdout.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from types import ModuleType


def _pickle_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "packstation" / "escpos"


def import_escpos_printer() -> ModuleType:
    """``escpos.printer``, imported with a stable pickle folder and the root logger restored."""
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ:
        folder = _pickle_dir()
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import escpos.printer

    # escpos.capabilities ran logging.basicConfig(): undo it unless logging was already set up
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    return escpos.printer


def dummy_printer(profile: str = "default"):  # noqa: ANN201 - escpos has no typed API
    """A python-escpos Dummy that renders commands to bytes (``.output``) without a device."""
    return import_escpos_printer().Dummy(profile=profile)


def escpos_test_receipt(station: str, profile: str = "default") -> bytes:
    """A short ESC/POS test print: init, bold title, text, a hardware Code 128, cut."""
    p = dummy_printer(profile)
    p.hw("INIT")
    p.set(align="center", bold=True, double_height=True)
    p.textln("PACKSTATION TEST")
    p.set(align="left", bold=False, normal_textsize=True)
    p.textln(f"Station: {station}")
    p.textln("If you can read this, the printer works.")
    with contextlib.redirect_stdout(io.StringIO()):  # escpos prints while rendering barcodes
        p.barcode("{BTEST-" + station, "CODE128", function_type="B", pos="BELOW")
    p.cut()
    return bytes(p.output)
