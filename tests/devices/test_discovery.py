"""`devices list` sources: CUPS queues through `lpstat -e`, serial ports through pyserial."""

from __future__ import annotations

import os
import stat
import sys

from packstation.adapters.devices import discovery


def _fake(bin_dir, name: str, body: str) -> None:
    script = bin_dir / name
    script.write_text(f"#!{sys.executable}\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_cups_queues_come_from_lpstat(tmp_path, monkeypatch):
    _fake(
        tmp_path,
        "lpstat",
        "import sys\nassert sys.argv[1:] == ['-e']\nprint('Zebra_GK420d')\nprint('Office')",
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert [f.path for f in discovery.cups_queues()] == ["cups://Zebra_GK420d", "cups://Office"]


def test_no_lpstat_means_no_queues(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert discovery.cups_queues() == []


def test_cli_list_shows_every_kind(tmp_path, monkeypatch, capsys):
    from packstation.cli import main

    _fake(tmp_path, "lpstat", "print('Labels')")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(
        discovery, "serial_ports", lambda: [discovery.Found("serial", "/dev/ttyUSB0", "FTDI")]
    )
    monkeypatch.setattr(
        discovery, "hid_devices", lambda: [discovery.Found("hid", "/dev/hidraw0", "DYMO M10")]
    )
    assert main(["devices", "list"]) == 0
    out = capsys.readouterr().out
    assert "/dev/ttyUSB0" in out and "/dev/hidraw0" in out and "cups://Labels" in out
