"""A bench whose network is cut keeps packing the orders it holds, and claims no new ones.

The bench runs as a process of its own inside a Linux network namespace (``tests/netns.py``)
whose only way out is a veth pair to the host, where a PostgreSQL server of this test listens on
the host's veth address. The cable is pulled with nftables drop rules inside the namespace: the
bench's packets vanish, as behind a dead switch port, so it learns of the cut by its own timeouts
(connect, TCP user timeout), not by a friendly error. Whether scans are slower while cut off is
measured in ``bench/bench_leases.py``, not asserted here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_leases_postgres import BenchProcess, central_on, local_copy, local_template

from packstation.services import leases

from packstation_tests_station import TEE_EAN, order  # isort: skip

BOX_S_TARE_G, TEE_G = 150, 200
NEVER_FROZEN_S = 60  # a refusal that takes longer than this is a hang, not a timeout


def _load_netns() -> ModuleType:
    name = "packstation_tests_netns"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "netns.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


netns = _load_netns()


@pytest.fixture
def namespace() -> Iterator[Any]:
    why = netns.unavailable()
    if why:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"the network-cut test cannot run: {why}")
        pytest.skip(f"the network-cut test needs a network namespace: {why}")
    ns = netns.NetNamespace.create()
    try:
        yield ns
    finally:
        ns.destroy()


@pytest.fixture
def reachable_pg(namespace: Any) -> Iterator[Any]:
    """The test's own PostgreSQL server, listening where the namespace can reach it."""
    server = netns.pg_server_for(namespace)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow  # waits for the bench's own network timeouts, twice
def test_a_bench_cut_off_packs_the_orders_it_holds_and_refuses_new_ones(
        namespace: Any, reachable_pg: Any, tmp_path: Path) -> None:
    records = [order("SO-0001", {"TS-1": 2}, hours_ago=9), order("SO-0002", {"TS-1": 1}, hours_ago=8),
               order("SO-0003", {"TS-1": 1}, hours_ago=7)]
    central = central_on(reachable_pg, reachable_pg.create_database(), records, tmp_path, host=namespace.host_addr)
    bench = BenchProcess("BENCH-NS", local_copy(local_template(tmp_path, records), tmp_path / "bench"),
                         central.station_url, tmp_path / "bench", prefix=namespace.command([]))
    try:
        bench.ready()
        assert bench.ask(op="claim", orders=["SO-0001", "SO-0002"])["won"] == ["SO-0001", "SO-0002"]
        held = central.leases(["SO-0001", "SO-0002", "SO-0003"])
        assert [lease.station_id if lease else None for lease in held.values()] == ["BENCH-NS", "BENCH-NS", None]

        namespace.cut()
        assert "drop" in namespace.rules()

        # an order it holds: continued and packed to the end, label numbered from the bench's own block
        packed = bench.ask(op="pack", order="SO-0001", items=[TEE_EAN, TEE_EAN], weight_g=BOX_S_TARE_G + 2 * TEE_G)
        assert packed["verdicts"] == ["carton_opened", "accepted", "accepted", "order_complete"], packed
        # a new order: refused, saying why, once the bench's own timeouts give up (never a frozen bench)
        start = time.monotonic()
        refused = bench.ask(op="claim", orders=["SO-0003"])
        waited = time.monotonic() - start
        assert refused["won"] == [] and leases.OFFLINE in refused["refused"]["SO-0003"], refused
        assert waited < NEVER_FROZEN_S, f"the refusal took {waited:.0f} s"
        beat = bench.ask(op="renew")
        assert beat["online"] is False and beat["renewed"] == [] and beat["lost"] == []
        # meanwhile the centre (reachable from the host) saw nothing of it
        assert central.leases(["SO-0003"])["SO-0003"] is None

        namespace.restore()
        beat = bench.ask(op="renew")
        assert beat["online"] is True and beat["renewed"] == ["SO-0002"], beat  # SO-0001 is packed: not held
        assert bench.ask(op="claim", orders=["SO-0003"])["won"] == ["SO-0003"]
        assert central.leases(["SO-0003"])["SO-0003"].station_id == "BENCH-NS"  # type: ignore[union-attr]
    finally:
        bench.close()
        central.engine.dispose()


@pytest.mark.slow  # 50 orders packed by a bench process inside a network namespace
def test_fifty_orders_packed_offline_reach_the_centre_once_each_when_the_network_returns(
        namespace: Any, reachable_pg: Any, tmp_path: Path) -> None:
    """Issue 10: a bench packs 50 orders it holds while cut off, then reconnects: the centre has
    every event the bench recorded, each once, and the orders packed."""
    import sqlalchemy as sa

    ids = [f"SO-{n:04d}" for n in range(1, 51)]
    records = [order(order_id, {"TS-1": 1}, hours_ago=9) for order_id in ids]
    central = central_on(reachable_pg, reachable_pg.create_database(), records, tmp_path, host=namespace.host_addr)
    bench = BenchProcess("BENCH-NS", local_copy(local_template(tmp_path, records), tmp_path / "bench"),
                         central.station_url, tmp_path / "bench", prefix=namespace.command([]))
    try:
        bench.ready()
        assert bench.ask(op="claim", orders=ids)["won"] == ids
        namespace.cut()
        for order_id in ids:
            packed = bench.ask(op="pack", order=order_id, items=[TEE_EAN], weight_g=BOX_S_TARE_G + TEE_G)
            assert packed["verdicts"] == ["carton_opened", "accepted", "order_complete"], (order_id, packed)
        offline = bench.ask(op="sync")
        assert not offline["drained"] and "cannot be reached" in offline["why"], offline  # nothing reached the centre yet
        with central.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events WHERE station_id = 'BENCH-NS' "
                                        "AND kind = 'order.packed'")).scalar_one() == 0
        namespace.restore()
        synced = bench.ask(op="sync")
        assert synced["drained"], synced
        with central.engine.connect() as conn:
            at_centre = conn.execute(sa.text("SELECT id FROM events WHERE station_id = 'BENCH-NS'")).scalars().all()
            statuses = dict(conn.execute(sa.text("SELECT order_id, status FROM orders")).all())
        assert len(at_centre) == len(set(at_centre))  # each event once
        assert sorted(at_centre) == synced["events"]  # the bench's and the centre's sets are equal
        assert {statuses[order_id] for order_id in ids} == {"packed"}
    finally:
        bench.close()
        central.engine.dispose()
