"""``packstation status ORDER_ID [--json]``: the central database's truth on a synced station (with the
lease holder), else (or when the centre cannot be reached, said so) the station's own copy."""

from __future__ import annotations

import argparse
import json
import sys

from packstation.config import Config
from packstation.services.reports import NotFound, order_status


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="an order's state, cartons, scans and history (the centre's, with its lease, when configured)")
    p.add_argument("order_id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station

    try:
        with build_station(config, seed_demo=False) as station:
            status = order_status(station.ctx, station.system_session(), args.order_id)
    except NotFound as exc:
        print(f"packstation status: {exc} Check the order number (or tote) and try again.", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, indent=2, ensure_ascii=False))
        if status.get("source", "central") != "central":
            print(f"packstation status: this station's own copy, not the central database's: {status['source']}",
                  file=sys.stderr)
        return 0
    print(f"Order {status['order_id']}: {status['status']} ({status['carrier']} {status['service']})")
    if "source" in status:  # a synced station: the centre's truth, or (said so) this station's copy
        if status["source"] == "central":
            print("  from the central database")
        else:
            print(f"  LOCAL COPY ONLY, from this station's database: {status['source']}")
        print(f"  lease: {_lease_line(status.get('lease'))}")
    for ln in status["lines"]:
        print(f"  {ln['sku']:<14} {ln['name'][:40]:<40} {ln['packed']}/{ln['qty']}" + (f" short {ln['short']}" if ln["short"] else ""))
    for c in status["cartons"]:
        print(f"  carton {c['seq']} {c['type']} {c['status']} {c['weight_g'] or '-'} g SSCC {c['sscc'] or '-'}")
    print(f"  {len(status['events'])} events")
    return 0


def _lease_line(lease: dict[str, object] | None) -> str:
    if lease is None:
        return "never leased (no bench has claimed it)"
    if lease["station"] is None:
        return f"free (released; last token {lease['token']})"
    who = f" ({lease['holder']})" if lease.get("holder") else ""
    until = f", until {lease['expires_at']}" if lease.get("expires_at") else ""
    return f"held by {lease['station']}{who}, token {lease['token']}{until}"
