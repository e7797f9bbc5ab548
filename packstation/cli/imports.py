"""``packstation import catalog|cartons|orders|returns|tracking|stock FILE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from packstation.config import Config
from packstation.services.imports import KINDS, ImportFileError, ImportStopped, import_file
from packstation.services.ports import StorageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("import", help="import a JSON array, NDJSON or CSV file (whole or not at all)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file", type=Path)
    p.set_defaults(func=run)


class ProgressBar:
    """A one-line bar redrawn in place on an interactive terminal.

    Drawn on stderr so the summary on stdout stays clean for scripts; :meth:`close` ends the
    line even when the import stopped early (rejected records), so the summary does not land
    on the half-drawn bar.
    """

    def __init__(self, stream: TextIO, width: int = 40):
        self.stream = stream
        self.width = width
        self._open = False

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        done = min(done, total)
        filled = self.width * done // total
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * done // total:3d}%")
        self._open = done < total
        if not self._open:
            self.stream.write("\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def progress_for(stream: TextIO) -> ProgressBar | None:
    """A bar when *stream* is a terminal; None when it is piped or redirected (logs, scripts)."""
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):
        interactive = False
    return ProgressBar(stream) if interactive else None


def run(args: argparse.Namespace, config: Config) -> int:
    from dataclasses import replace

    from packstation.bootstrap import build_station
    from packstation.domain.identity import ActorKind

    progress = progress_for(sys.stderr)
    try:
        with build_station(config, seed_demo=False) as station:
            session = station.system_session(ActorKind.IMPORT)
            ctx = station.ctx
            if ctx.central is not None:  # the centre holds the truth; stations get it by pulling
                ctx = replace(ctx, uow=ctx.central)
                print("packstation import: into the central database (stations get it when they pull)",
                      file=sys.stderr)
            report = import_file(ctx, session, args.kind, args.file, progress=progress)
    except ImportFileError as exc:
        print(f"packstation import: {exc}", file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 2
    except ImportStopped as exc:
        print(f"packstation import: {exc}", file=sys.stderr)
        return 3
    except StorageError as exc:
        hint = ""
        if "permission denied" in str(exc).lower():
            hint = (" Imports into the central database need its admin role: give [database] central the admin "
                    "role's URL for the import (see `packstation central init`).")
        print(f"packstation import: {exc}. Nothing was imported.{hint}", file=sys.stderr)
        return 3
    finally:
        if progress is not None:
            progress.close()
    print(report.summary())
    for rejection in report.rejected:
        print(f"  rejected {rejection}")
    return 0 if report.ok else 1
