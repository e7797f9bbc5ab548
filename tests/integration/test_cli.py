"""The ``packstation`` command line: import, status, the progress bar, and the console path.

Most tests call ``packstation.cli.main([...])`` in-process with a ``--config`` TOML file that
points at a temp SQLite database; one runs ``python -m packstation`` as a real subprocess and
one runs it under a pseudo-terminal to see the progress bar.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest

from packstation import demo
from packstation.cli import main
from packstation.cli.imports import ProgressBar, progress_for
from packstation.config import load_config
from packstation.services.packing import claim_next_order

FIXTURES = Path(__file__).parents[1] / "fixtures"
REPO = Path(__file__).parents[2]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A TOML config for a station whose database is a fresh file under tmp_path."""
    data = tmp_path / "data"
    hf.new_station(data).close()
    path = tmp_path / "station.toml"
    path.write_text(
        f'data_dir = "{data}"\n[station]\nid = "BENCH-07"\nname = "Bench 7"\n'
        f'[database]\nlocal = "{data / "packstation.db"}"\n',
        encoding="utf-8",
    )
    return path


def _cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _station(config: Path) -> Any:
    from packstation.bootstrap import build_station

    return build_station(load_config(config), seed_demo=False)


def _import_samples(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    for kind, name in (("catalog", "catalog.json"), ("cartons", "cartons.csv"), ("orders", "orders.ndjson")):
        code, out, err = _cli(capsys, config, "import", kind, str(FIXTURES / name))
        assert code == 0, out + err


# --- import -------------------------------------------------------------------------------------


def test_import_prints_a_summary_and_succeeds(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    code, out, err = _cli(capsys, config_file, "import", "catalog", str(FIXTURES / "catalog.json"))
    assert code == 0, err
    assert out.strip() == "catalog.json: 5 catalog record(s): 5 new, 0 updated, 0 unchanged."
    assert "[" not in err  # no progress bar when stderr is not a terminal
    code, out, _ = _cli(capsys, config_file, "import", "catalog", str(FIXTURES / "catalog.csv"))
    assert code == 0
    assert out.strip() == "catalog.csv: 5 catalog record(s): 0 new, 0 updated, 5 unchanged."


def test_import_lists_each_rejected_record_and_fails(capsys: pytest.CaptureFixture[str], config_file: Path, tmp_path: Path) -> None:
    _import_samples(capsys, config_file)
    lines = (FIXTURES / "orders.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",1,89.00", ",none,89.00")  # ZAL-88001 second line: bad qty
    lines[4] = lines[4].replace("cod,pending", "cod,paid")  # COD-9002: contradictory payment
    bad = tmp_path / "orders.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = _counts(config_file)
    code, out, err = _cli(capsys, config_file, "import", "orders", str(bad))
    assert code == 1
    assert "3 of 4 orders record(s) rejected; nothing was imported" in out
    assert "  rejected line 2 (ZAL-88001): lines[2].qty must be a whole number, got 'none'" in out
    assert "  rejected line 5 (COD-9002): payment: cash on delivery cannot already be paid" in out
    # the order's second row still says "pending": the file contradicts itself
    assert "  rejected line 6: order_id COD-9002 repeats with different payment than line 5" in out
    assert _counts(config_file) == before


def test_import_of_an_unreadable_file_fails_with_what_to_do(capsys: pytest.CaptureFixture[str], config_file: Path, tmp_path: Path) -> None:
    utf16 = tmp_path / "catalog.csv"
    utf16.write_bytes((FIXTURES / "catalog.csv").read_text(encoding="utf-8").encode("utf-16"))
    code, out, err = _cli(capsys, config_file, "import", "catalog", str(utf16))
    assert code == 2 and out == ""
    assert "catalog.csv is UTF-16 text, not UTF-8. Save it as UTF-8" in err
    assert "Nothing was imported." in err
    code, _, err = _cli(capsys, config_file, "import", "catalog", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read" in err
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config_file), "import", "products", str(FIXTURES / "catalog.json")])
    assert exit_.value.code == 2
    assert "invalid choice: 'products'" in capsys.readouterr().err
    assert _counts(config_file)["products"] == 0


def test_console_script_path_in_a_subprocess(config_file: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("PACKSTATION_CONFIG", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "packstation", "--config", str(config_file), *args],
                              capture_output=True, text=True, timeout=120, env=env, cwd=REPO)

    for kind, name in (("catalog", "catalog.csv"), ("cartons", "cartons.csv"), ("orders", "orders.csv")):
        res = run("import", kind, str(FIXTURES / name))
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith(f"{name}: ")
    res = run("import", "returns", str(FIXTURES / "returns.json"))  # WEB-5001 is not imported
    assert res.returncode == 1
    assert "rejected record 1 (RMA-7001): order WEB-5001 does not exist" in res.stdout
    res = run("status", "ZAL-88001", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "released"
    res = run("status", "NOPE-1")
    assert res.returncode == 1 and "No order 'NOPE-1'" in res.stderr


def _counts(config: Path) -> dict[str, int]:
    station = _station(config)
    try:
        return hf.table_counts(station)
    finally:
        station.close()


# --- the progress bar ---------------------------------------------------------------------------


def test_progress_bar_draws_in_place_and_ends_its_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    bar(0, 200)
    bar(100, 200)
    bar(200, 200)
    assert stream.getvalue() == "\r[..........]   0%\r[#####.....]  50%\r[##########] 100%\n"
    stopped = io.StringIO()
    bar = ProgressBar(stopped, width=10)
    bar(50, 200)
    bar.close()  # the import stopped early (rejections): the line still ends
    bar.close()
    assert stopped.getvalue() == "\r[##........]  25%\n"


def test_progress_bar_only_on_a_terminal() -> None:
    assert progress_for(io.StringIO()) is None
    master, slave = pty.openpty()
    try:
        with open(slave, "w", closefd=False) as tty:
            assert isinstance(progress_for(tty), ProgressBar)
    finally:
        os.close(master)
        os.close(slave)


def _read_all(fd: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if chunk:
                out += chunk
                continue
        if proc.poll() is not None and not ready:
            break
        if ready and not chunk:
            break
    return out


def test_progress_bar_appears_on_a_tty_and_not_when_piped(config_file: Path, tmp_path: Path) -> None:
    big = tmp_path / "catalog.ndjson"
    big.write_text("\n".join(json.dumps(r) for r in demo.catalog(4000)) + "\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "packstation", "--config", str(config_file), "import", "catalog", str(big)]
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, cwd=REPO)
        os.close(slave)
        tty = _read_all(master, proc)
        stdout = proc.stdout.read() if proc.stdout else b""
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.stdout:
            proc.stdout.close()
        os.close(master)
    assert b"\r[" in tty and b"] 100%" in tty and b"#" * 40 in tty
    assert b"[" not in stdout and b"4000 new" in stdout  # the summary stays clean on stdout
    piped = subprocess.run(cmd, capture_output=True, timeout=120, cwd=REPO)
    assert piped.returncode == 0
    assert b"%" not in piped.stderr and b"\r" not in piped.stderr
    assert b"4000 unchanged" in piped.stdout


# --- status ORDER_ID --json ------------------------------------------------------------------------


def test_status_json_after_packing_through_the_bench(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    _import_samples(capsys, config_file)
    station = _station(config_file)
    try:
        hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
        bench = hf.login(station, hf.BADGE)
        outcomes = hf.pack_order(bench, "AMZ-302-7781", carton="BOX-M")
    finally:
        station.close()
    acked = [o.data["scan_id"] for o in outcomes if o.verdict.value == "accepted"]
    sealed = outcomes[-1].data

    code, out, err = _cli(capsys, config_file, "status", "amz-302-7781", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["order_id"] == "AMZ-302-7781" and doc["status"] == "packed" and doc["claimed_by"] is None
    assert "source" not in doc and "lease" not in doc  # a standalone station: no centre, no lease (issue 10)
    assert doc["tracking_number"] == "1Z999AA10123456784"
    assert doc["placed_at"] == "2026-11-20T10:02:31+00:00"
    [carton] = doc["cartons"]
    assert carton["type"] == "BOX-M" and carton["status"] == "closed"
    assert carton["weight_g"] == sealed["measured_g"] == 280 + 820 + 140
    assert carton["sscc"] == sealed["sscc"] and len(carton["sscc"]) == 18
    assert "tracking_number" in carton
    lines = {ln["sku"]: ln for ln in doc["lines"]}
    assert (lines["SH-2002"]["packed"], lines["EL-2005"]["packed"]) == (1, 1)
    [serial_scan] = lines["EL-2005"]["scans"]
    assert serial_scan["serial"] and serial_scan["serial"].startswith("S")
    assert serial_scan["carton"] == 1 and serial_scan["user"] == "Pat Packer"
    assert sorted(s["id"] for ln in doc["lines"] for s in ln["scans"]) == sorted(acked)
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds[0] == "order.received" and kinds[-1] == "order.packed"
    assert kinds.count("scan.recorded") == 2 and "carton.opened" in kinds and "carton.closed" in kinds
    assert all(e["at"].endswith("+00:00") for e in doc["events"])
    assert doc["events"][0]["actor"].startswith("import:")  # the CLI import names the OS user
    assert {e["actor"] for e in doc["events"][1:]} == {"person:Pat Packer"}

    code, out, _ = _cli(capsys, config_file, "status", "AMZ-302-7781")
    assert code == 0
    assert "Order AMZ-302-7781: packed (UPS Standard)" in out
    assert f"SSCC {carton['sscc']}" in out


def test_status_of_a_lot_tracked_order_shows_lots_and_expiry(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    _import_samples(capsys, config_file)
    station = _station(config_file)
    try:
        hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
        hf.pack_order(hf.login(station, hf.BADGE), "WEB-5001")
    finally:
        station.close()
    code, out, _ = _cli(capsys, config_file, "status", "WEB-5001", "--json")
    assert code == 0
    serum = next(ln for ln in json.loads(out)["lines"] if ln["sku"] == "CO-2003")
    assert serum["scans"][0]["lot"].startswith("L") and serum["scans"][0]["expiry"] == "2039-12-31"


def test_status_of_an_unknown_order(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    code, out, err = _cli(capsys, config_file, "status", "SO-404", "--json")
    assert code == 1 and out == ""
    assert "No order 'SO-404'" in err and "Check the order number" in err


def test_status_by_tote(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    _import_samples(capsys, config_file)
    assert _cli(capsys, config_file, "import", "orders", str(FIXTURES / "orders.csv"))[0] == 0
    code, out, _ = _cli(capsys, config_file, "status", "TOTE-101", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["order_id"] == "ZAL-88001" and [ln["qty"] for ln in doc["lines"]] == [3, 1]
    assert doc["payment"] == {"method": "prepaid", "status": "paid", "currency": "EUR"}
    code, out, err = _cli(capsys, config_file, "status", "SO-404", "--json")
    assert code == 1 and out == ""
    assert "No order 'SO-404'" in err and "Check the order number" in err


def test_order_times_are_stored_in_utc_so_the_oldest_is_claimed_first(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    """COD-9001 was placed at 12:05+05:30 (06:35 UTC), before WEB-5001 at 09:15+01:00 (08:15 UTC)."""
    _import_samples(capsys, config_file)
    station = _station(config_file)
    try:
        hf.add_user(station, "Pat Packer", "packer", hf.BADGE)
        pack = claim_next_order(station.ctx, station.ctx.auth.login(hf.BADGE))
        assert pack is not None and pack.order.order_id == "COD-9001"
    finally:
        station.close()
