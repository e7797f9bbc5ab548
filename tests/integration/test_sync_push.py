"""The outbox push against a real central PostgreSQL, as the station role ``central init`` creates.

Each bench is a station built by the composition root (``build_station``) with its own SQLite
database and ``[database] central`` pointing at the test's central database *as the station role*
(no UPDATE, DELETE or TRUNCATE on history: every push here proves it needs none). The centre is set
up by ``central init`` and stocked through the import use case, as a warehouse does.

Faults are real: the server's connection is cut with ``pg_terminate_backend`` (right after a
commit, so the reply is lost; or at random while batches run). What must hold afterwards: the
centre has exactly the union of the stations' events, each once, and each change once (scans,
line counts, stock movements).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from packstation.adapters.central.outbox import SqlCentralOutbox
from packstation.adapters.central.schema import init_central
from packstation.adapters.db.engine import make_engine
from packstation.adapters.db.numbers import LocalBlocks
from packstation.adapters.db.staging import StagingFolder
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.bootstrap import Station, build_station
from packstation.config import Config, DatabaseConfig, NumbersConfig, StationConfig
from packstation.domain.barcodes import interpret, with_check_digit
from packstation.domain.identity import ActorKind, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.services import packing, users
from packstation.services.auth import Authenticator
from packstation.services.context import Context
from packstation.services.imports import import_records
from packstation.services.lifecycle import change_status
from packstation.services.ports import CentralInbox, StorageError
from packstation.services.sync.push import PushReport, push_all, push_once

STATION_PW = "bench-secret"
Clock = Callable[[], datetime]


def real_now() -> datetime:
    return datetime.now(UTC)


# --- the warehouse's data ------------------------------------------------------------------------


def ean(n: int) -> str:
    return with_check_digit(f"592{n:09d}")


PRODUCTS = [{"sku": f"P-{i:03d}", "name": f"Product {i}", "barcodes": [ean(i)], "weight_g": 50 + 10 * i,
             "location": f"A-{i:02d}-01", "tracking": "none"} for i in range(30)]
CARTONS = [{"code": "BOX-M", "name": "Medium box", "tare_g": 280, "inner_mm": {"l": 350, "w": 250, "h": 150},
            "max_weight_g": 30000}]


def orders(prefix: str, count: int, *, lines: int = 3, qty: int = 2) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        picks = [PRODUCTS[(i * 7 + k * 11) % len(PRODUCTS)] for k in range(lines)]
        out.append({"order_id": f"{prefix}-{i:04d}", "channel": "shop-web", "placed_at": "2026-11-30T08:00:00+00:00",
                    "customer": {"name": "Anna Schmidt", "email": "anna@example.com", "phone": "+49 30 1234"},
                    "ship_to": {"name": "Anna Schmidt", "line1": "Hauptstraße 12", "city": "Berlin",
                                "postcode": "10115", "country": "DE"},
                    "currency": "EUR", "payment": {"method": "prepaid", "status": "paid"}, "carrier": "DHL",
                    "service": "Paket",
                    "lines": [{"sku": p["sku"], "qty": qty, "unit_price": "9.95"} for p in picks]})
    return out


def import_all(ctx: Context, session: Session, order_records: list[dict[str, Any]]) -> None:
    for kind, records in (("catalog", PRODUCTS), ("cartons", CARTONS), ("orders", order_records)):
        report = import_records(ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(records, 1)],
                                f"test {kind}")
        assert report.ok, report.rejected


# --- the centre ----------------------------------------------------------------------------------


@dataclass
class Central:
    admin: Engine
    station_url: str

    def uow(self, *, readonly: bool = False) -> Any:
        return SqlUnitOfWork(self.admin, "CENTRE", LocalBlocks(), readonly=readonly)

    def context(self) -> tuple[Context, Session]:
        auth = Authenticator(self.uow, "CENTRE", real_now, key=b"central-test-key")
        return (Context(uow=self.uow, auth=auth, station_id="CENTRE", staging=StagingFolder(None)),
                auth.system(ActorKind.IMPORT, "test"))

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.admin.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def cancel(self, order_id: str) -> None:
        ctx, session = self.context()
        with ctx.uow() as u:
            change_status(u, ctx, session, order_id, u.orders.hold(order_id).status, OrderStatus.CANCELLED)
            u.commit()


def make_central(pg_url: str, port: int, order_records: list[dict[str, Any]]) -> Central:
    admin = make_engine(pg_url)
    init_central(admin, station_password=STATION_PW)
    database = pg_url.rsplit("/", 1)[1]
    central = Central(admin, f"postgresql+psycopg://packstation_station:{STATION_PW}@127.0.0.1:{port}/{database}")
    import_all(*central.context(), order_records)
    return central


# --- a bench -------------------------------------------------------------------------------------


@dataclass
class Bench:
    station: Station
    ctx: Context  # the station's, printing nothing (labels are not what these tests are about)
    pat: Session
    worker: Session
    outbox: SqlCentralOutbox
    db: Path

    @property
    def station_id(self) -> str:
        return self.ctx.station_id

    def pack(self, order: dict[str, Any], *, close: bool = True) -> None:
        pack = packing.claim_order(self.ctx, self.pat, order["order_id"])
        assert packing.open_carton(self.ctx, self.pat, pack, "BOX-M").accepted
        codes = {p["sku"]: p["barcodes"][0] for p in PRODUCTS}
        for line in order["lines"]:
            for _ in range(line["qty"]):
                outcome = packing.record_item_scan(self.ctx, self.pat, pack, interpret(codes[line["sku"]]))
                assert outcome.accepted, outcome.message
        if close:
            assert packing.close_carton(self.ctx, self.pat, pack, pack.expected_weight(pack.open_carton)).accepted

    def events(self) -> list[tuple[str, int | None, str]]:
        """(id, station number, state) of every event of this station, in the order they were stored."""
        with sqlite3.connect(self.db) as conn:
            return list(conn.execute("SELECT id, station_seq, sync_state FROM events WHERE station_id = ? ORDER BY seq",
                                     (self.station_id,)))

    def push_all(self, **kwargs: Any) -> PushReport:
        return push_all(self.ctx, self.worker, self.outbox, **kwargs)


def make_bench(central: Central, folder: Path, station_id: str, order_records: list[dict[str, Any]], *,
               clock: Clock = real_now, outbox: type[SqlCentralOutbox] = SqlCentralOutbox) -> Bench:
    db = folder / station_id / "station.db"
    n = int(station_id.rsplit("-", 1)[1])  # stations with databases of their own: disjoint SSCC ranges
    config = Config(station=StationConfig(id=station_id, name=station_id),
                    database=DatabaseConfig(local=f"sqlite:///{db}", central=central.station_url),
                    numbers=NumbersConfig(sscc_first=n * 100_000, sscc_last=n * 100_000 + 99_999),
                    data_dir=folder / station_id)
    station = build_station(config, seed_demo=False, clock=clock)
    cli = station.system_session()
    import_all(station.ctx, cli, order_records)
    users.add_user(station.ctx, cli, "Pat Packer", "packer", f"PACKER-{station_id}")
    ctx = replace(station.ctx, documents=None)
    assert ctx.central is not None
    return Bench(station, ctx, ctx.auth.login(f"PACKER-{station_id}"), ctx.auth.system(ActorKind.SYSTEM, "sync-worker"),
                 outbox(ctx.central), db)


@pytest.fixture
def benches(tmp_path: Path) -> Iterator[list[Bench]]:
    made: list[Bench] = []
    yield made
    for bench in made:
        bench.station.close()


def drain(bench: Bench, *, batch: int = 500, deadline_s: float = 120) -> PushReport:
    """Push until the centre has everything, through whatever the connection suffers meanwhile."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            report = bench.push_all(batch=batch)
            if report.drained:
                # and once more from scratch: the centre's own word that it has every event
                final = push_once(bench.ctx, bench.worker, bench.outbox)
                if final.sent == 0 and final.reopened == 0 and final.drained:
                    return report
        except StorageError:
            pass
        if time.monotonic() > end:
            raise AssertionError(f"{bench.station_id} did not drain within {deadline_s} s")
        time.sleep(0.05)


