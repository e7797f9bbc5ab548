"""The README's first command, ``scripts/run-station``: a real X window where there is a display,
and a message saying what to do where there is none (a server, CI, ssh without -X).

These run the script itself (its set-up step is a no-op once scripts/run-tests has run it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

RUN_STATION = Path(__file__).resolve().parents[2] / "scripts" / "run-station"


def _run(env_changes: dict[str, str | None], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PACKSTATION_DATA_DIR": str(tmp_path / "data"), "PACKSTATION_QUIT_AFTER_SHOWN": "1"}
    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "PACKSTATION_CONFIG"):
        env.pop(name, None)  # the tests' offscreen platform must not hide the check
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(["bash", str(RUN_STATION)], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_without_a_display_it_says_so_and_how_to_start_anyway(tmp_path: Path) -> None:
    proc = _run({"DISPLAY": None}, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "no display found" in proc.stderr
    assert "xvfb-run -a scripts/run-station" in proc.stderr
    assert "QT_QPA_PLATFORM=offscreen scripts/run-station" in proc.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


def test_a_display_with_no_x_server_behind_it_is_named(tmp_path: Path) -> None:
    free = next(n for n in range(4242, 4300) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = _run({"DISPLAY": f":{free}"}, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert f"cannot open the X display DISPLAY=:{free}" in proc.stderr
    assert "Aborted" not in proc.stderr and "qt.qpa" not in proc.stderr  # not Qt's abort
    assert not (tmp_path / "data").exists()


@pytest.mark.xvfb
def test_on_a_real_x_display_the_window_opens(tmp_path: Path) -> None:
    """The xcb platform, as on a desktop (not offscreen): the station builds its demo data and
    shows its window (PACKSTATION_QUIT_AFTER_SHOWN makes it quit once shown)."""
    proc = _run({}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("window shown after "), proc.stdout
    assert (tmp_path / "data" / "packstation.db").is_file()
