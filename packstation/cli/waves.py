"""``packstation picklist --orders N [--carrier NAME] --out FILE.pdf``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from packstation.config import Config
from packstation.services.picking import NothingToPick, create_pick_wave


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("picklist", help="batch the next released orders into a pick wave and write its picklist PDF")
    p.add_argument("--orders", type=int, required=True, metavar="N", help="how many orders in the wave")
    p.add_argument("--carrier", help="only orders for this carrier")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.pdf")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from packstation.adapters.documents.picklist import render_picklist
    from packstation.bootstrap import build_station

    if args.orders < 1:
        print("packstation picklist: --orders must be at least 1.", file=sys.stderr)
        return 2
    try:
        with build_station(config) as station:
            data = create_pick_wave(station.ctx, station.system_session(), args.orders, carrier=args.carrier)
    except NothingToPick as exc:
        print(f"packstation picklist: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    render_picklist(data, args.out)
    units = sum(line.qty for line in data.lines)
    print(f"Wave {data.wave_id}: {len(data.orders)} order(s), {len(data.lines)} line(s), {units} unit(s) -> {args.out}")
    return 0