def assert_centre_has_exactly(central: Central, benches: list[Bench]) -> None:
    """The central event set is the union of the stations' sets, each event once, each change once."""
    for bench in benches:
        local = bench.events()
        assert all(state != "pending" for _, _, state in local)
        rows = central.rows("SELECT id, station_seq FROM events WHERE station_id = :s ORDER BY seq",
                            s=bench.station_id)
        ids = [r[0] for r in rows]
        assert Counter(ids).most_common(1)[0][1] == 1, "an event is stored twice at the centre"
        assert set(ids) == {i for i, _, _ in local}, "the centre's events of the station differ from the station's"
        assert [r[1] for r in rows] == list(range(1, len(local) + 1)), "numbers out of order or missing"
        assert ids == [i for i, _, _ in sorted(local, key=lambda e: e[1] or 0)]  # stored in the station's order
    # every change once: scans, line counts and stock movements match the scan events exactly
    scans = dict(central.rows("SELECT order_id, count(*) FROM scans WHERE undone_at IS NULL GROUP BY order_id"))
    events = dict(central.rows("SELECT order_id, count(*) FROM events WHERE kind = 'scan.recorded' "
                               "AND sync_state = 'applied' GROUP BY order_id"))
    packed = dict(central.rows("SELECT order_id, sum(packed_qty) FROM order_lines GROUP BY order_id "
                               "HAVING sum(packed_qty) > 0"))
    assert scans == events == {k: int(v) for k, v in packed.items()}
    (moves, distinct), = central.rows("SELECT count(*), count(DISTINCT event_id) FROM stock_movements")
    assert moves == distinct == sum(events.values())


