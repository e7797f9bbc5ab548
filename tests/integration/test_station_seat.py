"""One running station per data folder and per station id (issue 9: two windows over-packed an order).

Each "window" here is a real process that takes the station the way ``packstation`` does
(``Station.occupy``) and then waits; the second start must be refused, naming the first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from packstation.bootstrap import StationBusy, build_station
from packstation.config import load_config

HOLD = textwrap.dedent("""
    import sys, time
    from packstation.bootstrap import build_station
    from packstation.config import load_config
    station = build_station(load_config(sys.argv[1]), seed_demo=False)
    station.occupy()
    print("READY", flush=True)
    time.sleep(600)
""")


def config(tmp_path: Path, name: str, *, station_id: str = "BENCH-01", database: Path | None = None) -> Path:
    data = tmp_path / name
    data.mkdir()
    db = f'\n[database]\nlocal = "{database}"\n' if database else ""
    path = tmp_path / f"{name}.toml"
    path.write_text(f'data_dir = "{data}"\n[station]\nid = "{station_id}"\n{db}', encoding="utf-8")
    return path


def hold(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "READY", proc.stderr.read() if proc.stderr else line
    return proc


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    proc.send_signal(sig)
    proc.wait(20)


def test_a_second_window_on_the_same_data_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    cfg = config(tmp_path, "bench")
    first = hold(cfg)
    try:
        second = build_station(load_config(cfg), seed_demo=False)
        with pytest.raises(StationBusy) as refused:
            second.occupy()
        second.close()
        assert f"pid {first.pid}" in str(refused.value) and "already running" in str(refused.value)
    finally:
        stop(first)
    again = build_station(load_config(cfg), seed_demo=False)  # once the first is gone, it starts
    again.occupy()
    again.close()


def test_the_same_station_id_on_a_shared_database_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared.db"
    first = hold(config(tmp_path, "pc1", database=shared))
    try:
        other = build_station(load_config(config(tmp_path, "pc2", database=shared)), seed_demo=False)
        with pytest.raises(StationBusy) as refused:
            other.occupy()
        other.close()
        assert "Station BENCH-01 is already running" in str(refused.value)
        assert f"pid {first.pid}" in str(refused.value)
        # another station id on the same database is fine
        third = build_station(load_config(config(tmp_path, "pc3", station_id="BENCH-02", database=shared)),
                              seed_demo=False)
        third.occupy()
        third.close()
    finally:
        stop(first)


def test_a_restart_after_a_crash_does_not_wait_for_the_seat_to_expire(tmp_path: Path) -> None:
    shared = tmp_path / "shared.db"
    cfg = config(tmp_path, "bench", database=shared)
    crashed = hold(cfg)
    stop(crashed, signal.SIGKILL)  # no release: the seat row stays, the folder lock goes with the process
    assert not _alive(crashed.pid)
    station = build_station(load_config(cfg), seed_demo=False)
    station.occupy()
    with station.uow(readonly=True) as uow:
        events = [e for e in uow.events.since(station.ctx.clock().replace(year=2000)) if e.kind == "station.started"]
    assert events[-1].payload.get("took_over_from")
    station.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
