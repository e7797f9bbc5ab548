"""``packstation serve [--host 127.0.0.1] [--port 8080]``: the order API and its workers."""

from __future__ import annotations

import argparse
import logging
import sys

from packstation.config import Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="the order API: orders and shop webhooks in, status out (HTTP)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: behind a TLS proxy)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--no-workers", action="store_true",
                   help="answer requests only; another process applies webhooks and sends status pushes")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from packstation.api.server import serve
    from packstation.bootstrap import build_api

    logging.basicConfig(level=getattr(logging, args.log_level.upper()), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = build_api(config)
    if not config.shopify.secrets:
        print("packstation serve: no [shopify] secrets: Shopify webhooks are refused (401)", file=sys.stderr)
    if not config.woocommerce.secrets:
        print("packstation serve: no [woocommerce] secrets: WooCommerce webhooks are refused (401)", file=sys.stderr)

    workers = config.api.workers and not args.no_workers

    def ready() -> None:
        polling = workers and host.tracking_worker is not None
        print(f"packstation serve: http://{args.host}:{args.port} on {host.database}"
              f"{'' if workers else ' (no workers)'}{' (polls carrier tracking)' if polling else ''}",
              file=sys.stderr, flush=True)

    return serve(host, bind=args.host, port=args.port, workers=workers, log_level=args.log_level, on_ready=ready)