# --- a connection that dies right after the centre committed --------------------------------------


class _ReplyLost(SqlCentralOutbox):
    """After the centre's commit the connection is cut (pg_terminate_backend from another connection)
    before the station hears back: the station gets an error, the centre has the batch."""

    admin: Engine
    committed = 0

    @contextmanager
    def begin(self, station_id: str, events: Any, *, batched: bool = True) -> Iterator[CentralInbox]:
        with super().begin(station_id, events, batched=batched) as inbox:
            conn = inbox.conn  # type: ignore[attr-defined]
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            finish = inbox.finish

            def finish_then_die(last_seq: int, clock_offset_s: float) -> None:
                finish(last_seq, clock_offset_s)
                type(self).committed += 1
                with self.admin.connect() as killer:
                    killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                conn.exec_driver_sql("SELECT 1")  # the reply that never comes: the connection is gone

            inbox.finish = finish_then_die  # type: ignore[method-assign]
            yield inbox


# --- the tests -----------------------------------------------------------------------------------


def test_the_station_role_cannot_rewrite_history(fresh_pg_database: str, pg_server_instance: Any,
                                                 tmp_path: Path, benches: list[Bench]) -> None:
    records = orders("SO", 2)
    central = make_central(fresh_pg_database, pg_server_instance.port, records)
    bench = make_bench(central, tmp_path, "BENCH-01", records)
    benches.append(bench)
    bench.pack(records[0])
    assert bench.push_all().drained  # a push needs no such right

    station = make_engine(central.station_url)
    try:
        for table in ("events", "conflicts", "stock_movements"):
            for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                with station.connect() as conn, pytest.raises(Exception, match="permission denied"):
                    conn.exec_driver_sql(sql)
        with station.connect() as conn, pytest.raises(Exception, match="permission denied"):
            conn.exec_driver_sql("UPDATE conflicts SET resolved_at = now()")  # resolutions are appended events
        for table in ("api_clients", "webhook_inbox", "idempotency_keys", "shop_orders"):  # the API's secrets
            with station.connect() as conn, pytest.raises(Exception, match="permission denied"):
                conn.exec_driver_sql(f"SELECT count(*) FROM {table}")
        for sql in ("SELECT secret FROM push_subscriptions", "SELECT * FROM push_subscriptions",
                    "SELECT body FROM push_deliveries"):  # signing secrets, signed bodies
            with station.connect() as conn, pytest.raises(Exception, match="permission denied"):
                conn.exec_driver_sql(sql)
        with station.connect() as conn:  # what the lead view's status push tab lists
            conn.exec_driver_sql("SELECT id, url, events FROM push_subscriptions").all()
            conn.exec_driver_sql("SELECT subscription_id, state, attempts, last_error FROM push_deliveries").all()
    finally:
        station.dispose()
    (n,) = central.rows("SELECT count(*) FROM events WHERE station_id = 'BENCH-01'")[0]
    assert n == len(bench.events())
    # an event written at the centre itself (the dock works there) is applied there, not waiting
    with central.admin.begin() as conn:
        conn.exec_driver_sql("INSERT INTO events (id, kind, station_id, actor, occurred_at, payload) "
                             "VALUES ('e-dock-1', 'manifest.opened', 'DOCK-01', 'person:Dan', now(), '{}')")
    assert central.rows("SELECT sync_state, received_at IS NOT NULL FROM events WHERE id = 'e-dock-1'") == [
        ("applied", True)]


