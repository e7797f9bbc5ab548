"""Fewer cyclic garbage collections during bulk work (a file import, a sync drain)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while bulk work runs.

    Bulk work makes millions of small containers (a record's dicts and lists, a batch of events
    and the rows built from them) that die young but live through several collections of the
    youngest generation; with Python's default threshold (700) collecting them cost a fifth of an
    import's CPU time and a tenth of a sync drain's. The threshold goes back when the work ends
    (nested uses keep the outer one's setting). Other threads see the higher threshold meanwhile:
    they collect less often, which they do not rely on (no finaliser here waits on a cycle)."""
    old = gc.get_threshold()
    if old[0] < BULK_THRESHOLD:
        gc.set_threshold(BULK_THRESHOLD, old[1], old[2])
    try:
        yield
    finally:
        if gc.get_threshold()[0] == BULK_THRESHOLD and old[0] < BULK_THRESHOLD:
            gc.set_threshold(*old)
