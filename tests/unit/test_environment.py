"""The test environment is what the other tests assume: a real font, no access to user data.

Without a real font Qt falls back to boxes and every text-width or label-layout test would
measure nothing; these checks make such a machine fail loudly instead of passing silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import platformdirs
import pytest


def test_qt_runs_offscreen() -> None:
    assert os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "xcb", "minimal")


def test_dejavu_font_is_available_to_qt(qapp: object) -> None:
    from PySide6.QtGui import QFont, QFontDatabase, QFontInfo

    families = QFontDatabase.families()
    assert any("dejavu" in family.lower() for family in families), (
        f"Qt sees no DejaVu font (families: {families[:20]}); "
        "apt-get install fonts-dejavu-core fontconfig"
    )
    resolved = QFontInfo(QFont("DejaVu Sans")).family()
    assert resolved == "DejaVu Sans", f"QFont('DejaVu Sans') resolved to {resolved!r}"


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fc-list not installed")
def test_fontconfig_lists_dejavu() -> None:
    out = subprocess.run(["fc-list"], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "dejavu" in out.lower(), "fontconfig knows no DejaVu font: apt-get install fonts-dejavu-core"


def test_data_folder_is_a_temp_folder_not_the_users() -> None:
    from packstation.config import default_data_dir

    data_dir = default_data_dir()
    assert data_dir == Path(os.environ["PACKSTATION_DATA_DIR"])
    real = Path(platformdirs.user_data_dir("packstation", appauthor=False))
    assert data_dir != real
    assert "PACKSTATION_CONFIG" not in os.environ


@pytest.mark.xvfb
def test_x_display_is_a_real_x_server() -> None:
    out = subprocess.run(
        ["xdotool", "getdisplaygeometry"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, f"xdotool cannot talk to DISPLAY={os.environ.get('DISPLAY')}: {out.stderr}"
    width, height = (int(v) for v in out.stdout.split())
    assert width > 0 and height > 0


@pytest.mark.xvfb
def test_qt_opens_a_real_x_window_that_xdotool_finds() -> None:
    """The xcb platform plugin loads (all its Debian libraries present) and maps a window."""
    import sys
    import uuid

    title = f"packstation-env-check-{uuid.uuid4().hex[:8]}"
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "app = QApplication(sys.argv)\n"
        "w = QLabel('environment check'); w.setWindowTitle(sys.argv[1]); w.show()\n"
        "sys.stdout.write('shown\\n'); sys.stdout.flush()\n"
        "sys.stdin.readline()\n"  # stay up until the test closes stdin
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, title],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        first = proc.stdout.readline()
        if first != "shown\n":
            proc.kill()
            _, err = proc.communicate(timeout=60)
            pytest.fail(f"Qt could not open an xcb window: {err[-2000:]}")
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--name", title],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert found.returncode == 0 and found.stdout.strip(), f"no X window titled {title}"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=60)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
