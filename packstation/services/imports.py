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
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from packstation.domain.barcodes import lookup_key
from packstation.domain.identity import Permission, Session
from packstation.domain.lifecycle import (
    OrderStatus,
    ReturnStatus,
    TransitionRefused,
    arrival_status,
    return_transition,
)
from packstation.domain.model import (
    Address,
    CartonType,
    Order,
    OrderLine,
    PackBarcode,
    Product,
    StockLot,
    Tracking,
)
from packstation.domain.returns import Return, ReturnLine
from packstation.services.context import Context, record
from packstation.services.lifecycle import change_status
from packstation.services.ports import UnitOfWork
from packstation.services.stock import record_stock_count

KINDS = ("catalog", "cartons", "orders", "returns", "tracking", "stock")
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


_ID_CHARS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:#+@/ -]*$")


def _ident(rec: dict[str, Any], name: str, *, max_len: int = 64) -> str:
    """An id (order, SKU, RMA, tote, carton code): printable ASCII letters, digits and . _ : # + @ / - space.

    Ids reach file names, barcodes and URLs; ``../../../escaped``, NUL or a leading dot are
    refused here (the document folder also writes only safe names, whatever an id holds)."""
    value = _text(rec, name, max_len=max_len)
    if not _ID_CHARS.match(value) or ".." in value or "//" in value:
        raise RecordError(f"{name} {_show(value)} may hold only letters, digits and . _ : # + @ / - "
                          "(starting with a letter or digit, no '..')")
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
    sku = _ident(rec, "sku")
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
    code = _ident(rec, "code", max_len=32).upper()
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
    order_id = _ident(rec, "order_id")
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
            sku = _ident(ln, "sku")
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
    label_zpl, label_url = _marketplace_label(rec)
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
        "tote": (_ident(rec, "tote") if _text(rec, "tote", required=False) else None),
        "status": arrival_status(method, status).value,
        # only when given: the fingerprints of orders without one stay what they were
        **({"label_zpl": label_zpl} if label_zpl else {}),
        **({"label_url": label_url} if label_url else {}),
    }
    row["content_hash"] = _hash([row, [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in lines]])
    return order_id, row, lines


MAX_LABEL_ZPL = 256 * 1024


def _marketplace_label(rec: dict[str, Any]) -> tuple[str | None, str | None]:
    """``label_zpl`` (the label's ZPL, ^XA ... ^XZ) or ``label_url`` (http(s) address of a ZPL or PDF
    label): a label the marketplace made for the order's parcel, printed instead of ours."""
    zpl = rec.get("label_zpl")
    url = rec.get("label_url")
    if zpl in (None, "") and url in (None, ""):
        return None, None
    if zpl not in (None, "") and url not in (None, ""):
        raise RecordError("give label_zpl or label_url, not both")
    if zpl not in (None, ""):
        if not isinstance(zpl, str):
            raise RecordError("label_zpl must be the label's ZPL text")
        text = zpl.strip()
        if len(text) > MAX_LABEL_ZPL:
            raise RecordError(f"label_zpl is {len(text)} characters: at most {MAX_LABEL_ZPL}")
        if not text.upper().startswith("^XA") or not text.upper().endswith("^XZ"):
            raise RecordError("label_zpl must be one ZPL label, from ^XA to ^XZ")
        return text, None
    if not isinstance(url, str) or not url.strip().lower().startswith(("https://", "http://")) or len(url) > 500 \
            or any(ch.isspace() for ch in url.strip()):
        raise RecordError(f"label_url must be an http(s) address of the label (at most 500 characters), got {_show(url)}")
    return None, url.strip()


