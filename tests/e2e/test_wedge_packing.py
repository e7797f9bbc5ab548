"""End to end: the real station window under Xvfb, barcodes typed by xdotool like a wedge scanner.

The window runs as its own process (``python -m packstation``) on a fresh demo database; the
test types each code with ``xdotool type --delay 5`` + Return, exactly as a keyboard-wedge
scanner does, then reads the result back with ``packstation status ORDER --json``.
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

pytestmark = pytest.mark.xvfb


def xdotool(*args: str, timeout: float = 30) -> str:
    return subprocess.run(["xdotool", *args], check=True, capture_output=True, text=True,
                          timeout=timeout).stdout


def scan(code: str) -> None:
    xdotool("type", "--delay", "5", code)
    xdotool("key", "Return")


def plan_order(data_dir: Path) -> tuple[str, list[str]]:
    """A released demo order with several lines, and every code a packer scans to pack it."""
    from packstation.demo import catalog, orders

    station = build_station(Config(station=StationConfig(demo=True), data_dir=data_dir))
    try:
        today = station.ctx.clock().date()
        with station.uow(readonly=True) as uow:
            for record in orders(catalog()):
                order = uow.orders.get(record["order_id"])
                if order and order.status.value == "released" and len(order.lines) >= 2 \
                        and order.payment_method == "prepaid":
                    break
            products = uow.catalog.products(ln.sku for ln in order.lines)
            lots = {ln.sku: [lot.lot for lot in uow.catalog.lots(ln.sku) if lot.expiry is None or lot.expiry >= today]
                    for ln in order.lines}
    finally:
        station.close()
    codes = [order.order_id, "BOX-XL"]
    for n, line in enumerate(order.lines):
        product = products[line.sku]
        for unit in range(line.qty):
            codes.append(product.barcodes[0].lstrip("0") if len(product.barcodes[0]) == 14 else product.barcodes[0])
            tracking = product.tracking.value
            if tracking in ("lot", "lot_expiry"):
                codes.append(lots[line.sku][0])  # a lot the stock knows (its expiry comes from stock)
            if tracking == "serial":
                codes.append(f"SN{n}X{unit}E2E")
    codes.append("CMD-CLOSE-CARTON")
    return order.order_id, codes


def order_status(order_id: str, capsys) -> dict:
    capsys.readouterr()
    assert cli_main(["status", order_id, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_pack_a_whole_order_typed_by_a_wedge_scanner(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("PACKSTATION_DATA_DIR", str(data_dir))
    monkeypatch.delenv("PACKSTATION_CONFIG", raising=False)
    order_id, codes = plan_order(data_dir)

    env = {**os.environ, "PACKSTATION_DATA_DIR": str(data_dir), "PACKSTATION_SOUND": "off"}
    env.pop("QT_QPA_PLATFORM", None)  # a real X window this time
    env.pop("PACKSTATION_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "packstation"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wid = xdotool("search", "--sync", "--onlyvisible", "--name", "packstation — ", timeout=60).split()[0]
        xdotool("windowfocus", "--sync", wid)
        scan("PACKER-001")
        for code in codes:
            scan(code)
        deadline = time.monotonic() + 60
        while (status := order_status(order_id, capsys))["status"] != "packed":
            assert proc.poll() is None, f"the window died: {proc.communicate()[1]}"
            assert time.monotonic() < deadline, f"order not packed after the scans: {status}"
            time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert all(line["packed"] == line["qty"] for line in status["lines"]), status["lines"]
    assert len(status["cartons"]) == 1 and status["cartons"][0]["sscc"]
    kinds = [e["kind"] for e in status["events"]]
    assert kinds.count("scan.recorded") == sum(line["qty"] for line in status["lines"])
    assert "order.packed" in kinds
    assert "Traceback" not in err, err
