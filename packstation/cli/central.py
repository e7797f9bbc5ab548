"""``packstation central init [--url URL]``: create or upgrade the central database and its roles."""

from __future__ import annotations

import argparse
import getpass
import sys

from packstation.config import Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("central", help="the central PostgreSQL database all stations share")
    s = p.add_subparsers(dest="central_command", metavar="ACTION", required=True)
    init = s.add_parser("init", help="create or upgrade the central schema, its change log and its two roles")
    init.add_argument("--url", help="the central database as its owner or a superuser (default: [database] central)")
    init.add_argument("--station-role", default="packstation_station", help="the role stations log in as")
    init.add_argument("--admin-role", default="packstation_admin", help="the role imports and the API use")
    init.add_argument("--station-password-stdin", action="store_true",
                      help="read the station role's password from standard input (first line)")
    init.add_argument("--admin-password-stdin", action="store_true",
                      help="read the admin role's password from standard input (next line)")
    init.set_defaults(func=run_init)


def _read(label: str) -> str:
    return getpass.getpass(f"{label}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")


def run_init(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import init_central_database

    url = args.url or config.database.central
    if not url:
        print("packstation central init: give --url postgresql+psycopg://OWNER@HOST/DB, or set [database] central.",
              file=sys.stderr)
        return 2
    station_pw = _read("station role password") if args.station_password_stdin else None
    admin_pw = _read("admin role password") if args.admin_password_stdin else None
    try:
        for line in init_central_database(url, station_role=args.station_role, admin_role=args.admin_role,
                                          station_password=station_pw, admin_password=admin_pw):
            print(line)
    except RuntimeError as exc:
        print(f"packstation central init: {exc}", file=sys.stderr)
        return 1
    return 0
