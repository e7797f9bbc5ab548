"""End to end at the dispatch dock: the real window under Xvfb, every code typed by xdotool.

The demo station (``python -m packstation``, no config: its simulated DHL account) packs a DHL
order typed at the bench, the dock hand logs in, opens the DHL manifest, loads the carton by its
label's SSCC, and closes the manifest. ``packstation status`` and ``packstation manifest list``
then read back what the window did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from packstation.bootstrap import build_station
from packstation.cli import main as cli_main
from packstation.config import Config, StationConfig
from packstation.demo import plain_orders

pytestmark = pytest.mark.xvfb


def xdotool(*args: str, timeout: float = 30) -> str:
    return subprocess.run(["xdotool", *args], check=True, capture_output=True, text=True, timeout=timeout).stdout


def scan(code: str) -> None:
    xdotool("type", "--delay", "5", code)
    xdotool("key", "Return")


def plain_dhl_order(data_dir: Path) -> tuple[str, list[str]]:
    """A released DHL demo order whose products need no lot or serial, and the codes that pack it."""
    station = build_station(Config(station=StationConfig(demo=True), data_dir=data_dir))
    try:
        with station.uow(readonly=True) as uow:
            found = plain_orders(uow, "DHL")
        assert found, "no plain DHL order in the demo data"
        order, products = found[0]
    finally:
        station.close()
    codes = [order.order_id, "BOX-XL"]
    for line in order.lines:
        codes += [products[line.sku].barcodes[0]] * line.qty
    return order.order_id, codes + ["CMD-CLOSE-CARTON"]


def status(order_id: str, capsys) -> dict:
    capsys.readouterr()
    assert cli_main(["status", order_id, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def wait_for(what, check, proc, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert proc.poll() is None, f"the window died: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.2)
    return value


def test_pack_then_load_and_close_a_manifest_typed_at_the_dock(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("PACKSTATION_DATA_DIR", str(data_dir))
    monkeypatch.delenv("PACKSTATION_CONFIG", raising=False)
    order_id, codes = plain_dhl_order(data_dir)
    env = {**os.environ, "PACKSTATION_DATA_DIR": str(data_dir), "PACKSTATION_SOUND": "off"}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("PACKSTATION_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "packstation"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wid = xdotool("search", "--sync", "--onlyvisible", "--name", "packstation — ", timeout=60).split()[0]
        xdotool("windowfocus", "--sync", wid)
        scan("PACKER-001")
        for code in codes:
            scan(code)
        packed = wait_for("packing", lambda: (s := status(order_id, capsys))["status"] == "packed" and s, proc)
        [carton] = packed["cartons"]
        assert carton["label_carrier"] == "DHL" and carton["tracking_number"].startswith("00340434")
        scan("CMD-LOGOUT")
        scan("DISPATCH-001")
        scan("CARRIER-DHL")
        scan(carton["sscc"])
        scan(carton["sscc"])  # again: already loaded, nothing changes
        scan("CMD-CLOSE-MANIFEST")
        done = wait_for("the hand-over", lambda: (s := status(order_id, capsys))["status"] == "handed_over" and s, proc)
        # the manifest's print job commits with the close; the print worker writes the PDF after it
        manifest_pdf = data_dir / "documents" / "manifests" / "M-000001.pdf"
        wait_for("the manifest PDF", lambda: manifest_pdf.exists() and manifest_pdf.stat().st_size > 0, proc)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    kinds = [e["kind"] for e in done["events"]]
    assert kinds.count("manifest.carton_loaded") == 1 and "dock.refused" in kinds
    assert [s["stage"] for s in done["stages"]][-3:] == ["packing", "packed", "handed_over"]
    capsys.readouterr()
    assert cli_main(["manifest", "list", "--json"]) == 0
    [manifest] = json.loads(capsys.readouterr().out)
    assert manifest["code"] == "M-000001" and manifest["cartons"][0]["sscc"] == carton["sscc"]
    assert manifest_pdf.read_bytes().startswith(b"%PDF")
    assert "Traceback" not in err, err
