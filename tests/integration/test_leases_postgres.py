"""Claims are leases on a real central PostgreSQL (``packstation central init``, the station role).

- Ten benches, each a process of its own with its own local SQLite database, race for the same
  1,000 orders: every order is claimed by exactly one bench (the centre's lease rows and the
  benches' local claims agree), and only that bench packs it.
- An expired lease is taken over by another bench: the late bench's copy of the lease carries the
  old token, which is no longer the lease's (what the push appliers refuse), and its heartbeat
  drops the order.
- A bench behind a pulled cable (a network namespace whose traffic to the host nftables drops)
  keeps packing the orders it holds and refuses new ones until the cable is back.
"""

from __future__ import annotations

import json
import random
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from packstation.adapters.central.schema import init_central
from packstation.adapters.db.engine import make_engine
from packstation.adapters.db.numbers import LocalBlocks
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.bootstrap import Station, build_station
from packstation.config import Config, DatabaseConfig, StationConfig
from packstation.domain.barcodes import interpret
from packstation.domain.identity import ActorKind, Permission
from packstation.domain.packing import Verdict
from packstation.services import leases, packing, users
from packstation.services.imports import import_records
from packstation.services.ports import Lease, UnitOfWork

from packstation_tests_station import CARTONS, CATALOG, TEE_EAN, order  # isort: skip

STATION_PASSWORD = "station-secret"
LEASE_STATION = Path(__file__).with_name("lease_station.py")
REPLY_TIMEOUT_S = 240  # two shared cores, ten processes
BOX_S_TARE_G, TEE_G = 150, 200


# --- a central database and stations around it -------------------------------------------------


def orders(n: int) -> list[dict[str, Any]]:
    return [order(f"SO-{i:04d}", {"TS-1": 1}, hours_ago=n + 10 - i) for i in range(1, n + 1)]


def stock(station: Station, order_records: list[dict[str, Any]]) -> None:
    """Catalog, carton types, orders and a packer, through the import and user use cases."""
    session = station.system_session(ActorKind.IMPORT)
    for kind, records in (("catalog", CATALOG), ("cartons", CARTONS), ("orders", order_records)):
        report = import_records(station.ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(records, 1)],
                                f"test {kind}")
        assert report.ok, report.rejected
    users.add_user(station.ctx, session, "Pat Packer", "packer", "PACKER-001")
    users.add_user(station.ctx, session, "Lee Lead", "lead", "LEAD-001", "1234")


@dataclass
class Central:
    admin_url: str
    station_url: str
    engine: Engine  # the admin's: what the test reads the centre's truth with

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, "test", LocalBlocks(ranges={}))

    def leases(self, order_ids: list[str]) -> dict[str, Lease | None]:
        with self.uow() as uow:
            return {order_id: uow.leases.holder(order_id) for order_id in order_ids}


def central_on(server: Any, database: str, order_records: list[dict[str, Any]], tmp: Path,
               host: str = "127.0.0.1") -> Central:
    """``central init`` on *database*, then the warehouse's data imported at the centre."""
    admin_url = server.url(database)
    engine = make_engine(admin_url)
    init_central(engine, station_password=STATION_PASSWORD)
    with build_station(Config(station=StationConfig(id="IMPORT"), database=DatabaseConfig(local=admin_url),
                              data_dir=tmp / "central-import"), seed_demo=False) as importer:
        stock(importer, order_records)
    return Central(admin_url, f"postgresql+psycopg://packstation_station:{STATION_PASSWORD}@{host}:{server.port}/{database}",
                   engine)


@pytest.fixture
def central_factory(pg_server_instance: Any, tmp_path: Path) -> Iterator[Any]:
    made: list[tuple[Central, str]] = []

    def make(order_records: list[dict[str, Any]]) -> Central:
        name = pg_server_instance.create_database()
        built = central_on(pg_server_instance, name, order_records, tmp_path)
        made.append((built, name))
        return built

    yield make
    for built, name in made:
        built.engine.dispose()
        pg_server_instance.drop_database(name)


def local_template(tmp: Path, order_records: list[dict[str, Any]]) -> Path:
    """A station database as a pull would have left it (the same data as the centre), to copy."""
    path = tmp / "template.db"
    with build_station(Config(station=StationConfig(id="TEMPLATE"), database=DatabaseConfig(local=str(path)),
                              data_dir=tmp / "template-data"), seed_demo=False) as template:
        stock(template, order_records)
    assert not path.with_name("template.db-wal").exists() or path.with_name("template.db-wal").stat().st_size == 0
    return path


