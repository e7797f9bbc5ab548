"""One bench in a process of its own, for the lease tests and benchmark (``python lease_station.py JSON``).

The bench is built by the composition root (``build_station``) from a config with a local SQLite
database and ``[database] central``, exactly as a synced station starts, and driven through the
use cases by JSON lines on stdin; each command is answered by one JSON line on stdout:

- ``{"op": "claim", "orders": [...], "pack": true}``: claim each order (``packing.claim_order``);
  with ``pack``, open a BOX-S and scan one item into each order won. Answers ``won``,
  ``refused`` (order -> message) and ``ms`` (each claim's milliseconds).
- ``{"op": "pack", "order": ID, "items": [barcode, ...], "weight_g": N}``: claim (or continue)
  the order, open a BOX-S, scan the items, close the carton. Answers the verdicts and each
  item scan's milliseconds.
- ``{"op": "renew"}``: one heartbeat (``leases.renew_leases``): ``online``, ``renewed``, ``lost``, ``why``.
- ``{"op": "sync"}``: push and pull until drained (``Station.sync_now``, as ``packstation sync now``):
  ``drained``, ``why`` (what failed), and the ids of every event of this station in its own database (``events``).
- ``{"op": "quit"}``.

The first line it prints is ``{"ready": true}`` (or ``{"error": ...}``).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def main() -> int:
    args = json.loads(sys.argv[1])
    from packstation.bootstrap import build_station
    from packstation.config import Config, DatabaseConfig, StationConfig
    from packstation.domain.barcodes import interpret
    from packstation.domain.identity import ActorKind
    from packstation.services import leases, packing

    try:
        station = build_station(Config(station=StationConfig(id=args["station"], name=args["station"]),
                                       database=DatabaseConfig(local=args["local"], central=args.get("central", "")),
                                       data_dir=Path(args["data_dir"])), seed_demo=False)
        station.sync_now()  # the first round a synced station's sync worker runs: pull, and a reserve of numbers
        packer = station.ctx.auth.login(args.get("badge", "PACKER-001"))
        system = station.ctx.auth.system(ActorKind.SYSTEM, "lease-heartbeat")
    except Exception as exc:  # noqa: BLE001 - said to the test, which fails with it
        print(json.dumps({"error": f"{exc}\n{traceback.format_exc()}"}), flush=True)
        return 1
    ctx = station.ctx

    def claim(cmd: dict[str, Any]) -> dict[str, Any]:
        won, refused, ms = [], {}, []
        for order_id in cmd["orders"]:
            start = time.perf_counter()
            try:
                pack = packing.claim_order(ctx, packer, order_id)
            except packing.OrderRefused as exc:
                refused[order_id] = str(exc)
                ms.append((time.perf_counter() - start) * 1000)
                continue
            ms.append((time.perf_counter() - start) * 1000)
            won.append(order_id)
            if cmd.get("pack"):
                opened = packing.open_carton(ctx, packer, pack, "BOX-S")
                item = packing.record_item_scan(ctx, packer, pack, interpret(cmd.get("item", args["item"])))
                if not opened.accepted or item.verdict.value != "accepted":
                    return {"error": f"{order_id}: {opened.message} / {item.message}"}
        return {"won": won, "refused": refused, "ms": ms}

    def pack(cmd: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            session = packing.claim_order(ctx, packer, cmd["order"])
        except packing.OrderRefused as exc:
            return {"refused": str(exc), "claim_ms": (time.perf_counter() - start) * 1000}
        claim_ms = (time.perf_counter() - start) * 1000
        verdicts = [packing.open_carton(ctx, packer, session, "BOX-S").verdict.value]
        ms = []
        for code in cmd["items"]:
            t0 = time.perf_counter()
            verdicts.append(packing.record_item_scan(ctx, packer, session, interpret(code)).verdict.value)
            ms.append((time.perf_counter() - t0) * 1000)
        messages = []
        if "weight_g" in cmd:
            closed = packing.close_carton(ctx, packer, session, cmd["weight_g"])
            verdicts.append(closed.verdict.value)
            messages.append(closed.message)
        return {"verdicts": verdicts, "ms": ms, "claim_ms": claim_ms, "messages": messages}

    def renew(cmd: dict[str, Any]) -> dict[str, Any]:
        beat = leases.renew_leases(ctx, system)
        return {"online": beat.online, "renewed": sorted(beat.renewed), "lost": sorted(beat.lost), "why": beat.error}

    def sync(cmd: dict[str, Any]) -> dict[str, Any]:
        import sqlalchemy as sa

        from packstation.adapters.db import tables

        result = station.sync_now()
        with station._engine.connect() as conn:  # what this bench recorded, to hold against the centre
            ids = conn.execute(sa.select(tables.events.c.id)
                               .where(tables.events.c.station_id == args["station"])).scalars().all()
        return {"drained": bool(result is not None and result.drained), "why": getattr(result, "error", ""),
                "events": sorted(ids)}

    ops = {"claim": claim, "pack": pack, "renew": renew, "sync": sync}
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "quit":
                break
            try:
                reply = ops[cmd["op"]](cmd)
            except Exception as exc:  # noqa: BLE001 - said to the test, which fails with it
                reply = {"error": f"{exc}\n{traceback.format_exc()}"}
            print(json.dumps(reply), flush=True)
    finally:
        station.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
