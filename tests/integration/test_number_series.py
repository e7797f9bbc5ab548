"""SSCC serials from number series in blocks: no two stations ever issue the same number
(issue 8: "SSCC serials come from a per-database counter: two station databases hand out the
same SSCC"). The carry-over of the old counter through migration 0004 is in test_migrations.py.
"""

from __future__ import annotations

from pathlib import Path

import helpers_faults as hf
import pytest
from packstation_tests_station import TEE_EAN, StationFactory, stock

from packstation.adapters.db.numbers import SeriesExhausted
from packstation.bootstrap import Station, build_station
from packstation.config import ConfigError, NumbersConfig, parse_config
from packstation.domain.barcodes import sscc18
from packstation.domain.packing import Verdict
from packstation.services.ports import StorageError

BOX_S, TEE_G = 150, 200


def seal_one(station: Station, order_id: str, tees: int) -> str:
    bench = hf.login(station, "PACKER-001")
    assert [bench.scan(s).verdict for s in (order_id, "BOX-S", *[TEE_EAN] * tees)] == [
        Verdict.ORDER_OPENED, Verdict.CARTON_OPENED, *[Verdict.ACCEPTED] * tees]
    assert bench.scan("CMD-CLOSE-CARTON").verdict is Verdict.NEEDS_WEIGHT
    done = hf.close_with_weight(bench, BOX_S + tees * TEE_G)
    assert done.verdict is Verdict.ORDER_COMPLETE, done.message
    return str(done.data["sscc"])


def serial_of(sscc: str) -> int:
    return int(sscc[8:17])  # extension digit, 7-digit company prefix, 9-digit serial, check digit


def test_two_stations_on_one_database_never_issue_the_same_sscc(make_station: StationFactory) -> None:
    small = NumbersConfig(block_size=3)  # blocks run out often, so the two stations interleave
    a, b = make_station("BENCH-A", numbers=small), make_station("BENCH-B", numbers=small)
    stock(a)
    issued = [seal_one(a, "SO-1", 2), seal_one(b, "SO-5", 3)]
    for _ in range(10):  # more numbers, drawn turn about (as the seals of two busy benches)
        for station in (a, b, b, a):
            with station.uow() as uow:
                issued.append(sscc18(0, "0614141", uow.numbers.next("sscc")))
                uow.commit()
    assert len(set(issued)) == len(issued) == 42, "an SSCC was issued twice"
    blocks = sorted((r["first_value"], r["last_value"], r["station_id"]) for r in hf.rows(a, "number_blocks"))
    assert {s for _, _, s in blocks} == {"BENCH-A", "BENCH-B"}
    assert all(x[1] < y[0] for x, y in zip(blocks, blocks[1:], strict=False))  # disjoint blocks


def test_stations_on_separate_databases_with_their_own_ranges_never_collide(tmp_path: Path) -> None:
    configs = [
        parse_config(f'data_dir = "{tmp_path / name}"\n[station]\nid = "{name}"\n'
                     f"[numbers]\nsscc_first = {first}\nsscc_last = {last}\n")
        for name, first, last in (("BENCH-A", 1, 5000), ("BENCH-B", 5001, 10000))
    ]
    stations = [build_station(c, seed_demo=False) for c in configs]
    try:
        for station in stations:
            stock(station)
        a, b = (seal_one(s, "SO-1", 2) for s in stations)
        assert a != b and (serial_of(a), serial_of(b)) == (1, 5001)
        more = {name: [] for name in ("A", "B")}
        for station, name in zip(stations, more, strict=True):
            with station.uow() as uow:
                more[name] = [uow.numbers.next("sscc") for _ in range(250)]
                uow.commit()
        assert all(1 <= n <= 5000 for n in more["A"]) and all(5001 <= n <= 10000 for n in more["B"])
        assert not set(more["A"]) & set(more["B"])
    finally:
        for station in stations:
            station.close()


def test_stations_on_separate_databases_with_no_range_set_never_collide(tmp_path: Path) -> None:
    """The issue's finding as it was: two station databases on the defaults gave serial 1 twice."""
    stations = [build_station(parse_config(f'data_dir = "{tmp_path / name}"\n[station]\nid = "{name}"\n'),
                              seed_demo=False) for name in ("BENCH-01", "BENCH-02")]
    try:
        for station in stations:
            stock(station)
        a, b = (seal_one(s, "SO-1", 2) for s in stations)
        assert a != b and (serial_of(a), serial_of(b)) == (10_000_000, 20_000_000)
    finally:
        for station in stations:
            station.close()


def test_a_databases_series_keeps_its_range_unless_the_config_names_one(tmp_path: Path) -> None:
    """A default range only sets up a new series: a station upgraded from the old whole-range
    default, or a second station on the same database, goes on with the database's range; a range
    in [numbers] moves the series onto it. (Blocks of one: every number is a new block.)"""
    def build(numbers: str = "") -> Station:
        text = f'data_dir = "{tmp_path}"\n[station]\nid = "BENCH-03"\n[numbers]\nblock_size = 1\n{numbers}'
        return build_station(parse_config(text), seed_demo=False)

    station = build("sscc_first = 1\nsscc_last = 999999999\n")  # the range every station had before
    try:
        stock(station)
        assert serial_of(seal_one(station, "SO-1", 2)) == 1
    finally:
        station.close()
    station = build()  # now on the default: BENCH-03's slice would start at 30,000,000
    try:
        with station.uow() as uow:
            assert [uow.numbers.next("sscc") for _ in range(3)] == [2, 3, 4]
            uow.commit()
    finally:
        station.close()
    station = build("sscc_first = 30000000\n")
    try:
        with station.uow() as uow:
            assert uow.numbers.next("sscc") == 30_000_000
            uow.commit()
    finally:
        station.close()


def test_a_used_up_range_is_a_clear_error_and_seals_nothing(make_station: StationFactory) -> None:
    station = make_station(numbers=NumbersConfig(sscc_first=7, sscc_last=8, block_size=1))
    stock(station)
    assert serial_of(seal_one(station, "SO-1", 2)) == 7
    assert serial_of(seal_one(station, "SO-5", 3)) == 8
    with station.uow() as uow, pytest.raises(SeriesExhausted, match=r"used up \(range 7-8\).*\[numbers\]"):
        uow.numbers.next("sscc")
    bench = hf.login(station, "PACKER-001")
    assert [bench.scan(s).verdict for s in ("SO-3", "BOX-S", TEE_EAN)] == [
        Verdict.ORDER_OPENED, Verdict.CARTON_OPENED, Verdict.ACCEPTED]
    bench.scan("CMD-CLOSE-CARTON")
    refused = hf.close_with_weight(bench, BOX_S + TEE_G)
    assert refused.verdict is Verdict.STORAGE_FAILED and "used up" in refused.message
    assert [c["status"] for c in hf.rows(station, "cartons", order_id="SO-3")] == ["open"]
    assert issubclass(SeriesExhausted, StorageError)


@pytest.mark.parametrize("numbers, message", [
    ("sscc_first = -1", "sscc_first must be at least 1"),
    ("sscc_first = 10\nsscc_last = 9", "not below it"),
    ("sscc_last = 1000000000", "must stay below 1000000000"),  # 9 serial digits with a 7-digit prefix
    ("block_size = 0", "block_size must be at least 1"),
])
def test_a_range_that_cannot_work_is_refused_when_the_config_loads(tmp_path: Path, numbers: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(f'data_dir = "{tmp_path}"\n[numbers]\n{numbers}\n')

