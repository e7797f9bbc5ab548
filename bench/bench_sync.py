"""Central sync benchmark (issue 10): drain a station's backlog of 50,000 events into the centre.

A station packs offline until its outbox holds 50,000 events: orders claimed, cartons opened, item
scans, cartons sealed, labels and slips queued, orders packed, all through the packing use cases
on its SQLite database (generation only runs with ``synchronous=OFF``, to save time; the drain
uses the station's own engine: WAL, ``synchronous=FULL``). The centre is a private PostgreSQL
(tests/pg_server.py, fsync off as for the tests) set up by ``central init``, with the same catalog
and orders imported; the station pushes as the station role that ``central init`` creates.

Measured, per run (each on a fresh central database and a fresh copy of the station's file):

- **drain**: ``push_all()`` until the centre has every event (batches of 500, doubling up to 8,000
  while they come back full, as a station drains a backlog): the events applied (scans
  into cartons, line counts, stock movements, carton seals, order statuses through the lifecycle)
  and the station's answers stored. Events per second.
- **raw INSERT**: the same 50,000 event rows inserted into an empty central ``events`` table with
  executemany in pages of 500, one transaction per page (what storing them costs without applying
  anything, without reading or answering the station), right after the drain on the same server.
  The ratio drain / raw INSERT is held against the target; COPY of the same rows is shown too.
- **fixed batches** (information): the same drain in batches of 500 throughout.
- **event by event** (information): the first 5,000 events drained with ``batched=False`` (every
  event in its own SAVEPOINT on the central unit of work's repositories).

    .venv/bin/python bench/bench_sync.py          # 3 runs, medians (about 2-3 minutes)
    .venv/bin/python bench/bench_sync.py 1        # one run
    .venv/bin/python bench/bench_sync.py 1 --keep-backlog /tmp/backlog.db   # pack the backlog once, reuse it
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlib import mark, pressure, stall_pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENTS = 50_000
BATCH = 500
RUNS = 3
EVENT_BY_EVENT = 5_000
TARGET_PER_S = 10_000.0
TARGET_RATIO = 0.3
LINES, UNITS = 4, 4  # per order: 4 lines of 4 units -> 16 item scans, ~23 events per order
STATION = "BENCH-01"


def _pg_server() -> Any:
    spec = importlib.util.spec_from_file_location("bench_pg_server", ROOT / "tests" / "pg_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the data both sides get ---------------------------------------------------------------------


def _ean13(n: int) -> str:
    from packstation.domain.barcodes import with_check_digit

    return with_check_digit(f"591{n:09d}")


def _catalog() -> list[dict[str, Any]]:
    products = [{"sku": f"SKU-{i:04d}", "name": f"Product {i}", "barcodes": [_ean13(i)], "weight_g": 100 + i % 400,
                 "location": f"A-{i % 40:02d}-{i % 7:02d}", "tracking": "lot" if i % 5 == 0 else "none"}
                for i in range(200)]
    return products


def _lots(products: list[dict[str, Any]]) -> list[Any]:
    from packstation.domain.model import StockLot

    return [StockLot(p["sku"], f"L{p['sku'][-4:]}", None, f"R-{p['sku'][-2:]}", 1000)
            for p in products if p["tracking"] == "lot"]


CARTONS = [{"code": "BOX-M", "name": "Medium box", "tare_g": 280, "inner_mm": {"l": 350, "w": 250, "h": 150},
            "max_weight_g": 20000}]


def _orders(products: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        picks = [products[(i * 7 + k * 13) % len(products)] for k in range(LINES)]
        out.append({
            "order_id": f"SO-{i:06d}", "channel": "shop-web", "placed_at": "2026-11-20T08:00:00+00:00",
            "customer": {"name": f"Customer {i}", "email": f"c{i}@example.com", "phone": "+31 6 1234"},
            "ship_to": {"name": f"Customer {i}", "line1": "Keizersgracht 1", "city": "Amsterdam", "postcode": "1015 CJ",
                        "country": "NL"},
            "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL", "service": "Paket",
            "lines": [{"sku": p["sku"], "qty": UNITS, "unit_price": "9.95"} for p in picks],
        })
    return out


def _context(uow: Any, station_id: str) -> tuple[Any, Any]:
    """A context on *uow* and a command-line session (imports, set-up)."""
    from packstation.adapters.db.staging import StagingFolder
    from packstation.domain.identity import ActorKind
    from packstation.services.auth import Authenticator
    from packstation.services.context import Context

    auth = Authenticator(uow, station_id, lambda: datetime.now(UTC), key=b"bench-sync-key")
    return Context(uow=uow, auth=auth, station_id=station_id, staging=StagingFolder(None)), auth.system(ActorKind.IMPORT, "bench")


def _import(ctx: Any, session: Any, products: list[dict[str, Any]], orders: list[dict[str, Any]]) -> None:
    from packstation.services.imports import import_records

    for kind, records in (("catalog", products), ("cartons", CARTONS), ("orders", orders)):
        report = import_records(ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(records, 1)],
                                f"bench {kind}")
        if not report.ok:
            raise SystemExit(f"{kind} import failed: {report.rejected[:3]}")
    with ctx.uow() as u:
        u.catalog.put_lots(_lots(products))
        u.commit()


# --- the station's backlog -----------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=300)
        return self.now


def _documents() -> Any:
    from packstation.domain.documents import Address
    from packstation.domain.print_jobs import PrintJob
    from packstation.services.printing import Documents

    class TextDocuments(Documents):
        """Labels and slips as a line of text: the events are the same, rendering is not measured."""

        ship_from = Address(name="Bench Warehouse", line1="Havenweg 1", city="Rotterdam", postcode="3089 JK",
                            country="NL")

        def label(self, data: Any, *, reason: str) -> PrintJob:
            return PrintJob(id="", printer="label", target="file:///dev/null", kind="shipping_label",
                            ref=f"{data.order_id}/{data.sscc}", payload=b"label", reason=reason)

        def packing_slip(self, data: Any, *, reason: str) -> PrintJob:
            return PrintJob(id="", printer="document", target="file:///dev/null", kind="packing_slip",
                            ref=data.order_id, payload=b"slip", reason=reason)

        def credit_note(self, data: Any, *, reason: str) -> PrintJob:
            return PrintJob(id="", printer="document", target="file:///dev/null", kind="credit_note",
                            ref=data.number, payload=b"credit note", reason=reason)

    return TextDocuments()


def make_backlog(folder: Path, products: list[dict[str, Any]], orders: list[dict[str, Any]]) -> tuple[Path, int, float]:
    """Pack orders at a station until its outbox holds EVENTS events; returns (file, events, seconds)."""
    from dataclasses import replace

    from sqlalchemy import event, func, select

    from packstation.adapters.db import tables as t
    from packstation.bootstrap import build_station
    from packstation.config import Config, DatabaseConfig, StationConfig
    from packstation.domain.barcodes import interpret
    from packstation.services import packing, users

    db = folder / "station.db"
    station = build_station(Config(station=StationConfig(id=STATION), database=DatabaseConfig(local=f"sqlite:///{db}"),
                                   data_dir=folder), seed_demo=False, clock=_Clock())
    engine = station._engine
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
    engine.dispose()
    cli = station.system_session()
    _import(station.ctx, cli, products, orders)
    users.add_user(station.ctx, cli, "Bench Packer", "packer", "PACKER-B1")
    ctx = replace(station.ctx, documents=_documents())
    weights = {p["sku"]: p["weight_g"] for p in products}
    codes = {p["sku"]: p["barcodes"][0] for p in products}
    lots = {p["sku"]: f"L{p['sku'][-4:]}" for p in products if p["tracking"] == "lot"}
    start = time.perf_counter()
    pat = ctx.auth.login("PACKER-B1")
    count = 0
    for o in orders:
        pack = packing.claim_order(ctx, pat, o["order_id"])
        assert packing.open_carton(ctx, pat, pack, "BOX-M").accepted
        for line in o["lines"]:
            for _ in range(line["qty"]):
                out = packing.record_item_scan(ctx, pat, pack, interpret(codes[line["sku"]]))
                if line["sku"] in lots:
                    out = packing.record_detail(ctx, pat, pack, lots[line["sku"]])
                assert out.verdict.value == "accepted", out.message
        grams = 280 + sum(weights[ln["sku"]] * ln["qty"] for ln in o["lines"])
        assert packing.close_carton(ctx, pat, pack, grams).data.get("order_complete"), o["order_id"]
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(t.events)).scalar_one()
        if count >= EVENTS:
            break
    seconds = time.perf_counter() - start
    station.close()  # the last connection closed: SQLite checkpoints the WAL into the file
    if db.with_name(db.name + "-wal").exists():
        raise SystemExit("the station's WAL was not checkpointed: the copies would miss events")
    return db, int(count), seconds


# --- one run -------------------------------------------------------------------------------------


def _central(server: Any, products: list[dict[str, Any]], orders: list[dict[str, Any]]) -> tuple[str, str]:
    """A fresh central database with the data imported; returns (admin url, station url)."""
    from packstation.adapters.central.schema import init_central
    from packstation.adapters.db.engine import make_engine
    from packstation.adapters.db.numbers import LocalBlocks
    from packstation.adapters.db.uow import SqlUnitOfWork

    name = server.create_database()
    admin_url = server.url(name)
    engine = make_engine(admin_url)
    init_central(engine, station_password="bench")

    def admin(*, readonly: bool = False) -> Any:
        return SqlUnitOfWork(engine, "CENTRE", LocalBlocks(), readonly=readonly)

    _import(*_context(admin, "CENTRE"), products, orders)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return admin_url, f"postgresql+psycopg://packstation_station:bench@127.0.0.1:{server.port}/{name}"


def drain(station_db: Path, station_url: str, *, batched: bool = True, limit: int | None = None,
          fixed: int | None = None) -> tuple[int, float, Any]:
    """Push the station's whole backlog (``push_all``: batches of 500 growing to 8,000 while full),
    or *limit* events in batches of *fixed*; returns (events, seconds, report)."""
    from dataclasses import replace

    from packstation.adapters.central.outbox import SqlCentralOutbox
    from packstation.adapters.db.engine import make_engine, postgres_engine
    from packstation.adapters.db.numbers import LocalBlocks
    from packstation.adapters.db.uow import SqlUnitOfWork
    from packstation.domain.identity import ActorKind
    from packstation.services.auth import Authenticator
    from packstation.services.context import Context
    from packstation.services.sync.push import PushReport, push_all, push_once

    local = make_engine(f"sqlite:///{station_db}")
    central = postgres_engine(station_url, application_name=f"packstation:{STATION}")

    def uow(*, readonly: bool = False) -> Any:
        return SqlUnitOfWork(local, STATION, LocalBlocks(), readonly=readonly)

    def central_uow(*, readonly: bool = False) -> Any:
        return SqlUnitOfWork(central, STATION, LocalBlocks(), readonly=readonly)

    auth = Authenticator(uow, STATION, lambda: datetime.now(UTC), key=b"bench-sync-key")
    ctx = Context(uow=uow, auth=auth, station_id=STATION, central=central_uow)
    worker = auth.system(ActorKind.SYSTEM, "sync-worker")
    outbox = SqlCentralOutbox(central_uow)
    if not batched:
        class EventByEvent(SqlCentralOutbox):
            def begin(self, station_id: str, events: Any, *, batched: bool = True) -> Any:
                return super().begin(station_id, events, batched=False)

        outbox = EventByEvent(central_uow)
    ctx = replace(ctx)
    start = time.perf_counter()
    if fixed is None:
        report = push_all(ctx, worker, outbox, batch=BATCH)
    else:
        report = PushReport()
        while report.sent < (limit or EVENTS):
            once = push_once(ctx, worker, outbox, batch=fixed, centre_has=report.last_seq)
            report.merge(once)
            if once.sent == 0:
                break
    seconds = time.perf_counter() - start
    local.dispose()
    central.dispose()
    return report.sent, seconds, report


def raw_insert(server: Any, station_db: Path) -> tuple[int, float, float]:
    """The same event rows into an empty central events table: executemany pages, then COPY.
    Returns (rows, INSERT seconds, COPY seconds)."""
    from sqlalchemy import create_engine, insert, select

    from packstation.adapters.db import tables as t
    from packstation.adapters.db.engine import make_engine, migrate

    src = create_engine(f"sqlite:///{station_db}")
    with src.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(t.events).order_by(t.events.c.seq)).mappings()]
    src.dispose()
    received = datetime.now(UTC)
    for r in rows:
        r.pop("seq")
        r.update(sync_state="applied", sync_reason=None, pushed_at=None, received_at=received)
    name = server.create_database()
    engine = make_engine(server.url(name))
    migrate(engine)
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            conn.execute(insert(t.events), rows[i:i + BATCH])
    insert_s = time.perf_counter() - start
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE events")
    cols = list(rows[0])
    start = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY events ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for r in rows:
                copy.write_row([r[c] for c in cols])
        raw.commit()
    finally:
        raw.close()
    copy_s = time.perf_counter() - start
    engine.dispose()
    server.drop_database(name)
    return len(rows), insert_s, copy_s


def _count(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def _check(admin_url: str, events: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url)
    with engine.connect() as conn:
        n, ids, applied = conn.execute(text("SELECT count(*), count(DISTINCT id), count(*) FILTER "
                                            "(WHERE sync_state = 'applied') FROM events WHERE station_id = :s"),
                                       {"s": STATION}).one()
        scans = conn.execute(text("SELECT count(*) FROM scans")).scalar_one()
        packed = conn.execute(text("SELECT count(*) FROM orders WHERE status = 'packed'")).scalar_one()
    engine.dispose()
    if (n, ids, applied) != (events, events, events):
        raise SystemExit(f"the centre has {n} events ({ids} distinct, {applied} applied), expected {events}")
    print(f"  check: centre has {n} events, all applied once; {scans} scans, {packed} orders packed")


def main() -> int:
    args = sys.argv[1:]
    keep = None
    if "--keep-backlog" in args:  # reuse (or make and keep) the backlog file: packing it takes a while
        i = args.index("--keep-backlog")
        keep = Path(args[i + 1])
        del args[i:i + 2]
    runs = int(args[0]) if args else RUNS
    pg = _pg_server()
    bindir = pg.find_bindir()
    if bindir is None:
        print(pg.NOT_INSTALLED)
        return 1
    server = pg.PgServer(bindir)
    server.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        products = _catalog()
        orders = _orders(products, EVENTS // 20)
        if keep is not None and keep.exists():
            backlog, events, gen_s = keep, _count(keep), 0.0
            print(f"backlog: {events:,} events at {STATION} (kept in {keep})")
        else:
            backlog, events, gen_s = make_backlog(tmp / "gen", products, orders)
            print(f"backlog: {events:,} events at {STATION} ({gen_s:.1f} s to pack them, synchronous=OFF)")
            if keep is not None:
                shutil.copy(backlog, keep)
        rates, ratios, copy_ratios = [], [], []
        before, began = pressure(), time.perf_counter()
        for run in range(1, runs + 1):
            copy = tmp / f"run{run}.db"
            shutil.copy(backlog, copy)
            admin_url, station_url = _central(server, products, orders)
            cpu0 = time.process_time()
            sent, seconds, report = drain(copy, station_url)
            cpu = time.process_time() - cpu0
            if not report.drained or report.refused or report.held:
                raise SystemExit(f"drain did not finish cleanly: {report}")
            _check(admin_url, events)
            rows, insert_s, copy_s = raw_insert(server, copy)
            rate = sent / seconds
            raw_rate, copy_rate = rows / insert_s, rows / copy_s
            rates.append(rate)
            ratios.append(rate / raw_rate)
            copy_ratios.append(rate / copy_rate)
            print(f"  run {run}: drain {sent:,} events in {seconds:.2f} s = {rate:,.0f}/s ({report.batches} batches, "
                  f"client CPU {cpu / sent * 1e6:.0f} µs/event); "
                  f"raw INSERT {raw_rate:,.0f}/s, COPY {copy_rate:,.0f}/s; ratio {rate / raw_rate:.2f} "
                  f"(to COPY {rate / copy_rate:.2f})")
        stalls = stall_pct(before, time.perf_counter() - began)
        copy = tmp / "fixed.db"
        shutil.copy(backlog, copy)
        _, station_url = _central(server, products, orders)
        sent, seconds, _ = drain(copy, station_url, fixed=BATCH)
        fixed = sent / seconds
        copy = tmp / "one-by-one.db"
        shutil.copy(backlog, copy)
        _, station_url = _central(server, products, orders)
        sent, seconds, _ = drain(copy, station_url, batched=False, limit=EVENT_BY_EVENT, fixed=BATCH)
        one_by_one = sent / seconds
        rate, ratio = statistics.median(rates), statistics.median(ratios)
        ok_rate, ok_ratio = rate >= TARGET_PER_S, ratio >= TARGET_RATIO
        print()
        print(f"{'measurement':<58}{'figure':<28}{'target':<16}")
        print(f"{'drain 50,000-event backlog, median of ' + str(runs):<58}{f'{rate:,.0f} events/s':<28}"
              f"{'>= 10,000/s':<16}{mark(ok_rate)}")
        print(f"{'drain / raw batched INSERT of the same rows, median':<58}{f'{ratio:.2f}':<28}{'>= 0.3':<16}"
              f"{mark(ok_ratio)}")
        print(f"{'drain / COPY of the same rows, median':<58}{f'{statistics.median(copy_ratios):.2f}':<28}")
        print(f"{'drain in fixed batches of 500 (no growth), one run':<58}{f'{fixed:,.0f} events/s':<28}")
        print(f"{'event by event (savepoint each), first 5,000':<58}{f'{one_by_one:,.0f} events/s':<28}")
        print("machine stalled during the runs: " + ", ".join(f"{k} {v:.0f} %" for k, v in stalls.items()))
        return 0 if ok_rate and ok_ratio else 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
