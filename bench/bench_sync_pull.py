"""Central pull benchmark (issue 10): how fast a synced station takes in the centre's changes.

A private PostgreSQL server (tests/pg_server.py) is set up by ``central init``; the centre gets a
catalog and orders through the repositories (as an import there does); a station on a fresh
SQLite file (``build_station`` with ``[database] central``, logged in as the station role) pulls:

- catch-up: every change of a new centre (products, then orders with their lines, then returns
  with a received item each), changes/s;
- incremental: 100 orders edited at the centre, then one pull: milliseconds, and changes/s;
- returns: 100 returns get an item received at another desk, then one pull (issue 12: a synced
  returns desk pulls each return whole): milliseconds.

    .venv/bin/python bench/bench_sync_pull.py            # PRODUCTS=2000 ORDERS=10000 RETURNS=2000, 3 runs

No target in the issue; the figures say what a station's first start on a busy centre costs and
what a poll costs once it is caught up. The machine is shared: run it a few times, read medians.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PRODUCTS = int(os.environ.get("PRODUCTS", 2000))
ORDERS = int(os.environ.get("ORDERS", 10_000))
RETURNS = int(os.environ.get("RETURNS", 2000))
RUNS = int(os.environ.get("RUNS", 3))
EDITS = 100
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _order(i: int):  # type: ignore[no-untyped-def]
    from packstation.domain.lifecycle import OrderStatus
    from packstation.domain.model import Address, Order, OrderLine

    lines = [OrderLine(n, f"SKU-{(i * 7 + n) % PRODUCTS:05d}", 1 + n % 3, Decimal("9.95")) for n in range(1, 4)]
    return Order(order_id=f"SO-{i:06d}", channel="shop-web", placed_at=NOW - timedelta(minutes=i),
                 customer_name="Anna Schmidt", customer_email="anna@example.com", customer_phone="+49 30 1234",
                 ship_to=Address("Anna Schmidt", "Hauptstraße 12", city="Berlin", postcode="10115", country="DE"),
                 currency="EUR", payment_method="prepaid", payment_status="paid", carrier="DHL", service="Paket",
                 tracking_number=None, status=OrderStatus.RELEASED, lines=lines)


def _item(i: int, n: int):  # type: ignore[no-untyped-def]
    from packstation.domain.returns import ReceivedItem

    return ReceivedItem(id=f"item-{i:06d}-{n}", rma_id=f"RMA-{i:06d}", order_id=f"SO-{i:06d}", line_no=1,
                        sku=f"SKU-{(i * 7 + 1) % PRODUCTS:05d}", qty=1, barcode="x", received_by="person:Rita",
                        station_id="RET-02", received_at=NOW)


def _returns(centre) -> None:  # type: ignore[no-untyped-def]
    from packstation.domain.lifecycle import ReturnStatus
    from packstation.domain.returns import Return, ReturnLine

    for start in range(0, RETURNS, 500):
        with centre.uow() as uow:
            for i in range(start, min(RETURNS, start + 500)):
                uow.returns.put(Return(f"RMA-{i:06d}", f"SO-{i:06d}", "too small", ReturnStatus.RECEIVED,
                                       [ReturnLine(1, f"SKU-{(i * 7 + 1) % PRODUCTS:05d}", 2)]), f"fp-r{i}", NOW)
                uow.returns.add_item(_item(i, 1))
            uow.commit()


def run_once(server, tmp: Path) -> tuple[float, int, float, int, float]:  # type: ignore[no-untyped-def]
    from packstation.bootstrap import build_station, init_central_database
    from packstation.config import Config, DatabaseConfig, StationConfig
    from packstation.domain.identity import ActorKind, Role
    from packstation.domain.model import Product, Tracking
    from packstation.services.sync.pull import pull_once

    name = server.create_database()
    url = server.url(name)
    init_central_database(url, station_password="pw")
    centre = build_station(Config(station=StationConfig(id="CENTRE"), database=DatabaseConfig(local=url),
                                  data_dir=tmp / "centre"), seed_demo=False)
    with centre.uow() as uow:
        uow.catalog.put_products([(Product(f"SKU-{n:05d}", f"Product {n}", 100 + n % 900, f"A-{n % 50:02d}",
                                           Tracking.NONE, (f"{2000000000000 + n}",)), f"fp-{n}")
                                  for n in range(PRODUCTS)], NOW)
        uow.commit()
    for start in range(0, ORDERS, 2000):
        with centre.uow() as uow:
            uow.orders.add_many([(_order(i), f"fp-{i}") for i in range(start, min(ORDERS, start + 2000))], NOW)
            uow.commit()
    _returns(centre)
    station_url = f"postgresql+psycopg://packstation_station:pw@127.0.0.1:{server.port}/{name}"
    station = build_station(Config(station=StationConfig(id="BENCH-01"),
                                   database=DatabaseConfig(local=f"sqlite:///{tmp / 'station.db'}", central=station_url),
                                   data_dir=tmp / "station"), seed_demo=False)
    sync = station.system_session(ActorKind.SYSTEM, "sync-worker", Role.ADMIN)
    try:
        t0 = time.perf_counter()
        full = pull_once(station.ctx, sync)
        catch_up_s = time.perf_counter() - t0
        with centre.uow() as uow:
            for i in range(0, ORDERS, max(1, ORDERS // EDITS)):
                order = uow.orders.get(f"SO-{i:06d}")
                assert order is not None
                uow.orders.replace(replace(order, service="Express"), "fp-x", NOW)
            uow.commit()
        t0 = time.perf_counter()
        inc = pull_once(station.ctx, sync)
        inc_s = time.perf_counter() - t0
        assert inc.orders >= EDITS, inc.summary()
        assert full.returns >= RETURNS, full.summary()  # (a return named on two pages is written twice)
        with centre.uow() as uow:  # a second unit of each of 100 returns received at another desk
            for i in range(0, RETURNS, max(1, RETURNS // EDITS)):
                uow.returns.add_item(_item(i, 2))
            uow.commit()
        t0 = time.perf_counter()
        ret = pull_once(station.ctx, sync)
        ret_s = time.perf_counter() - t0
        assert ret.returns >= min(EDITS, RETURNS), ret.summary()
        return catch_up_s, full.changes, inc_s, inc.changes, ret_s
    finally:
        station.close()
        centre.close()
        server.drop_database(name)


def main() -> int:
    from pg_server import PgServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        print("bench_sync_pull: PostgreSQL is not installed (apt-get install postgresql); nothing measured")
        return 1
    server = PgServer(bindir)
    server.start()
    try:
        results = []
        for n in range(RUNS):
            with tempfile.TemporaryDirectory() as tmp:
                results.append(run_once(server, Path(tmp)))
            full_s, full_n, inc_s, inc_n, ret_s = results[-1]
            print(f"  run {n + 1}: catch-up {full_n} changes in {full_s:.2f} s ({full_n / full_s:,.0f}/s); "
                  f"incremental {inc_n} changes in {inc_s * 1000:.0f} ms; 100 returns in {ret_s * 1000:.0f} ms")
    finally:
        server.stop()
    full_rate = statistics.median(r[1] / r[0] for r in results)
    inc_ms = statistics.median(r[2] * 1000 for r in results)
    inc_rate = statistics.median(r[3] / r[2] for r in results)
    ret_ms = statistics.median(r[4] * 1000 for r in results)
    print(f"pull catch-up ({PRODUCTS} products, {ORDERS} orders of 3 lines, {RETURNS} returns with an item): "
          f"{full_rate:,.0f} changes/s (median of {RUNS})")
    print(f"pull incremental ({EDITS} orders edited): {inc_ms:.0f} ms, {inc_rate:,.0f} changes/s (median of {RUNS})")
    print(f"pull of {EDITS} returns with an item received elsewhere: {ret_ms:.0f} ms (median of {RUNS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
