"""The ``packstation`` command: opens the station window, or runs one of its subcommands.

Each subcommand group lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``func(args, config) -> int`` as the default.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from packstation.config import ConfigError, load_config
from packstation.services.ports import StorageError

_GROUPS = (
    "packstation.cli.imports",
    "packstation.cli.orders",
    "packstation.cli.users",
    "packstation.cli.devices",
    "packstation.cli.documents",
    "packstation.cli.waves",
    "packstation.cli.central",
    "packstation.cli.sync",
    "packstation.cli.dock",
    "packstation.cli.tracking",
    "packstation.cli.stock",
    "packstation.cli.returns",
    "packstation.cli.serve",
    "packstation.cli.api_tokens",
    "packstation.cli.webhooks",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="packstation",
        description="Packing-bench station. Without a subcommand, opens the station window.",
    )
    parser.add_argument("--config", metavar="PATH", help="TOML config file (default: $PACKSTATION_CONFIG, else the embedded demo station)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # group not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"packstation: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command is None:
            from packstation.ui.app import run_station

            return run_station(config)
        return int(args.func(args, config) or 0)
    except StorageError as exc:  # the database cannot be opened or written: say why, no traceback
        print(f"packstation: {exc}", file=sys.stderr)
        return 3
