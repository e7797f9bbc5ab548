"""A bench that scans without pause, in a process of its own, until told to stop.

    python tests/integration/scan_worker.py DATA_DIR STATION_ID ORDER_ID BARCODE STOP_FILE

Logs PACKER-001 in, opens ORDER_ID and a BOX-M carton through ``Terminal.scan`` (as the window
does), prints ``READY``, then scans BARCODE and CMD-UNDO in turn (each a durable write of the
station database) until STOP_FILE exists. Prints one JSON line at the end: scans, refused
(verdict STORAGE_FAILED: the database did not answer within the bench's 5 s), other unexpected
verdicts, and the latencies. Used by the tests of big imports (a scan during an import must
never be refused).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(data_dir: str, station_id: str, order_id: str, barcode: str, stop_file: str) -> int:
    from packstation.bootstrap import build_station
    from packstation.config import Config, StationConfig
    from packstation.domain.packing import Verdict

    station = build_station(Config(data_dir=Path(data_dir), station=StationConfig(id=station_id, demo=False)),
                            seed_demo=False)
    terminal = station.terminal()
    for code, wanted in (("PACKER-001", Verdict.LOGGED_IN), (order_id, Verdict.ORDER_OPENED),
                         ("BOX-M", Verdict.CARTON_OPENED)):
        out = terminal.scan(code)
        if out.verdict is not wanted:
            print(json.dumps({"error": f"{code}: {out.verdict.value} {out.message}"}), flush=True)
            return 1
    print("READY", flush=True)
    stop = Path(stop_file)
    scans = refused = 0
    other: list[str] = []
    refusals: list[str] = []
    latencies: list[float] = []
    while not stop.exists():
        code = barcode if scans % 2 == 0 else "CMD-UNDO"
        start = time.perf_counter()
        out = terminal.scan(code)
        latencies.append((time.perf_counter() - start) * 1000)
        scans += 1
        if out.verdict is Verdict.STORAGE_FAILED:
            refused += 1
            refusals.append(out.message)
        elif out.verdict not in (Verdict.ACCEPTED, Verdict.UNDONE):
            other.append(f"{code}: {out.verdict.value} {out.message}")
    latencies.sort()
    p99 = latencies[max(0, -(-len(latencies) * 99 // 100) - 1)] if latencies else 0.0
    print(json.dumps({"scans": scans, "refused": refused, "refusals": refusals[:3], "other": other[:5],
                      "max_ms": round(latencies[-1], 1) if latencies else 0.0, "p99_ms": round(p99, 1)}), flush=True)
    station.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
