"""Stored points in time come back time-zone aware and in UTC, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import helpers_faults as hf
import pytest
from packstation_tests_station import StationFactory, order, stock

INDIA = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture(params=["sqlite", "postgres"])
def factory(request: pytest.FixtureRequest) -> StationFactory:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        return request.getfixturevalue("make_pg_station")
    return request.getfixturevalue("make_station")


def test_an_offset_time_reads_back_as_the_same_instant_in_utc(factory: StationFactory) -> None:
    station = factory()
    placed = datetime(2026, 3, 10, 12, 5, tzinfo=INDIA)
    record = order("SO-IN", {"TS-1": 1}) | {"placed_at": placed.isoformat()}
    stock(station, [record])
    [row] = hf.rows(station, "orders", order_id="SO-IN")
    assert row["placed_at"] == placed
    assert row["placed_at"].tzinfo is not None and row["placed_at"].utcoffset() == timedelta(0)
    assert row["placed_at"].isoformat() == "2026-03-10T06:35:00+00:00"
    assert row["created_at"].utcoffset() == timedelta(0)
    with station.uow(readonly=True) as uow:  # and through the repository, as the services see it
        stored = uow.orders.get("SO-IN")
    assert stored is not None and stored.placed_at == placed and stored.placed_at.utcoffset() == timedelta(0)
