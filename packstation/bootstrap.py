"""The composition root: builds the database, the use-case context and the bench from a Config.

Nothing else creates engines or reads the config; the window, the CLI, the tests and the
benchmarks all start here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from packstation.adapters.db.engine import make_engine, migrate
from packstation.adapters.db.store import SqlUnitOfWork
from packstation.config import Config
from packstation.domain.packing import Tolerance
from packstation.services.bench import Bench
from packstation.services.packing import PackingContext


@dataclass
class Station:
    config: Config
    engine: Engine
    ctx: PackingContext

    def uow(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return self.ctx.uow(readonly=readonly)  # type: ignore[return-value]

    def bench(self) -> Bench:
        return Bench(self.ctx, carton_prefix=self.config.packing.carton_prefix)

    def output_desk(self):  # type: ignore[no-untyped-def]
        """The bench's printers with the job journal on the station database."""
        from packstation.adapters.db.print_journal import SqlPrintJournal
        from packstation.printing import OutputDesk

        return OutputDesk(self.config, SqlPrintJournal(self.engine, self.config.station.id, self.ctx.clock))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_station(
    config: Config, *, seed_demo: bool | None = None, clock: Callable[[], datetime] | None = None
) -> Station:
    """Open (and upgrade) the database; seed demo data on the embedded default's first start.

    *clock* (default: UTC now) dates everything the station decides and stores.
    """
    engine = make_engine(config.database_url)
    migrate(engine)
    station_id = config.station.id

    def uow_factory(readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, station_id, ctx.clock, readonly=readonly)

    ctx = PackingContext(
        uow=uow_factory,
        station_id=station_id,
        tolerance=Tolerance(config.packing.tolerance_pct, config.packing.tolerance_g),
        gs1_company_prefix=config.packing.gs1_company_prefix,
        sscc_extension=config.packing.sscc_extension,
        **({"clock": clock} if clock is not None else {}),
    )
    station = Station(config=config, engine=engine, ctx=ctx)
    if seed_demo if seed_demo is not None else config.station.demo:
        from packstation.demo import seed_if_empty

        seed_if_empty(station)
    return station


__all__ = ["Station", "build_station"]
