"""``packstation sync now`` and ``packstation sync status [--json]``."""

from __future__ import annotations

import argparse
import sys

from packstation.config import Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sync", help="push this station's events to the central database and pull its changes")
    s = p.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    now = s.add_parser("now", help="push and pull until drained; exit 0 when the centre has every event of this station")
    now.set_defaults(func=run_now)
    st = s.add_parser("status", help="online, waiting, refused, last push and pull, clock offset")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=run_status)


def run_now(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.sync.status import status_line, sync_status

    if not config.database.central:
        print("packstation sync now: this station has no central database ([database] central).", file=sys.stderr)
        return 2
    with build_station(config, seed_demo=False) as station:
        result = station.sync_now()
        status = sync_status(station.ctx, station.system_session())
    push, pull = result.push, result.pull
    if push is not None:
        print(f"pushed {push.sent} event(s): {push.applied} applied, {push.duplicate} already there, "
              f"{push.refused} refused, {push.held} held")
    if pull is not None:
        print(f"pulled {pull.changes} change(s)")
    print(status_line(status))
    if status.clock_warning:
        print(status.clock_warning, file=sys.stderr)
    if result.error:
        print(f"packstation sync now: the central database does not have everything: {result.error}", file=sys.stderr)
        return 1
    if status.refused:
        print(f"packstation sync now: {status.refused} event(s) refused by the central database: a lead "
              "checks them (Lead view → Sync).", file=sys.stderr)
        return 1
    if status.waiting:
        print(f"packstation sync now: {status.waiting} event(s) still waiting.", file=sys.stderr)
        return 1
    return 0


def run_status(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station
    from packstation.services.sync.status import dumps, status_line, sync_status

    with build_station(config, seed_demo=False) as station:
        status = sync_status(station.ctx, station.system_session())
    if args.json:
        print(dumps(status))
    else:
        print(status_line(status))
        if status.last_error:
            print(f"last error: {status.last_error}")
        if status.clock_warning:
            print(status.clock_warning)
    return 0
