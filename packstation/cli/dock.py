"""``packstation manifest list|show`` and ``packstation cancel ORDER_ID --reason TEXT``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from packstation.config import Config
from packstation.domain.shipping import Manifest, ManifestStatus


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("manifest", help="carrier manifests closed (or open) at the dispatch dock")
    msub = p.add_subparsers(dest="manifest_command", metavar="list|show", required=True)
    ls = msub.add_parser("list", help="the latest manifests, newest first")
    ls.add_argument("--status", choices=[s.value for s in ManifestStatus], help="only open or closed ones")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    show = msub.add_parser("show", help="one manifest with its cartons")
    show.add_argument("id", metavar="ID", help="its number (M-000042 or 42) or id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--pdf", metavar="FILE.pdf", help="write the manifest (with the signature blocks) as PDF")
    show.set_defaults(func=run_show)
    cancel = sub.add_parser("cancel", help="cancel an order (until it is handed over to the carrier)")
    cancel.add_argument("order_id")
    cancel.add_argument("--reason", required=True, help="why (recorded with the cancellation)")
    cancel.set_defaults(func=run_cancel)


def manifest_json(m: Manifest) -> dict[str, Any]:
    def iso(v: Any) -> Any:
        return v.isoformat() if v is not None else None

    return {
        "id": m.id, "number": m.number, "code": m.code if m.number is not None else None, "carrier": m.carrier,
        "service": m.service, "status": m.status.value, "opened_at": iso(m.opened_at), "opened_by": m.opened_by,
        "station": m.station_id, "closed_at": iso(m.closed_at), "closed_by": m.closed_by, "split_by": m.split_by,
        "split_reason": m.split_reason, "carrier_ref": m.carrier_ref, "weight_g": m.weight_g,
        "orders": m.order_ids,
        "cartons": [{"order_id": c.order_id, "seq": c.seq, "sscc": c.sscc, "tracking_number": c.tracking_number,
                     "service": c.service, "weight_g": c.weight_g, "loaded_by": c.loaded_by,
                     "loaded_at": iso(c.loaded_at)} for c in m.cartons],
    }


def run_list(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.dock import list_manifests

    with build_station(config, seed_demo=False) as station:
        found = list_manifests(station.ctx, station.system_session(),
                               status=ManifestStatus(args.status) if args.status else None, limit=args.limit)
    if args.json:
        print(json.dumps([manifest_json(m) for m in found], indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("No manifests.")
    for m in found:
        when = f"{m.closed_at:%Y-%m-%d %H:%M}" if m.closed_at else f"open since {m.opened_at:%Y-%m-%d %H:%M}"
        print(f"{m.code:<14} {m.label:<18} {m.status.value:<7} {len(m.cartons):>4} cartons {len(m.order_ids):>4} orders"
              f" {m.weight_g / 1000:>8.2f} kg  {when}")
    return 0


def run_show(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.dock import find_manifest, manifest_data

    with build_station(config, seed_demo=False) as station:
        m = find_manifest(station.ctx, station.system_session(), args.id)
        if m is None:
            print(f"packstation manifest show: no manifest {args.id!r} (see packstation manifest list).", file=sys.stderr)
            return 1
        if args.pdf:
            from packstation.adapters.documents.manifest import render_manifest

            render_manifest(manifest_data(station.ctx, m, m.closed_by or m.opened_by), args.pdf)
    if args.json:
        print(json.dumps(manifest_json(m), indent=2, ensure_ascii=False))
        return 0
    print(f"Manifest {m.code}: {m.label}, {m.status.value}, {len(m.cartons)} cartons, {m.weight_g / 1000:.2f} kg")
    if m.split_by:
        print(f"  orders split, approved by {m.split_by}: {m.split_reason}")
    for c in m.cartons:
        print(f"  {c.sscc}  {c.order_id:<14} {c.tracking_number or '-':<24} {c.service:<10} {c.weight_g:>6} g")
    if args.pdf:
        print(f"Wrote {args.pdf}")
    return 0


def run_cancel(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.orders import CancelRefused, cancel_order

    with build_station(config, seed_demo=False) as station:
        try:
            done = cancel_order(station.ctx, station.system_session(), args.order_id, args.reason)
        except CancelRefused as exc:
            print(f"packstation cancel: {exc}", file=sys.stderr)
            return 1
    print(done.message)
    return 0
