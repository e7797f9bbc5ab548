"""Shared helpers for the import, CLI, users and fault tests, and the SIGKILL worker.

Imported by the tests as ``helpers_faults`` (pytest puts tests/integration on sys.path), and run as a script by
the SIGKILL test::

    python tests/integration/helpers_faults.py worker DATA_DIR STATION_ID

The worker logs in, resumes the order its bench holds (or claims the next released one) and
packs orders through :meth:`Bench.scan` only, like a packer at the bench. It prints
``ACK <scan id>`` (flushed) only after ``scan()`` returned ACCEPTED, so every line the parent
reads is a scan the station acknowledged to the packer. Every fifth scan is taken back with
CMD-UNDO: ``UNDOING <id>`` before (if killed now, the scan may or may not be undone) and
``UNDONE <id>`` once the undo was acknowledged.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GS = "\x1d"
BADGE = "PACKER-001"


def station_config(data_dir: Path, station_id: str = "BENCH-01") -> Any:
    from packstation.config import Config, StationConfig

    return Config(data_dir=Path(data_dir), station=StationConfig(id=station_id, demo=False))


_template: list[Path] = []


def new_station(data_dir: Path, station_id: str = "BENCH-01") -> Any:
    """A station on a new, empty, migrated database in *data_dir*.

    The first call migrates a template database; later calls copy it (a fresh Alembic
    upgrade per test costs several times more than the test itself).
    """
    from packstation.bootstrap import build_station

    if not _template:
        folder = Path(tempfile.mkdtemp(prefix="packstation-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        build_station(station_config(folder), seed_demo=False).close()
        _template.append(folder / "packstation.db")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template[0], data_dir / "packstation.db")
    return build_station(station_config(data_dir, station_id), seed_demo=False)


def scan_code(product: Any, n: int, tag: str = "") -> str:
    """A scan for one unit of *product* that answers its lot / expiry / serial at once (GS1)."""
    gtin = next(c for c in product.barcodes if c.isdigit() and len(c) == 14)
    tracking = product.tracking.value
    if tracking == "lot":
        return f"]d201{gtin}10L{n % 1000:03d}"
    if tracking == "lot_expiry":
        return f"]d201{gtin}10L{n % 1000:03d}{GS}17391231"
    if tracking == "serial":
        return f"]d201{gtin}21{f'S{tag}{n}'[:20]}"
    return gtin


_serials = itertools.count(1)


def pack_next_unit(bench: Any, tag: str = "") -> Any:
    """Scan one unit of the first incomplete line of the open order (opening a carton first)."""
    from packstation.domain.packing import Verdict

    session = bench.session
    if session.open_carton is None:
        out = bench.scan("BOX-L")
        assert out.verdict is Verdict.CARTON_OPENED, out
    line = next(ln for ln in session.order.lines if ln.remaining > 0)
    return bench.scan(scan_code(session.products[line.sku], next(_serials), tag))


def close_carton(bench: Any) -> Any:
    """CMD-CLOSE-CARTON and the stable weight the scale would read (exactly the expected)."""
    from packstation.domain.packing import Verdict

    out = bench.scan("CMD-CLOSE-CARTON")
    assert out.verdict is Verdict.NEEDS_WEIGHT, out
    return bench.close_with_weight(out.data["expected_g"])


def pack_order(bench: Any, order_id: str, carton: str = "BOX-L") -> list[Any]:
    """Pack *order_id* completely through Bench.scan; returns every Outcome (last: ORDER_COMPLETE)."""
    from packstation.domain.packing import Verdict

    outcomes = [bench.scan(order_id)]
    assert outcomes[-1].verdict is Verdict.ORDER_OPENED, outcomes[-1]
    outcomes.append(bench.scan(carton))
    while bench.session is not None and any(ln.remaining for ln in bench.session.order.lines):
        outcomes.append(pack_next_unit(bench))
        assert outcomes[-1].verdict is Verdict.ACCEPTED, outcomes[-1]
    outcomes.append(close_carton(bench))
    assert outcomes[-1].verdict is Verdict.ORDER_COMPLETE, outcomes[-1]
    return outcomes


def table_counts(station: Any) -> dict[str, int]:
    """Rows per table (and the newest event), to prove an action stored nothing."""
    from sqlalchemy import text

    with station.engine.connect() as conn:
        names = [r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'"))]
        counts = {n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}
    return counts


def seed_for_packing(data_dir: Path, orders: int = 40) -> list[str]:
    """A station database with the demo catalog, cartons, a packer and *orders* released orders."""
    from packstation import demo
    from packstation.services import users
    from packstation.services.imports import import_records

    station = new_station(data_dir)
    try:
        products = demo.catalog(60)
        records = demo.orders(products, orders)
        for rec in records:  # all packable: no held prepaid orders in this run
            rec["payment"] = {"method": "prepaid", "status": "paid"}
        for kind, recs in (("catalog", products), ("cartons", list(demo.CARTON_TYPES)), ("orders", records)):
            report = import_records(station.ctx.uow, kind, [(f"record {i}", r) for i, r in enumerate(recs, 1)], kind)
            assert report.ok, report.rejected[:3]
        users.add_user(station.ctx.uow, "Pat Packer", "packer", BADGE)
    finally:
        station.close()
    return [r["order_id"] for r in records]


# --- the SIGKILL worker -----------------------------------------------------------------------


def _next_released(station: Any) -> str | None:
    with station.ctx.uow(readonly=True) as uow:
        rows = uow.select_rows("orders", {"status": "released"}, order_by="order_id")
    return rows[0]["order_id"] if rows else None


def worker(data_dir: str, station_id: str) -> int:
    from packstation.bootstrap import build_station
    from packstation.domain.packing import Verdict

    station = build_station(station_config(Path(data_dir), station_id), seed_demo=False)
    bench = station.bench()
    out = bench.scan(BADGE)
    if out.verdict is not Verdict.LOGGED_IN:
        print(f"ERROR login {out}", flush=True)
        return 1
    print(f"READY {out.data.get('resumed', '-')}", flush=True)
    tag = f"{os.getpid() % 10000}T{int(time.time() * 1000) % 100000}"
    acks = 0
    while True:
        if bench.session is None:
            order_id = _next_released(station)
            if order_id is None:
                print("DONE", flush=True)
                return 0
            out = bench.scan(order_id)
            if out.verdict is not Verdict.ORDER_OPENED:
                print(f"ERROR claim {out}", flush=True)
                return 1
            continue
        if any(ln.remaining for ln in bench.session.order.lines):
            out = pack_next_unit(bench, tag)
            if out.verdict is Verdict.ACCEPTED:
                print(f"ACK {out.data['scan_id']}", flush=True)
                acks += 1
            else:
                print(f"ERROR scan {out}", flush=True)
                return 1
            if acks % 5 == 0:  # every fifth scan is taken back again (CMD-UNDO)
                item = bench.session.last_undoable(bench.user.name)
                print(f"UNDOING {item.scan_id}", flush=True)  # may or may not be undone if killed now
                out = bench.scan("CMD-UNDO")
                if out.verdict is not Verdict.UNDONE:
                    print(f"ERROR undo {out}", flush=True)
                    return 1
                print(f"UNDONE {item.scan_id}", flush=True)
        else:
            out = close_carton(bench)
            if out.verdict not in (Verdict.ORDER_COMPLETE, Verdict.CARTON_CLOSED):
                print(f"ERROR close {out}", flush=True)
                return 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        sys.exit(worker(sys.argv[2], sys.argv[3]))
    print("usage: helpers_faults.py worker DATA_DIR STATION_ID", file=sys.stderr)
    sys.exit(2)
