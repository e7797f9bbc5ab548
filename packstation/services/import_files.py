"""Reading import files as a stream: JSON arrays parsed incrementally, NDJSON and CSV line by line.

A file of any size is read in 1 MiB pieces; what is held at once is one record (at most
:data:`MAX_RECORD_BYTES`), never the file. What used to be checked on the whole file is checked
on the way: a UTF-8 byte order mark is dropped, UTF-16/UTF-32 files are recognised at the start,
NUL bytes and invalid UTF-8 are refused where they occur, with the line they are on.

:func:`iter_records` yields ``(position, record)`` pairs in file order: ``record N`` in a JSON
array, ``line N`` in NDJSON and CSV (the record's first physical line). A record that cannot be
parsed on its own (a bad NDJSON line, a CSV row with the wrong number of columns) is yielded as a
:class:`RecordError` at its position; a file that cannot be read as a whole raises
:class:`ImportFileError`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from packstation.services.ports import ImportStaging

SUFFIXES = (".json", ".ndjson", ".jsonl", ".csv")
MAX_RECORD_BYTES = 64 * 1024 * 1024  # one JSON record, NDJSON line or CSV field
_PIECE = 1024 * 1024
_BOM = b"\xef\xbb\xbf"


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, syntax, unknown format)."""


class RecordError(ValueError):
    """One record is invalid; the message says which field and why."""


# --- bytes: BOM, wide encodings, NUL, UTF-8 ---------------------------------------------------


def _wide_encoding(data: bytes) -> str | None:
    """'UTF-16' / 'UTF-32' when the bytes are that (by BOM, or by the NULs of mostly-ASCII text)."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = data[:400]
    if len(head) < 8:
        return None

    def mostly_nul(part: bytes) -> bool:
        return part.count(0) >= 0.9 * len(part)

    if mostly_nul(head[1::4] + head[2::4]) and (mostly_nul(head[3::4]) or mostly_nul(head[0::4])):
        return "UTF-32"
    if (mostly_nul(head[1::2]) and not mostly_nul(head[0::2])) or (mostly_nul(head[0::2]) and not mostly_nul(head[1::2])):
        return "UTF-16"
    return None


class CheckedBytes(io.RawIOBase):
    """The file's bytes after its BOM, refusing a wide encoding, NUL bytes and invalid UTF-8.

    ``done`` counts the bytes read from the file so far (for progress); ``blank`` stays True
    while nothing but whitespace has come by.
    """

    def __init__(self, f: BinaryIO, name: str, suffix: str) -> None:
        super().__init__()
        self._f = f
        self.name = name
        self.suffix = suffix
        self.done = 0
        self.blank = True
        self._lines = 0  # newlines in the bytes checked so far
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        first = self._read(512)  # the head is looked at whole, however small the pieces
        if first.startswith(_BOM):
            first = first[3:]
        wide = _wide_encoding(first)
        if wide:
            raise ImportFileError(
                f"{name} is {wide} text, not UTF-8. Save it as UTF-8 (in Excel: \"CSV UTF-8\"; "
                "in an editor: encoding UTF-8) and import it again."
            )
        self._piece = memoryview(self._check(first))
        self._eof = not first

    def _read(self, at_least: int = 0) -> bytes:
        try:
            data = self._f.read(max(_PIECE, at_least))
        except OSError as exc:
            raise ImportFileError(f"cannot read {self.name}: {exc.strerror or exc}") from exc
        self.done += len(data)
        return data

    def _check(self, data: bytes) -> bytes:
        if b"\x00" in data:
            raise ImportFileError(
                f"{self.name} contains NUL bytes: it is a binary file, not {self.suffix} text. "
                "Export the records as JSON, NDJSON or CSV and import that file."
            )
        try:
            self._utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            line = self._lines + exc.object[: exc.start].count(b"\n") + 1
            raise ImportFileError(
                f"{self.name} is not UTF-8 text (bad byte 0x{exc.object[exc.start]:02X} on line {line}; "
                "Latin-1 or Windows-1252 files look like this). Save it as UTF-8 and import it again."
            ) from None
        self._lines += data.count(b"\n")
        if self.blank and data.strip():
            self.blank = False
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._piece:
            if self._eof:
                return 0
            data = self._read()
            self._eof = not data
            self._piece = memoryview(self._check(data))
        n = min(len(buffer), len(self._piece))
        buffer[:n] = self._piece[:n]
        self._piece = self._piece[n:]
        return n


def _empty(name: str) -> ImportFileError:
    return ImportFileError(f"{name} is empty. Export the records again and import the new file.")


def open_checked(path: Path) -> tuple[BinaryIO, CheckedBytes]:
    """The open file and its checked bytes (raises ImportFileError for an unknown type or a file
    that cannot be read)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFileError(f"{path.name}: unknown file type {suffix!r}; use .json (an array), .ndjson/.jsonl or .csv.")
    try:
        f = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return f, CheckedBytes(f, path.name, suffix)
    except BaseException:
        f.close()
        raise