def test_a_reply_lost_after_the_commit_retried_100_times_alongside_a_second_sender(
        fresh_pg_database: str, pg_server_instance: Any, tmp_path: Path, benches: list[Bench]) -> None:
    """BENCH-01's pushes lose the centre's reply after every commit (the connection is killed at that
    moment) and are retried 100 times, while a second sender pushes the same station's outbox
    normally and BENCH-02 pushes its own: every event is applied exactly once."""
    mine, theirs = orders("SO", 8), orders("SX", 4)
    central = make_central(fresh_pg_database, pg_server_instance.port, mine + theirs)
    _ReplyLost.admin = central.admin
    _ReplyLost.committed = 0
    lossy = make_bench(central, tmp_path, "BENCH-01", mine + theirs, outbox=_ReplyLost)
    other = make_bench(central, tmp_path, "BENCH-02", mine + theirs)
    benches += [lossy, other]
    second_sender = SqlCentralOutbox(lossy.ctx.central)  # type: ignore[arg-type]
    for order in mine[:4]:
        lossy.pack(order)
    for order in theirs:
        other.pack(order)
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_sending(push: Callable[[], Any]) -> None:
        while not stop.is_set():
            try:
                push()
            except StorageError:
                pass
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                return
            time.sleep(random.uniform(0, 0.02))

    threads = [threading.Thread(target=keep_sending, args=(lambda: push_once(lossy.ctx, lossy.worker, second_sender,
                                                                              batch=7),)),
               threading.Thread(target=keep_sending, args=(lambda: other.push_all(batch=5),))]
    for th in threads:
        th.start()
    lost = 0
    try:
        for attempt in range(100):
            if attempt in (30, 60):  # more work meanwhile: the retries always have something to send
                for order in mine[4:6] if attempt == 30 else mine[6:]:
                    lossy.pack(order)
            try:
                push_once(lossy.ctx, lossy.worker, lossy.outbox, batch=10)
            except StorageError:
                lost += 1
    finally:
        stop.set()
        for th in threads:
            th.join(60)
    assert not errors, errors
    assert _ReplyLost.committed >= 3 and lost >= 3, (_ReplyLost.committed, lost)  # the fault really happened
    drain(lossy)
    drain(other)
    assert_centre_has_exactly(central, [lossy, other])
    with sqlite3.connect(lossy.db) as conn:
        odd = list(conn.execute("SELECT kind, order_id, station_seq, sync_state, sync_reason FROM events "
                                "WHERE sync_state NOT IN ('applied', 'duplicate')"))
    assert odd == []


