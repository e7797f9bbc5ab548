"""The Qt binding itself must survive a shift of scans.

PySide6 6.12.0 drops a reference to ``None`` on every call of a Qt method that returns
nothing; on Python 3.11 (where ``None`` is not immortal) the station aborted with
"Fatal Python error: none_dealloc" after about a thousand scans. pyproject.toml excludes that
release; this test fails if such a binding is installed again.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label, timer = QLabel(), QTimer()
before = sys.getrefcount(None)
for _ in range(3000):
    label.setText("ACCEPTED")
    timer.start(1000)
    app.processEvents()
print(sys.getrefcount(None) - before)
"""


def test_qt_calls_keep_their_references_to_none() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    lost = -int(run.stdout.strip().splitlines()[-1])
    assert lost < 100, f"{lost} references to None lost in 9,000 Qt calls: this Qt binding crashes long shifts"
