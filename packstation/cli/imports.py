"""``packstation import catalog|cartons|orders|returns|tracking FILE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from packstation.config import Config
from packstation.services.imports import KINDS, ImportFileError, import_file
from packstation.services.ports import StorageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("import", help="import a JSON array, NDJSON or CSV file (whole or not at all)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file", type=Path)
    p.set_defaults(func=run)


def _progress_bar(done: int, total: int) -> None:
    width = 40
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done // max(total, 1):3d}%")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run(args: argparse.Namespace, config: Config) -> int:
    from packstation.bootstrap import build_station

    station = build_station(config, seed_demo=False)
    try:
        progress = _progress_bar if sys.stderr.isatty() else None
        report = import_file(station.ctx.uow, args.kind, args.file, progress=progress)
    except ImportFileError as exc:
        print(f"packstation import: {exc}", file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"packstation import: {exc}. Nothing was imported.", file=sys.stderr)
        return 3
    finally:
        station.close()
    print(report.summary())
    for rejection in report.rejected:
        print(f"  rejected {rejection}")
    return 0 if report.ok else 1
