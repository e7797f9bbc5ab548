"""``packstation tracking poll [--once] [--json]``: ask the carriers about parcels on the way.

For deployments where neither the station window nor ``packstation serve`` polls (cron, a
systemd service): the same worker they run (``workers.TrackingWorker``), on this process. Each
account is asked at most once per its ``track_every_s``; what moved is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from packstation.config import Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tracking", help="carrier tracking: move orders to in transit / delivered, "
                                               "returns to picked")
    tsub = p.add_subparsers(dest="tracking_command", metavar="poll", required=True)
    poll = tsub.add_parser("poll", help="ask every carrier account about its parcels on the way (until stopped)")
    poll.add_argument("--once", action="store_true", help="one round, then exit (for cron)")
    poll.add_argument("--json", action="store_true", help="print each round as one line of JSON")
    poll.set_defaults(func=run_poll)


def round_json(result: Any) -> dict[str, Any]:
    return {"polled": result.polled, "events": len(result.events),
            "moved": [{"order_id": m.order_id, "carrier": m.carrier, "from": m.before, "to": m.after,
                       **({"rma_id": m.rma_id} if m.rma_id else {})} for m in result.moved],
            "failed": result.failed}


def _print_round(result: Any, *, as_json: bool, quiet_when_idle: bool) -> None:
    if as_json:
        if result.events or result.failed or not quiet_when_idle:
            print(json.dumps(round_json(result), ensure_ascii=False), flush=True)
        return
    for move in result.moved:
        what = f"{move.rma_id} (return of {move.order_id})" if move.rma_id else move.order_id
        print(f"{what}: {move.before} -> {move.after} ({move.carrier})", flush=True)
    for code, error in result.failed.items():
        print(f"packstation tracking poll: {code} failed: {error} (asked again next time)", file=sys.stderr, flush=True)
    if not result.moved and not quiet_when_idle:
        polled = ", ".join(result.polled) or "none: no account's track_every_s has passed"
        print(f"Nothing moved (polled: {polled}).", flush=True)


def run_poll(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station

    if not config.carriers:
        print("packstation tracking poll: no carrier accounts in the config ([carriers.<CODE>] with a connector): "
              "nothing to ask.", file=sys.stderr)
        return 2
    # the carriers' warnings ("tracking at DHL failed: ...") go to stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="packstation tracking poll: %(message)s")
    with build_station(config, seed_demo=False) as station:
        if station.tracking_worker is not None:
            print("packstation tracking poll: note: this config's station window polls too ([carriers] "
                  "poll_tracking); the carriers are asked from both places.", file=sys.stderr)
        if args.once:
            result = station.tracking(report=True).poll_round()
            _print_round(result, as_json=args.json, quiet_when_idle=False)
            return 1 if result.failed else 0
        stop = threading.Event()

        def stopped(signum: int, frame: Any) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
        worker = station.tracking(report=True)
        worker.on_round = lambda result: _print_round(result, as_json=args.json, quiet_when_idle=True)
        try:
            worker.start()
            print(f"packstation tracking poll: asking {', '.join(station.ctx.carriers.codes())} "  # type: ignore[union-attr]
                  "(each at most once per its track_every_s); Ctrl+C stops.", file=sys.stderr, flush=True)
            while not stop.wait(1.0):
                if not worker.running:
                    print("packstation tracking poll: the worker stopped unexpectedly.", file=sys.stderr)
                    return 1
        finally:
            worker.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 0
