"""Where print jobs go: a printer by its URL, or a folder of the data directory.

Implements ``services.printing.Printers``. A job for ``folder:NAME`` is written to
``documents/NAME/`` under its safe file name, never over an earlier file (a reprint gets
``-2``, ``-3``, ...), never outside the folder (checked on the resolved path), atomically (a
temporary file, fsync, then a hard link that fails rather than replace a name). Any other target is opened as a printer transport.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from packstation.adapters.devices.transports import DEFAULT_TIMEOUT_S, PrinterError, open_transport
from packstation.domain.documents import safe_file_name
from packstation.domain.print_jobs import PrintJob
from packstation.services.printing import PrinterFailure, Printers


@dataclass
class StationPrinters(Printers):
    documents_dir: Path
    baudrates: dict[str, int]  # printer slot -> serial baud rate
    timeout_s: float = DEFAULT_TIMEOUT_S

    def send(self, job: PrintJob) -> str:
        if job.target.startswith("folder:"):
            return str(self._write(job))
        try:
            open_transport(job.target, baudrate=self.baudrates.get(job.printer, 9600)).send(job.payload, self.timeout_s)
        except PrinterError as exc:
            raise PrinterFailure(str(exc)) from exc
        return job.target

    def _write(self, job: PrintJob) -> Path:
        folder = self.documents_dir / safe_file_name(job.target.removeprefix("folder:"), suffix="")
        name = job.file_name or safe_file_name(job.ref or job.id)
        stem, dot, ext = name.rpartition(".")
        if not (dot and ext.isascii() and ext.isalnum() and len(ext) <= 8):
            stem, ext = name, "pdf"
        stem = safe_file_name(stem, suffix="")  # unchanged if safe; '/', '..', NUL or 500 characters are not
        try:
            folder.mkdir(parents=True, exist_ok=True)
            root = folder.resolve()
            tmp = folder / f".{job.id or 'job'}.part"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, job.payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                for n in range(1, 10_000):
                    path = folder / (f"{stem}.{ext}" if n == 1 else f"{stem}-{n}.{ext}")
                    if path.is_symlink():  # planted in the folder: never followed, never replaced
                        continue
                    if path.resolve().parent != root:
                        raise PrinterFailure(f"refused to write {name!r} outside {root}")
                    try:
                        os.link(tmp, path)  # fails if the name exists: never overwrites
                    except FileExistsError:
                        continue
                    return path
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise PrinterFailure(f"could not save {name} in {folder}: {exc.strerror or exc}") from exc
        raise PrinterFailure(f"{folder} already holds 9,999 copies of {name}")
