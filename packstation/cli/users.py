"""``packstation users add|list|disable|unlock|set-pin|set-role``.

The command line acts as the operating-system user running it, with an admin's authority
(whoever can reach the station's database can change it anyway); every change is an event
naming that user (``cli:NAME``). Badges are shown masked; PINs only ever come from stdin.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from packstation.config import Config
from packstation.domain.identity import Role, mask_badge
from packstation.services import users
from packstation.services.auth import NotAllowed

if TYPE_CHECKING:
    from packstation.bootstrap import Station


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("users", help="add, list, disable and unlock users; set PINs and roles")
    s = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = s.add_parser("add", help="add a user with a badge (and a PIN: leads and admins need one)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--badge", required=True, help="the badge barcode value")
    add.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input (not the shell history)")
    add.set_defaults(func=run_add)
    ls = s.add_parser("list", help="list users (badges masked)")
    ls.set_defaults(func=run_list)
    dis = s.add_parser("disable", help="disable a user (their badge stops working)")
    dis.add_argument("name")
    dis.set_defaults(func=run_disable)
    un = s.add_parser("unlock", help="lift the lock after wrong PINs")
    un.add_argument("name")
    un.set_defaults(func=run_unlock)
    pin = s.add_parser("set-pin", help="set a user's PIN (read from standard input)")
    pin.add_argument("name")
    pin.add_argument("--pin-stdin", action="store_true", required=True, help="read the PIN from standard input")
    pin.set_defaults(func=run_set_pin)
    role = s.add_parser("set-role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=[r.value for r in Role])
    role.set_defaults(func=run_set_role)


def _station(config: Config) -> Station:
    from packstation.bootstrap import build_station

    return build_station(config, seed_demo=False)


def _read_pin(command: str) -> str | None:
    pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not pin:
        print(f"packstation users {command}: no PIN on standard input.", file=sys.stderr)
        return None
    return pin


def _run(command: str, config: Config, action) -> int:  # type: ignore[no-untyped-def]
    try:
        with _station(config) as station:
            message = action(station, station.system_session())
    except (users.UserError, NotAllowed) as exc:
        print(f"packstation users {command}: {exc}", file=sys.stderr)
        return 1
    print(message)
    return 0


def run_add(args: argparse.Namespace, config: Config) -> int:
    pin = None
    if args.pin_stdin:
        pin = _read_pin("add")
        if pin is None:
            return 2

    def add(station: Station, session) -> str:  # type: ignore[no-untyped-def]
        user = users.add_user(station.ctx, session, args.name, args.role, args.badge, pin)
        return f"Added {user.name} ({user.role.value}), badge {mask_badge(user.badge)}" + (", with PIN" if user.has_pin else "")

    return _run("add", config, add)


def run_list(args: argparse.Namespace, config: Config) -> int:
    def show(station: Station, session) -> str:  # type: ignore[no-untyped-def]
        rows = [f"{'name':<20} {'role':<9} {'badge':<12} pin  active"]
        now = station.ctx.clock()
        for u in users.list_users(station.ctx, session):
            state = "yes" if u.active else "no"
            if u.active and u.locked_until is not None and u.locked_until > now:
                state = "locked"
            rows.append(f"{u.name:<20} {u.role.value:<9} {mask_badge(u.badge):<12} {'yes' if u.has_pin else 'no ':<4} {state}")
        return "\n".join(rows)

    return _run("list", config, show)


def run_disable(args: argparse.Namespace, config: Config) -> int:
    return _run("disable", config, lambda st, ses: f"Disabled {users.disable_user(st.ctx, ses, args.name).name}.")


def run_unlock(args: argparse.Namespace, config: Config) -> int:
    return _run("unlock", config, lambda st, ses: f"Unlocked {users.unlock_user(st.ctx, ses, args.name).name}'s badge.")


def run_set_pin(args: argparse.Namespace, config: Config) -> int:
    pin = _read_pin("set-pin")
    if pin is None:
        return 2
    return _run("set-pin", config, lambda st, ses: f"Set {users.set_pin(st.ctx, ses, args.name, pin).name}'s PIN.")


def run_set_role(args: argparse.Namespace, config: Config) -> int:
    def change(st: Station, ses) -> str:  # type: ignore[no-untyped-def]
        user = users.set_role(st.ctx, ses, args.name, args.role)
        return f"{user.name} is now {user.role.value}."

    return _run("set-role", config, change)