def parse_line(line: str) -> Any:
    """An NDJSON line's record, or the RecordError saying why it is none."""
    try:
        return loads(line)
    except json.JSONDecodeError as exc:
        return RecordError(f"not valid JSON: {exc.msg} at column {exc.colno}")
    except (ValueError, RecursionError) as exc:
        return RecordError(f"not valid JSON: {json_problem(exc)}")


def iter_records(path: Path, kind: str, staging: ImportStaging, source: CheckedBytes | None = None
                 ) -> Iterator[tuple[str, Any]]:
    """(position, record) pairs of the file, read as a stream (format chosen by extension).

    *staging* groups the rows of a CSV file of orders or returns into records (rows of one
    order need not be next to each other). Pass *source* (from :func:`open_checked`) to follow
    the bytes read; the file is closed when the iteration ends.
    """
    if source is None:
        f, source = open_checked(path)
    else:
        f = None
    try:
        if source.suffix == ".json":
            text = io.TextIOWrapper(io.BufferedReader(source, _PIECE), encoding="utf-8", newline="")
            yield from JsonArray(text, path.name)
        elif source.suffix in (".ndjson", ".jsonl"):
            yield from _ndjson(io.BufferedReader(source, _PIECE), source, path.name)
        else:
            text = io.TextIOWrapper(io.BufferedReader(source, _PIECE), encoding="utf-8", newline="")
            yield from _csv(text, source, path.name, kind, staging)
    finally:
        if f is not None:
            f.close()


# --- JSON ---------------------------------------------------------------------------------


def _parse_int(digits: str) -> int | Decimal:
    # A long digit string stays a Decimal: int() refuses over 4300 digits with a ValueError,
    # and the field checks reject it as too large with the record's position.
    return int(digits) if len(digits) <= 20 else Decimal(digits)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_parse_int, parse_constant=_no_constant)


def loads(text: str) -> Any:
    """json.loads with exact decimals, bounded integers and no NaN/Infinity.

    Raises json.JSONDecodeError, ValueError (NaN, Infinity) or RecursionError (nesting).
    """
    return _DECODER.decode(text)


def json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "arrays or objects are nested too deeply"
    return str(exc)


_WS = re.compile(r"[ \t\n\r]*")