def _return(rec: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    rma = _ident(rec, "rma_id")
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
    row = {"rma_id": rma, "order_id": _ident(rec, "order_id"), "reason": _text(rec, "reason"), "status": status}
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


def _stock(rec: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    sku = _ident(rec, "sku")
    lot = _text(rec, "lot", max_len=20)
    expiry_text = _text(rec, "expiry", required=False, max_len=10)
    expiry = None
    if expiry_text:
        try:
            expiry = date.fromisoformat(expiry_text)
        except ValueError:
            raise RecordError(f"expiry must be a date YYYY-MM-DD, got {expiry_text!r}") from None
    row = {"sku": sku, "lot": lot, "expiry": expiry, "location": _text(rec, "location", required=False, max_len=32),
           "qty": _int(rec, "qty", minimum=0, maximum=10**9)}
    return f"{sku}\x1f{lot}", row, []


_VALIDATORS = {"catalog": _catalog, "cartons": _carton, "orders": _order, "returns": _return, "tracking": _tracking,
               "stock": _stock}


def import_file(ctx: Context, session: Session, kind: str, path: Path, *, progress: Progress | None = None) -> ImportReport:
    """Validate the whole file, then store it whole (or, if anything is rejected, not at all)."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    return import_records(ctx, session, kind, read_records(path, kind), path.name, progress=progress)


def import_records(ctx: Context, session: Session, kind: str, records: list[tuple[str, Any]], name: str, *,
                   progress: Progress | None = None) -> ImportReport:
    """Validate (position, record) pairs and store them in one transaction, or none of them."""
    ctx.auth.require(session, Permission.IMPORT, "An import")
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
            shown = key.replace("\x1f", " lot ")
            report.rejected.append(Rejection(pos, shown, f"appears twice in the file (first at {plan.positions[key]})"))
            continue
        plan.rows[key] = row
        plan.children[key] = children
        plan.positions[key] = pos
        if progress and n % 1000 == 0:
            progress(n, len(records) * 2)
    with ctx.uow() as uow:
        _APPLY[kind](uow, ctx, session, plan, report)
        if report.rejected:
            return report  # rolled back on exit: nothing stored
        if report.created or report.updated:  # a file imported again changes nothing, not even events
            record(uow, ctx, session, f"import.{kind}", None,
                   {"file": name, "records": report.records, "created": report.created,
                    "updated": report.updated, "unchanged": report.unchanged})
            uow.commit()
    if progress:
        progress(len(records) * 2, len(records) * 2)
    return report


_KEY = {"catalog": "sku", "cartons": "code", "orders": "order_id", "returns": "rma_id", "tracking": "order_id",
        "stock": "sku"}


def _split(existing: dict[str, str], plan: _Plan, report: ImportReport) -> tuple[list[str], list[str]]:
    """Record ids new to the store, and those whose content changed (the rest count as unchanged)."""
    new, changed = [], []
    for k, row in plan.rows.items():
        old = existing.get(k)
        if old is None:
            new.append(k)
        elif old == row["content_hash"]:
            report.unchanged += 1
        else:
            changed.append(k)
    return new, changed


def _product(row: dict[str, Any], codes: list[dict[str, Any]]) -> Product:
    return Product(sku=row["sku"], name=row["name"], weight_g=row["weight_g"], location=row["location"],
                   tracking=Tracking(row["tracking"]),
                   barcodes=tuple(c["code"] for c in codes if c["qty"] == 1),
                   pack_barcodes=tuple(PackBarcode(c["code"], c["qty"]) for c in codes if c["qty"] != 1))


def _apply_catalog(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    new, changed = _split(uow.catalog.imported_products(list(plan.rows)), plan, report)
    touched = set(new) | set(changed)
    codes = [c for k in touched for c in plan.children[k]]
    owners = uow.catalog.barcode_owners([c["code"] for c in codes])
    for c in codes:
        owner = owners.get(c["code"])
        if owner and owner != c["sku"] and owner not in touched:
            report.rejected.append(Rejection(plan.positions[c["sku"]], c["sku"], f"barcode {c['code']} already belongs to {owner}"))
    claimed: dict[str, str] = {}
    for c in codes:
        other = claimed.setdefault(c["code"], c["sku"])
        if other != c["sku"]:
            report.rejected.append(Rejection(plan.positions[c["sku"]], c["sku"], f"barcode {c['code']} is also given to {other} in this file"))
    if report.rejected:
        return
    keys = [k for k in plan.rows if k in touched]
    uow.catalog.put_products([(_product(plan.rows[k], plan.children[k]), plan.rows[k]["content_hash"]) for k in keys],
                             ctx.clock())
    report.created, report.updated = len(new), len(changed)


def _apply_cartons(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    new, changed = _split(uow.catalog.imported_cartons(list(plan.rows)), plan, report)
    rows = [plan.rows[k] for k in plan.rows if k in set(new) | set(changed)]
    uow.catalog.put_cartons([(CartonType(code=r["code"], name=r["name"], tare_g=r["tare_g"], inner_l_mm=r["inner_l_mm"],
                                         inner_w_mm=r["inner_w_mm"], inner_h_mm=r["inner_h_mm"],
                                         max_weight_g=r["max_weight_g"]), r["content_hash"]) for r in rows])
    report.created, report.updated = len(new), len(changed)


def _order_obj(row: dict[str, Any], lines: list[dict[str, Any]]) -> Order:
    return Order(
        order_id=row["order_id"], channel=row["channel"], placed_at=row["placed_at"],
        customer_name=row["customer_name"], customer_email=row["customer_email"], customer_phone=row["customer_phone"],
        ship_to=Address(name=row["ship_name"], line1=row["ship_line1"], line2=row["ship_line2"], city=row["ship_city"],
                        region=row["ship_region"], postcode=row["ship_postcode"], country=row["ship_country"]),
        currency=row["currency"], payment_method=row["payment_method"], payment_status=row["payment_status"],
        carrier=row["carrier"], service=row["service"], tracking_number=row["tracking_number"],
        status=OrderStatus(row["status"]), tote=row["tote"], label_zpl=row.get("label_zpl"),
        label_url=row.get("label_url"),
        lines=[OrderLine(line_no=ln["line_no"], sku=ln["sku"], qty=ln["qty"], unit_price=Decimal(ln["unit_price"]))
               for ln in lines],
    )


_CHANGEABLE = (OrderStatus.ON_HOLD.value, OrderStatus.RELEASED.value, OrderStatus.RECEIVED.value)


def _apply_orders(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    known = uow.catalog.known_skus(ln["sku"] for lines in plan.children.values() for ln in lines)
    for k, lines in plan.children.items():
        missing = sorted({ln["sku"] for ln in lines} - known)
        if missing:
            report.rejected.append(Rejection(plan.positions[k], k, f"unknown sku {', '.join(missing)}: import the catalog first"))
    _check_totes(uow, plan, report)
    existing = uow.orders.imported(list(plan.rows))
    new, changed = _split({k: v.fingerprint for k, v in existing.items()}, plan, report)
    for k in changed:
        old = existing[k]
        if old.status not in _CHANGEABLE or old.held_by:
            report.rejected.append(Rejection(plan.positions[k], k, f"order already exists and is {old.status}: it can no longer be changed"))
    if report.rejected:
        return
    now = ctx.clock()
    uow.orders.add_many([(_order_obj(plan.rows[k], plan.children[k]), plan.rows[k]["content_hash"]) for k in new], now)
    for k in new:
        record(uow, ctx, session, "order.received", k, {"status": plan.rows[k]["status"], "channel": plan.rows[k]["channel"]})
    for k in changed:
        order = _order_obj(plan.rows[k], plan.children[k])
        old_status = OrderStatus(existing[k].status)
        order.status = old_status
        uow.orders.replace(order, plan.rows[k]["content_hash"], now)
        record(uow, ctx, session, "order.updated", k, {"status": plan.rows[k]["status"]})
        target = OrderStatus(plan.rows[k]["status"])
        if target is not old_status:  # paid meanwhile (or no longer): through the lifecycle
            change_status(uow, ctx, session, k, old_status, target)
    report.created, report.updated = len(new), len(changed)


def _check_totes(uow: UnitOfWork, plan: _Plan, report: ImportReport) -> None:
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
    for tote, k in first.items():
        other = uow.orders.open_order_with_tote(tote, k)
        if other is not None:
            report.rejected.append(Rejection(plan.positions[k], k,
                                             f"tote {tote} already holds open order {other[0]} ({other[1].value}); "
                                             "use another tote or pack that order first"))


def _apply_returns(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    in_file: dict[tuple[str, str], int] = {}  # (order, sku) -> units on earlier returns in this file
    for k, row in plan.rows.items():
        order_id = row["order_id"]
        order = uow.orders.get(order_id)
        if order is None:
            report.rejected.append(Rejection(plan.positions[k], k, f"order {order_id} does not exist"))
            continue
        if not order.status.shipped:
            report.rejected.append(Rejection(plan.positions[k], k,
                                             f"order {order_id} is {order.status.value}: only a packed or shipped order can be returned"))
            continue
        shipped = {ln.sku: ln.packed for ln in order.lines}
        # Units already on other returns of this order count too: two RMAs for the one unit
        # shipped would each pass on their own.
        on_file: dict[str, int] = {}
        for other in uow.returns.for_order(order_id):
            if other.rma_id != k:
                for rline in other.lines:
                    on_file[rline.sku] = on_file.get(rline.sku, 0) + rline.qty
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
    existing = uow.returns.imported(list(plan.rows))
    new, changed = _split({k: v.fingerprint for k, v in existing.items()}, plan, report)
    for k in changed:
        old = existing[k]
        if old.order_id != plan.rows[k]["order_id"]:
            report.rejected.append(Rejection(plan.positions[k], k,
                                             f"return already exists for order {old.order_id}, not {plan.rows[k]['order_id']}"))
        elif old.status not in ("initiated", "picked"):
            report.rejected.append(Rejection(plan.positions[k], k, f"return already exists and is {old.status}"))
        elif old.status != plan.rows[k]["status"]:
            try:  # initiated -> picked; never back (an old file imported again)
                return_transition(ReturnStatus(old.status), ReturnStatus(plan.rows[k]["status"]), rma_id=k)
            except TransitionRefused as exc:
                report.rejected.append(Rejection(plan.positions[k], k, str(exc)))
    if report.rejected:
        return
    now = ctx.clock()
    for k in new + changed:
        row = plan.rows[k]
        ret = Return(rma_id=k, order_id=row["order_id"], reason=row["reason"], status=ReturnStatus(row["status"]),
                     lines=[ReturnLine(line_no=ln["line_no"], sku=ln["sku"], qty=ln["qty"]) for ln in plan.children[k]])
        uow.returns.put(ret, row["content_hash"], now)
        # complete enough to replay the return elsewhere (the central sync)
        record(uow, ctx, session, "return." + row["status"], row["order_id"],
               {"rma_id": k, "order_id": row["order_id"], "reason": row["reason"], "status": row["status"],
                "origin": "import", "lines": [{"line_no": ln["line_no"], "sku": ln["sku"], "qty": ln["qty"]}
                                              for ln in plan.children[k]]})
    report.created, report.updated = len(new), len(changed)


def _apply_tracking(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    for k, row in plan.rows.items():
        order_id = row["order_id"] or uow.orders.find_by_tracking(row["tracking_number"])
        if not order_id:
            report.rejected.append(Rejection(plan.positions[k], row["key"], f"no order has tracking number {row['tracking_number']}"))
            continue
        order = uow.orders.get(order_id)
        if order is None:
            report.rejected.append(Rejection(plan.positions[k], row["key"], f"order {order_id} does not exist"))
            continue
        if not order.status.shipped:
            report.rejected.append(Rejection(plan.positions[k], row["key"], f"order {order_id} is {order.status.value}: it has not been packed"))
            continue
        target = OrderStatus(row["status"])
        if order.status.stage >= target.stage:  # never backwards; a repeat changes nothing
            report.unchanged += 1
            continue
        try:
            change_status(uow, ctx, session, order_id, order.status, target,
                          at=row["at"], tracking_number=row["tracking_number"] or None)
        except TransitionRefused as exc:
            report.rejected.append(Rejection(plan.positions[k], row["key"], str(exc)))
            continue
        report.updated += 1


def _apply_stock(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    """Stock lots (sku, lot, expiry, location, qty): what the bench checks a scanned lot against."""
    known = uow.catalog.known_skus(row["sku"] for row in plan.rows.values())
    lots: list[StockLot] = []
    for k, row in plan.rows.items():
        if row["sku"] not in known:
            report.rejected.append(Rejection(plan.positions[k], row["sku"], f"unknown sku {row['sku']}: import the catalog first"))
            continue
        lots.append(StockLot(sku=row["sku"], lot=row["lot"], expiry=row["expiry"], location=row["location"], qty=row["qty"]))
    if report.rejected:
        return
    before = {(lot.sku, lot.lot): lot for sku in {x.sku for x in lots} for lot in uow.catalog.lots(sku)}
    fresh = [lot for lot in lots if before.get((lot.sku, lot.lot)) != lot]
    report.unchanged = len(lots) - len(fresh)
    report.created = sum(1 for lot in fresh if (lot.sku, lot.lot) not in before)
    report.updated = len(fresh) - report.created
    uow.catalog.put_lots(fresh)
    for lot in fresh:  # the stock ledger: received / adjusted movements to what was counted
        record_stock_count(uow, ctx, session, lot, ref=f"import:{report.file}")


def add_order(uow: UnitOfWork, ctx: Context, session: Session, rec: dict[str, Any], **event: Any) -> Order:
    """Store one new order record (the import's validation and arrival status) in *uow*'s
    transaction, with its ``order.received`` event (plus *event* in the payload). Raises
    RecordError. The caller checks *session*'s permission (a returns desk creates replacements)."""
    order_id, row, lines = _order(rec)
    missing = sorted({ln["sku"] for ln in lines} - uow.catalog.known_skus(ln["sku"] for ln in lines))
    if missing:
        raise RecordError(f"unknown sku {', '.join(missing)}: import the catalog first")
    if uow.orders.imported([order_id]):
        raise RecordError(f"order {order_id} exists already")
    order = _order_obj(row, lines)
    uow.orders.add_many([(order, row["content_hash"])], ctx.clock())
    record(uow, ctx, session, "order.received", order_id, {"status": row["status"], "channel": row["channel"],
                                                            "record": rec, **event})
    return order


_APPLY = {"catalog": _apply_catalog, "cartons": _apply_cartons, "orders": _apply_orders, "returns": _apply_returns,
          "tracking": _apply_tracking, "stock": _apply_stock}


# --- stable entry points for the order API (services/intake.py) --------------------------------
# The API validates and stores orders exactly as a file import does, through these two functions
# only; the rest of this module may change shape (streaming imports) without the API noticing.

OrderRecord = tuple[str, dict[str, Any], list[dict[str, Any]]]  # (order_id, row, lines)


def validate_order_record(rec: Any) -> OrderRecord:
    """One order record checked by the import's own rules: (order_id, row, lines), else RecordError
    with the import's reason (``ship_to.country must be a two-letter ISO 3166 code``)."""
    if isinstance(rec, RecordError):
        raise rec
    if not isinstance(rec, dict):
        raise RecordError(f"expected an object, got {type(rec).__name__}")
    return _order(rec)


def store_order_records(uow: UnitOfWork, ctx: Context, session: Session,
                        records: list[tuple[str, OrderRecord]]) -> tuple[dict[str, str], list[Rejection]]:
    """Store validated (position, record) pairs in *uow* as an import of them would; the caller
    checks the session and commits (or, with rejections, does not).

    Returns each order's outcome (``created``, ``updated``, ``unchanged``, or ``locked``: changed
    while it is already being packed, so refused) and the rejections of the store's own checks
    (unknown SKUs, totes in use, an order twice), each with its position and reason."""
    plan = _Plan()
    report = ImportReport(kind="orders", file="request", records=len(records))
    for pos, (key, row, lines) in records:
        if key in plan.rows:
            report.rejected.append(Rejection(pos, key, f"appears twice in the request (first at {plan.positions[key]})"))
            continue
        plan.rows[key], plan.children[key], plan.positions[key] = row, lines, pos
    if report.rejected:
        return {}, report.rejected
    if len(plan.rows) == 1:  # one order (most requests): its outcome is in the report's counts
        (key,) = plan.rows
        _apply_orders(uow, ctx, session, plan, report)
        if report.rejected:
            busy = any(r.reason.endswith("it can no longer be changed") for r in report.rejected)
            return ({key: "locked"}, []) if busy else ({}, report.rejected)
        return {key: "created" if report.created else "updated" if report.updated else "unchanged"}, []
    before = uow.orders.imported(list(plan.rows))
    outcomes: dict[str, str] = {}
    for key, row in plan.rows.items():
        old = before.get(key)
        if old is None:
            outcomes[key] = "created"
        elif old.fingerprint == row["content_hash"]:
            outcomes[key] = "unchanged"
        elif old.status not in _CHANGEABLE or old.held_by:
            outcomes[key] = "locked"
        else:
            outcomes[key] = "updated"
    _apply_orders(uow, ctx, session, plan, report)
    locked = {k for k, v in outcomes.items() if v == "locked"}
    return outcomes, [r for r in report.rejected if r.key not in locked]
