"""Importing python-escpos safely (used by the ESC/POS renderers and the printer transports).

python-escpos has import-time habits we must tame: escpos.capabilities calls
``logging.basicConfig()`` (so the app's logging would be configured behind our back), and it
pickles its capability database into ``ESCPOS_CAPABILITIES_PICKLE_DIR`` (or a fresh temp
folder each run), which has to exist before the import.
"""

from __future__ import annotations

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
