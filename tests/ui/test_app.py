"""``packstation`` with no subcommand opens the window; the start-up probe prints and quits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def test_window_start_up_probe_prints_time_and_exits_zero(tmp_path: Path):
    env = {**os.environ, "PACKSTATION_DATA_DIR": str(tmp_path), "PACKSTATION_QUIT_AFTER_SHOWN": "1",
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PACKSTATION_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "packstation"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    match = re.fullmatch(r"window shown after (\d+\.\d{3}) s\n", proc.stdout)
    assert match, proc.stdout
    assert float(match.group(1)) > 0
    assert (tmp_path / "packstation.db").is_file()  # the demo station was built on first start


def test_process_age_counts_from_process_start():
    from packstation.ui.app import process_age_s

    first = process_age_s()
    second = process_age_s()
    assert 0 < first <= second


def test_a_database_that_cannot_be_opened_is_reported_and_exits_non_zero(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    config = tmp_path / "station.toml"
    config.write_text(f'[database]\nlocal = "{blocker}/sub/packstation.db"\n', encoding="utf-8")
    env = {**os.environ, "PACKSTATION_QUIT_AFTER_SHOWN": "1", "QT_QPA_PLATFORM": "offscreen",
           "PACKSTATION_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "packstation", "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "packstation: cannot start. The station database could not be opened" in proc.stderr
    assert "Check [database]" in proc.stderr
    assert "window shown" not in proc.stdout
