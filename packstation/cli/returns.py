"""``packstation returns list [--status S] [--json]``, ``returns show RMA [--json]``,
``returns restock RMA [--item ID] [--location BIN]`` (process first, restock later) and
``returns resolve RMA KIND [--line N] [--amount LINE=AMOUNT] [--json]`` (settle lines, with the
amount per line when it is not the line's price less the restocking fee)."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from packstation.config import Config
from packstation.domain.lifecycle import ReturnStatus
from packstation.domain.returns import ResolutionKind, parse_amount


class AmountError(ValueError):
    pass


def parse_amounts(values: list[str]) -> dict[int, Decimal]:
    """``--amount 2=15.00`` (repeatable): line number -> amount, each checked on its own (the lines
    and the most each may pay are checked against the return when it is resolved)."""
    out: dict[int, Decimal] = {}
    for value in values:
        line, sep, amount = (part.strip() for part in value.partition("="))
        if not sep or not line or not amount:
            raise AmountError(f"--amount takes LINE=AMOUNT, e.g. --amount 2=15.00; got {value!r}.")
        if not line.isdigit() or int(line) < 1:
            raise AmountError(f"--amount {value}: LINE is the line's number on the return (1, 2, ...; see "
                              f"packstation returns show RMA), got {line!r}.")
        try:
            money = parse_amount(amount)
        except ValueError as exc:
            raise AmountError(f"--amount {value}: {exc}.") from None
        n = int(line)
        if n in out:
            raise AmountError(f"--amount: line {n} is given twice ({out[n]} and {money}).")
        out[n] = money
    return out


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("returns", help="returns (RMAs): list, show one, restock what waits for its bin, "
                                                "resolve")
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
    res = s.add_parser("resolve", help="settle a return's lines: refund, credit note (printed), replacement order, "
                                       "or nothing due", description="Settle the lines of an inspected return, as the "
                                       "desk's RES-* codes do. The same resolution given twice resolves once.")
    res.add_argument("rma_id")
    res.add_argument("kind", metavar="KIND", choices=[k.value for k in ResolutionKind],
                     help="refund | credit_note | replacement | none")
    res.add_argument("--line", type=int, action="append", metavar="N", dest="lines",
                     help="a line to settle (repeat for more; default: every open line with something to settle)")
    res.add_argument("--amount", action="append", default=[], metavar="LINE=AMOUNT", dest="amounts",
                     help="what line LINE pays back, e.g. --amount 2=15.00 (repeat for more lines; refund and "
                          "credit note only; default: the line's price for the received units less the "
                          "restocking fee; at most that price)")
    res.add_argument("--json", action="store_true", help="print JSON")
    res.set_defaults(func=run_resolve)


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
    if shown.get("tracking_number"):
        print(f"  return parcel {shown['tracking_number']} ({shown['carrier'] or 'carrier unknown'})")
    for ln in shown["lines"]:
        res = ln["resolution"]
        how = f"{res['kind']} {res['amount']}" if res else "open"
        flag = " unexpected" if ln["unexpected"] else ""
        print(f"  line {ln['line_no']} {ln['sku']:<14} {ln['received']}/{ln['expected']}{flag}  grade {ln['grade'] or '-'}"
              f"  {ln['disposition'] or '-'}  {how}")
    if shown["credit_note"]:
        print(f"  credit note {shown['credit_note']}")
    for r in shown["refused"]:
        print(f"  refused {r['at'][:19]} {r['verdict']}: {r['reason']}")
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


def run_resolve(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.returns import ReturnRefused, resolve

    try:
        amounts = parse_amounts(args.amounts)
    except AmountError as exc:
        return _fail("resolve", str(exc))
    printed: list[Any] = []
    try:
        with build_station(config, seed_demo=False) as station:
            done = resolve(station.ctx, station.system_session(), args.rma_id, args.kind, line_nos=args.lines,
                           amounts=amounts or None)
            if done.job is not None:
                printed = [r for r in station.print_worker.drain() if r.job.id == done.job.id]
    except ReturnRefused as exc:
        return _fail("resolve", str(exc))
    r = done.resolution
    out = {"rma_id": r.rma_id, "resolution_id": r.id, "kind": r.kind.value, "created": done.created,
           "closed": done.closed, "currency": r.currency, "total": str(r.total), "fees": str(r.fees),
           "lines": [{"line_no": ln.line_no, "qty": ln.qty, "amount": str(ln.amount), "fee": str(ln.fee)}
                     for ln in r.lines],
           "credit_note": r.credit_note, "replacement_order": r.replacement_order,
           "printed": [{"ok": p.ok, "message": p.message} for p in printed]}
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    lines = ", ".join(f"line {ln.line_no}: {ln.qty} unit(s)" + (f" {ln.amount}" if r.kind.pays else "")
                      for ln in r.lines)
    what = {"refund": f"refund of {r.total} {r.currency}", "credit_note": f"credit note {r.credit_note} "
            f"({r.total} {r.currency})", "replacement": f"replacement order {r.replacement_order}",
            "none": "nothing due"}[r.kind.value]
    print(f"Return {r.rma_id}: {what} ({lines})" + ("" if done.created else " - resolved already, nothing new")
          + ("; the return is closed." if done.closed else "."))
    for p in printed:
        print(f"  {p.message}")
    return 0
