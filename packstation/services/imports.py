"""Imports of catalog, cartons, orders, returns and tracking files (JSON array, NDJSON or CSV).

A file is checked whole first: every record is validated and every rejected record is
reported with its position (record number for JSON, line number for NDJSON and CSV) and the
reason. If anything is rejected nothing is stored; otherwise the whole file is stored in one
transaction. Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from packstation.domain.barcodes import lookup_key
from packstation.domain.model import OrderStatus, Tracking
from packstation.services.ports import UnitOfWorkFactory

KINDS = ("catalog", "cartons", "orders", "returns", "tracking")
MAX_FILE_BYTES = 512 * 1024 * 1024
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PRICE = re.compile(r"^\d{1,12}(\.\d{1,4})?$")
_SUFFIXES = (".json", ".ndjson", ".jsonl", ".csv")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, syntax, unknown format)."""


class RecordError(ValueError):
    """One record is invalid; the message says which field and why."""


@dataclass
class Rejection:
    position: str  # "record 3", "line 17"
    key: str  # the record's id, if it has one
    reason: str

    def __str__(self) -> str:
        key = f" ({self.key})" if self.key else ""
        return f"{self.position}{key}: {self.reason}"


@dataclass
class ImportReport:
    kind: str
    file: str
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> str:
        if self.rejected:
            return (f"{self.file}: {len(self.rejected)} of {self.records} {self.kind} record(s) rejected; "
                    "nothing was imported. Fix the records below and import the file again.")
        return (f"{self.file}: {self.records} {self.kind} record(s): {self.created} new, "
                f"{self.updated} updated, {self.unchanged} unchanged.")


Progress = Callable[[int, int], None]


# --- reading files ------------------------------------------------------------------------


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


