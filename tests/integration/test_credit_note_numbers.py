"""Credit-note numbers on a synced station: the station's own series comes from its own database,
in the transaction that uses the number (gap-free), while other series come from the centre."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection

from packstation.adapters.db.engine import make_engine, migrate
from packstation.adapters.db.numbers import BlockSource, LocalBlocks, RoutedBlocks
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.domain.returns import ReturnsPolicy
from packstation.services.ports import StorageError


class CentreDown(BlockSource):
    """The centre's blocks, while the network is down."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def take(self, conn: Connection, series: str, *, background: bool = False) -> tuple[int, int]:
        self.asked.append(series)
        raise StorageError("the central database cannot be reached")


def test_the_credit_note_series_is_the_stations_own_and_gives_a_rolled_back_number_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'station.db'}")
    migrate(engine)
    centre = CentreDown()
    blocks = RoutedBlocks(centre, LocalBlocks(), local_prefixes=("credit-note:",))
    series = ReturnsPolicy(legal_entity="ACME").series("BENCH-01")
    try:
        with SqlUnitOfWork(engine, "BENCH-01", blocks) as uow:
            assert uow.numbers.next(series) == 1  # a credit note that is never stored: rolled back
        with SqlUnitOfWork(engine, "BENCH-01", blocks) as uow:
            assert [uow.numbers.next(series) for _ in range(2)] == [1, 2]  # no gap
            uow.commit()
        with SqlUnitOfWork(engine, "BENCH-01", blocks) as uow:
            assert uow.numbers.next(series) == 3
            with pytest.raises(StorageError, match="cannot be reached"):
                uow.numbers.next("sscc")  # everything else still asks the centre
        assert centre.asked == ["sscc"]
    finally:
        engine.dispose()
