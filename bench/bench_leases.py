"""Central leases benchmark (issue 10): claim latency with 20 benches at once, and scans while the
central database is unreachable, as a ratio to a standalone station, in the same run.

A private PostgreSQL server is started for the run (``tests/pg_server.py``) and set up as a centre
by ``central init``; stations connect as its station role. Every bench is a process of its own,
built by ``build_station`` from a config with a local SQLite database (a copy of one stocked
template: what a pull would have left) and ``[database] central``, and works through the use
cases (``packing.claim_order``, ``record_item_scan``), exactly as at a bench.

- **claim latency**: 20 bench processes run at once and each claims 40 orders of its own per mode
  (no two benches want the same order: the normal case), timed around ``packing.claim_order``:
  the central lease (its own short transaction) plus the local claim. *Concurrent*: each bench
  claims at random moments (exponential pauses, mean 250 ms: 80 claims/s in all, far more than a
  warehouse's benches make); held against the target. *In step*: every 250 ms all 20 claim at the
  same instant (a burst: 20 claims in flight at once). *Back to back*: all 20 claim as fast as they
  can (a stress figure). The central part alone (``LeaseRepository.take`` in its transaction, the
  20 benches in step) is timed too. First, as references, one synced bench alone and one
  standalone bench (no central database: the claim as it was before leases), at random moments. NOTE: here the 20 benches' own work shares the machine's
  two cores with the centre; at a warehouse each bench is a computer of its own.
- **scans with the centre unreachable**: a bench claims an order of 1,000 units online, then its
  network is cut (a network namespace whose traffic nftables drops, as a dead switch port; where
  that is impossible the server is stopped instead, and the output says so) and it scans the
  1,000 units while the lease heartbeat keeps trying the centre in a thread (as the worker would).
  The same scans at a standalone station (no central database) and at a synced one whose centre
  is reachable (heartbeat running), in the same run; 7 runs each, alternating; the ratio of the
  median p99s (unreachable / standalone) is held against the target.

    .venv/bin/python bench/bench_leases.py          # about 2-3 minutes
    .venv/bin/python bench/bench_leases.py claim    # or: scan
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchlib import mark, percentile, pressure, stall_pct

ROOT = Path(__file__).resolve().parent.parent

STATIONS = 20
CLAIMS_EACH = 40  # per station and mode
TICK_S = 0.25
SCAN_LINES, SCAN_QTY = 50, 20  # one order of 1,000 units
SCAN_RUNS = 7
HEARTBEAT_EVERY_S = 1.0  # far more often than the real 40 s: the worst a heartbeat could do to scans
PASSWORD = "bench-station"

TARGET_CLAIM_P99_MS = 20.0
TARGET_OFFLINE_RATIO = 1.2


def _load(name: str, path: Path) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _pg() -> ModuleType:
    return _load("packstation_tests_pg_server", ROOT / "tests" / "pg_server.py")


def _netns() -> ModuleType:
    return _load("packstation_tests_netns", ROOT / "tests" / "netns.py")


# --- the data ----------------------------------------------------------------------------------


def _products() -> list[dict[str, Any]]:
    from packstation.demo import catalog

    return [p for p in catalog(200, random.Random(7)) if p["tracking"] == "none"][:SCAN_LINES]


def _order(order_id: str, lines: dict[str, int], n: int) -> dict[str, Any]:
    return {"order_id": order_id, "channel": "shop-web", "placed_at": f"2026-03-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}+00:00",
            "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234"},
            "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin", "postcode": "10115",
                        "country": "DE"},
            "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL", "service": "Paket",
            "lines": [{"sku": sku, "qty": qty, "unit_price": "9.95"} for sku, qty in lines.items()]}


MODES = ("concurrent", "in_step", "back_to_back")


PER_STATION = CLAIMS_EACH * len(MODES) + 1  # + one to warm up with


def _claim_orders() -> list[str]:
    return [f"SO-C{i:05d}" for i in range((STATIONS + 2) * PER_STATION)]  # + one bench alone, synced and standalone


def _stock(url: str, data_dir: Path) -> None:
    from packstation.bootstrap import build_station
    from packstation.config import Config, DatabaseConfig, StationConfig
    from packstation.demo import CARTON_TYPES
    from packstation.domain.identity import ActorKind
    from packstation.services import users
    from packstation.services.imports import import_records

    products = _products()
    sku = products[0]["sku"]
    records = [_order(order_id, {sku: 1}, n) for n, order_id in enumerate(_claim_orders())]
    records += [_order(f"SO-SCAN{kind}{run}", {p["sku"]: SCAN_QTY for p in products}, run)
                for run in range(SCAN_RUNS) for kind in ("", "ON")]
    with build_station(Config(station=StationConfig(id="STOCK"), database=DatabaseConfig(local=url), data_dir=data_dir),
                       seed_demo=False) as station:
        session = station.system_session(ActorKind.IMPORT)
        for kind, rows in (("catalog", products), ("cartons", CARTON_TYPES), ("orders", records)):
            report = import_records(station.ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(rows, 1)],
                                    f"bench {kind}")
            assert report.ok, report.rejected[:3]
        users.add_user(station.ctx, session, "Pat Packer", "packer", "PACKER-001")


# --- the bench processes -----------------------------------------------------------------------


def _build(args: dict[str, Any]) -> Any:
    from packstation.bootstrap import build_station
    from packstation.config import Config, DatabaseConfig, StationConfig

    return build_station(Config(station=StationConfig(id=args["station"], name=args["station"]),
                                database=DatabaseConfig(local=args["local"], central=args.get("central", "")),
                                data_dir=Path(args["data_dir"])), seed_demo=False)


def _say(obj: Any) -> None:
    print("@@" + json.dumps(obj), flush=True)


def _child_claim(args: dict[str, Any]) -> None:
    """Claim the given orders in each mode (see the module doc), then time the central take alone."""
    from packstation.services import leases, packing

    station = _build(args)
    ctx = station.ctx
    pat = ctx.auth.login("PACKER-001")
    packing.claim_order(ctx, pat, args["warm_up"])  # a running station's statements are compiled, its pool open
    _say({"ready": True})
    start_at = float(sys.stdin.readline())  # the same wall-clock instant for every bench
    pauses = random.Random(args["station"])
    out: dict[str, list[float]] = {mode: [] for mode in (*MODES, "central")}

    def until(at: float) -> None:
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)

    def timed(mode: str, order_id: str) -> None:
        t0 = time.perf_counter()
        packing.claim_order(ctx, pat, order_id)
        out[mode].append((time.perf_counter() - t0) * 1000)

    mode_s = CLAIMS_EACH * TICK_S + 2.0  # each mode starts at the same instant at every bench
    reference = bool(args.get("reference"))  # a bench alone: random moments only, then the central take
    for order_id in args["concurrent"]:
        time.sleep(pauses.expovariate(1 / TICK_S))
        timed("concurrent", order_id)
    if not reference:
        until(start_at + 2 * mode_s)
        for k, order_id in enumerate(args["in_step"]):
            until(start_at + 2 * mode_s + k * TICK_S)
            timed("in_step", order_id)
        until(start_at + 3 * mode_s)
        for order_id in args["back_to_back"]:
            timed("back_to_back", order_id)
        until(start_at + 5 * mode_s)
    for k, order_id in enumerate(args["concurrent"] if ctx.synced else []):
        # the central part alone: the holder taking its lease again (in step with the others)
        until(time.time() if reference else start_at + 5 * mode_s + k * TICK_S)
        t0 = time.perf_counter()
        with ctx.central() as cu:
            cu.leases.take(order_id, ctx.station_id, pat.name, leases.LEASE_TTL)
            cu.commit()
        out["central"].append((time.perf_counter() - t0) * 1000)
        if reference:
            time.sleep(pauses.expovariate(1 / TICK_S))
    station.close()
    _say(out)


def _child_scan(args: dict[str, Any]) -> None:
    """Claim the run's SO-SCAN order, wait for the go (the network is cut meanwhile, if synced), scan every unit."""
    from packstation.domain.barcodes import interpret
    from packstation.domain.identity import ActorKind
    from packstation.domain.packing import Verdict
    from packstation.services import leases, packing

    station = _build(args)
    ctx = station.ctx
    pat = ctx.auth.login("PACKER-001")
    pack = packing.claim_order(ctx, pat, args["order"])
    assert packing.open_carton(ctx, pat, pack, "BOX-XL").accepted
    codes = [p["barcodes"][0] for p in _products()]
    _say({"claimed": True})
    sys.stdin.readline()
    stop = threading.Event()
    beats: list[Any] = []
    if ctx.synced:
        system = ctx.auth.system(ActorKind.SYSTEM, "lease-heartbeat")

        def heartbeat() -> None:
            while not stop.wait(HEARTBEAT_EVERY_S):
                beats.append("tried")
                beats[-1] = leases.renew_leases(ctx, system).online  # blocks until the bench's timeouts give up

        worker = threading.Thread(target=heartbeat, daemon=True)
        worker.start()
    ms = []
    for n in range(SCAN_LINES * SCAN_QTY):
        code = interpret(codes[n % len(codes)])
        t0 = time.perf_counter()
        outcome = packing.record_item_scan(ctx, pat, pack, code)
        ms.append((time.perf_counter() - t0) * 1000)
        if outcome.verdict is not Verdict.ACCEPTED:
            raise SystemExit(f"scan {n}: {outcome.verdict} {outcome.message}")
    stop.set()
    _say({"ms": ms, "heartbeats": beats})
    os._exit(0)  # the heartbeat thread may be waiting on a dead network: do not wait for it