def read_records(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(position, record) pairs from a JSON array, NDJSON or CSV file (chosen by extension)."""
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ImportFileError(f"{path.name}: unknown file type {suffix!r}; use .json (an array), .ndjson/.jsonl or .csv.")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportFileError(f"{path.name} is {size // 2**20} MiB; split it into files under {MAX_FILE_BYTES // 2**20} MiB.")
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    wide = _wide_encoding(data)
    if wide:
        raise ImportFileError(
            f"{path.name} is {wide} text, not UTF-8. Save it as UTF-8 (in Excel: \"CSV UTF-8\"; "
            "in an editor: encoding UTF-8) and import it again."
        )
    if b"\x00" in data:
        raise ImportFileError(
            f"{path.name} contains NUL bytes: it is a binary file, not {suffix} text. "
            "Export the records as JSON, NDJSON or CSV and import that file."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"{path.name} is not UTF-8 text (bad byte 0x{data[exc.start]:02X} on line {line}; "
            "Latin-1 or Windows-1252 files look like this). Save it as UTF-8 and import it again."
        ) from None
    if not text.strip():
        raise ImportFileError(f"{path.name} is empty. Export the records again and import the new file.")
    if suffix == ".json":
        return _read_json(text, path.name)
    if suffix in (".ndjson", ".jsonl"):
        return _read_ndjson(text, path.name)
    if suffix == ".csv":
        return _read_csv(text, path.name, kind)
    raise ImportFileError(f"{path.name}: unknown file type {suffix!r}; use .json (an array), .ndjson/.jsonl or .csv.")


def _parse_int(digits: str) -> int | Decimal:
    # A long digit string stays a Decimal: int() refuses over 4300 digits with a ValueError,
    # and the field checks reject it as too large with the record's position.
    return int(digits) if len(digits) <= 20 else Decimal(digits)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def _loads(text: str) -> Any:
    """json.loads with exact decimals, bounded integers and no NaN/Infinity.

    Raises json.JSONDecodeError, ValueError (NaN, Infinity) or RecursionError (nesting).
    """
    return json.loads(text, parse_float=Decimal, parse_int=_parse_int, parse_constant=_no_constant)


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "arrays or objects are nested too deeply"
    return str(exc)


def _read_json(text: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        doc = _loads(text)
    except (ValueError, RecursionError) as exc:
        raise ImportFileError(
            f"{name} is not valid JSON: {_json_problem(exc)}. "
            "A .json file must hold one JSON array of records; fix the file or export it again."
        ) from None
    if isinstance(doc, dict):
        raise ImportFileError(f"{name}: expected a JSON array of records, found an object. Wrap the records in [ ].")
    if not isinstance(doc, list):
        raise ImportFileError(f"{name}: expected a JSON array of records.")
    if not doc:
        raise ImportFileError(f"{name} holds no records (an empty array).")
    return [(f"record {i}", rec) for i, rec in enumerate(doc, 1)]


def _read_ndjson(text: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, Any]] = []
    # Split on LF only: str.splitlines() also splits on U+2028, U+0085 and friends, which
    # JSON allows unescaped inside strings (a name with a line separator broke the record).
    for n, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            out.append((f"line {n}", _loads(line)))
        except json.JSONDecodeError as exc:
            out.append((f"line {n}", RecordError(f"not valid JSON: {exc.msg} at column {exc.colno}")))
        except (ValueError, RecursionError) as exc:
            out.append((f"line {n}", RecordError(f"not valid JSON: {_json_problem(exc)}")))
    if not out:
        raise ImportFileError(f"{name} holds no records.")
    return out


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


_LINE_FIELDS = {"orders": ("sku", "qty", "unit_price"), "returns": ("sku", "qty")}


def _csv_rows(text: str, name: str) -> list[tuple[int, list[str]]]:
    """(physical line number, cells) per CSV row; quoted fields may span lines.

    The field size limit is lifted to the file size for the read, so an over-long field is
    reported against its record (with the field's name) instead of failing the whole file.
    """
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, len(text) + 1))
    rows: list[tuple[int, list[str]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        start = 1
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(f"{name} is not valid CSV: {exc} (near line {start}). Fix the file and import it again.") from None
    finally:
        csv.field_size_limit(old_limit)
    return rows


def _read_csv(text: str, name: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
    rows = _csv_rows(text, name)
    if not rows or not any(cell.strip() for cell in rows[0][1]):
        raise ImportFileError(f"{name} is empty: the first line must name the columns.")
    header = [h.strip() for h in rows[0][1]]
    out: list[tuple[str, Any]] = []
    grouped: dict[str, tuple[str, dict[str, Any]]] = {}
    key_field = {"orders": "order_id", "returns": "rma_id"}.get(kind)
    for n, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            out.append((f"line {n}", RecordError(f"has {len(row)} columns, the header has {len(header)}")))
            continue
        rec: dict[str, Any] = {}
        line: dict[str, Any] = {}
        for col, cell in zip(header, row, strict=True):
            cell = cell.strip()
            if kind in _LINE_FIELDS and col in _LINE_FIELDS[kind]:
                line[col] = cell
            elif col in ("barcodes",):
                rec[col] = [c for c in re.split(r"[|;]", cell) if c.strip()]
            elif col == "pack_barcodes":
                packs = []
                for part in (c for c in re.split(r"[|;]", cell) if c.strip()):
                    code, _, qty = part.partition(":")
                    packs.append({"barcode": code.strip(), "qty": qty.strip()})
                rec[col] = packs
            elif cell != "":
                _set_path(rec, col, cell)
        if key_field is None:
            out.append((f"line {n}", rec))
            continue
        key = str(rec.get(key_field, ""))
        if key and key in grouped:
            pos, first = grouped[key]
            head = {k: v for k, v in first.items() if k != "lines"}
            if head != rec:
                diff = sorted(k for k in set(head) | set(rec) if head.get(k) != rec.get(k))
                out.append((f"line {n}", RecordError(f"{key_field} {key} repeats with different {', '.join(diff)} than {pos}")))
                continue
            first["lines"].append(line)
        else:
            rec["lines"] = [line] if line else []
            grouped[key or f"#{n}"] = (f"line {n}", rec)
            out.append((f"line {n}", rec))
    if not out:
        raise ImportFileError(f"{name} holds no records: only the header line.")
    return out


# --- field checks --------------------------------------------------------------------------


def _text(rec: dict[str, Any], name: str, *, required: bool = True, max_len: int = 200) -> str:
    value = rec.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordError(f"{name} is missing")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordError(f"{name} must be text, got {type(value).__name__}")
    value = str(value).strip()
    if len(value) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if any(ord(c) < 0x20 for c in value):
        raise RecordError(f"{name} contains control characters")
    return value


def _show(value: Any, limit: int = 40) -> str:
    """A value for an error message, cut short: a 2 MB field must not become a 2 MB message."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


MAX_GRAMS = 1_000_000  # 1 t: more is a unit mistake (kg for g), not a parcel
MAX_MM = 10_000
MAX_QTY = 9_999  # what the bench accepts for one line (domain.packing.MAX_QTY)


def _int(
    rec: dict[str, Any], name: str, *, minimum: int = 0, maximum: int = 2_147_483_647,
    required: bool = True, default: int = 0,
) -> int:
    value = rec.get(name)
    if value is None or value == "":
        if required:
            raise RecordError(f"{name} is missing")
        return default
    if isinstance(value, bool):
        raise RecordError(f"{name} must be a whole number")
    # Bound the size before converting: int(Decimal("1e999999999")) would build a
    # billion-digit number from a 13-byte field.
    if isinstance(value, Decimal) and (not value.is_finite() or value.adjusted() > 18):
        raise RecordError(f"{name} must be at most {maximum}, got {_show(value)}")
    if isinstance(value, str) and len(value.strip()) > 20:
        raise RecordError(f"{name} must be a whole number up to {maximum}, got {_show(value)}")
    try:
        if isinstance(value, str):
            number = int(value.strip())
        elif isinstance(value, Decimal | float):
            if value != int(value):
                raise ValueError
            number = int(value)
        else:
            number = int(value)
    except (ValueError, TypeError, OverflowError):
        raise RecordError(f"{name} must be a whole number, got {_show(value)}") from None
    if number < minimum:
        raise RecordError(f"{name} must be at least {minimum}, got {_show(number)}")
    if number > maximum:  # also keeps huge numbers from overflowing the database column
        raise RecordError(f"{name} must be at most {maximum}, got {_show(number)}")
    return number


def _obj(rec: dict[str, Any], name: str) -> dict[str, Any]:
    value = rec.get(name)
    if not isinstance(value, dict):
        raise RecordError(f"{name} is missing or not an object")
    return value


def _when(rec: dict[str, Any], name: str) -> datetime:
    value = _text(rec, name)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # Stored in UTC: SQLite keeps no offset (09:15+01:00 would read back as 09:15), which put
    # orders from different time zones in the wrong order for claim-next and reports.
    return when.astimezone(UTC)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# --- per kind ---------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Validated rows ready to store, keyed by record id."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)


def _catalog(rec: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    sku = _text(rec, "sku", max_len=64)
    name = _text(rec, "name")
    weight = _int(rec, "weight_g", minimum=0, maximum=MAX_GRAMS)
    location = _text(rec, "location", required=False, max_len=32)
    tracking = _text(rec, "tracking", required=False) or "none"
    if tracking not in {t.value for t in Tracking}:
        raise RecordError(f"tracking must be one of none, lot, lot_expiry, serial; got {tracking!r}")
    codes: list[dict[str, Any]] = []
    raw_codes = rec.get("barcodes") or []
    if not isinstance(raw_codes, list):
        raise RecordError("barcodes must be a list")
    for code in raw_codes:
        if not isinstance(code, str | int) or not str(code).strip() or len(str(code)) > 64:
            raise RecordError(f"barcode {code!r} is not a valid barcode")
        codes.append({"code": lookup_key(str(code)), "sku": sku, "qty": 1})
    packs = rec.get("pack_barcodes") or []
    if not isinstance(packs, list):
        raise RecordError("pack_barcodes must be a list of {barcode, qty}")
    for i, pack in enumerate(packs, 1):
        if not isinstance(pack, dict):
            raise RecordError("pack_barcodes must be a list of {barcode, qty}")
        try:
            code = _text(pack, "barcode", max_len=64)
            qty = _int(pack, "qty", minimum=2, maximum=MAX_QTY)
        except RecordError as exc:  # say which pack barcode ("qty is missing" alone is a riddle)
            hint = " (in CSV: barcode:qty)" if str(exc).endswith("is missing") else ""
            raise RecordError(f"pack_barcodes[{i}].{exc}{hint}") from None
        codes.append({"code": lookup_key(code), "sku": sku, "qty": qty})
    seen: set[str] = set()
    for c in codes:
        if c["code"] in seen:
            raise RecordError(f"barcode {c['code']} is listed twice")
        seen.add(c["code"])
    row = {"sku": sku, "name": name, "weight_g": weight, "location": location, "tracking": tracking}
    row["content_hash"] = _hash([row, sorted((c["code"], c["qty"]) for c in codes)])
    return sku, row, codes


def _carton(rec: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    code = _text(rec, "code", max_len=32).upper()
    inner = rec.get("inner_mm") or {}
    if not isinstance(inner, dict):
        raise RecordError("inner_mm must be an object {l, w, h}")
    try:
        dims = {f"inner_{d}_mm": _int(inner, d, maximum=MAX_MM, required=False) for d in ("l", "w", "h")}
    except RecordError as exc:
        raise RecordError(f"inner_mm.{exc}") from None
    row = {
        "code": code,
        "name": _text(rec, "name", max_len=100),
        "tare_g": _int(rec, "tare_g", minimum=0, maximum=MAX_GRAMS),
        **dims,
        "max_weight_g": _int(rec, "max_weight_g", maximum=MAX_GRAMS, required=False),
    }
    row["content_hash"] = _hash(row)
    return code, row, []


def _address(a: dict[str, Any]) -> dict[str, str]:
    out = {
        "ship_name": _text(a, "name"),
        "ship_line1": _text(a, "line1"),
        "ship_line2": _text(a, "line2", required=False),
        "ship_city": _text(a, "city", max_len=100),
        "ship_region": _text(a, "region", required=False, max_len=100),
        "ship_postcode": _text(a, "postcode", max_len=32),
        "ship_country": _text(a, "country", max_len=2).upper(),
    }
    if not _COUNTRY.match(out["ship_country"]):
        raise RecordError("country must be a two-letter ISO 3166 code")
    return out


def _order(rec: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    order_id = _text(rec, "order_id", max_len=64)
    customer = _obj(rec, "customer")
    try:
        cust_name = _text(customer, "name")
        email = _text(customer, "email", required=False)
        phone = _text(customer, "phone", required=False, max_len=64)
    except RecordError as exc:
        raise RecordError(f"customer.{exc}") from None
    if email and not _EMAIL.match(email):
        raise RecordError(f"customer.email {email!r} is not an e-mail address")
    try:
        address = _address(_obj(rec, "ship_to"))
    except RecordError as exc:
        raise RecordError(f"ship_to.{exc}" if not str(exc).startswith("ship_to") else str(exc)) from None
    currency = _text(rec, "currency", max_len=3).upper()
    if not _CURRENCY.match(currency):
        raise RecordError("currency must be a three-letter ISO 4217 code")
    payment = _obj(rec, "payment")
    method = _text(payment, "method") if "method" in payment else ""
    status = _text(payment, "status") if "status" in payment else ""
    if method not in ("prepaid", "cod"):
        raise RecordError(f"payment.method must be prepaid or cod, got {method!r}")
    if status not in ("paid", "pending"):
        raise RecordError(f"payment.status must be paid or pending, got {status!r}")
    if method == "cod" and status == "paid":
        raise RecordError("payment: cash on delivery cannot already be paid")
    raw_lines = rec.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise RecordError("lines: an order needs at least one line")
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, ln in enumerate(raw_lines, 1):
        if not isinstance(ln, dict):
            raise RecordError(f"lines[{i}] is not an object")
        try:
            sku = _text(ln, "sku", max_len=64)
            qty = _int(ln, "qty", minimum=1, maximum=MAX_QTY)
            price = ln.get("unit_price")
            if isinstance(price, float):
                raise RecordError("unit_price must be a decimal string such as \"12.50\"")
            price_s = str(price).strip() if price is not None else ""
            if not _PRICE.match(price_s):
                raise RecordError(f"unit_price must be a decimal string such as \"12.50\", got {price!r}")
            Decimal(price_s)
        except (RecordError, InvalidOperation) as exc:
            raise RecordError(f"lines[{i}].{exc}") from None
        if sku in seen:
            raise RecordError(f"lines[{i}]: sku {sku} appears twice; put the whole quantity on one line")
        seen.add(sku)
        lines.append({"order_id": order_id, "line_no": i, "sku": sku, "qty": qty, "unit_price": price_s,
                      "packed_qty": 0, "short_qty": 0})
    tracking_number = _text(rec, "tracking_number", required=False, max_len=64) or None
    row = {
        "order_id": order_id,
        "channel": _text(rec, "channel", max_len=64),
        "placed_at": _when(rec, "placed_at"),
        "customer_name": cust_name,
        "customer_email": email,
        "customer_phone": phone,
        **address,
        "currency": currency,
        "payment_method": method,
        "payment_status": status,
        "carrier": _text(rec, "carrier", max_len=64),
        "service": _text(rec, "service", required=False, max_len=64),
        "tracking_number": tracking_number,
        "tote": _text(rec, "tote", required=False, max_len=64) or None,
        "status": (OrderStatus.ON_HOLD if method == "prepaid" and status != "paid" else OrderStatus.RELEASED).value,
    }
    row["content_hash"] = _hash([row, [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in lines]])
    return order_id, row, lines


def _return(rec: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    rma = _text(rec, "rma_id", max_len=64)
    status = _text(rec, "status", required=False) or "initiated"
    if status not in ("initiated", "picked"):
        raise RecordError(f"status must be initiated or picked, got {status!r}")
    raw_lines = rec.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise RecordError("lines: a return needs at least one line")
    lines = []
    for i, ln in enumerate(raw_lines, 1):
        if not isinstance(ln, dict):
            raise RecordError(f"lines[{i}] is not an object")
        try:
            lines.append({"rma_id": rma, "line_no": i, "sku": _text(ln, "sku", max_len=64), "qty": _int(ln, "qty", minimum=1, maximum=MAX_QTY)})
        except RecordError as exc:
            raise RecordError(f"lines[{i}].{exc}") from None
    row = {"rma_id": rma, "order_id": _text(rec, "order_id", max_len=64), "reason": _text(rec, "reason"), "status": status}
    row["content_hash"] = _hash([row, [(ln["sku"], ln["qty"]) for ln in lines]])
    return rma, row, lines


def _tracking(rec: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    order_id = _text(rec, "order_id", required=False, max_len=64)
    number = _text(rec, "tracking_number", required=False, max_len=64)
    if not order_id and not number:
        raise RecordError("needs order_id or tracking_number")
    status = _text(rec, "status")
    if status not in ("in_transit", "delivered"):
        raise RecordError(f"status must be in_transit or delivered, got {status!r}")
    row = {"order_id": order_id, "tracking_number": number, "status": status, "at": _when(rec, "at")}
    return order_id or number, row, []


_VALIDATORS = {"catalog": _catalog, "cartons": _carton, "orders": _order, "returns": _return, "tracking": _tracking}


def import_file(
    uow_factory: UnitOfWorkFactory,
    kind: str,
    path: Path,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Progress | None = None,
) -> ImportReport:
    """Validate the whole file, then store it whole (or, if anything is rejected, not at all)."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    return import_records(uow_factory, kind, read_records(path, kind), path.name, clock=clock, progress=progress)


def import_records(
    uow_factory: UnitOfWorkFactory,
    kind: str,
    records: list[tuple[str, Any]],
    name: str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Progress | None = None,
) -> ImportReport:
    """Validate (position, record) pairs and store them in one transaction, or none of them."""
    report = ImportReport(kind=kind, file=name, records=len(records))
    plan = _Plan()
    validate = _VALIDATORS[kind]
    for n, (pos, rec) in enumerate(records, 1):
        key = str(rec.get(_KEY[kind], ""))[:64] if isinstance(rec, dict) else ""
        try:
            if isinstance(rec, RecordError):
                raise rec
            if not isinstance(rec, dict):
                raise RecordError(f"expected an object, got {type(rec).__name__}")
            key, row, children = validate(rec)
        except RecordError as exc:
            report.rejected.append(Rejection(pos, key, str(exc)))
            continue
        if kind == "tracking":  # several updates per order are fine; keep them in file order
            row["key"] = key
            key = pos
        if key in plan.rows:
            report.rejected.append(Rejection(pos, key, f"appears twice in the file (first at {plan.positions[key]})"))
            continue
        plan.rows[key] = row
        plan.children[key] = children
        plan.positions[key] = pos
        if progress and n % 1000 == 0:
            progress(n, len(records) * 2)
    with uow_factory() as uow:
        _APPLY[kind](uow, plan, report, clock())
        if report.rejected:
            return report  # rolled back on exit: nothing stored
        if report.created or report.updated:  # a file imported again changes nothing, not even events
            uow.add_event(f"import.{kind}", None, None,
                          {"file": name, "records": report.records, "created": report.created,
                           "updated": report.updated, "unchanged": report.unchanged})
            uow.commit()
    if progress:
        progress(len(records) * 2, len(records) * 2)
    return report


_KEY = {"catalog": "sku", "cartons": "code", "orders": "order_id", "returns": "rma_id", "tracking": "order_id"}


def _split(uow: Any, table: str, key: str, plan: _Plan, report: ImportReport) -> tuple[list[str], list[str], dict[str, dict[str, Any]]]:
    existing = uow.existing(table, key, list(plan.rows))
    new, changed = [], []
    for k, row in plan.rows.items():
        old = existing.get(k)
        if old is None:
            new.append(k)
        elif old.get("content_hash") == row["content_hash"]:
            report.unchanged += 1
        else:
            changed.append(k)
    return new, changed, existing


def _apply_catalog(uow: Any, plan: _Plan, report: ImportReport, now: datetime) -> None:
    new, changed, _ = _split(uow, "products", "sku", plan, report)
    touched = set(new) | set(changed)
    codes = [c for k in touched for c in plan.children[k]]
    owners = uow.existing("barcodes", "code", [c["code"] for c in codes])
    for c in codes:
        owner = owners.get(c["code"])
        if owner and owner["sku"] != c["sku"] and owner["sku"] not in touched:
            report.rejected.append(Rejection(plan.positions[c["sku"]], c["sku"], f"barcode {c['code']} already belongs to {owner['sku']}"))
    claimed: dict[str, str] = {}
    for c in codes:
        other = claimed.setdefault(c["code"], c["sku"])
        if other != c["sku"]:
            report.rejected.append(Rejection(plan.positions[c["sku"]], c["sku"], f"barcode {c['code']} is also given to {other} in this file"))
    if report.rejected:
        return
    uow.bulk_delete("barcodes", "sku", changed)
    for k in changed:
        uow.update_row("products", {"sku": k}, {**plan.rows[k], "updated_at": now})
    uow.bulk_insert("products", [{**plan.rows[k], "updated_at": now} for k in new])
    uow.bulk_insert("barcodes", codes)
    report.created, report.updated = len(new), len(changed)


def _apply_cartons(uow: Any, plan: _Plan, report: ImportReport, now: datetime) -> None:
    new, changed, _ = _split(uow, "carton_types", "code", plan, report)
    for k in changed:
        uow.update_row("carton_types", {"code": k}, plan.rows[k])
    uow.bulk_insert("carton_types", [plan.rows[k] for k in new])
    report.created, report.updated = len(new), len(changed)


def _apply_orders(uow: Any, plan: _Plan, report: ImportReport, now: datetime) -> None:
    known = uow.known_skus(ln["sku"] for lines in plan.children.values() for ln in lines)
    for k, lines in plan.children.items():
        missing = sorted({ln["sku"] for ln in lines} - known)
        if missing:
            report.rejected.append(Rejection(plan.positions[k], k, f"unknown sku {', '.join(missing)}: import the catalog first"))
    _check_totes(uow, plan, report)
    new, changed, existing = _split(uow, "orders", "order_id", plan, report)
    for k in changed:
        old = existing[k]
        if old["status"] not in (OrderStatus.ON_HOLD.value, OrderStatus.RELEASED.value) or old["claimed_by"]:
            report.rejected.append(Rejection(plan.positions[k], k, f"order already exists and is {old['status']}: it can no longer be changed"))
    if report.rejected:
        return
    uow.bulk_delete("order_lines", "order_id", changed)
    for k in changed:
        uow.update_row("orders", {"order_id": k}, {**plan.rows[k], "updated_at": now})
    uow.bulk_insert("orders", [{**plan.rows[k], "created_at": now, "updated_at": now} for k in new])
    uow.bulk_insert("order_lines", [ln for k in new + changed for ln in plan.children[k]])
    for k in new:
        uow.add_event("order.received", k, None, {"status": plan.rows[k]["status"], "channel": plan.rows[k]["channel"]})
    for k in changed:
        uow.add_event("order.updated", k, None, {"status": plan.rows[k]["status"]})
    report.created, report.updated = len(new), len(changed)


_OPEN = (OrderStatus.ON_HOLD.value, OrderStatus.RELEASED.value, OrderStatus.PICKING.value, OrderStatus.PACKING.value)


def _check_totes(uow: Any, plan: _Plan, report: ImportReport) -> None:
    """A tote carries one open order: scanning it at the bench must find exactly that order.

    Totes are reused once an order is packed, so only open (not yet packed) orders count.
    """
    first: dict[str, str] = {}
    for k, row in plan.rows.items():
        tote = row["tote"]
        if tote is None:
            continue
        if tote in first:
            report.rejected.append(Rejection(plan.positions[k], k, f"tote {tote} is also given to order {first[tote]} in this file"))
        else:
            first[tote] = k
    if not first:
        return
    # One query per 500 totes; a tote found on some other order is looked at in full (it may
    # be on several: finished ones, which do not count, and at most one open one).
    for tote, hit in uow.existing("orders", "tote", sorted(first)).items():
        k = first[tote]
        holders = [hit] if hit["order_id"] == k else uow.select_rows("orders", {"tote": tote})
        for other in holders:
            if other["order_id"] != k and other["status"] in _OPEN:
                report.rejected.append(Rejection(plan.positions[k], k,
                                                 f"tote {tote} already holds open order {other['order_id']} ({other['status']}); "
                                                 "use another tote or pack that order first"))
                break


def _apply_returns(uow: Any, plan: _Plan, report: ImportReport, now: datetime) -> None:
    orders = uow.existing("orders", "order_id", sorted({r["order_id"] for r in plan.rows.values()}))
    in_file: dict[tuple[str, str], int] = {}  # (order, sku) -> units on earlier returns in this file
    for k, row in plan.rows.items():
        order_id = row["order_id"]
        order = orders.get(order_id)
        if order is None:
            report.rejected.append(Rejection(plan.positions[k], k, f"order {order_id} does not exist"))
            continue
        if order["status"] not in _RANK:
            report.rejected.append(Rejection(plan.positions[k], k,
                                             f"order {order_id} is {order['status']}: only a packed or shipped order can be returned"))
            continue
        shipped = {ln["sku"]: ln["packed_qty"] for ln in uow.select_rows("order_lines", {"order_id": order_id})}
        # Units already on other returns of this order count too: two RMAs for the one unit
        # shipped would each pass on their own.
        on_file: dict[str, int] = {}
        for other in uow.select_rows("returns", {"order_id": order_id}):
            if other["rma_id"] != k:
                for ln in uow.select_rows("return_lines", {"rma_id": other["rma_id"]}):
                    on_file[ln["sku"]] = on_file.get(ln["sku"], 0) + ln["qty"]
        wanted: dict[str, int] = {}
        for ln in plan.children[k]:
            wanted[ln["sku"]] = wanted.get(ln["sku"], 0) + ln["qty"]
        for sku, qty in wanted.items():
            before = on_file.get(sku, 0) + in_file.get((order_id, sku), 0)
            if before + qty > shipped.get(sku, 0):
                also = f", and {before} are already on other returns" if before else ""
                report.rejected.append(Rejection(plan.positions[k], k,
                                                 f"returns {qty} × {sku} but order {order_id} shipped {shipped.get(sku, 0)}{also}"))
                break
        for sku, qty in wanted.items():
            in_file[(order_id, sku)] = in_file.get((order_id, sku), 0) + qty
    new, changed, existing = _split(uow, "returns", "rma_id", plan, report)
    for k in changed:
        old = existing[k]
        if old["order_id"] != plan.rows[k]["order_id"]:
            report.rejected.append(Rejection(plan.positions[k], k,
                                             f"return already exists for order {old['order_id']}, not {plan.rows[k]['order_id']}"))
        elif old["status"] not in ("initiated", "picked"):
            report.rejected.append(Rejection(plan.positions[k], k, f"return already exists and is {old['status']}"))
    if report.rejected:
        return
    uow.bulk_delete("return_lines", "rma_id", changed)
    for k in changed:
        uow.update_row("returns", {"rma_id": k}, {**plan.rows[k], "updated_at": now})
    uow.bulk_insert("returns", [{**plan.rows[k], "created_at": now, "updated_at": now} for k in new])
    uow.bulk_insert("return_lines", [ln for k in new + changed for ln in plan.children[k]])
    for k in new + changed:
        uow.add_event("return." + plan.rows[k]["status"], plan.rows[k]["order_id"], None, {"rma_id": k})
    report.created, report.updated = len(new), len(changed)


_RANK = {OrderStatus.PACKED.value: 0, OrderStatus.IN_TRANSIT.value: 1, OrderStatus.DELIVERED.value: 2}


def _apply_tracking(uow: Any, plan: _Plan, report: ImportReport, now: datetime) -> None:
    for k, row in plan.rows.items():
        order_id = row["order_id"]
        if not order_id:
            hits = uow.select_rows("orders", {"tracking_number": row["tracking_number"]}) or [
                {"order_id": c["order_id"]} for c in uow.select_rows("cartons", {"tracking_number": row["tracking_number"]})
            ]
            if not hits:
                report.rejected.append(Rejection(plan.positions[k], row["key"], f"no order has tracking number {row['tracking_number']}"))
                continue
            order_id = hits[0]["order_id"]
        order = uow.order_row(order_id)
        if order is None:
            report.rejected.append(Rejection(plan.positions[k], row["key"], f"order {order_id} does not exist"))
            continue
        if order["status"] not in _RANK:
            report.rejected.append(Rejection(plan.positions[k], row["key"], f"order {order_id} is {order['status']}: it has not been packed"))
            continue
        if _RANK[order["status"]] >= _RANK[row["status"]]:
            report.unchanged += 1
            continue
        uow.set_order_status(order_id, OrderStatus(row["status"]))
        uow.add_event(f"order.{row['status']}", order_id, None, {"at": row["at"], "tracking_number": row["tracking_number"] or None})
        report.updated += 1


_APPLY = {"catalog": _apply_catalog, "cartons": _apply_cartons, "orders": _apply_orders, "returns": _apply_returns, "tracking": _apply_tracking}

