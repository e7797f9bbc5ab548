"""``packstation users add|list|disable``."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from packstation.config import Config
from packstation.domain.model import Role
from packstation.services import users

if TYPE_CHECKING:
    from packstation.bootstrap import Station


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("users", help="add, list and disable users")
    s = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = s.add_parser("add", help="add a user with a badge (and optional PIN)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--badge", required=True, help="the badge barcode value")
    add.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input (not the shell history)")
    add.set_defaults(func=run_add)
    ls = s.add_parser("list", help="list users")
    ls.set_defaults(func=run_list)
    dis = s.add_parser("disable", help="disable a user (their badge stops working)")
    dis.add_argument("name")
    dis.set_defaults(func=run_disable)


def _station(config: Config) -> Station:
    from packstation.bootstrap import build_station

    return build_station(config, seed_demo=False)


def run_add(args: argparse.Namespace, config: Config) -> int:
    pin = None
    if args.pin_stdin:
        pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
        if not pin:
            print("packstation users add: no PIN on standard input.", file=sys.stderr)
            return 2
    try:
        with _station(config) as station:
            user = users.add_user(station.ctx.uow, args.name, args.role, args.badge, pin)
    except users.UserError as exc:
        print(f"packstation users add: {exc}", file=sys.stderr)
        return 1
    print(f"Added {user.name} ({user.role.value}), badge {user.badge}" + (", with PIN" if user.has_pin else ""))
    return 0


def run_list(args: argparse.Namespace, config: Config) -> int:
    with _station(config) as station:
        rows = users.list_users(station.ctx.uow)
    print(f"{'name':<20} {'role':<9} {'badge':<16} pin  active")
    for u in rows:
        print(f"{u.name:<20} {u.role.value:<9} {u.badge:<16} {'yes' if u.has_pin else 'no ':<4} {'yes' if u.active else 'no'}")
    return 0


def run_disable(args: argparse.Namespace, config: Config) -> int:
    try:
        with _station(config) as station:
            user = users.disable_user(station.ctx.uow, args.name)
    except users.UserError as exc:
        print(f"packstation users disable: {exc}", file=sys.stderr)
        return 1
    print(f"Disabled {user.name}.")
    return 0
