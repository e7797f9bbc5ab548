"""``packstation api-tokens add NAME | list | revoke NAME``: tokens of the order API's clients."""

from __future__ import annotations

import argparse
import sys

from packstation.config import Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("api-tokens", help="API tokens of the order API's clients (shown once, stored hashed)")
    s = p.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    add = s.add_parser("add", help="make a token for a client and print it (only this once)")
    add.add_argument("name", help="the client, as its events will name it (api:NAME)")
    add.add_argument("--rate", type=float, default=None, help="requests per second (default [api] rate_per_s)")
    add.add_argument("--burst", type=int, default=None, help="requests at once (default [api] burst)")
    add.set_defaults(func=run_add)
    ls = s.add_parser("list", help="every token: client, prefix, rate, made, last used, revoked")
    ls.set_defaults(func=run_list)
    rv = s.add_parser("revoke", help="revoke a client's tokens (refused from the next request on)")
    rv.add_argument("name")
    rv.add_argument("--token", metavar="PREFIX", help="only the token starting with PREFIX (as 'list' shows it)")
    rv.set_defaults(func=run_revoke)


def _host(config: Config):  # type: ignore[no-untyped-def]
    from packstation.bootstrap import build_api

    return build_api(config)


def run_add(args: argparse.Namespace, config: Config) -> int:
    from packstation.services.intake import IntakeError, add_api_token

    host = _host(config)
    try:
        client, token = add_api_token(host.ctx, host.cli_session(), args.name,
                                      rate_per_s=args.rate if args.rate is not None else config.api.rate_per_s,
                                      burst=args.burst if args.burst is not None else config.api.burst)
    except IntakeError as exc:
        print(f"packstation api-tokens add: {exc}", file=sys.stderr)
        return 2
    finally:
        host.close()
    print(token)
    print(f"API token for {client.name} ({client.rate_per_s:g}/s, burst {client.burst}). It is shown only now: "
          "store it in the client's secrets. Send it as 'Authorization: Bearer <token>'.", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace, config: Config) -> int:
    from packstation.services.intake import list_api_tokens

    host = _host(config)
    try:
        clients = list_api_tokens(host.ctx, host.cli_session())
    finally:
        host.close()
    if not clients:
        print("no API tokens (packstation api-tokens add NAME)")
        return 0
    print(f"{'client':<24} {'token':<12} {'rate':>8} {'made':<20} {'last used':<20} state")
    for c in clients:
        state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M} by {c.revoked_by}" if c.revoked_at else "active"
        used = f"{c.last_used_at:%Y-%m-%d %H:%M:%S}" if c.last_used_at else "never"
        print(f"{c.name:<24} {c.token_prefix + '…':<12} {f'{c.rate_per_s:g}/s':>8} {c.created_at:%Y-%m-%d %H:%M:%S}  "
              f"{used:<20} {state}")
    return 0


def run_revoke(args: argparse.Namespace, config: Config) -> int:
    from packstation.services.intake import revoke_api_token

    host = _host(config)
    try:
        n = revoke_api_token(host.ctx, host.cli_session(), args.name, prefix=args.token)
    finally:
        host.close()
    if n == 0:
        print(f"packstation api-tokens revoke: {args.name} has no active token"
              f"{' starting with ' + args.token if args.token else ''}.", file=sys.stderr)
        return 1
    print(f"revoked {n} token(s) of {args.name}")
    return 0