def test_connections_killed_mid_batch_lose_and_double_nothing(fresh_pg_database: str, pg_server_instance: Any,
                                                              tmp_path: Path, benches: list[Bench]) -> None:
    records = orders("SO", 12) + orders("SX", 12)
    central = make_central(fresh_pg_database, pg_server_instance.port, records)
    one = make_bench(central, tmp_path, "BENCH-01", records)
    two = make_bench(central, tmp_path, "BENCH-02", records)
    benches += [one, two]
    for order in records[:12]:
        one.pack(order)
    for order in records[12:]:
        two.pack(order, close=False)
    stop = threading.Event()
    kills = [0]

    def killer() -> None:
        rnd = random.Random(7)
        with central.admin.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            while not stop.is_set():
                time.sleep(rnd.uniform(0.005, 0.05))
                killed = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE "
                    "'packstation:BENCH-%' AND state <> 'idle' AND pid <> pg_backend_pid()")).scalar()
                kills[0] += int(killed or 0)

    th = threading.Thread(target=killer)
    th.start()
    failed = [0]
    try:
        def run(bench: Bench) -> None:
            end = time.monotonic() + 90
            while time.monotonic() < end:
                try:
                    if bench.push_all(batch=25).drained:
                        return
                except StorageError:
                    failed[0] += 1

        workers = [threading.Thread(target=run, args=(b,)) for b in (one, two)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
    finally:
        stop.set()
        th.join(30)
    assert kills[0] >= 3 and failed[0] >= 3, (kills[0], failed[0])  # batches really died on the way
    drain(one)
    drain(two)
    assert_centre_has_exactly(central, [one, two])


def test_a_poison_event_blocks_only_its_own_order(fresh_pg_database: str, pg_server_instance: Any,
                                                  tmp_path: Path, benches: list[Bench]) -> None:
    records = orders("SO", 6)
    central = make_central(fresh_pg_database, pg_server_instance.port, records)
    bench = make_bench(central, tmp_path, "BENCH-01", records)
    benches.append(bench)
    for order in records[:3]:
        bench.pack(order)
    central.cancel("SO-0001")  # the shop cancelled it while the bench packed it offline
    for order in records[3:]:
        bench.pack(order)

    report = bench.push_all(batch=8)

    assert report.drained and report.remaining == 0  # the rest drained
    packing_events = [k for k, o in _kinds(bench) if o == "SO-0001" and k != "order.received"]  # (the local import's)
    assert packing_events[0] == "order.packing"
    assert report.refused == 1 and report.held == len(packing_events) - 1
    statuses = dict(central.rows("SELECT order_id, status FROM orders"))
    assert statuses == {"SO-0000": "packed", "SO-0001": "cancelled", "SO-0002": "packed", "SO-0003": "packed",
                        "SO-0004": "packed", "SO-0005": "packed"}
    (conflict,) = bench.outbox.conflicts()
    assert conflict.order_id == "SO-0001" and "cancelled" in conflict.reason
    assert conflict.station_side["station_id"] == "BENCH-01"
    # new work on other orders keeps flowing
    more = orders("SO", 8)[6:]
    import_all(*central.context(), more)
    import_all(bench.ctx, bench.station.system_session(), more)
    bench.pack(more[0])
    assert bench.push_all().applied > 0
    assert_centre_has_exactly(central, [bench])


def test_a_station_clock_a_day_off_keeps_its_order_and_reports_the_offset(fresh_pg_database: str,
                                                                          pg_server_instance: Any, tmp_path: Path,
                                                                          benches: list[Bench]) -> None:
    records = orders("SO", 4) + orders("SX", 4)
    central = make_central(fresh_pg_database, pg_server_instance.port, records)
    skew = [timedelta(hours=24)]
    ahead = make_bench(central, tmp_path, "BENCH-01", records, clock=lambda: real_now() + skew[0])
    right = make_bench(central, tmp_path, "BENCH-02", records)
    benches += [ahead, right]
    for a, b in zip(records[:4], records[4:], strict=True):
        ahead.pack(a)
        right.pack(b)
        if a["order_id"] == "SO-0001":
            skew[0] = timedelta(hours=-24)  # someone "fixed" the clock the wrong way: time runs backwards

    report_ahead, report_right = ahead.push_all(batch=7), right.push_all(batch=7)

    assert report_ahead.drained and report_right.drained
    assert report_ahead.clock_offset_s is not None and abs(report_ahead.clock_offset_s + 86_400) < 120
    assert report_right.clock_offset_s is not None and abs(report_right.clock_offset_s) < 120
    offsets = dict(central.rows("SELECT station_id, clock_offset_s FROM station_sync"))
    assert abs(offsets["BENCH-01"] + 86_400) < 120 and abs(offsets["BENCH-02"]) < 120
    occurred = [r[0] for r in central.rows("SELECT occurred_at FROM events WHERE station_id = 'BENCH-01' "
                                           "ORDER BY station_seq")]
    assert occurred != sorted(occurred)  # its clock went backwards ...
    assert_centre_has_exactly(central, [ahead, right])  # ... and the centre kept its order all the same


def _kinds(bench: Bench) -> list[tuple[str, str | None]]:
    with sqlite3.connect(bench.db) as conn:
        return list(conn.execute("SELECT kind, order_id FROM events ORDER BY seq"))
