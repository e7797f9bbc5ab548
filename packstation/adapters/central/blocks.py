"""Number blocks from the centre: ``CentralBlocks`` hands a synced station blocks of a series
(SSCC serials; later manifests, credit notes) from the central ``number_series`` row.

A block is taken in a short central transaction of its own, committed before the station's
local transaction stores it: the centre never gives a block twice, and a block the station then
fails to store (or does not use up) is a gap, never a number issued twice. The centre also lists
each block it gave in its ``number_blocks`` (next_value = last_value + 1 there: handed out).

Offline the station keeps numbering from the blocks it holds (``NumberSeries.reserve`` keeps one
in hand while online); once those run out it cannot seal until the centre is back, and says so.
After a failed attempt a seal does not try the centre again for ``retry_after_s`` (a bench without
numbers fails at once instead of waiting for the connect timeout at every seal); the worker's
reserve (``background``) always tries, and its success ends that pause.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from packstation.adapters.db import tables as t
from packstation.adapters.db.engine import database_hint
from packstation.adapters.db.numbers import BlockSource, SeriesExhausted, SeriesRange
from packstation.services.ports import StorageError

ns = t.number_series.c


class CentreUnreachable(StorageError):
    """No block could be had from the central database (network down, server gone)."""


@dataclass
class CentralBlocks(BlockSource):
    engine: Engine  # the central database's
    station_id: str
    ranges: dict[str, SeriesRange] = field(default_factory=dict)  # a series' range when the centre has none yet
    block_size: int = 100
    block_sizes: dict[str, int] = field(default_factory=dict)  # other sizes per series (manifests: 1)
    retry_after_s: float = 30.0
    _down_until: float = 0.0
    _why: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, conn: Connection, series: str, *, background: bool = False) -> tuple[int, int]:
        """A fresh block of *series* from the centre (*conn*, the station's transaction, is not used)."""
        if not background and time.monotonic() < self._down_until:
            raise CentreUnreachable(self._message(series, self._why))
        try:
            with self._lock, self.engine.begin() as central:
                return self._take(central, series)
        except DBAPIError as exc:
            self._why = database_hint(exc, self.engine.url)
            self._down_until = time.monotonic() + self.retry_after_s
            raise CentreUnreachable(self._message(series, self._why)) from exc

    def _take(self, central: Connection, series: str) -> tuple[int, int]:
        wanted = self.ranges.get(series, SeriesRange(1, 10**18))
        # the first station to need the series creates its central row with its configured range;
        # an existing row's range is the centre's and is never changed from a station
        central.execute(pg_insert(t.number_series).values(series=series, next_value=wanted.first,
                                                          last_value=wanted.last).on_conflict_do_nothing())
        row = central.execute(select(ns.next_value, ns.last_value).where(ns.series == series).with_for_update()).one()
        start, last = int(row[0]), int(row[1])
        if start > last:
            raise SeriesExhausted(f"Number series {series!r} is used up at the central database (it ends at {last}): "
                                  "an admin gives it a new range there (number_series).")
        end = min(start + self.block_sizes.get(series, self.block_size) - 1, last)
        central.execute(update(t.number_series).where(ns.series == series).values(next_value=end + 1))
        central.execute(insert(t.number_blocks).values(series=series, station_id=self.station_id, first_value=start,
                                                       last_value=end, next_value=end + 1))
        self._down_until = 0.0
        return start, end

    @staticmethod
    def _message(series: str, why: str) -> str:
        what = "SSCC numbers" if series == "sscc" else f"numbers of the series {series!r}"
        return (f"Offline: this bench has used up its {what} and cannot get more from the central database. "
                f"Check the network; it seals again as soon as the central database is back. ({why})")


__all__ = ["CentralBlocks", "CentreUnreachable"]