class _Child:
    def __init__(self, mode: str, args: dict[str, Any], prefix: list[str], log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen([*prefix, sys.executable, str(Path(__file__).resolve()), "--child", mode,
                                      json.dumps(args)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.path = log

    def read(self, timeout: float = 600) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = self.proc.stdout.readline() if ready else ""
            if not line:
                self.proc.kill()
                raise RuntimeError(f"bench process gave no answer: {self.path.read_text()[-1500:]}")
            if line.startswith("@@"):
                return json.loads(line[2:])

    def tell(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self) -> None:
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- measurements ------------------------------------------------------------------------------


def _copy(template: Path, folder: Path) -> str:
    folder.mkdir(parents=True)
    shutil.copyfile(template, folder / "station.db")
    return str(folder / "station.db")


def measure_claims(tmp: Path, template: Path, central_url: str | None, stations: int,
                   first: int = 0, reference: bool = False) -> dict[str, list[float]]:
    """*stations* bench processes (numbered from *first*, each with orders of its own) claiming at once."""
    orders = _claim_orders()
    children = []
    for i in range(first, first + stations):
        mine = orders[i * PER_STATION:(i + 1) * PER_STATION]
        folder = tmp / f"claim{i}"
        args: dict[str, Any] = {"station": f"BENCH-{i:02d}", "local": _copy(template, folder),
                                "central": central_url or "", "data_dir": str(folder / "data"), "warm_up": mine[-1],
                                "reference": reference}
        for k, mode in enumerate(MODES):
            args[mode] = mine[k * CLAIMS_EACH:(k + 1) * CLAIMS_EACH]
        children.append(_Child("claim", args, [], folder / "log.txt"))
    for child in children:
        child.read()
    start_at = time.time() + 1.0
    for child in children:
        child.tell(repr(start_at))
    results = [child.read() for child in children]
    for child in children:
        child.finish()
    return {key: [m for r in results for m in r[key]] for key in (*MODES, "central")}


def measure_scans(tmp: Path, template: Path, server: Any, central_url: str, ns: Any, run: int,
                  kind: str) -> dict[str, Any]:
    """One scan run: *kind* standalone (no centre), online (synced, reachable) or offline (synced, cut off)."""
    folder = tmp / f"scan{run}-{kind}"
    args = {"station": f"SCAN-{kind}-{run}", "local": _copy(template, folder), "data_dir": str(folder / "data"),
            "order": f"SO-SCAN{'ON' if kind == 'online' else ''}{run}"}
    if kind != "standalone":
        args["central"] = central_url
    child = _Child("scan", args, ns.command([]) if ns is not None and kind != "standalone" else [], folder / "log.txt")
    child.read()
    cut = kind
    if kind == "offline":
        if ns is not None:
            ns.cut()
            cut = "netns + nftables drop"
        else:
            _pg_ctl(server, "stop", "-m", "fast")
            cut = "server stopped"
    try:
        child.tell("go")
        got = child.read()
    finally:
        if kind == "offline" and ns is not None:
            ns.restore()
        elif kind == "offline":
            _pg_ctl(server, "start", "-l", str(server.logfile), "-w")
    child.finish()
    got["cut"] = cut
    return got


def _pg_ctl(server: Any, *argv: str) -> None:
    """Stop or start the bench's server, keeping its data (PgServer.stop would delete it)."""
    server._run("pg_ctl", argv[0], "-D", str(server.datadir), *argv[1:])


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        {"claim": _child_claim, "scan": _child_scan}[args[1]](json.loads(args[2]))
        return 0
    wanted = set(args) or {"claim", "scan"}
    sys.path.insert(0, str(ROOT))
    from packstation.adapters.central.schema import init_central
    from packstation.adapters.db.engine import make_engine

    pg, netns = _pg(), _netns()
    bindir = pg.find_bindir()
    if bindir is None:
        print(pg.NOT_INSTALLED)
        return 1
    ns = None
    why_not_netns = netns.unavailable()
    if why_not_netns is None:
        ns = netns.NetNamespace.create()
        server = netns.pg_server_for(ns)
    else:
        server = pg.PgServer(bindir)
    rows: list[tuple[str, str, str, str]] = []
    misses = 0

    def row(what: str, figure: str, target: str = "", ok: bool | None = None) -> None:
        nonlocal misses
        misses += ok is False
        rows.append((what, figure, target, "" if ok is None else mark(ok)))

    began, stalls = time.perf_counter(), pressure()
    with tempfile.TemporaryDirectory(prefix="packstation-bench-leases-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            server.start()
            database = server.create_database()
            engine = make_engine(server.url(database))
            init_central(engine, station_password=PASSWORD)
            engine.dispose()
            host = ns.host_addr if ns is not None else "127.0.0.1"
            central_url = f"postgresql+psycopg://packstation_station:{PASSWORD}@{host}:{server.port}/{database}"
            host_url = f"postgresql+psycopg://packstation_station:{PASSWORD}@127.0.0.1:{server.port}/{database}"
            template = tmp / "template.db"
            _stock(str(template), tmp / "stock")

            if "claim" in wanted:
                print(f"measuring claims: {STATIONS} bench processes x {CLAIMS_EACH} claims, in step and back to back…",
                      flush=True)
                alone = measure_claims(tmp, template, host_url, 1, first=STATIONS, reference=True)
                standalone = measure_claims(tmp, template, None, 1, first=STATIONS + 1, reference=True)
                for values, label in ((standalone["concurrent"], "claim, 1 standalone bench (no centre), at random moments"),
                                      (alone["concurrent"], "claim, 1 synced bench alone, at random moments"),
                                      (alone["central"], "central lease alone, 1 bench (take + commit)")):
                    row(f"{label} p50 / p99 / max ({len(values)})",
                        f"{statistics.median(values):.2f} / {percentile(values, 99):.2f} / {max(values):.1f} ms",
                        "(reference)")
                claims = measure_claims(tmp, template, host_url, STATIONS)
                for key, label, target in (
                        ("concurrent", f"claim, {STATIONS} benches at once", f"p99 <= {TARGET_CLAIM_P99_MS:g} ms"),
                        ("in_step", f"claim, {STATIONS} benches in step (bursts)", "(burst)"),
                        ("back_to_back", f"claim, {STATIONS} benches back to back", "(stress)"),
                        ("central", "central lease alone, in step (take + commit)", "")):
                    values = claims[key]
                    p99 = percentile(values, 99)
                    row(f"{label} p50 / p99 / max ({len(values)})",
                        f"{statistics.median(values):.2f} / {p99:.2f} / {max(values):.1f} ms", target,
                        p99 <= TARGET_CLAIM_P99_MS if key == "concurrent" else None)

            if "scan" in wanted:
                print(f"measuring scans: {SCAN_RUNS} runs each of {SCAN_LINES * SCAN_QTY:,} scans, standalone, "
                      "synced, and synced with the centre cut off…", flush=True)
                kinds = ("standalone", "online", "offline")
                p99s: dict[str, list[float]] = {kind: [] for kind in kinds}
                p50s: dict[str, list[float]] = {kind: [] for kind in kinds}
                cut_by, beats = "", []
                for run in range(SCAN_RUNS):
                    for kind in kinds:
                        got = measure_scans(tmp, template, server, central_url, ns, run, kind)
                        p99s[kind].append(percentile(got["ms"], 99))
                        p50s[kind].append(statistics.median(got["ms"]))
                        if kind == "offline":
                            cut_by = got["cut"]
                            beats += got["heartbeats"]
                labels = {"standalone": "standalone", "online": "synced, centre reachable",
                          "offline": f"synced, centre unreachable ({cut_by})"}
                for kind in kinds:
                    each = ", ".join(f"{v:.2f}" for v in p99s[kind])
                    row(f"scan p50 / p99, {labels[kind]} (p99 runs: {each})",
                        f"{statistics.median(p50s[kind]):.2f} / {statistics.median(p99s[kind]):.2f} ms")
                med = {kind: statistics.median(p99s[kind]) for kind in kinds}
                ratio = med["offline"] / med["standalone"]
                row("scan p99 ratio: unreachable / standalone (medians)", f"{ratio:.2f}",
                    f"<= {TARGET_OFFLINE_RATIO:g}", ratio <= TARGET_OFFLINE_RATIO)
                row("scan p99 ratio: unreachable / reachable (medians)", f"{med['offline'] / med['online']:.2f}")
                row("heartbeats during the cut-off scans: tried / answered offline / online",
                    f"{len(beats)} / {beats.count(False)} / {beats.count(True)}")
        finally:
            server.stop()
            if ns is not None:
                ns.destroy()
    span = time.perf_counter() - began
    stall = stall_pct(stalls, span)
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"\n{'measurement':<{width}}  {'figure':<30}  {'target':<18}")
    for what, figure, target, ok in rows:
        print(f"{what:<{width}}  {figure:<30}  {target:<18}  {ok}")
    print(f"note: over the run some task stalled waiting for CPU {stall.get('cpu', 0):.0f} % and for I/O "
          f"{stall.get('io', 0):.0f} % of the time ({span:.0f} s)")
    if why_not_netns:
        print(f"note: no network namespace ({why_not_netns}): the centre was made unreachable by stopping its server")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
