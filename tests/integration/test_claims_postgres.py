"""The central PostgreSQL database: whole orders, claim races between benches, SSCC number series.

Each bench is a separate Station (own engine, own connection pool, own station id) on the
test's fresh database, and the benches run in threads that start together at a barrier, so
their transactions really overlap on the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helpers_faults as hf
import pytest

from packstation.bootstrap import Station
from packstation.config import NumbersConfig
from packstation.domain.identity import Session
from packstation.domain.packing import Verdict
from packstation.services import packing as p
from packstation.services.reports import order_status

from packstation_tests_station import (  # isort: skip
    BUDS_EAN,
    MUG_EAN,
    SERUM_EAN,
    TEE_EAN,
    TEE_SIX,
    StationFactory,
    order,
    stock,
)

BENCHES = 6
JOIN_TIMEOUT_S = 120  # generous: two shared cores


def user(station: Station, badge: str) -> Session:
    """A session of this station's Authenticator (each station vouches only for its own)."""
    return hf.person(station, badge)


def status(station: Station, order_id: str) -> dict[str, Any]:
    return order_status(station.ctx, hf.admin(station), order_id)


def run_together(work: list[Callable[[], Any]]) -> list[Any]:
    """Run each callable in its own thread, all released at once; results or exceptions, in order."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def runner(i: int) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_S)
            results[i] = work[i]()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=runner, args=(i,), name=f"bench-{i}") for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a bench thread hung"
    return results


def test_whole_order_packed_on_postgresql(pg_station: Station) -> None:
    bench = pg_station.terminal()
    scans = ["PACKER-001", "TOTE-002", "BOX-M", TEE_SIX, TEE_EAN, TEE_EAN, SERUM_EAN, "B1", "271231",
             MUG_EAN, "M1", "]d20105900000000145" + "21SN-1", BUDS_EAN, "SN-2", "CMD-CLOSE-CARTON"]
    verdicts = [bench.scan(s).verdict for s in scans]
    assert Verdict.ACCEPTED in verdicts and verdicts[-1] is Verdict.NEEDS_WEIGHT, verdicts
    assert verdicts.count(Verdict.ACCEPTED) == 7, verdicts
    done = hf.close_with_weight(bench, 280 + 8 * 200 + 100 + 350 + 2 * 80)
    assert done.verdict is Verdict.ORDER_COMPLETE, done.message
    doc = status(pg_station, "SO-2")
    assert doc["status"] == "packed" and doc["cartons"][0]["sscc"] == done.data["sscc"]
    assert sorted(s["serial"] for ln in doc["lines"] for s in ln["scans"] if s["serial"]) == ["SN-1", "SN-2"]
    assert doc["lines"][1]["scans"][0]["expiry"] == "2027-12-31"


def test_claim_race_has_exactly_one_winner_and_the_others_hear_its_name(
    pg_station: Station, make_pg_station: StationFactory
) -> None:
    benches = [make_pg_station(f"BENCH-{i:02d}") for i in range(BENCHES)]
    packers = [user(s, "PACKER-001") for s in benches]
    for order_id in ("SO-1", "SO-2", "SO-3"):
        results = run_together([lambda s=s, who=who, o=order_id: p.claim_order(s.ctx, who, o)
                                for s, who in zip(benches, packers, strict=True)])
        winners = [(i, r) for i, r in enumerate(results) if isinstance(r, p.PackSession)]
        assert len(winners) == 1, results
        winner = benches[winners[0][0]].ctx.station_id
        refused = [r for r in results if not isinstance(r, p.PackSession)]
        assert all(isinstance(r, p.OrderRefused) for r in refused), refused
        assert all(winner in str(r) for r in refused), [str(r) for r in refused]
        doc = status(pg_station, order_id)
        assert doc["claimed_by"] == winner
        assert [e["station"] for e in doc["events"] if e["kind"] == "order.claimed"] == [winner]


_CLAIM_IN_A_PROCESS = """
import json, sys
from pathlib import Path
from packstation.bootstrap import build_station
from packstation.config import Config, DatabaseConfig, StationConfig
from packstation.services import packing