class JsonArray:
    """The records of a JSON array, parsed one at a time from a text stream.

    Each record is decoded by the standard library's scanner (``raw_decode``) from a buffer that
    holds the rest of the current piece of the file; a record cut by the end of the buffer is
    decoded again once more text is in. Errors say what ``json.loads`` would say, at the same
    line and column of the whole file.
    """

    def __init__(self, text: io.TextIOBase, name: str) -> None:
        self.text = text
        self.name = name
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line0 = 1  # line number of buf[0]
        self.col0 = 0  # characters before buf[0] on that line

    def _more(self, wanted: int = 0) -> bool:
        if self.eof:
            return False
        if self.pos:
            gone = self.buf[: self.pos]
            newlines = gone.count("\n")
            if newlines:
                self.line0 += newlines
                self.col0 = len(gone) - gone.rfind("\n") - 1
            else:
                self.col0 += len(gone)
            self.buf = self.buf[self.pos :]
            self.pos = 0
        data = self.text.read(max(wanted, _PIECE))
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _next_char(self) -> str | None:
        """Skip whitespace; the next character, or None at the end of the file."""
        while True:
            m = _WS.match(self.buf, self.pos)
            assert m is not None
            self.pos = m.end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return None

    def _where(self, pos: int) -> tuple[int, int]:
        before = self.buf[:pos]
        newlines = before.count("\n")
        if newlines:
            return self.line0 + newlines, pos - before.rfind("\n")
        return self.line0, self.col0 + pos + 1

    def _invalid(self, problem: str) -> ImportFileError:
        return ImportFileError(
            f"{self.name} is not valid JSON: {problem}. "
            "A .json file must hold one JSON array of records; fix the file or export it again."
        )

    def _fail(self, msg: str, pos: int) -> ImportFileError:
        line, col = self._where(pos)
        return self._invalid(f"{msg} at line {line}, column {col}")

    def _value(self, n: int) -> Any:
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # cut by the end of the buffer (or genuinely broken there): read on and try again
                cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(self.buf) - 16
                if cut and not self.eof:
                    if len(self.buf) - self.pos > MAX_RECORD_BYTES:
                        raise ImportFileError(
                            f"{self.name}: record {n} is larger than {MAX_RECORD_BYTES // 2**20} MiB "
                            "(or not valid JSON). Split the file or fix the record.") from None
                    self._more(len(self.buf) - self.pos)
                    continue  # again, on the longer buffer (or, at the end of the file, for the error)
                raise self._fail(exc.msg, exc.pos) from None
            except RecursionError:
                raise self._invalid("arrays or objects are nested too deeply") from None
            except ValueError as exc:  # NaN, Infinity
                raise self._invalid(str(exc)) from None
            if end == len(self.buf) and not self.eof and self._more():
                continue  # a number may go on in the next piece (1234 cut as 12|34)
            self.pos = end
            return value

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        c = self._next_char()
        if c is None:
            raise _empty(self.name)
        if c == "{":
            raise ImportFileError(f"{self.name}: expected a JSON array of records, found an object. Wrap the records in [ ].")
        if c != "[":
            self._value(1)  # not JSON at all: says where
            raise ImportFileError(f"{self.name}: expected a JSON array of records.")
        self.pos += 1
        n = 0
        c = self._next_char()
        if c == "]":
            self.pos += 1
            self._end()
            raise ImportFileError(f"{self.name} holds no records (an empty array).")
        while True:
            if c is None:
                raise self._fail("Expecting value", self.pos)
            n += 1
            value = self._value(n)
            yield f"record {n}", value
            c = self._next_char()
            if c == ",":
                self.pos += 1
                c = self._next_char()
                continue
            if c == "]":
                self.pos += 1
                self._end()
                return
            raise self._fail("Expecting ',' delimiter", self.pos)

    def _end(self) -> None:
        if self._next_char() is not None:
            raise self._fail("Extra data", self.pos)


# --- NDJSON -------------------------------------------------------------------------------


def _ndjson(lines: io.BufferedReader, source: CheckedBytes, name: str) -> Iterator[tuple[str, Any]]:
    n = 0
    found = False
    while True:
        raw = lines.readline(MAX_RECORD_BYTES + 1)
        if not raw:
            break
        n += 1
        if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            raise ImportFileError(f"{name}: line {n} is longer than {MAX_RECORD_BYTES // 2**20} MiB. "
                                  "One record per line: split the file or fix that line.")
        # Split on LF only: str.splitlines() also splits on U+2028, U+0085 and friends, which
        # JSON allows unescaped inside strings (a name with a line separator broke the record).
        line = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
        if not line.strip():
            continue
        found = True
        yield f"line {n}", parse_line(line)
    if not found:
        raise _empty(name)


# --- CSV ----------------------------------------------------------------------------------


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