def local_copy(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "station.db"
    shutil.copyfile(template, path)
    return path


def local_uow(path: Path, station_id: str) -> tuple[Engine, UnitOfWork]:
    engine = make_engine(f"sqlite:///{path}")
    return engine, SqlUnitOfWork(engine, station_id, LocalBlocks(ranges={}), readonly=True)


class BenchProcess:
    """A bench in a process of its own (``lease_station.py``), optionally inside a network namespace."""

    def __init__(self, station_id: str, local: Path, central_url: str, folder: Path, prefix: list[str] | None = None):
        self.station_id, self.local = station_id, local
        args = {"station": station_id, "local": str(local), "central": central_url, "data_dir": str(folder / "data"),
                "item": TEE_EAN}
        self.stderr = (folder / "stderr.txt").open("w")
        self.proc = subprocess.Popen([*(prefix or []), sys.executable, str(LEASE_STATION), json.dumps(args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.log = folder / "stderr.txt"

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            raise AssertionError(f"{self.station_id} did not answer within {timeout} s:\n{self.log.read_text()[-3000:]}")
        reply = json.loads(line)
        assert "error" not in reply, f"{self.station_id}: {reply['error']}"
        return reply

    def ready(self) -> None:
        assert self._read(REPLY_TIMEOUT_S) == {"ready": True}

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def ask(self, **cmd: Any) -> dict[str, Any]:
        self.send(**cmd)
        return self.answer()

    def answer(self, timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        return self._read(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(op="quit")
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


# --- ten benches, one thousand orders -----------------------------------------------------------

BENCHES = 10
RACED = 1_000


@pytest.mark.slow  # 10,000 claims by ten processes: about a minute on two shared cores
def test_ten_benches_racing_for_the_same_orders_claim_each_exactly_once(central_factory: Any, tmp_path: Path) -> None:
    records = orders(RACED)
    central = central_factory(records)
    template = local_template(tmp_path, records)
    order_ids = [r["order_id"] for r in records]
    benches = [BenchProcess(f"BENCH-{i:02d}", local_copy(template, tmp_path / f"bench{i}"), central.station_url,
                            tmp_path / f"bench{i}") for i in range(BENCHES)]
    try:
        for bench in benches:
            bench.ready()
        for i, bench in enumerate(benches):  # every bench goes through all the orders, each in its own order
            mine = list(order_ids)
            random.Random(i).shuffle(mine)
            bench.send(op="claim", orders=mine, pack=True)
        replies = {bench.station_id: bench.answer() for bench in benches}
    finally:
        for bench in benches:
            bench.close()

    won = {station: set(reply["won"]) for station, reply in replies.items()}
    winner: dict[str, str] = {}
    for station, got in won.items():
        for order_id in got:
            assert order_id not in winner, f"{order_id} claimed by {winner[order_id]} and {station}"
            winner[order_id] = station
    assert sorted(winner) == order_ids  # every order claimed, each once
    assert sum(len(got) > 0 for got in won.values()) > 1  # a real race: more than one bench won orders
    for station, reply in replies.items():  # every other bench was told who holds it
        assert set(reply["refused"]) == set(order_ids) - won[station]
        for order_id, message in reply["refused"].items():
            assert f"being packed at {winner[order_id]} by Pat Packer" in message, message

    at_centre = central.leases(order_ids)
    assert {order_id: lease.station_id for order_id, lease in at_centre.items() if lease} == winner
    tokens = {order_id: lease.token for order_id, lease in at_centre.items() if lease}
    assert len(set(tokens.values())) == RACED  # one take each: no lease changed hands
    for bench in benches:  # the benches' own databases agree with the centre, and only the winner packed
        engine, uow = local_uow(bench.local, bench.station_id)
        try:
            with uow:
                held = {h.order_id: h.token for h in uow.orders.leased(bench.station_id)}
                assert held == {order_id: tokens[order_id] for order_id in won[bench.station_id]}
                claimed = {c.order_id for c in uow.orders.claims()}
                assert claimed == won[bench.station_id]
                packed_here = {order_id for order_id in order_ids if uow.shipments.scans(order_id)}
                assert packed_here == won[bench.station_id]
        finally:
            engine.dispose()


# --- a lease taken over -------------------------------------------------------------------------


def synced_station(tmp: Path, template: Path, station_id: str, central: Central) -> Station:
    local = local_copy(template, tmp / station_id)
    return build_station(Config(station=StationConfig(id=station_id, name=station_id),
                                database=DatabaseConfig(local=str(local), central=central.station_url),
                                data_dir=tmp / station_id / "data"), seed_demo=False)


def test_an_expired_lease_taken_over_leaves_the_late_bench_with_a_stale_fence(
        central_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = [order("SO-0001", {"TS-1": 3})]
    central = central_factory(records)
    template = local_template(tmp_path, records)
    monkeypatch.setattr(leases, "LEASE_TTL", timedelta(seconds=1))
    with synced_station(tmp_path, template, "BENCH-LATE", central) as late, \
            synced_station(tmp_path, template, "BENCH-NEW", central) as new:
        pat_late, pat_new = late.ctx.auth.login("PACKER-001"), new.ctx.auth.login("PACKER-001")
        pack = packing.claim_order(late.ctx, pat_late, "SO-0001")
        assert packing.open_carton(late.ctx, pat_late, pack, "BOX-S").accepted
        assert packing.record_item_scan(late.ctx, pat_late, pack, interpret(TEE_EAN)).verdict is Verdict.ACCEPTED
        with late.uow(readonly=True) as uow:
            (old,) = uow.orders.leased("BENCH-LATE")

        with pytest.raises(packing.OrderRefused, match="being packed at BENCH-LATE"):
            packing.claim_order(new.ctx, pat_new, "SO-0001")  # still held
        time.sleep(1.5)  # BENCH-LATE stops renewing (hung, cut off): its lease runs out at the centre
        packing.claim_order(new.ctx, pat_new, "SO-0001")

        lease = central.leases(["SO-0001"])["SO-0001"]
        assert lease is not None and lease.station_id == "BENCH-NEW" and lease.token > old.token
        with new.uow(readonly=True) as uow:
            assert [h.token for h in uow.orders.leased("BENCH-NEW")] == [lease.token]
        # the late bench does not know yet: its next write goes out under the old token
        late_scan = packing.record_item_scan(late.ctx, pat_late, pack, interpret(TEE_EAN))
        assert late_scan.verdict is Verdict.ACCEPTED  # stored locally: nothing on the scan path asks the centre
        with late.uow(readonly=True) as uow:
            assert [h.token for h in uow.orders.leased("BENCH-LATE")] == [old.token]
            assert old.token != lease.token  # what its events carry is not the lease's token: refused at push
            late_events = [e.kind for e in uow.events.for_order("SO-0001")]
        assert late_events.count("scan.recorded") == 2

        beat = leases.renew_leases(late.ctx, late.system_session(ActorKind.SYSTEM, "lease-heartbeat"))
        assert beat.online and list(beat.lost) == ["SO-0001"]
        stopped = packing.record_item_scan(late.ctx, pat_late, pack, interpret(TEE_EAN))
        assert stopped.verdict is Verdict.ORDER_REFUSED and stopped.data.get("claim_lost")
        assert central.leases(["SO-0001"])["SO-0001"] == lease  # the late bench changed nothing at the centre


def test_a_leads_release_at_the_centre_lets_another_bench_take_the_order(
        central_factory: Any, tmp_path: Path) -> None:
    records = orders(2)
    central = central_factory(records)
    template = local_template(tmp_path, records)
    with synced_station(tmp_path, template, "BENCH-A", central) as a, \
            synced_station(tmp_path, template, "BENCH-B", central) as b:
        packing.claim_order(a.ctx, a.ctx.auth.login("PACKER-001"), "SO-0002")
        before = central.leases(["SO-0002"])["SO-0002"]
        lee = b.ctx.auth.approve("LEAD-001", "1234", Permission.RELEASE_CLAIM, "Releasing")
        outcome = leases.release_lease(b.ctx, lee, "SO-0002", "bench A crashed")
        assert outcome.verdict is Verdict.ORDER_RELEASED, outcome.message
        packing.claim_order(b.ctx, b.ctx.auth.login("PACKER-001"), "SO-0002")
        after = central.leases(["SO-0002"])["SO-0002"]
        assert before is not None and after is not None
        assert after.station_id == "BENCH-B" and after.token > before.token
        with central.uow() as uow:
            released = [e for e in uow.events.for_order("SO-0002") if e.kind == "order.lease_released"]
        assert released[0].actor == "person:Lee Lead" and released[0].payload["from_station"] == "BENCH-A"
        beat = leases.renew_leases(a.ctx, a.system_session(ActorKind.SYSTEM, "lease-heartbeat"))
        assert list(beat.lost) == ["SO-0002"]
