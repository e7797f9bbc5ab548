"""End to end: a returned parcel worked at the returns desk of the real window under Xvfb, every code
typed by xdotool like a keyboard-wedge scanner; read back with ``packstation returns show --json``.

The demo order SO-10004 is packed at a bench and delivered beforehand (through the use cases), its
return announced by the shop's file; the window runs as its own process with a folder camera.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest

from packstation.bootstrap import build_station
from packstation.cli import main as cli_main
from packstation.config import load_config
from packstation.domain.identity import ActorKind
from packstation.domain.packing import Verdict
from packstation.services.imports import import_records

pytestmark = pytest.mark.xvfb
ORDER = "SO-10004"


def xdotool(*args: str, timeout: float = 30) -> str:
    return subprocess.run(["xdotool", *args], check=True, capture_output=True, text=True, timeout=timeout).stdout


def scan(code: str) -> None:
    xdotool("type", "--delay", "5", code)
    xdotool("key", "Return")


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x30\x60\x90" * 10 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def prepare(config_path: Path) -> dict[str, str]:
    """Pack ORDER at a bench, deliver it, announce its return; the codes the clerk will scan."""
    station = build_station(load_config(config_path))
    try:
        bench = station.terminal()
        for code in ("PACKER-001", ORDER, "BOX-L"):
            bench.scan(code)
        with station.uow(readonly=True) as uow:
            order = uow.orders.get(ORDER)
            products = uow.catalog.products(ln.sku for ln in order.lines)
            today = station.ctx.clock().date()
            lots = {ln.sku: [x.lot for x in uow.catalog.lots(ln.sku) if x.expiry is None or x.expiry >= today]
                    for ln in order.lines}
        codes: dict[str, str] = {}
        for ln in order.lines:
            product = products[ln.sku]
            codes[product.tracking.value] = product.barcodes[0]
            codes[f"sku:{product.tracking.value}"] = ln.sku
            outcome = bench.scan(product.barcodes[0])
            if outcome.verdict is Verdict.NEEDS_LOT:
                outcome = bench.scan(lots[ln.sku][0])
            if outcome.verdict is Verdict.NEEDS_SERIAL:
                outcome = bench.scan("SNE2E1")
            assert outcome.verdict is Verdict.ACCEPTED, outcome.message
        asked = bench.scan("CMD-CLOSE-CARTON")
        assert bench.handler.close_with_weight(int(asked.data["expected_g"])).verdict is Verdict.ORDER_COMPLETE
        shop = station.system_session(ActorKind.IMPORT, "shop")
        for kind, record in (("tracking", {"order_id": ORDER, "status": "delivered", "at": "2026-12-01T12:00:00Z"}),
                             ("returns", {"rma_id": "RMA-E2E", "order_id": ORDER, "reason": "no longer needed",
                                          "status": "picked", "lines": [{"sku": codes["sku:none"], "qty": 1},
                                                                        {"sku": codes["sku:serial"], "qty": 1}]})):
            assert import_records(station.ctx, shop, kind, [("record 1", record)], "e2e").ok
    finally:
        station.close()
    return codes


def shown(config_path: Path, capsys) -> dict:
    capsys.readouterr()
    assert cli_main(["--config", str(config_path), "returns", "show", "RMA-E2E", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_returned_parcel_worked_by_scans_typed_into_the_window(tmp_path, monkeypatch, capsys):
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "photo.png").write_bytes(png())
    config_path = tmp_path / "station.toml"
    config_path.write_text(textwrap.dedent(f"""\
        data_dir = "{tmp_path / 'data'}"
        [station]
        demo = true
        [returns]
        camera = "folder:{camera}"
    """), encoding="utf-8")
    monkeypatch.delenv("PACKSTATION_CONFIG", raising=False)
    codes = prepare(config_path)
    if len(codes["none"]) == 14:
        codes["none"] = codes["none"].lstrip("0")  # typed as printed under the barcode (EAN-13)
    if len(codes["serial"]) == 14:
        codes["serial"] = codes["serial"].lstrip("0")

    env = {**os.environ, "PACKSTATION_CONFIG": str(config_path), "PACKSTATION_SOUND": "off"}
    env.pop("QT_QPA_PLATFORM", None)  # a real X window
    proc = subprocess.Popen([sys.executable, "-m", "packstation"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wid = xdotool("search", "--sync", "--onlyvisible", "--name", "packstation — ", timeout=60).split()[0]
        xdotool("windowfocus", "--sync", wid)
        for code in ("RETURNS-001", f"RET-{ORDER}",
                     codes["serial"], "SNNEVER1",  # a serial that never left in the order: refused
                     codes["serial"], "SNE2E1", "RET-PHOTO", "GRADE-B", "DISP-RESTOCK", "DISP-RESTOCK",
                     codes["none"], "GRADE-A", "DISP-BSTOCK", "RES-CREDIT"):
            scan(code)
        deadline = time.monotonic() + 60
        while (state := shown(config_path, capsys))["status"] != "closed":
            assert proc.poll() is None, f"the window died: {proc.communicate()[1]}"
            assert time.monotonic() < deadline, f"return not closed after the scans: {state}"
            time.sleep(0.3)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    lines = {ln["sku"]: ln for ln in state["lines"]}
    serial = lines[codes["sku:serial"]]
    assert (serial["received"], serial["grade"], serial["disposition"], len(serial["photos"])) == (1, "B", "restock", 1)
    assert lines[codes["sku:none"]]["disposition"] == "b_stock"
    assert state["credit_note"] == "CN-MAIN-BENCH-01-000001"
    assert [m["sku"] for m in state["movements"]] == [codes["sku:serial"]]
    kinds = [e["kind"] for e in state["events"]]
    assert kinds.count("return.item_received") == 2 and "return.closed" in kinds
    assert "Traceback" not in err, err
