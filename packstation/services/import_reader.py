"""Read and check a big order file in a process of its own, while the import stores what is checked.

Reading a record (JSON with exact decimals, the field checks, the fingerprint) costs about as
much CPU as storing it; in one process the two take turns. For a big file the import starts this
module as a child process (``python -m packstation.services.import_reader KIND PATH``): it reads
the file exactly as :func:`~packstation.services.import_files.iter_records` does and checks each
record with the import's own rules (``imports._check_record``), and writes what it found to its
standard output as frames, while the import's process stores the records already received (see
``imports._Import.run_pipelined``). Nothing here touches a database.

A frame is a 4-byte big-endian length and a ``marshal``-ed tuple (plain values only; marshal is
fast and never outlives the two processes of one import):

- ``("S", bytes_read, [(seq, position, key, data, fingerprint, tags), ...])``: staged records;
- ``("R", [(position, key, reason), ...])``: rejected records;
- ``("E", records)``: the end of the file, after *records* records;
- ``("X", "file", message)``: the file cannot be read (an ``ImportFileError``), or
  ``("X", "error", text)``: anything else went wrong (the import then reads the file itself).
"""

from __future__ import annotations

import marshal
import struct
import sys
import traceback
from pathlib import Path
from typing import Any, BinaryIO, cast

FRAME_RECORDS = 500  # records per frame: small enough to keep both processes busy
HEADER = struct.Struct(">I")


def _send(out: BinaryIO, frame: tuple[Any, ...]) -> None:
    data = marshal.dumps(frame)
    out.write(HEADER.pack(len(data)))
    out.write(data)


def read_and_check(kind: str, path: Path, out: BinaryIO) -> None:
    """Every record of *path* checked as an import of *kind* checks it, written to *out* as frames."""
    from packstation.services.collections_gc import fewer_collections
    from packstation.services.import_files import ImportFileError, iter_records, open_checked
    from packstation.services.imports import Rejection, _check_record
    from packstation.services.ports import ImportStaging

    try:
        f, source = open_checked(path)
        try:
            staged: list[tuple[Any, ...]] = []
            rejected: list[tuple[str, str, str]] = []
            n = 0
            records = iter_records(path, kind, cast(ImportStaging, _NoStaging()), source)
            with fewer_collections():
                for n, (pos, rec) in enumerate(records, 1):
                    res = _check_record(kind, n, pos, rec)
                    if isinstance(res, Rejection):
                        rejected.append((res.position, res.key, res.reason))
                    else:
                        staged.append(tuple(res))
                    if len(staged) >= FRAME_RECORDS:
                        _send(out, ("S", source.done, staged))
                        staged = []
                    if len(rejected) >= FRAME_RECORDS:
                        _send(out, ("R", rejected))
                        rejected = []
            if staged:
                _send(out, ("S", source.done, staged))
            if rejected:
                _send(out, ("R", rejected))
            _send(out, ("E", n))
        finally:
            f.close()
    except ImportFileError as exc:
        _send(out, ("X", "file", str(exc)))
    except Exception:  # noqa: BLE001 - said to the import, which then reads the file itself
        _send(out, ("X", "error", traceback.format_exc(limit=5)))
    out.flush()


class _NoStaging:
    """JSON and NDJSON files need no staging to be read (only CSV rows are grouped there)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the import reader reads JSON and NDJSON files only")


def main(argv: list[str]) -> int:
    kind, path = argv
    read_and_check(kind, Path(path), sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
