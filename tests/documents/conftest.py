"""Fixtures for the document tests; the reading helpers live in doc_read.py.

The ZPL tests need Node.js and zpl-renderer-js (``scripts/setup`` installs both; by hand:
``npm ci --prefix tests/documents/zpl_render``). Without them those tests skip and say so,
except in CI (``CI=true``), where a missing renderer is a failure: CI must render the labels.
"""

from __future__ import annotations

import os
import shutil

import pytest
from doc_read import ZPL_RENDER_DIR, ZplRenderer


def _missing(why: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{why}; CI must run the ZPL render tests", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def zpl_renderer() -> ZplRenderer:
    node = shutil.which("node")
    if node is None:
        _missing("Node.js is not installed; the ZPL render tests need it (apt-get install nodejs)")
    if not (ZPL_RENDER_DIR / "node_modules" / "zpl-renderer-js" / "package.json").is_file():
        _missing(
            "zpl-renderer-js is not installed; run: npm ci --prefix tests/documents/zpl_render"
        )
    assert node is not None
    return ZplRenderer(node)