LINE_FIELDS = {"orders": ("sku", "qty", "unit_price"), "returns": ("sku", "qty")}
_GROUP_BY = {"orders": "order_id", "returns": "rma_id"}
_ROWS_PER_BATCH = 5000


def _csv_rows(text: io.TextIOBase, name: str) -> Iterator[tuple[int, list[str]]]:
    """(physical line number, cells) per CSV row; quoted fields may span lines.

    The field size limit is raised for the read, so an over-long field is reported against its
    record (with the field's name) instead of failing the whole file.
    """
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, MAX_RECORD_BYTES))
    start = 1
    try:
        reader = csv.reader(text)
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(f"{name} is not valid CSV: {exc} (near line {start}). Fix the file and import it again.") from None
    finally:
        csv.field_size_limit(old_limit)


def _csv_record(header: list[str], row: list[str], kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    rec: dict[str, Any] = {}
    line: dict[str, Any] = {}
    line_fields = LINE_FIELDS.get(kind, ())
    for col, cell in zip(header, row, strict=True):
        cell = cell.strip()
        if col in line_fields:
            line[col] = cell
        elif col == "barcodes":
            rec[col] = [c for c in re.split(r"[|;]", cell) if c.strip()]
        elif col == "pack_barcodes":
            packs = []
            for part in (c for c in re.split(r"[|;]", cell) if c.strip()):
                code, _, qty = part.partition(":")
                packs.append({"barcode": code.strip(), "qty": qty.strip()})
            rec[col] = packs
        elif cell != "":
            _set_path(rec, col, cell)
    return rec, line


def _csv(text: io.TextIOBase, source: CheckedBytes, name: str, kind: str, staging: ImportStaging
         ) -> Iterator[tuple[str, Any]]:
    rows = _csv_rows(text, name)
    first = next(rows, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        for _ in rows:
            pass
        if source.blank:
            raise _empty(name)
        raise ImportFileError(f"{name} is empty: the first line must name the columns.")
    header = [h.strip() for h in first[1]]
    key_field = _GROUP_BY.get(kind)
    found = False
    if key_field is None:
        for n, row in rows:
            if not any(cell.strip() for cell in row):
                continue
            found = True
            if len(row) != len(header):
                yield f"line {n}", RecordError(f"has {len(row)} columns, the header has {len(header)}")
                continue
            yield f"line {n}", _csv_record(header, row, kind)[0]
        if not found:
            raise ImportFileError(f"{name} holds no records: only the header line.")
        return
    # orders and returns: one row per line item; the rows of one record are grouped in the
    # staging area (they need not be next to each other), then read back record by record
    batch: list[tuple[str, int, Any]] = []
    for n, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        found = True
        if len(row) != len(header):
            batch.append(("", n, f"has {len(row)} columns, the header has {len(header)}"))
        else:
            rec, line = _csv_record(header, row, kind)
            batch.append((str(rec.get(key_field, "")), n, (rec, line)))
        if len(batch) >= _ROWS_PER_BATCH:
            staging.add_rows(batch)
            batch = []
    if batch:
        staging.add_rows(batch)
    if not found:
        raise ImportFileError(f"{name} holds no records: only the header line.")
    for group in staging.grouped_rows():
        n, cells = group[0]
        if isinstance(cells, str):
            yield f"line {n}", RecordError(cells)
            continue
        rec, line = cells
        rec["lines"] = [line] if line else []
        errors = []
        for m, (other, other_line) in group[1:]:
            if other != {k: v for k, v in rec.items() if k != "lines"}:
                diff = sorted(k for k in set(rec) | set(other) if k != "lines" and rec.get(k) != other.get(k))
                errors.append((f"line {m}", RecordError(
                    f"{key_field} {rec.get(key_field, '')} repeats with different {', '.join(diff)} than line {n}")))
            else:
                rec["lines"].append(other_line)
        yield f"line {n}", rec
        yield from errors


__all__ = ["MAX_RECORD_BYTES", "SUFFIXES", "CheckedBytes", "ImportFileError", "JsonArray", "RecordError",
           "iter_records", "json_problem", "loads", "open_checked", "parse_line"]
