"""``packstation stock SKU [--json]``: stock on hand per location and lot (the centre's, when configured)."""

from __future__ import annotations

import argparse
import json
import sys

from packstation.config import Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("stock", help="stock on hand of a product per location and lot (the central ledger when configured)")
    p.add_argument("sku")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.stock import UnknownSku, stock_on_hand

    try:
        with build_station(config, seed_demo=False) as station:
            report = stock_on_hand(station.ctx, station.system_session(), args.sku)
    except UnknownSku as exc:
        print(f"packstation stock: {exc} Check the SKU and try again.", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return 0
    where = "central database" if report.source == "central" else "this station's database"
    print(f"{report.sku} {report.name}: {report.total} on hand ({where})")
    if not report.levels:
        print("  nothing on hand")
    for lv in report.levels:
        expiry = f" expires {lv.expiry}" if lv.expiry else ""
        print(f"  {lv.location or '-':<12} lot {lv.lot or '-':<20} {lv.qty:>8}{expiry}")
    return 0
