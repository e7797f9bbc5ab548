"""The three storage backends the contract suite runs on: the in-memory fake, SQLite, PostgreSQL.

``backend.factory(station_id, ranges=..., block_size=...)`` gives a unit-of-work factory on
this test's own database: a FakeDatabase, a fresh SQLite file in tmp_path, or an empty
PostgreSQL database on the test server (tests/pg_server.py). Two factories of one backend share
its database, as two stations sharing a database do.

PostgreSQL: one database per run is created and migrated, and every test starts by emptying
all its tables (TRUNCATE ... RESTART IDENTITY: ids and sequences start again too). A new
database per test gave the same start but cost half a second each, three quarters of the run.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine

from packstation.adapters.db import tables
from packstation.adapters.db.engine import make_engine, migrate
from packstation.adapters.db.numbers import LocalBlocks, SeriesRange
from packstation.adapters.db.uow import SqlUnitOfWork
from packstation.services.ports import UnitOfWork, UnitOfWorkFactory


def _load_fakes() -> ModuleType:
    """tests/fakes.py as module ``fakes``, whatever pytest's import mode."""
    if "fakes" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fakes", Path(__file__).parents[1] / "fakes.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fakes"] = module
        spec.loader.exec_module(module)
    return sys.modules["fakes"]


fakes = _load_fakes()

Ranges = dict[str, tuple[int, int]]


@dataclass
class Backend:
    name: str
    _make: Callable[[str, Ranges, int], UnitOfWorkFactory]

    def factory(self, station_id: str = "BENCH-01", *, ranges: Ranges | None = None,
                block_size: int = 100) -> UnitOfWorkFactory:
        return self._make(station_id, dict(ranges or {}), block_size)

    @property
    def is_fake(self) -> bool:
        return self.name == "fake"


def _sql_factory(engine: object) -> Callable[[str, Ranges, int], UnitOfWorkFactory]:
    def make(station_id: str, ranges: Ranges, block_size: int) -> UnitOfWorkFactory:
        blocks = LocalBlocks(ranges={k: SeriesRange(a, b) for k, (a, b) in ranges.items()}, block_size=block_size)

        def factory(*, readonly: bool = False) -> UnitOfWork:
            return SqlUnitOfWork(engine, station_id, blocks, readonly=readonly)  # type: ignore[arg-type]

        return factory

    return make


@pytest.fixture(scope="session")
def contract_pg_url(pg_server_instance: object) -> Iterator[str]:
    """A migrated PostgreSQL database for the contract suite (emptied before each test)."""
    name = pg_server_instance.create_database()  # type: ignore[attr-defined]
    url = pg_server_instance.url(name)  # type: ignore[attr-defined]
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:  # what `packstation central init` adds for the leases' fencing tokens
        conn.exec_driver_sql("CREATE SEQUENCE IF NOT EXISTS lease_token_seq")
    engine.dispose()
    try:
        yield url
    finally:
        pg_server_instance.drop_database(name)  # type: ignore[attr-defined]


def _empty(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in tables.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "fake":
        db = fakes.FakeDatabase()
        yield Backend("fake", lambda station, ranges, size: fakes.FakeUnitOfWorkFactory(
            db, station, fakes.NumberRanges(ranges, size)))
        return
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'station.db'}")
        migrate(engine)
    else:
        engine = make_engine(request.getfixturevalue("contract_pg_url"))
        _empty(engine)
    try:
        yield Backend(request.param, _sql_factory(engine))
    finally:
        engine.dispose()


@pytest.fixture
def uow(backend: Backend) -> UnitOfWorkFactory:
    """The unit-of-work factory of station BENCH-01 on this test's database."""
    return backend.factory()
