"""Fixtures for the document tests; the reading helpers live in doc_read.py.

The ZPL tests need Node.js and zpl-renderer-js: ``npm ci --prefix tests/documents/zpl_render``.
Without them those tests skip and say so.
"""

from __future__ import annotations

import shutil

import pytest
from doc_read import ZPL_RENDER_DIR, ZplRenderer


@pytest.fixture(scope="session")
def zpl_renderer() -> ZplRenderer:
    node = shutil.which("node")
    if node is None:
        pytest.skip(
            "Node.js is not installed; the ZPL render tests need it (apt-get install nodejs)"
        )
    if not (ZPL_RENDER_DIR / "node_modules" / "zpl-renderer-js" / "package.json").is_file():
        pytest.skip(
            "zpl-renderer-js is not installed; run: npm ci --prefix tests/documents/zpl_render"
        )
    return ZplRenderer(node)
