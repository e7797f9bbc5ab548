"""Imports at warehouse scale (issue 9): orders/s, ratio to a plain insert, peak memory, refused scans.

For each size (20,000 and 100,000 orders; 1,000,000 with ``--long``) an NDJSON file of demo-like
orders (1-5 lines each, ~650 bytes an order) is written once, then, ``--runs`` times:

* **plain** -- a fresh station database (migrated, the same 5,000-product catalog), and the file
  read line by line with ``json.loads`` into orders, lines and one ``order.received`` event each,
  inserted with the same insert path the import uses (``adapters.db.bulk.insert_rows``, 2,000
  orders a statement) in ONE transaction, one commit. No validation, no checks, no staging: the
  floor for storing these rows. Benches are locked out all along (one write transaction).
* **import** -- the same fresh database, ``packstation import orders FILE`` as a warehouse runs
  it (the CLI in a subprocess), while a bench in another process scans every 50 ms (item,
  CMD-UNDO, ... through ``Terminal.scan``, each a durable write) and counts the scans refused
  (STORAGE_FAILED: no answer within the bench's 5 s busy timeout).

Each runs in its own process; its peak RSS is that process's ``ru_maxrss``. Printed per size:
the medians of orders/s (plain, import), their ratio, the import's peak RSS, the bench's scans,
refused scans and scan latency p99/max during the import. Targets: import >= 10,000 orders/s,
ratio >= 0.5, no scan refused, and the 1,000,000-order import under 300 MiB.

    .venv/bin/python bench/bench_imports.py                       # 20,000 and 100,000 orders, 3 runs
    .venv/bin/python bench/bench_imports.py --long                # and 1,000,000 (memory; one run)
    .venv/bin/python bench/bench_imports.py --sizes 50000 --runs 5
    .venv/bin/python bench/run.py imports                         # through the runner (default sizes)

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import mark, percentile, pressure, stall_pct

ROOT = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve()
CATALOG = 5_000
TARGET_PER_S = 10_000.0
TARGET_RATIO = 0.5
TARGET_LONG_RSS_MIB = 300.0
SCAN_EVERY_S = 0.05


# --- set-up -----------------------------------------------------------------------------------


def _config(data: Path) -> Any:
    from packstation.config import Config, StationConfig

    return Config(data_dir=data, station=StationConfig(id="BENCH-01", demo=False))


def _write_config(data: Path) -> Path:
    path = data.parent / f"{data.name}.toml"
    path.write_text(f'data_dir = "{data}"\n[station]\nid = "BENCH-01"\n[database]\nlocal = "{data / "packstation.db"}"\n',
                    encoding="utf-8")
    return path


def _products() -> list[dict[str, Any]]:
    from packstation import demo

    return demo.catalog(CATALOG, random.Random(7))


def prepare(data: Path, *, bench: bool) -> None:
    """A migrated station with the catalog (and, for a bench, the cartons, a packer and BIG-1)."""
    from packstation import demo
    from packstation.bootstrap import build_station
    from packstation.domain.identity import ActorKind
    from packstation.services import users
    from packstation.services.imports import import_records

    products = _products()
    with build_station(_config(data), seed_demo=False) as station:
        session = station.system_session(ActorKind.IMPORT, "bench")
        kinds = [("catalog", products), ("cartons", list(demo.CARTON_TYPES))]
        for kind, recs in kinds:
            report = import_records(station.ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(recs, 1)], kind)
            if not report.ok:
                raise SystemExit(f"{kind}: {report.rejected[:3]}")
        if bench:
            plain = next(p for p in products if p["tracking"] == "none")
            big = {**demo.orders(products, 1)[0], "order_id": "BIG-1", "tote": None,
                   "payment": {"method": "prepaid", "status": "paid"},
                   "lines": [{"sku": plain["sku"], "qty": 9999, "unit_price": "1.00"}]}
            assert import_records(station.ctx, session, "orders", [("record 1", big)], "big").ok
            users.add_user(station.ctx, station.system_session(), "Pat Packer", "packer", "PACKER-001")


def write_orders(path: Path, n: int) -> None:
    """*n* demo orders as NDJSON, written in slices (the generator never holds the file)."""
    from packstation import demo

    products = _products()
    rnd = random.Random(11)
    with path.open("w", encoding="utf-8") as f:
        done = 0
        while done < n:
            part = min(10_000, n - done)
            for i, rec in enumerate(demo.orders(products, part, rnd)[:part]):
                rec["order_id"] = f"SO-{1_000_001 + done + i}"
                rec["tote"] = None  # demo totes repeat every 1,000 orders; a real file's would not
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            done += part


# --- the measured processes ---------------------------------------------------------------------


def child_plain(data: Path, path: Path) -> dict[str, Any]:
    import uuid
    from datetime import UTC, datetime

    from packstation.adapters.db import tables as t
    from packstation.adapters.db.bulk import insert_rows
    from packstation.adapters.db.engine import make_engine

    engine = make_engine(f"sqlite:///{data / 'packstation.db'}")
    order_cols = [c.name for c in t.orders.columns if c.name not in (
        "lease_token", "lease_expires_at", "change_seq", "claimed_by", "claimed_user", "claimed_at")]
    line_cols = [c.name for c in t.order_lines.columns]
    event_cols = ["id", "kind", "order_id", "station_id", "user_name", "actor", "occurred_at", "payload"]
    start = time.perf_counter()
    now = datetime.now(UTC)
    n = 0
    with engine.begin() as conn:
        rows: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []

        def flush() -> None:
            insert_rows(conn, t.orders, rows, order_cols)
            insert_rows(conn, t.order_lines, lines, line_cols)
            insert_rows(conn, t.events, events, event_cols)
            rows.clear()
            lines.clear()
            events.clear()

        with path.open("rb") as f:
            for raw in f:
                o = json.loads(raw)
                c, a, pay = o["customer"], o["ship_to"], o["payment"]
                status = "on_hold" if pay["method"] == "prepaid" and pay["status"] != "paid" else "released"
                rows.append({
                    "order_id": o["order_id"], "channel": o["channel"], "placed_at": datetime.fromisoformat(o["placed_at"]),
                    "customer_name": c["name"], "customer_email": c.get("email", ""), "customer_phone": c.get("phone", ""),
                    "ship_name": a["name"], "ship_line1": a["line1"], "ship_line2": a.get("line2", ""),
                    "ship_city": a["city"], "ship_region": a.get("region", ""), "ship_postcode": a["postcode"],
                    "ship_country": a["country"], "currency": o["currency"], "payment_method": pay["method"],
                    "payment_status": pay["status"], "carrier": o["carrier"], "service": o.get("service", ""),
                    "tracking_number": o.get("tracking_number"), "tote": o.get("tote"), "status": status,
                    "wave_id": None, "content_hash": "", "created_at": now, "updated_at": now, "import_batch": None,
                    "label_zpl": None, "label_url": None})
                for i, ln in enumerate(o["lines"], 1):
                    lines.append({"order_id": o["order_id"], "line_no": i, "sku": ln["sku"], "qty": ln["qty"],
                                  "unit_price": ln["unit_price"], "packed_qty": 0, "short_qty": 0, "short_reason": None})
                events.append({"id": str(uuid.uuid4()), "kind": "order.received", "order_id": o["order_id"],
                               "station_id": "BENCH-01", "user_name": None, "actor": "import:bench", "occurred_at": now,
                               "payload": json.dumps({"channel": o["channel"], "status": status}, sort_keys=True)})
                n += 1
                if len(rows) >= 2000:
                    flush()
        flush()
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"orders": n, "seconds": seconds}


def child_import(config: Path, path: Path) -> dict[str, Any]:
    """``import_file`` exactly as ``packstation import orders FILE`` calls it (the station built first,
    as the plain insert's engine is, outside the clock)."""
    from packstation.bootstrap import build_station
    from packstation.config import load_config
    from packstation.domain.identity import ActorKind
    from packstation.services.imports import import_file

    with build_station(load_config(config), seed_demo=False) as station:
        session = station.system_session(ActorKind.IMPORT, "bench")
        start = time.perf_counter()
        report = import_file(station.ctx, session, "orders", path)
        seconds = time.perf_counter() - start
    return {"status": 0 if report.ok and report.created else 1, "seconds": seconds, "summary": report.summary(),
            "phases": report.timings}


def child_scanner(data: Path, barcode: str, stop: Path) -> dict[str, Any]:
    from packstation.bootstrap import build_station
    from packstation.domain.packing import Verdict

    station = build_station(_config(data), seed_demo=False)
    terminal = station.terminal()
    for code in ("PACKER-001", "BIG-1", "BOX-M"):
        terminal.scan(code)
    print("READY", flush=True)
    latencies: list[float] = []
    refused = 0
    other: list[str] = []
    n = 0
    while not stop.exists():
        code = barcode if n % 2 == 0 else "CMD-UNDO"
        t0 = time.perf_counter()
        out = terminal.scan(code)
        latencies.append((time.perf_counter() - t0) * 1000)
        n += 1
        if out.verdict is Verdict.STORAGE_FAILED:
            refused += 1
        elif out.verdict not in (Verdict.ACCEPTED, Verdict.UNDONE):
            other.append(f"{out.verdict.value}: {out.message}")
        time.sleep(SCAN_EVERY_S)
    station.close()
    return {"scans": n, "refused": refused, "other": other[:3],
            "p99_ms": percentile(latencies, 99) if latencies else 0.0, "max_ms": max(latencies, default=0.0)}


def _child(argv: list[str]) -> int:
    what, *rest = argv
    if what == "plain":
        out = child_plain(Path(rest[0]), Path(rest[1]))
    elif what == "import":
        out = child_import(Path(rest[0]), Path(rest[1]))
    else:
        out = child_scanner(Path(rest[0]), rest[1], Path(rest[2]))
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # a big file's reading process (services.import_reader), a child of the import's: its own peak
    out["reader_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("@@" + json.dumps(out), flush=True)
    return 0


def _spawn(*args: str, **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(THIS.parent)}
    return subprocess.Popen([sys.executable, str(THIS), "--child", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, **kw)


def _result(proc: subprocess.Popen[str], timeout: float | None = None) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("@@")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child failed ({proc.returncode}): {out[-2000:]}")
    return dict(json.loads(lines[-1][2:]))


# --- one size -----------------------------------------------------------------------------------


def measure(tmp: Path, n: int, runs: int) -> dict[str, Any]:
    path = tmp / f"orders-{n}.ndjson"
    print(f"  writing {n:,} orders…", flush=True)
    write_orders(path, n)
    size_mib = path.stat().st_size / 2**20
    template = tmp / f"template-{n}"
    prepare(template, bench=True)
    barcode = next(p for p in _products() if p["tracking"] == "none")["barcodes"][0]
    plains, imports, scans = [], [], []
    for run in range(1, runs + 1):
        for kind in ("plain", "import"):
            data = tmp / f"{kind}-{n}-{run}"
            data.mkdir()
            for name in ("packstation.db",):
                (data / name).write_bytes((template / name).read_bytes())
            if kind == "plain":
                plains.append(_result(_spawn("plain", str(data), str(path))))
                print(f"  run {run}: plain  {n / plains[-1]['seconds']:9,.0f} orders/s", flush=True)
                continue
            stop = tmp / f"stop-{n}-{run}"
            scanner = _spawn("scanner", str(data), barcode, str(stop))
            assert scanner.stdout is not None
            if scanner.stdout.readline().strip() != "READY":
                raise SystemExit("the scanning bench did not start")
            before = pressure()
            imp = _result(_spawn("import", str(_write_config(data)), str(path)))
            stall = stall_pct(before, imp["seconds"])
            stop.touch()
            scan = _result(scanner, timeout=120)
            if imp["status"] != 0:
                raise SystemExit(f"the import failed with status {imp['status']}")
            imp["stall"] = stall
            imports.append(imp)
            scans.append(scan)
            print(f"  run {run}: import {n / imp['seconds']:9,.0f} orders/s, peak RSS {imp['peak_rss_mib']:.0f} MiB "
                  f"(its reading process {imp['reader_rss_mib']:.0f} MiB), "
                  f"bench {scan['scans']} scans, {scan['refused']} refused, p99 {scan['p99_ms']:.1f} ms "
                  f"(stalled: cpu {stall.get('cpu', 0):.0f} %, io {stall.get('io', 0):.0f} %); "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in imp["phases"].items()), flush=True)
    plain_s = statistics.median(p["seconds"] for p in plains)
    import_s = statistics.median(i["seconds"] for i in imports)
    ratios = [p["seconds"] / i["seconds"] for p, i in zip(plains, imports, strict=True)]
    return {
        "n": n, "mib": size_mib, "plain_per_s": n / plain_s, "import_per_s": n / import_s,
        "ratio": statistics.median(ratios), "ratios": ratios,
        "rss": max(i["peak_rss_mib"] for i in imports), "plain_rss": max(p["peak_rss_mib"] for p in plains),
        "reader_rss": max(i["reader_rss_mib"] for i in imports),
        "scans": sum(s["scans"] for s in scans), "refused": sum(s["refused"] for s in scans),
        "other": [o for s in scans for o in s["other"]],
        "p99_ms": max(s["p99_ms"] for s in scans), "max_ms": max(s["max_ms"] for s in scans),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return _child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20000,100000", help="orders per file, comma-separated")
    parser.add_argument("--long", action="store_true", help="also the 1,000,000-order file (memory; one run)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (the median is reported)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-imports-", dir=os.environ.get("PACKSTATION_DATA_DIR")) as tmp:
        for n in sizes:
            print(f"{n:,} orders, {args.runs} run(s):", flush=True)
            results.append(measure(Path(tmp), n, args.runs))
        if args.long:
            print("1,000,000 orders (the long run, for memory), 1 run:", flush=True)
            results.append(measure(Path(tmp), 1_000_000, 1))
    ok = True
    print()
    print(f"{'orders':>10} {'file':>8} {'plain/s':>9} {'import/s':>9} {'ratio':>6} {'peak RSS':>9} "
          f"{'scans':>6} {'refused':>8} {'scan p99/max':>14}")
    for r in results:
        fast = r["import_per_s"] >= TARGET_PER_S
        good = r["ratio"] >= TARGET_RATIO
        none_refused = r["refused"] == 0 and not r["other"]
        # both processes of a pipelined import count: the import's peak plus its reading process's
        small = r["n"] < 1_000_000 or r["rss"] + r["reader_rss"] < TARGET_LONG_RSS_MIB
        ok &= fast and good and none_refused and small
        print(f"{r['n']:>10,} {r['mib']:>5.0f} MiB {r['plain_per_s']:>9,.0f} {r['import_per_s']:>9,.0f} "
              f"{r['ratio']:>6.2f} {r['rss']:>5.0f} MiB {r['scans']:>6} {r['refused']:>8} "
              f"{r['p99_ms']:>6.0f}/{r['max_ms']:.0f} ms")
        print(f"{'':>10}   targets: >= {TARGET_PER_S:,.0f}/s {mark(fast)}, ratio >= {TARGET_RATIO} {mark(good)} "
              f"(runs: {', '.join(f'{x:.2f}' for x in r['ratios'])}), no scan refused {mark(none_refused)}"
              + (f", peak RSS (import + reading process) < {TARGET_LONG_RSS_MIB:.0f} MiB {mark(small)}"
                 if r["n"] >= 1_000_000 else "")
              + f"; reading process peak RSS {r['reader_rss']:.0f} MiB; plain insert peak RSS {r['plain_rss']:.0f} MiB")
        if r["other"]:
            print(f"{'':>10}   unexpected verdicts at the bench: {r['other'][:3]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
