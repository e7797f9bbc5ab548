"""``packstation returns list [--status S] [--json]``, ``returns show RMA [--json]`` and
``returns restock RMA [--item ID] [--location BIN]`` (process first, restock later)."""

from __future__ import annotations

import argparse
import json
import sys

from packstation.config import Config
from packstation.domain.lifecycle import ReturnStatus


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("returns", help="returns (RMAs): list, show one, restock what waits for its bin")
    s = p.add_subparsers(dest="returns_command", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="returns, the most recently changed first")
    ls.add_argument("--status", choices=[x.value for x in ReturnStatus], help="only returns in this state")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    show = s.add_parser("show", help="one return: lines (expected, received, grade, disposition, resolution), "
                                     "items with the bench's evidence, photos, credit note")
    show.add_argument("rma_id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show)
    rs = s.add_parser("restock", help="write the stock movement of items decided 'restock later'")
    rs.add_argument("rma_id")
    rs.add_argument("--item", help="one item id (default: every item of the return waiting for its bin)")
    rs.add_argument("--location", help="the bin (default: the one decided, else the product's home bin)")
    rs.set_defaults(func=run_restock)


def _fail(command: str, message: str) -> int:
    print(f"packstation returns {command}: {message}", file=sys.stderr)
    return 1


def run_list(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.returns import list_returns

    with build_station(config, seed_demo=False) as station:
        rows = list_returns(station.ctx, station.system_session(),
                            ReturnStatus(args.status) if args.status else None)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("No returns" + (f" {args.status}." if args.status else "."))
        return 0
    print(f"{'RMA':<24} {'order':<16} {'status':<10} {'received':>8}  reason")
    for r in rows:
        print(f"{r['rma_id']:<24} {r['order_id']:<16} {r['status']:<10} {r['received']:>3}/{r['expected']:<4}  {r['reason']}")
    return 0


def run_show(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.returns import ReturnRefused, detail

    try:
        with build_station(config, seed_demo=False) as station:
            shown = detail(station.ctx, station.system_session(), args.rma_id)
    except ReturnRefused as exc:
        return _fail("show", f"{exc} Check the RMA id (packstation returns list).")
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0
    print(f"Return {shown['rma_id']} for order {shown['order_id']}: {shown['status']} ({shown['reason']})")
    for ln in shown["lines"]:
        res = ln["resolution"]
        how = f"{res['kind']} {res['amount']}" if res else "open"
        flag = " unexpected" if ln["unexpected"] else ""
        print(f"  line {ln['line_no']} {ln['sku']:<14} {ln['received']}/{ln['expected']}{flag}  grade {ln['grade'] or '-'}"
              f"  {ln['disposition'] or '-'}  {how}")
    if shown["credit_note"]:
        print(f"  credit note {shown['credit_note']}")
    return 0


def run_restock(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.returns import ReturnRefused, detail, restock

    try:
        with build_station(config, seed_demo=False) as station:
            session = station.system_session()
            items = detail(station.ctx, session, args.rma_id)["items"]
            wanted = [i for i in items if (args.item is None and i["disposition"] == "restock" and not i["restocked_at"])
                      or i["id"] == args.item]
            if args.item and not wanted:
                return _fail("restock", f"return {args.rma_id} has no item {args.item}.")
            done = [i for i in wanted if restock(station.ctx, session, args.rma_id, i["id"], args.location)]
    except ReturnRefused as exc:
        return _fail("restock", str(exc))
    print(f"Restocked {len(done)} item(s) of {args.rma_id}" + (f"; {len(wanted) - len(done)} were restocked already."
                                                               if len(done) < len(wanted) else "."))
    return 0