url, station_id, order_id, data_dir = sys.argv[1:5]
config = Config(station=StationConfig(id=station_id), database=DatabaseConfig(local=url), data_dir=Path(data_dir))
station = build_station(config, seed_demo=False)
packer = station.ctx.auth.login("PACKER-001")
print("ready", flush=True)
sys.stdin.readline()  # the go signal: every process claims at the same moment
try:
    packing.claim_order(station.ctx, packer, order_id)
    print(json.dumps({"station": station_id, "won": True}), flush=True)
except packing.OrderRefused as exc:
    print(json.dumps({"station": station_id, "won": False, "message": str(exc)}), flush=True)
finally:
    station.close()
"""


def test_claim_race_between_processes_has_exactly_one_winner(
    pg_station: Station, fresh_pg_database: str, tmp_path: Path
) -> None:
    """Separate processes (own interpreter, own driver connections), as real benches are."""
    procs = [
        subprocess.Popen([sys.executable, "-c", _CLAIM_IN_A_PROCESS, fresh_pg_database, f"BENCH-P{i}", "SO-4",
                          str(tmp_path / f"data{i}")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", (line, proc.stderr.read() if proc.stderr else "")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=JOIN_TIMEOUT_S) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    winners = [r["station"] for r in results if r["won"]]
    assert len(winners) == 1, results
    assert all(winners[0] in r["message"] for r in results if not r["won"]), results
    assert status(pg_station, "SO-4")["claimed_by"] == winners[0]


def test_concurrent_claim_next_never_hands_one_order_to_two_benches(
    make_pg_station: StationFactory,
) -> None:
    first = make_pg_station("BENCH-00")
    many = [order(f"SO-{n:03d}", {"TS-1": 1}, hours_ago=100 - n) for n in range(30)]
    stock(first, many + [order("SO-HELD", {"TS-1": 1}, payment=("prepaid", "pending"))])
    benches = [first] + [make_pg_station(f"BENCH-{i:02d}") for i in range(1, BENCHES)]
    packers = {s.ctx.station_id: user(s, "PACKER-001") for s in benches}

    def drain(station: Station) -> list[str]:
        got = []
        while (pack := p.claim_next_order(station.ctx, packers[station.ctx.station_id])) is not None:
            got.append(pack.order.order_id)
        return got

    results = run_together([lambda s=s: drain(s) for s in benches])
    assert not [r for r in results if isinstance(r, BaseException)], results
    claimed = [order_id for got in results for order_id in got]
    assert len(claimed) == len(set(claimed)), "an order was handed to two benches"
    assert set(claimed) <= {o["order_id"] for o in many}  # never the held order
    holders = {r["order_id"]: r["claimed_by"] for r in hf.rows(first, "orders")}
    for station, got in zip(benches, results, strict=True):
        assert all(holders[o] == station.ctx.station_id for o in got)
    assert holders["SO-HELD"] is None
    # SKIP LOCKED may hand a bench nothing while others still hold locks; a final pass gets the rest
    leftover = drain(first)
    assert set(claimed) | set(leftover) == {o["order_id"] for o in many}


def test_number_series_under_concurrency_never_duplicates(pg_station: Station, make_pg_station: StationFactory) -> None:
    """Benches on one database draw blocks of 10 from the shared range at the same moments."""
    benches = [make_pg_station(f"BENCH-{i:02d}", numbers=NumbersConfig(block_size=10)) for i in range(BENCHES)]
    per_bench = 25  # three blocks each: the shared range row is taken concurrently, its first use included

    def take(station: Station) -> list[int]:
        values = []
        for _ in range(per_bench):
            with station.uow() as uow:
                values.append(uow.numbers.next("sscc-race"))
                uow.commit()
        return values

    results = run_together([lambda s=s: take(s) for s in benches])
    assert not [r for r in results if isinstance(r, BaseException)], results
    values = [v for got in results for v in got]
    assert len(values) == BENCHES * per_bench and len(set(values)) == len(values), "a number was issued twice"
    assert all(got == sorted(got) for got in results)  # each bench counts up through its blocks
    blocks = sorted((r["first_value"], r["last_value"]) for r in hf.rows(pg_station, "number_blocks")
                    if r["series"] == "sscc-race")
    assert len(blocks) == BENCHES * 3
    assert all(a_last < b_first for (_, a_last), (b_first, _) in zip(blocks, blocks[1:], strict=False))


def test_cartons_sealed_at_the_same_moment_get_different_ssccs(
    pg_station: Station, make_pg_station: StationFactory
) -> None:
    benches = [pg_station] + [make_pg_station(f"BENCH-{i:02d}") for i in range(2, 5)]
    ready = []
    for station, order_id in zip(benches, ("SO-1", "SO-3", "SO-4", "SO-5"), strict=True):
        bench = station.terminal()
        scans = {"SO-1": [TEE_EAN] * 2, "SO-3": [TEE_EAN, MUG_EAN, "M1", MUG_EAN, "M2"],
                 "SO-4": [BUDS_EAN, "SN-44"], "SO-5": [TEE_EAN] * 3}[order_id]
        verdicts = [bench.scan(s).verdict for s in ["PACKER-001", order_id, "BOX-M", *scans, "CMD-CLOSE-CARTON"]]
        assert verdicts[-1] is Verdict.NEEDS_WEIGHT, (order_id, verdicts)
        pack = hf.pack_of(bench)
        assert pack is not None and pack.open_carton is not None
        ready.append((bench, pack.expected_weight(pack.open_carton)))
    results = run_together([lambda b=b, g=g: hf.close_with_weight(b, g) for b, g in ready])
    assert all(getattr(r, "verdict", None) is Verdict.ORDER_COMPLETE for r in results), results
    ssccs = [r.data["sscc"] for r in results]
    assert len(set(ssccs)) == len(ssccs)


@pytest.mark.parametrize("badge", ["PACKER-001"])
def test_the_same_station_id_may_reclaim_its_own_order_after_a_crash(
    pg_station: Station, make_pg_station: StationFactory, badge: str
) -> None:
    bench = pg_station.terminal()
    assert [bench.scan(s).verdict for s in (badge, "SO-1", "BOX-S", TEE_EAN)] == [
        Verdict.LOGGED_IN, Verdict.ORDER_OPENED, Verdict.CARTON_OPENED, Verdict.ACCEPTED]
    pg_station.close()
    again = make_pg_station("BENCH-01").terminal()
    welcome = again.scan(badge)
    assert welcome.data == {"resumed": "SO-1"}
    assert hf.pack_of(again) is not None and hf.pack_of(again).order.lines[0].packed == 1
    refused = make_pg_station("BENCH-02").terminal()
    refused.scan("PACKER-002")
    outcome = refused.scan("SO-1")
    assert outcome.verdict is Verdict.ORDER_REFUSED and "BENCH-01" in outcome.message


def test_one_serial_scanned_at_two_benches_at_once_ships_once(pg_station: Station, make_pg_station: StationFactory) -> None:
    second = make_pg_station("BENCH-02")
    benches = []
    for station, order_id, badge in ((pg_station, "SO-2", "PACKER-001"), (second, "SO-4", "PACKER-002")):
        bench = station.terminal()
        assert [bench.scan(s).verdict for s in (badge, order_id, "BOX-S")] == [
            Verdict.LOGGED_IN, Verdict.ORDER_OPENED, Verdict.CARTON_OPENED]
        benches.append(bench)
    same_unit = "]d201" + BUDS_EAN.zfill(14) + "21SN-TWIN"
    results = run_together([lambda b=b: b.scan(same_unit) for b in benches])
    assert [getattr(r, "verdict", r) for r in results].count(Verdict.ACCEPTED) == 1, results
    loser = next(r for r in results if r.verdict is not Verdict.ACCEPTED)
    # the loser either saw the serial already registered, or its insert was refused: never both stored
    assert loser.verdict in (Verdict.SERIAL_ALREADY_SHIPPED, Verdict.STORAGE_FAILED), loser
    assert len(hf.rows(pg_station, "serial_registry", serial="SN-TWIN")) == 1
    assert len(hf.rows(pg_station, "scans", serial="SN-TWIN")) == 1
    # scanning it again at the losing bench now names the problem
    loser_bench = benches[[r.verdict for r in results].index(loser.verdict)]
    assert loser_bench.scan(same_unit).verdict is Verdict.SERIAL_ALREADY_SHIPPED
