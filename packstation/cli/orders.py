"""``packstation status ORDER_ID [--json]``."""

from __future__ import annotations

import argparse
import json
import sys

from packstation.config import Config
from packstation.services.reports import NotFound, order_status


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="an order's state, cartons, scans and history")
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
        return 0
    print(f"Order {status['order_id']}: {status['status']} ({status['carrier']} {status['service']})")
    for ln in status["lines"]:
        print(f"  {ln['sku']:<14} {ln['name'][:40]:<40} {ln['packed']}/{ln['qty']}" + (f" short {ln['short']}" if ln["short"] else ""))
    for c in status["cartons"]:
        print(f"  carton {c['seq']} {c['type']} {c['status']} {c['weight_g'] or '-'} g SSCC {c['sscc'] or '-'}")
    print(f"  {len(status['events'])} events")
    return 0
