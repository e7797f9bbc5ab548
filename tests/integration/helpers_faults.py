"""Shared helpers for the integration tests (stations, terminals, reading the database) and the
SIGKILL worker.

Imported by the tests as ``helpers_faults`` (pytest puts tests/integration on sys.path), and run as a
script by the SIGKILL test::

    python tests/integration/helpers_faults.py worker DATA_DIR STATION_ID

The worker logs in, resumes the order its bench holds (or claims the next released one) and
packs orders through :meth:`Terminal.scan` only, like a packer at the bench. It prints
``ACK <scan id>`` (flushed) only after ``scan()`` returned ACCEPTED, so every line the parent
reads is a scan the station acknowledged to the packer. Every fifth scan is taken back with
CMD-UNDO: ``UNDOING <id>`` before (if killed now, the scan may or may not be undone) and
``UNDONE <id>`` once the undo was acknowledged.

Tests may look at the database to verify what was stored: :func:`rows`, :func:`count` and
:func:`table_counts` read it with plain SQLAlchemy on the station's own connection.
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
LEAD_BADGE = "LEAD-001"
LEAD_PIN = "2468"  # the test lead's PIN (leads approve with badge + PIN)


def station_config(data_dir: Path, station_id: str = "BENCH-01", **sections: Any) -> Any:
    from packstation.config import Config, StationConfig

    return Config(data_dir=Path(data_dir), station=StationConfig(id=station_id, demo=False), **sections)


_template: list[Path] = []


def new_station(data_dir: Path, station_id: str = "BENCH-01", *, clock: Any = None, **sections: Any) -> Any:
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
    return build_station(station_config(data_dir, station_id, **sections), seed_demo=False, clock=clock)


def admin(station: Any) -> Any:
    """The session the command line gets (the OS user, with an admin's authority)."""
    return station.system_session()


def importer(station: Any) -> Any:
    from packstation.domain.identity import ActorKind

    return station.system_session(ActorKind.IMPORT, "tests")


def add_user(station: Any, name: str, role: str, badge: str, pin: str | None = None) -> Any:
    """Add a user as the command line would (leads get the test lead PIN unless given one)."""
    from packstation.services import users

    if pin is None and role in ("lead", "admin"):
        pin = LEAD_PIN
    return users.add_user(station.ctx, admin(station), name, role, badge, pin)


def import_recs(station: Any, kind: str, records: list[dict[str, Any]], name: str = "") -> Any:
    from packstation.services.imports import import_records

    return import_records(station.ctx, importer(station), kind,
                          [(f"record {i}", r) for i, r in enumerate(records, 1)], name or f"test {kind}")


def person(station: Any, badge: str, pin: str | None = None) -> Any:
    """A person's session from badge (+ PIN), as the station's Authenticator issues it."""
    if pin is None and badge.startswith("LEAD"):
        pin = LEAD_PIN
    return station.ctx.auth.login(badge, pin)


# --- the terminal (badge login, desks, scans) ----------------------------------------------------


def login(station_or_terminal: Any, badge: str = BADGE, pin: str | None = None) -> Any:
    """A terminal with *badge* logged in at the pack bench (a lead enters the PIN and picks the bench)."""
    from packstation.domain.packing import Verdict

    terminal = station_or_terminal.terminal() if hasattr(station_or_terminal, "terminal") else station_or_terminal
    out = terminal.scan(badge)
    if out.verdict is Verdict.NEEDS_PIN:
        out = terminal.enter_pin(pin or LEAD_PIN)
    if out.verdict is Verdict.LOGGED_IN and "choose_desk" in out.data:
        out = terminal.scan("DESK-BENCH")
    assert out.verdict is Verdict.LOGGED_IN, out
    return terminal


def pack_of(terminal: Any) -> Any:
    """The order open at the terminal's pack bench (a PackSession), or None."""
    handler = terminal.handler
    return getattr(handler, "pack", None)


def close_with_weight(terminal: Any, grams: int) -> Any:
    return terminal.handler.close_with_weight(grams)


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


def pack_next_unit(terminal: Any, tag: str = "") -> Any:
    """Scan one unit of the first incomplete line of the open order (opening a carton first)."""
    from packstation.domain.packing import Verdict

    pack = pack_of(terminal)
    if pack.open_carton is None:
        out = terminal.scan("BOX-L")
        assert out.verdict is Verdict.CARTON_OPENED, out
    line = next(ln for ln in pack.order.lines if ln.remaining > 0)
    return terminal.scan(scan_code(pack.products[line.sku], next(_serials), tag))


def close_carton(terminal: Any) -> Any:
    """CMD-CLOSE-CARTON and the stable weight the scale would read (exactly the expected)."""
    from packstation.domain.packing import Verdict

    out = terminal.scan("CMD-CLOSE-CARTON")
    assert out.verdict is Verdict.NEEDS_WEIGHT, out
    return close_with_weight(terminal, out.data["expected_g"])


def pack_order(terminal: Any, order_id: str, carton: str = "BOX-L") -> list[Any]:
    """Pack *order_id* completely through Terminal.scan; returns every Outcome (last: ORDER_COMPLETE)."""
    from packstation.domain.packing import Verdict

    outcomes = [terminal.scan(order_id)]
    assert outcomes[-1].verdict is Verdict.ORDER_OPENED, outcomes[-1]
    outcomes.append(terminal.scan(carton))
    while pack_of(terminal) is not None and any(ln.remaining for ln in pack_of(terminal).order.lines):
        outcomes.append(pack_next_unit(terminal))
        assert outcomes[-1].verdict is Verdict.ACCEPTED, outcomes[-1]
    outcomes.append(close_carton(terminal))
    assert outcomes[-1].verdict is Verdict.ORDER_COMPLETE, outcomes[-1]
    return outcomes


# --- reading the database (tests may look) -------------------------------------------------------


def engine_of(station: Any) -> Any:
    """The station's SQLAlchemy engine, reached through a unit of work's connection."""
    with station.uow(readonly=True) as uow:
        return uow.conn.engine


def rows(station: Any, table: str, order_by: str | None = None, **where: Any) -> list[dict[str, Any]]:
    """Every row of *table* (matching *where*), as dicts, by *order_by* or the primary key."""
    import sqlalchemy as sa

    from packstation.adapters.db import tables

    tbl = tables.metadata.tables[table]
    query = sa.select(tbl).where(*(tbl.c[k] == v for k, v in where.items()))
    query = query.order_by(tbl.c[order_by]) if order_by else query.order_by(*tbl.primary_key.columns)
    with station.uow(readonly=True) as uow:
        return [dict(r) for r in uow.conn.execute(query).mappings()]


def count(station: Any, table: str) -> int:
    import sqlalchemy as sa

    from packstation.adapters.db import tables

    with station.uow(readonly=True) as uow:
        return int(uow.conn.execute(sa.select(sa.func.count()).select_from(tables.metadata.tables[table])).scalar_one())


def table_counts(station: Any) -> dict[str, int]:
    """Rows per table, to prove an action stored nothing (SQLite and PostgreSQL alike)."""
    import sqlalchemy as sa

    with station.uow(readonly=True) as uow:
        names = [n for n in sa.inspect(uow.conn).get_table_names() if n != "alembic_version"]
        return {n: int(uow.conn.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}


def event_kinds(station: Any, order_id: str | None = None) -> list[str]:
    with station.uow(readonly=True) as uow:
        if order_id is not None:
            return [e.kind for e in uow.events.for_order(order_id)]
    return [r["kind"] for r in rows(station, "events", order_by="seq")]


def seed_for_packing(data_dir: Path, orders: int = 40) -> list[str]:
    """A station database with the demo catalog, cartons, a packer and *orders* released orders."""
    from packstation import demo

    station = new_station(data_dir)
    try:
        products = demo.catalog(60)
        records = demo.orders(products, orders)
        for rec in records:  # all packable: no held prepaid orders in this run
            rec["payment"] = {"method": "prepaid", "status": "paid"}
        for kind, recs in (("catalog", products), ("cartons", list(demo.CARTON_TYPES)), ("orders", records)):
            report = import_recs(station, kind, recs, kind)
            assert report.ok, report.rejected[:3]
        add_user(station, "Pat Packer", "packer", BADGE)
    finally:
        station.close()
    return [r["order_id"] for r in records]


# --- the SIGKILL worker -----------------------------------------------------------------------


def _next_released(station: Any) -> str | None:
    with station.ctx.uow(readonly=True) as uow:
        ready = uow.orders.ready(1)
    return ready[0][0] if ready else None


def _warm_up_documents() -> None:
    """Render a label and a slip once: a seal renders both (PDF, no printer configured), and the
    first rendering of a process loads reportlab and the fonts (~0.3 s). The kills, at most 0.25 s
    after READY, are meant to land in packing, not in module imports."""
    from packstation.adapters.documents import render_label
    from packstation.adapters.documents.demo import demo_label, demo_packing_slip
    from packstation.adapters.documents.packing_slip import render_packing_slip_pdf

    render_label(demo_label(), "pdf")
    render_packing_slip_pdf(demo_packing_slip(), size="A4")


def worker(data_dir: str, station_id: str) -> int:
    from packstation.bootstrap import build_station
    from packstation.domain.packing import Verdict

    station = build_station(station_config(Path(data_dir), station_id), seed_demo=False)
    _warm_up_documents()
    terminal = station.terminal()
    out = terminal.scan(BADGE)
    if out.verdict is not Verdict.LOGGED_IN:
        print(f"ERROR login {out}", flush=True)
        return 1
    print(f"READY {out.data.get('resumed', '-')}", flush=True)
    tag = f"{os.getpid() % 10000}T{int(time.time() * 1000) % 100000}"
    acks = 0
    while True:
        pack = pack_of(terminal)
        if pack is None:
            order_id = _next_released(station)
            if order_id is None:
                print("DONE", flush=True)
                return 0
            out = terminal.scan(order_id)
            if out.verdict is not Verdict.ORDER_OPENED:
                print(f"ERROR claim {out}", flush=True)
                return 1
            continue
        if any(ln.remaining for ln in pack.order.lines):
            out = pack_next_unit(terminal, tag)
            if out.verdict is Verdict.ACCEPTED:
                print(f"ACK {out.data['scan_id']}", flush=True)
                acks += 1
            else:
                print(f"ERROR scan {out}", flush=True)
                return 1
            if acks % 5 == 0:  # every fifth scan is taken back again (CMD-UNDO)
                item = pack.last_undoable(terminal.session.name)
                print(f"UNDOING {item.scan_id}", flush=True)  # may or may not be undone if killed now
                out = terminal.scan("CMD-UNDO")
                if out.verdict is not Verdict.UNDONE:
                    print(f"ERROR undo {out}", flush=True)
                    return 1
                print(f"UNDONE {item.scan_id}", flush=True)
        else:
            out = close_carton(terminal)
            if out.verdict not in (Verdict.ORDER_COMPLETE, Verdict.CARTON_CLOSED):
                print(f"ERROR close {out}", flush=True)
                return 1


# --- the sealing process (print jobs and SIGKILL) -----------------------------------------------

PRINT_STATION = "BENCH-P"


def printing_config(data_dir: Path, printer_url: str) -> Any:
    """The station of the print tests: its label printer at *printer_url* (ZPL), slips as PDFs."""
    from packstation.config import PrinterConfig

    return station_config(Path(data_dir), PRINT_STATION, label_printer=PrinterConfig(url=printer_url, language="zpl"))


def sealer(data_dir: str, printer_url: str, mode: str) -> int:
    """Pack the next released order and seal it; then, by *mode*:

    ``die-after-commit``: SIGKILL itself right after the seal's commit (the print worker not
    started, so nothing was sent); ``send``: print ``SEALED <sscc>`` and send the jobs now (a
    printer that never reads keeps it in the send until the test kills it).
    """
    import signal

    from packstation.bootstrap import build_station
    from packstation.domain.packing import Verdict

    station = build_station(printing_config(Path(data_dir), printer_url), seed_demo=False)
    terminal = login(station)
    order_id = _next_released(station)
    assert order_id is not None and terminal.scan(order_id).verdict is Verdict.ORDER_OPENED
    assert terminal.scan("BOX-L").verdict is Verdict.CARTON_OPENED
    while any(ln.remaining for ln in pack_of(terminal).order.lines):
        assert pack_next_unit(terminal).verdict is Verdict.ACCEPTED
    weighing = terminal.scan("CMD-CLOSE-CARTON")
    assert weighing.verdict is Verdict.NEEDS_WEIGHT
    if mode == "die-after-commit":
        # the seal calls wake() just after its commit, to tell the print worker: die there
        station.ctx.documents.on_wake = lambda: os.kill(os.getpid(), signal.SIGKILL)
    out = close_with_weight(terminal, weighing.data["expected_g"])
    assert out.verdict is Verdict.ORDER_COMPLETE, out
    print(f"SEALED {out.data['sscc']}", flush=True)
    station.print_worker.drain()
    print("DRAINED", flush=True)
    station.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        sys.exit(worker(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[1] == "seal":
        sys.exit(sealer(sys.argv[2], sys.argv[3], sys.argv[4]))
    print("usage: helpers_faults.py worker DATA_DIR STATION_ID | seal DATA_DIR PRINTER_URL MODE", file=sys.stderr)
    sys.exit(2)
