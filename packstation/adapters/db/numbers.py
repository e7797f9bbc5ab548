"""Number series in blocks: a station draws numbers from blocks it holds, blocks come from a range.

The range is a ``number_series`` row: on a standalone station its own database's (with the
range from ``[numbers]`` in the config, so two stations given different ranges never collide),
on stations sharing a database, the shared row (one conditional UPDATE hands each station a
disjoint block); on synced stations the centre's row (``adapters.central.blocks.CentralBlocks``).
A number is issued when the unit of work that drew it commits;
a block once taken is never given out again, even if the station's transaction rolls back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from packstation.adapters.db import tables as t
from packstation.services.ports import NumberSeries, StorageError

ns = t.number_series.c
nb = t.number_blocks.c


class SeriesExhausted(StorageError):
    """Every number of a series' range has been handed out."""


@dataclass(frozen=True)
class SeriesRange:
    first: int
    last: int
    # False: a default (the station's own slot, when its config sets no range): it only sets up a
    # series its database does not have yet; a database's existing series keeps its range (two
    # stations sharing a database then share its range, drawing disjoint blocks). True: the
    # config's range, which moves an existing series onto it.
    configured: bool = True


class BlockSource(ABC):
    """Where a station's blocks come from."""

    @abstractmethod
    def take(self, conn: Connection, series: str, *, background: bool = False) -> tuple[int, int]:
        """A fresh block (first, last) of *series*; *conn* is the station's own transaction.
        *background*: asked by a worker keeping a reserve (it may wait), not by a seal."""


@dataclass
class LocalBlocks(BlockSource):
    """Blocks from this database's own range (standalone stations, stations sharing a database)."""

    ranges: dict[str, SeriesRange] = field(default_factory=dict)
    block_size: int = 100
    # series that must have no gaps take blocks of one, in the transaction that uses the number
    # (a rolled-back transaction gives its number back): e.g. {"manifest": 1}
    block_sizes: dict[str, int] = field(default_factory=dict)

    def take(self, conn: Connection, series: str, *, background: bool = False) -> tuple[int, int]:
        wanted = self.ranges.get(series, SeriesRange(1, 10**18))
        locked = select(ns.next_value, ns.last_value).where(ns.series == series).with_for_update()
        row = conn.execute(locked).first()
        if row is None:
            # The series' first use: stations starting together may all get here. FOR UPDATE
            # locks no row that does not exist yet, so the row is created with ON CONFLICT DO
            # NOTHING (which waits for a concurrent insert to commit) and then locked.
            conn.execute(_insert(conn).values(series=series, next_value=wanted.first, last_value=wanted.last)
                         .on_conflict_do_nothing(index_elements=[ns.series]))
            row = conn.execute(locked).one()
        start, last = int(row[0]), int(row[1])
        if wanted.configured:
            start = max(start, wanted.first)
        if wanted.configured or last == 0:  # changed in the config, or not set yet (migration 0004's row)
            last = wanted.last
        if start > last:
            span = f"{wanted.first}-{last}" if wanted.configured else f"up to {last}"
            raise SeriesExhausted(f"Number series {series!r} is used up (range {span}): "
                                  "give this station a new range in [numbers] of its config.")
        end = min(start + self.block_sizes.get(series, self.block_size) - 1, last)
        res = conn.execute(update(t.number_series).where(ns.series == series)
                           .values(next_value=end + 1, last_value=last))
        assert res.rowcount == 1
        return start, end


def _insert(conn: Connection) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(t.number_series)


@dataclass
class RoutedBlocks(BlockSource):
    """Blocks from *default* (the centre), except the series named by *local_prefixes*, which only
    this station draws from and which must have no gaps (its credit notes: ``credit-note:<entity>:
    <station>``): those come from the station's own database, in the transaction that uses the
    number, so a rolled-back credit note gives its number back. (A central block taken and then
    rolled back locally would leave a gap.)"""

    default: BlockSource
    local: BlockSource
    local_prefixes: tuple[str, ...] = ()

    def take(self, conn: Connection, series: str, *, background: bool = False) -> tuple[int, int]:
        source = self.local if series.startswith(self.local_prefixes) else self.default
        return source.take(conn, series, background=background)


class SqlNumberSeries(NumberSeries):
    def __init__(self, conn: Connection, station_id: str, source: BlockSource):
        self.conn = conn
        self.station_id = station_id
        self.source = source

    def _mine(self, series: str) -> Any:
        return and_(nb.series == series, nb.station_id == self.station_id, nb.next_value <= nb.last_value)

    def _new_block(self, series: str, *, background: bool = False) -> tuple[int, int]:
        first, last = self.source.take(self.conn, series, background=background)
        self.conn.execute(insert(t.number_blocks).values(series=series, station_id=self.station_id,
                                                         first_value=first, last_value=last, next_value=first))
        return first, last

    def next(self, series: str) -> int:
        row = self.conn.execute(select(nb.first_value, nb.next_value).where(self._mine(series))
                                .order_by(nb.first_value).limit(1).with_for_update()).first()
        if row is None:
            first, _ = self._new_block(series)
            row = (first, first)
        first, value = int(row[0]), int(row[1])
        self.conn.execute(update(t.number_blocks).where(and_(
            nb.series == series, nb.station_id == self.station_id, nb.first_value == first))
            .values(next_value=value + 1))
        return value

    def held(self, series: str) -> int:
        left = nb.last_value - nb.next_value + 1
        return int(self.conn.execute(select(func.coalesce(func.sum(left), 0)).where(self._mine(series))).scalar_one())

    def reserve(self, series: str, keep: int) -> int:
        held = self.held(series)
        for _ in range(100):  # blocks smaller than keep: a few more
            if held >= keep:
                break
            first, last = self._new_block(series, background=True)
            held += last - first + 1
        return held
