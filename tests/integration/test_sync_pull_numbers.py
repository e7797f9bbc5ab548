"""SSCC numbers from the centre: two synced stations (SQLite each, the centre on PostgreSQL through a
TCP path the test cuts) never issue the same number, online, offline from the blocks they hold,
and after the network comes back; offline and out of numbers, a seal says so and seals nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pull_support import TEE, Centre, centre_on, sync_session
from sqlalchemy import text

from packstation.bootstrap import Station
from packstation.domain.barcodes import interpret
from packstation.domain.identity import Role
from packstation.domain.packing import Verdict
from packstation.services import packing, users
from packstation.services.ports import StorageError
from packstation.services.sync.pull import pull_once

pytestmark = pytest.mark.postgres


@pytest.fixture
def centre(pg_server_instance: Any, tmp_path: Path) -> Iterator[Centre]:
    yield from centre_on(pg_server_instance, tmp_path)


def draw(station: Station) -> int:
    """One number, in a unit of work of its own, as sealing a carton draws its SSCC serial."""
    with station.uow() as uow:
        value = uow.numbers.next("sscc")
        uow.commit()
    return value


def draw_until_refused(station: Station) -> tuple[list[int], str]:
    got: list[int] = []
    for _ in range(1000):
        try:
            got.append(draw(station))
        except StorageError as exc:
            return got, str(exc)
    raise AssertionError("an offline station kept numbering without end")


def test_two_synced_stations_never_issue_the_same_number_also_offline(centre: Centre) -> None:
    a, b = centre.station("BENCH-A", block_size=5), centre.station("BENCH-B", block_size=5)
    for st in (a, b):
        assert pull_once(st.ctx, sync_session(st), numbers={"sscc": 5}).numbers == {"sscc": 5}
    issued: dict[str, list[int]] = {"BENCH-A": [], "BENCH-B": []}
    for _ in range(7):  # online, taking turns: both need more blocks from the centre
        issued["BENCH-A"].append(draw(a))
        issued["BENCH-B"].append(draw(b))
    for st in (a, b):  # the worker's pull keeps a block in hand
        assert pull_once(st.ctx, sync_session(st), numbers={"sscc": 5}).numbers["sscc"] >= 5

    centre.path.cut()  # offline: each numbers from what it holds, then refuses
    for st in (a, b):
        got, why = draw_until_refused(st)
        assert len(got) >= 5
        issued[st.info.id] += got
        assert "Offline" in why and "SSCC numbers" in why and "central database" in why
        with pytest.raises(StorageError, match="Offline"):  # and keeps refusing, without a block twice
            draw(st)
        with pytest.raises(StorageError):
            pull_once(st.ctx, sync_session(st))

    centre.path.mend()
    for st in (a, b):
        assert pull_once(st.ctx, sync_session(st), numbers={"sscc": 5}).numbers_error == ""
    for _ in range(6):
        issued["BENCH-A"].append(draw(a))
        issued["BENCH-B"].append(draw(b))

    every = issued["BENCH-A"] + issued["BENCH-B"]
    assert len(every) == len(set(every)), "a number was issued twice"
    assert not set(issued["BENCH-A"]) & set(issued["BENCH-B"])
    with centre.admin.uow(readonly=True) as uow:  # the centre lists the blocks it gave, each once
        blocks = uow.conn.execute(text(  # type: ignore[attr-defined]
            "SELECT station_id, first_value, last_value FROM number_blocks WHERE series = 'sscc'")).all()
    for station_id, numbers in issued.items():
        mine = [(lo, hi) for sid, lo, hi in blocks if sid == station_id]
        assert all(any(lo <= n <= hi for lo, hi in mine) for n in numbers)
    ranges = sorted((lo, hi) for _, lo, hi in blocks)
    assert all(prev[1] < nxt[0] for prev, nxt in zip(ranges, ranges[1:], strict=False))  # disjoint


def test_offline_and_out_of_numbers_a_seal_says_so_and_seals_nothing(centre: Centre) -> None:
    centre.seed()
    bench = centre.station(block_size=1)
    pull_once(bench.ctx, sync_session(bench), numbers={})  # the orders and products; no numbers kept
    users.add_user(bench.ctx, bench.system_session(), "Pat Packer", Role.PACKER, "PACKER-001")
    pat = bench.ctx.auth.login("PACKER-001")
    pack = packing.claim_order(bench.ctx, pat, "SO-1")
    assert packing.open_carton(bench.ctx, pat, pack, "BOX-S").accepted
    for _ in range(2):
        assert packing.record_item_scan(bench.ctx, pat, pack, interpret(TEE)).accepted  # scans need no centre

    centre.path.cut()
    refused = packing.close_carton(bench.ctx, pat, pack, 550)
    assert refused.verdict is Verdict.STORAGE_FAILED
    assert "Offline" in refused.message and "SSCC numbers" in refused.message
    with bench.uow(readonly=True) as uow:
        (carton,) = uow.shipments.cartons("SO-1", {})
    assert carton.sscc is None and carton.is_open

    centre.path.mend()
    pull_once(bench.ctx, sync_session(bench), numbers={"sscc": 1})  # back online: the worker takes a block
    sealed = packing.close_carton(bench.ctx, pat, pack, 550)
    assert sealed.verdict is Verdict.ORDER_COMPLETE, sealed.message
