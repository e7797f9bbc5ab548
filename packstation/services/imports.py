"""Imports of catalog, cartons, orders, returns, tracking and stock files (JSON array, NDJSON or CSV).

A file is read as a stream (``services.import_files``), never whole into memory. Every record is
validated and every rejected record is reported with its position (record number for JSON, line
number for NDJSON and CSV) and the reason; if anything is rejected nothing is stored. Importing
the same file again changes nothing.

How a file is stored (docs in the README, "Importing data"):

1. **Read and check.** Each valid record goes into a staging area of its own (``ctx.staging``:
   a scratch SQLite file beside the station's data), with the few values cross-record checks need
   (its key, its tote, its barcodes). Duplicates and totes or barcodes given twice are found
   there; unknown SKUs, totes in use and orders that can no longer change are looked up in the
   station database in read-only transactions. Nothing is locked, nothing is stored.
2. **Store.** Catalog, cartons, returns, tracking and stock files are stored in one transaction.
   Orders, the big files, are stored in chunks of :data:`CHUNK` orders:

   - Where one transaction blocks nobody (PostgreSQL, e.g. the central database), the whole
     file goes in one transaction (its orders by ``COPY``): whole or nothing by the transaction.
   - On SQLite a long transaction would hold the write lock and benches would be refused, so
     the file goes in short transactions (``BEGIN IMMEDIATE`` each) under a journal row (an
     *import batch*, ``uow.imports``). While the batch is *publishing*, its new orders are stored
     (with their ``order.received`` events) held by it, and the existing orders it updates are
     held with their new content put aside: no bench can claim a held order, no wave take it.
     Once every chunk is in, one small transaction marks the file committed, with the
     ``import.orders`` event: every new order of the file can be packed from that instant on,
     all at once. If the file updates existing orders, the batch is *releasing* until those
     updates are applied, in chunks, each with its ``order.updated`` event; then it is *done*.
     A batch whose holder died is recovered at the next start (:func:`recover_imports`):
     *publishing* is rolled back (nothing of the file stays), *releasing* is finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any

from packstation.domain.barcodes import lookup_key
from packstation.domain.events import Event
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
from packstation.services.collections_gc import fewer_collections
from packstation.services.context import Context, record
from packstation.services.import_files import (
    SUFFIXES,
    ImportFileError,
    RecordError,
    iter_records,
    open_checked,
)
from packstation.services.lifecycle import change_return_status, change_status
from packstation.services.ports import (
    BatchState,
    Conflict,
    ImportBatch,
    ImportedState,
    ImportStaging,
    StagedRecord,
    UnitOfWork,
)
from packstation.services.stock import record_stock_count

log = logging.getLogger(__name__)

KINDS = ("catalog", "cartons", "orders", "returns", "tracking", "stock")
CHUNK = 2_000  # orders per transaction on SQLite: each holds the write lock for some 50-100 ms
_UPDATES = 500  # updates of existing orders per transaction (each is several statements)
LEASE = timedelta(seconds=60)  # a batch whose holder has not renewed it for this long may be recovered
_STAGE_BATCH = 2_000
# Order files from this size on are read and checked by a second process while this one stores
# (``_Import.run_pipelined``); below it, starting that process costs more than it saves.
PIPELINE_MIN_BYTES = 4 * 2**20
_PIPELINE_SUFFIXES = (".json", ".ndjson", ".jsonl")  # CSV rows are grouped in the staging area first
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PRICE = re.compile(r"^\d{1,12}(\.\d{1,4})?$")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass
class Rejection:
    position: str  # "record 3", "line 17"
    key: str  # the record's id, if it has one
    reason: str
    order: int = field(default=0, compare=False, repr=False)  # place in the file, for sorting

    def __post_init__(self) -> None:
        if not self.order:
            number = self.position.rsplit(" ", 1)[-1]
            self.order = int(number) if number.isdigit() else 0

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
    # seconds spent reading and checking, checking against the store, and storing (benchmarks)
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

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


class ImportStopped(RuntimeError):
    """An import could not finish storing its file; the message says what became of it."""


# --- field checks --------------------------------------------------------------------------


def _text(rec: dict[str, Any], name: str, *, required: bool = True, max_len: int = 200) -> str:
    value = rec.get(name)
    if value.__class__ is str:  # the usual case, checked first (the import's hottest path)
        text = value.strip()
        if text and len(text) <= max_len and _CONTROL.search(text) is None:
            return text
    return _checked_text(value, name, required, max_len)


def _checked_text(value: Any, name: str, required: bool, max_len: int) -> str:
    if value.__class__ is not str:
        if value is None:
            if required:
                raise RecordError(f"{name} is missing")
            return ""
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise RecordError(f"{name} must be text, got {type(value).__name__}")
        value = str(value)
    value = value.strip()
    if not value:
        if required:
            raise RecordError(f"{name} is missing")
        return ""
    if len(value) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if _CONTROL.search(value):
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
    if value.__class__ is int and minimum <= value <= maximum:  # the usual case
        return value
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


_FINGERPRINT = json.JSONEncoder(sort_keys=True, default=str)  # json.dumps(..., sort_keys=True, default=str), made once


def _hash(obj: Any) -> str:
    return hashlib.sha256(_FINGERPRINT.encode(obj).encode()).hexdigest()


# --- per kind ---------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Validated rows ready to store, keyed by record id (one chunk of a file)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)
    shared: dict[Any, Any] = field(default_factory=dict)  # what a kind keeps across the file's chunks


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
            if not _PRICE.match(price_s):  # (so Decimal(price_s) is exact and cannot fail)
                raise RecordError(f"unit_price must be a decimal string such as \"12.50\", got {price!r}")
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
    row["content_hash"] = _order_fingerprint(row, lines)
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


_ORDER_KEYS = sorted(("order_id", "channel", "placed_at", "customer_name", "customer_email", "customer_phone", "ship_name",
                      "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postcode", "ship_country", "currency",
                      "payment_method", "payment_status", "carrier", "service", "tracking_number", "tote", "status"))
_ORDER_KEY_VALUES = itemgetter(*_ORDER_KEYS)
_ORDER_JSON = "[{" + ", ".join(f'"{k}": %s' for k in _ORDER_KEYS) + "}, [%s]]"
_QUOTE = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str (ensure_ascii)


def _order_fingerprint(row: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    """``_hash([row, [(sku, qty, unit_price), ...]])`` of a validated order, the same hex digest,
    written out directly: the generic encoder took half the time of validating an order.

    Holds because the validator leaves only text (or None) in the row, a datetime in placed_at
    (``default=str``), and text, int, text in each line; tests/unit/services/test_import_batches.py
    checks it against ``_hash`` on orders of every shape."""
    if len(row) != len(_ORDER_KEYS):
        return _hash([row, [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in lines]])
    q = _QUOTE
    values = tuple(q(v) if v.__class__ is str else ("null" if v is None else q(str(v)))
                   for v in _ORDER_KEY_VALUES(row))
    items = ", ".join(f'[{q(ln["sku"])}, {int(ln["qty"])}, {q(ln["unit_price"])}]' for ln in lines)
    return hashlib.sha256((_ORDER_JSON % (*values, items)).encode()).hexdigest()


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
    row: dict[str, Any] = {"rma_id": rma, "order_id": _ident(rec, "order_id"), "reason": _text(rec, "reason"),
                           "status": status}
    # the return parcel (optional): its tracking moves the return to picked
    number = _text(rec, "tracking_number", required=False, max_len=64)
    carrier = _text(rec, "carrier", required=False, max_len=64)
    if carrier and not number:
        raise RecordError("carrier is the return parcel's carrier: give the parcel's tracking_number too")
    # a record without a return parcel keeps the fingerprint it always had (importing it again changes nothing)
    parcel = [(number, carrier)] if number else []
    row["content_hash"] = _hash([row, [(ln["sku"], ln["qty"]) for ln in lines], *parcel])
    row["tracking_number"], row["carrier"] = number or None, carrier or None
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




# --- the use cases ----------------------------------------------------------------------------


def import_file(ctx: Context, session: Session, kind: str, path: Path, *, progress: Progress | None = None) -> ImportReport:
    """Read and check the whole file, then store it whole (or, if anything is rejected, not at all)."""
    ctx.auth.require(session, Permission.IMPORT, "An import")
    _check_kind(kind)
    f, source = open_checked(path)
    try:
        size = max(os.fstat(f.fileno()).st_size, 1)
        staging = _staging(ctx)
        try:
            job = _Import(ctx, session, kind, path.name, staging, progress, total=2 * size, read=lambda _n: source.done)
            if kind == "orders" and size >= PIPELINE_MIN_BYTES and source.suffix in _PIPELINE_SUFFIXES:
                return job.run_pipelined(path, lambda: iter_records(path, kind, staging, source))
            return job.run(iter_records(path, kind, staging, source))
        finally:
            staging.close()
    finally:
        f.close()


def import_records(ctx: Context, session: Session, kind: str, records: Iterable[tuple[str, Any]], name: str, *,
                   progress: Progress | None = None) -> ImportReport:
    """Check (position, record) pairs and store them all, or none of them (as :func:`import_file`)."""
    ctx.auth.require(session, Permission.IMPORT, "An import")
    _check_kind(kind)
    count = len(records) if isinstance(records, Sized) else 0
    staging = _staging(ctx)
    try:
        return _Import(ctx, session, kind, name, staging, progress, total=2 * max(count, 1),
                       read=lambda n: n).run(records)
    finally:
        staging.close()


def recover_imports(ctx: Context, session: Session, holder_is_dead: Callable[[str], bool]) -> list[str]:
    """Finish or roll back the imports whose holder stopped (killed, crashed, power cut).

    A batch still *publishing* is rolled back: its new orders are removed, the orders it held for
    an update are let go unchanged (nothing of the file stays; import it again). A batch
    *releasing* was committed: its remaining updates are applied, as the import would have done.
    A batch whose holder still runs (its lease renewed, not known dead) is left alone. Returns
    one line per batch recovered, for a log or the command line.
    """
    ctx.auth.require(session, Permission.IMPORT, "Recovering an import")
    with ctx.uow(readonly=True) as uow:
        batches = uow.imports.unfinished()
    done = []
    for batch in batches:
        now = ctx.clock()
        if batch.expires_at > now and not holder_is_dead(batch.holder):
            continue
        me, expires = _holder(), now + LEASE
        with ctx.uow() as uow:
            if not uow.imports.take_over(batch.id, batch.holder, me, expires):
                continue  # someone else took it first
            uow.commit()
        what = f"import of {batch.file} started {batch.started_at:%Y-%m-%d %H:%M} UTC by {batch.actor}"
        batch = replace(batch, holder=me, expires_at=expires)
        if batch.state is BatchState.PUBLISHING:
            batch = _roll_back(ctx, batch, f"{what} stopped before its file was stored whole")
            done.append(f"{what} stopped before its file was stored whole: rolled back, nothing of it is stored. "
                        "Import the file again.")
        else:
            before = batch.stored
            batch = _release(ctx, session, batch)
            done.append(f"{what} stopped after its file was stored: finished, its last "
                        f"{batch.stored - before} update(s) of existing orders applied.")
    return done


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ImportFileError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")


def _staging(ctx: Context) -> ImportStaging:
    if ctx.staging is None:
        raise ImportStopped("this station has no staging area for imports (Context.staging is not set)")
    return ctx.staging()


def _holder() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


_CHANGEABLE = (OrderStatus.ON_HOLD.value, OrderStatus.RELEASED.value, OrderStatus.RECEIVED.value)


def _against(old: ImportedState | None, fingerprint: str) -> str:
    """How an order record compares with the order stored under its id: ``new``, ``held`` (an
    unfinished import holds it), ``unchanged``, ``locked`` (changed, but it can no longer change:
    being packed, or past the statuses an import may touch) or ``changed``."""
    if old is None:
        return "new"
    if old.import_batch:
        return "held"
    if old.fingerprint == fingerprint:
        return "unchanged"
    if old.status not in _CHANGEABLE or old.held_by:
        return "locked"
    return "changed"


_LOCKED = "order already exists and is {}: it can no longer be changed"


class _Import:
    """One import: stage and check the records, then store them (the phases in the module docstring)."""

    def __init__(self, ctx: Context, session: Session, kind: str, name: str, staging: ImportStaging,
                 progress: Progress | None, *, total: int, read: Callable[[int], int]) -> None:
        self.ctx = ctx
        self.session = session
        self.kind = kind
        self.name = name
        self.staging = staging
        self.progress = progress
        self.total = total
        self.read = read  # records read so far -> progress units read so far
        self.report = ImportReport(kind=kind, file=name)
        self.skus: set[str] = set()  # every SKU the records name (bounded by the catalog, not the file)
        self.to_store = 0

    def reject(self, position: str, key: str, reason: str) -> None:
        self.report.rejected.append(Rejection(position, key, reason))

    def _tick(self, units: int) -> None:
        if self.progress:
            self.progress(min(units, self.total), self.total)

    def _stored(self, n: int) -> None:
        """Progress while storing: the second half of the bar."""
        if self.progress and self.report.records:
            half = self.total // 2
            self._tick(half + half * min(n, self.report.records) // self.report.records)

    def run(self, records: Iterable[tuple[str, Any]]) -> ImportReport:
        with fewer_collections():
            return self._run(records)

    def run_pipelined(self, path: Path, records: Callable[[], Iterable[tuple[str, Any]]]) -> ImportReport:
        """A big order file, read and checked by a second process while this one stores.

        The reader (``services.import_reader``) checks every record with the same rules and sends
        the valid ones over; this process stages them and stores them chunk by chunk under an
        import batch (held, as in :meth:`_orders_in_chunks`) as if the file were valid, which it
        nearly always is. If anything turns out wrong -- a rejected record, an unknown SKU, a tote
        in use, an order that can no longer change, a record twice -- what was stored is rolled
        back and the file goes through the checks and the store of the one-process import, from
        the staging area: the same report, the same outcome. *records* reads the file in this
        process, if the reader cannot (then the import runs as :meth:`run`)."""
        with self.ctx.uow(readonly=True) as uow:
            whole = uow.imports.one_transaction
        if whole:  # PostgreSQL: one transaction, as run() does
            return self.run(records())
        with fewer_collections():
            return self._pipelined(path, records)

    def _pipelined(self, path: Path, records: Callable[[], Iterable[tuple[str, Any]]]) -> ImportReport:
        t, r = self.report.timings, self.report
        wall, cpu = time.perf_counter(), time.process_time()
        ahead = _StoreAhead(self)
        failed: str | None = None
        with self._rolled_back_on_failure(lambda: ahead.batch), _Reader(self.kind, path) as reader:
            for frame in reader:
                if frame[0] == "S":
                    staged = [StagedRecord(*values) for values in frame[2]]
                    for rec in staged:
                        self.skus.update(ln[1] for ln in rec.data[1])
                    self.staging.add(staged)
                    self._tick(min(frame[1], self.total // 2))
                    ahead.take(staged)
                elif frame[0] == "R":
                    r.rejected.extend(Rejection(*values) for values in frame[1])
                    ahead.stop()
                elif frame[0] == "E":
                    r.records = frame[1]
                    ahead.take([], last=True)
                elif frame[1] == "file":
                    raise ImportFileError(frame[2])
                else:
                    failed = frame[2]
        t["pipelined"], t["pipelined cpu"] = time.perf_counter() - wall, time.process_time() - cpu
        if failed is not None:
            ahead.abandon("its reading process failed")
            log.warning("import of %s: the reading process failed, reading the file here instead: %s", self.name, failed)
            return self._read_here(records)
        self._check_file()
        if not r.rejected and not ahead.trouble:
            wall, cpu = time.perf_counter(), time.process_time()
            ahead.commit()
            t["commit"], t["commit cpu"] = time.perf_counter() - wall, time.process_time() - cpu
            self.report.rejected.sort(key=lambda x: x.order)
            if self.progress:
                self.progress(self.total, self.total)
            return self.report
        ahead.abandon("something in the file is not right: checked and reported as a whole")
        return self._after_reading()

    def _read_here(self, records: Callable[[], Iterable[tuple[str, Any]]]) -> ImportReport:
        """The reader failed: start again in this process, with a fresh staging area."""
        fresh = _staging(self.ctx)
        old, self.staging = self.staging, fresh
        old_report = self.report
        self.report = ImportReport(kind=self.kind, file=self.name, timings=old_report.timings)
        self.skus = set()
        try:
            return self._run(records())
        finally:
            self.staging = old
            fresh.close()

    def _phase(self, name: str, work: Callable[[], None]) -> None:
        t = self.report.timings
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        t[name] = t.get(name, 0.0) + time.perf_counter() - wall
        t[f"{name} cpu"] = t.get(f"{name} cpu", 0.0) + time.process_time() - cpu

    def _run(self, records: Iterable[tuple[str, Any]]) -> ImportReport:
        def read() -> None:
            self._stage(records)
            self._check_file()

        self._phase("read", read)
        return self._after_reading()

    def _after_reading(self) -> ImportReport:
        """The checks against the store and the store, once every record is staged."""
        if self.kind == "orders":
            self._phase("check", self._check_orders)
            if not self.report.rejected:
                self._phase("store", self._store_orders)
        else:
            self._phase("store", self._store_in_one_transaction)
        self.report.rejected.sort(key=lambda r: r.order)
        if self.progress and not self.report.rejected:
            self.progress(self.total, self.total)
        return self.report

    # --- 1. read, validate, stage ----------------------------------------------------------
    def _stage(self, records: Iterable[tuple[str, Any]]) -> None:
        """Check every record and keep the valid ones in the staging area, in file order."""
        batch: list[StagedRecord] = []
        n = 0

        def take(results: list[StagedRecord | Rejection]) -> None:
            nonlocal batch
            for res in results:
                if isinstance(res, Rejection):
                    self.report.rejected.append(res)
                    continue
                if self.kind == "orders":
                    self.skus.update(ln[1] for ln in res.data[1])
                batch.append(res)
            if len(batch) >= _STAGE_BATCH:
                self.staging.add(batch)
                batch = []

        kind = self.kind
        for n, (pos, rec) in enumerate(records, 1):
            take([_check_record(kind, n, pos, rec)])
            if n % 1000 == 0:
                self._tick(min(self.read(n), self.total // 2))
        if batch:
            self.staging.add(batch)
        self.report.records = n
        if self.total <= 2:  # records of unknown number: progress by the records read
            self.total = 2 * max(n, 1)

    def _unstage(self, rec: StagedRecord) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if self.kind == "orders":
            return _staged_order(rec.data)
        row, children = rec.data
        return _restore(self.kind, dict(row)), list(children)

    # --- 2. checks across records (in the staging area) --------------------------------------
    def _check_file(self) -> None:
        s = self.staging
        if self.kind != "tracking":
            repeated = []
            for rec, key, first in s.repeats("key"):
                self.reject(rec.position, key.replace("\x1f", " lot "), f"appears twice in the file (first at {first.position})")
                repeated.append(rec.seq)
            s.reject(repeated)  # the rest of the checks look at the first of each only
        if self.kind == "orders":
            for rec, tote, first in s.repeats("tote"):
                self.reject(rec.position, rec.key, f"tote {tote} is also given to order {first.key} in this file")
        if self.kind == "catalog":
            for rec, code, first in s.repeats("code"):
                self.reject(rec.position, rec.key, f"barcode {code} is also given to {first.key} in this file")

    def _check_orders(self) -> None:
        """Against the station's data, in read-only transactions: nothing is locked."""
        s, ctx = self.staging, self.ctx
        known: set[str] = set()
        with ctx.uow(readonly=True) as uow:
            for part in _chunks(sorted(self.skus), 500):
                known |= uow.catalog.known_skus(part)
        unknown = self.skus - known
        if unknown:
            for chunk in _each_chunk(s, 1000):
                for rec in chunk:
                    missing = sorted({ln[1] for ln in rec.data[1]} & unknown)
                    if missing:
                        self.reject(rec.position, rec.key, f"unknown sku {', '.join(missing)}: import the catalog first")
        totes = list(s.values("tote"))
        in_use: dict[str, list[tuple[str, OrderStatus]]] = {}
        with ctx.uow(readonly=True) as uow:
            for part in _chunks(totes, 5000):
                in_use.update(uow.imports.totes_in_use(part))
        seen: set[str] = set()
        for rec, tote in s.tagged("tote", list(in_use)):
            if tote in seen:
                continue  # the file's first order with that tote stands for the others
            seen.add(tote)
            others = [(oid, st) for oid, st in in_use[tote] if oid != rec.key]
            if others:
                self.reject(rec.position, rec.key, f"tote {tote} already holds open order {others[0][0]} "
                                                   f"({others[0][1].value}); use another tote or pack that order first")
        self.to_store = 0  # new or changed: 0 means the file changes nothing (nothing is written at all)
        for chunk in _each_chunk(s, 5000, data=False):
            with ctx.uow(readonly=True) as uow:
                existing = uow.orders.imported([rec.key for rec in chunk])
                for rec in chunk:
                    old = existing.get(rec.key)
                    kind = _against(old, rec.fingerprint)
                    if kind != "unchanged":
                        self.to_store += 1
                    if kind == "held":
                        self.reject(rec.position, rec.key, _held_by_import(uow, existing[rec.key].import_batch or ""))
                    elif kind == "locked":
                        self.reject(rec.position, rec.key, _LOCKED.format(existing[rec.key].status))

    # --- 3. store -------------------------------------------------------------------------------
    def _store_in_one_transaction(self) -> None:
        """Catalog, cartons, returns, tracking, stock: one transaction (master data, small files)."""
        r, s = self.report, self.staging
        with self.ctx.uow() as uow:
            apply = _APPLY[self.kind]
            if self.kind == "catalog":  # a barcode may move between products anywhere in the file
                apply(uow, self.ctx, self.session, self._plan(s.records(0, 2**62)), r)
            else:
                shared: dict[Any, Any] = {}
                for chunk in _each_chunk(s, CHUNK):
                    apply(uow, self.ctx, self.session, self._plan(chunk, shared), r)
            if r.rejected:
                return  # rolled back on exit: nothing stored
            if r.created or r.updated:  # a file imported again changes nothing, not even events
                self._import_event(uow)
                uow.commit()

    def _plan(self, chunk: list[StagedRecord], shared: dict[Any, Any] | None = None) -> _Plan:
        plan = _Plan(shared=shared if shared is not None else {})
        for rec in chunk:
            plan.rows[rec.key], plan.children[rec.key] = self._unstage(rec)
            plan.positions[rec.key] = rec.position
        return plan

    def _import_event(self, uow: UnitOfWork) -> None:
        r = self.report
        if r.created or r.updated:
            record(uow, self.ctx, self.session, f"import.{self.kind}", None,
                   {"file": self.name, "records": r.records, "created": r.created, "updated": r.updated,
                    "unchanged": r.unchanged})

    def _store_orders(self) -> None:
        if not self.to_store:  # imported again: nothing to write, not even a batch or an event
            self.report.unchanged = self.staging.count()
            return
        with self.ctx.uow(readonly=True) as uow:
            whole = uow.imports.one_transaction
        if whole:
            self._orders_in_one_transaction()
        else:
            self._orders_in_chunks()

    def _orders_in_one_transaction(self) -> None:
        """PostgreSQL: the whole file in one transaction, which blocks neither readers nor writers."""
        done = 0
        with self.ctx.uow() as uow:
            for chunk in _each_chunk(self.staging, CHUNK):
                self._publish(uow, chunk, None, _built(chunk, self.session.actor))
                if self.report.rejected:
                    return  # rolled back on exit
                done += len(chunk)
                self._stored(done)
            self._import_event(uow)
            uow.commit()

    def _orders_in_chunks(self) -> None:
        """SQLite: short transactions under an import batch (see the module docstring)."""
        batch = self._open_batch(self.staging.count())
        with self._rolled_back_on_failure(lambda: batch):
            for chunk in _each_chunk(self.staging, CHUNK):
                batch = self._write_chunk(batch, chunk, _built(chunk, self.session.actor))
                if self.report.rejected:
                    break
        if self.report.rejected:
            _roll_back(self.ctx, batch, f"refused while storing: {self.report.rejected[0]}")
            return
        self._commit_batch(batch)

    def _open_batch(self, records: int) -> ImportBatch:
        now = self.ctx.clock()
        batch = ImportBatch(id=str(uuid.uuid4()), kind=self.kind, file=self.name, actor=self.session.actor,
                            station_id=self.ctx.station_id, state=BatchState.PUBLISHING, holder=_holder(),
                            expires_at=now + LEASE, started_at=now, records=records)
        with self.ctx.uow() as uow:
            uow.imports.open(batch)
            uow.commit()
        return batch

    def _write_chunk(self, batch: ImportBatch, chunk: list[StagedRecord], built: dict[str, Any]) -> ImportBatch:
        """One chunk stored under *batch*, in one short transaction (rolled back if rejected)."""
        r = self.report
        with self.ctx.uow() as uow, _PACER.holding():
            batch = _renew(uow, batch, self.ctx)
            self._publish(uow, chunk, batch, built)
            if r.rejected:
                return batch  # this chunk rolls back on exit; the ones before are rolled back by the caller
            batch = replace(batch, stored=batch.stored + len(chunk), created=r.created, updated=r.updated,
                            unchanged=r.unchanged)
            uow.imports.save(batch)
            uow.commit()
            uow.imports.tidy()
        self._stored(batch.stored // 2)
        return batch

    @contextmanager
    def _rolled_back_on_failure(self, batch: Callable[[], ImportBatch | None]) -> Iterator[None]:
        """If storing stops (the disk, the database, a kill of the thread), roll back what was stored."""
        try:
            yield
        except BaseException as exc:
            current = batch()
            if current is None:
                raise
            why = f"the import stopped while storing: {exc}"
            try:
                _roll_back(self.ctx, current, why)
            except Exception:  # noqa: BLE001 - the next start rolls it back (recover_imports)
                raise ImportStopped(f"{self.name}: {why}. Nothing of the file is visible to the benches; "
                                    "the station rolls it back when it next starts. Import the file again then.") from exc
            raise

    def _commit_batch(self, batch: ImportBatch) -> None:
        """The commit point (the file's new orders can be packed from now on), then its updates."""
        ctx, r = self.ctx, self.report
        with ctx.uow() as uow:  # the file is committed here: its new orders can be packed from now on
            batch = _renew(uow, batch, ctx)
            batch = replace(batch, state=BatchState.RELEASING if r.updated else BatchState.DONE, stored=0)
            uow.imports.save(batch)
            self._import_event(uow)
            uow.commit()
        if batch.state is BatchState.DONE:
            return
        try:
            _release(ctx, self.session, batch, lambda n: self._stored((r.records + n * r.records // r.updated) // 2))
        except BaseException as exc:
            raise ImportStopped(f"{self.name} was stored whole, but applying its updates of existing orders stopped "
                                f"({exc}); the station finishes that when it next starts.") from exc

    def _publish(self, uow: UnitOfWork, chunk: list[StagedRecord], batch: ImportBatch | None,
                 built: dict[str, Any]) -> None:
        """Store one chunk: new orders (held by *batch*, if any), updates of existing ones (put
        aside for *batch*, or applied now without one). Rechecks what the read-only checks saw.
        *built* holds the chunk's orders and their events, made before the transaction began (it
        holds the lock)."""
        r = self.report
        existing = uow.orders.imported([rec.key for rec in chunk])
        new: list[StagedRecord] = []
        changed: list[StagedRecord] = []
        for rec in chunk:
            old = existing.get(rec.key)
            kind = _against(old, rec.fingerprint)
            if kind == "new":
                new.append(rec)
            elif kind == "held":
                self.reject(rec.position, rec.key, _held_by_import(uow, existing[rec.key].import_batch or ""))
            elif kind == "unchanged":
                r.unchanged += 1
            elif kind == "locked":
                self.reject(rec.position, rec.key, _LOCKED.format(existing[rec.key].status))
            else:
                changed.append(rec)
        if r.rejected:
            return
        now = self.ctx.clock()
        orders = [(built[rec.key][0], rec.fingerprint) for rec in new]
        try:
            uow.imports.add_orders(batch.id if batch else None, orders, now)
        except Conflict:
            stored = uow.orders.imported([rec.key for rec in new])
            for rec in new:
                if rec.key in stored:
                    self.reject(rec.position, rec.key,
                                "was stored meanwhile (by another import or the order API); import the file again")
            if not r.rejected:
                raise
            return
        r.created += len(new)
        uow.events.add_many([built[rec.key][1] for rec in new], self.ctx.station_id, now)
        if batch is None:
            for rec in changed:
                row, lines = self._unstage(rec)
                refused = _update(uow, self.ctx, self.session, self.session.actor, rec.key, row, lines,
                                  rec.fingerprint, now)
                if refused:
                    self.reject(rec.position, rec.key, refused)
        else:
            try:
                uow.imports.reserve(batch.id, [(rec.key, _pending(*self._unstage(rec), rec.fingerprint))
                                               for rec in changed])
            except Conflict as exc:
                self.reject(changed[0].position, changed[0].key, str(exc))
                return
        r.updated += len(changed)


def _check_record(kind: str, n: int, pos: str, rec: Any) -> StagedRecord | Rejection:
    """One record checked: as the staging area keeps it, or its rejection."""
    key = str(rec.get(_KEY[kind], ""))[:64] if isinstance(rec, dict) else ""
    try:
        if isinstance(rec, RecordError):
            raise rec
        if not isinstance(rec, dict):
            raise RecordError(f"expected an object, got {type(rec).__name__}")
        key, row, children = _VALIDATORS[kind](rec)
    except RecordError as exc:
        return Rejection(pos, key, str(exc))
    return _to_staged(kind, n, pos, key, row, children)


def _to_staged(kind: str, n: int, pos: str, key: str, row: dict[str, Any], children: list[dict[str, Any]]
               ) -> StagedRecord:
    """The record as the staging area keeps it: plain values, and the tags the checks need."""
    tags: tuple[tuple[str, str], ...] = ()
    if kind == "orders":  # as tuples: half the bytes of dicts, and quicker back
        if row["tote"]:
            tags = (("tote", row["tote"]),)
        values = [*_ORDER_VALUES(row), row.get("label_zpl"), row.get("label_url")]
        values[2] = values[2].isoformat()  # placed_at
        data = (tuple(values), tuple((ln["line_no"], ln["sku"], ln["qty"], ln["unit_price"]) for ln in children))
        return StagedRecord(n, pos, key, data, row["content_hash"], tags)
    if kind == "catalog":
        tags = tuple(("code", c["code"]) for c in children)
    elif kind == "tracking":  # several updates per order are fine; keep them in file order
        row["key"], key = key, pos
        row["at"] = row["at"].isoformat()
    elif kind == "stock":
        row["expiry"] = row["expiry"].isoformat() if row["expiry"] else None
    return StagedRecord(n, pos, key, (row, children), row.get("content_hash", ""), tags)


class _StoreAhead:
    """The pipelined import's store: chunks stored under a batch while the file is still being read.

    Before a chunk is written it gets the checks :meth:`_Import._check_orders` makes of the whole
    file (the SKUs known, no tote in use, new or changed orders only where that is allowed), read
    only; its write is :meth:`_Import._write_chunk`, which checks the existing orders again inside
    the transaction. Anything not as it should be sets :attr:`trouble`, and nothing more is
    written: the import then rolls the batch back (:meth:`abandon`) and checks the whole file
    the one-process way, which says exactly what is wrong. Its counts are kept apart (in
    :attr:`counts`) until :meth:`commit`, so that a roll-back leaves the report as it was."""

    def __init__(self, job: _Import) -> None:
        self.job = job
        self.batch: ImportBatch | None = None
        self.trouble = False
        self.pending: list[StagedRecord] = []
        self.known: set[str] = set()  # SKUs found in the catalog so far (bounded by the catalog)
        self.counts = ImportReport(kind=job.kind, file=job.name)

    def stop(self) -> None:
        self.trouble = True
        self.pending = []

    def take(self, staged: list[StagedRecord], *, last: bool = False) -> None:
        if self.trouble:
            return
        self.pending.extend(staged)
        while len(self.pending) >= CHUNK or (last and self.pending):
            chunk, self.pending = self.pending[:CHUNK], self.pending[CHUNK:]
            self._store(chunk)
            if self.trouble:
                self.pending = []
                return

    def _store(self, chunk: list[StagedRecord]) -> None:
        job = self.job
        if len({rec.key for rec in chunk}) != len(chunk):  # an order twice in the file
            self.stop()
            return
        skus = {ln[1] for rec in chunk for ln in rec.data[1]} - self.known
        totes = [value for rec in chunk for tag, value in rec.tags if tag == "tote"]
        with job.ctx.uow(readonly=True) as uow:
            for part in _chunks(sorted(skus), 500):
                self.known |= uow.catalog.known_skus(part)
            if not skus <= self.known or (totes and uow.imports.totes_in_use(totes)):
                self.stop()
                return
            existing = uow.orders.imported([rec.key for rec in chunk])
        kinds = {_against(existing.get(rec.key), rec.fingerprint) for rec in chunk}
        if kinds & {"held", "locked"}:  # held by an import (this one, if the file has the order twice), or too late
            self.stop()
            return
        if kinds == {"unchanged"}:  # all unchanged: nothing to write (a file imported again writes nothing at all)
            self.counts.unchanged += len(chunk)
            return
        if self.batch is None:
            self.batch = job._open_batch(0)
        real, job.report = job.report, self.counts
        try:
            self.batch = job._write_chunk(self.batch, chunk, _built(chunk, job.session.actor))
        finally:
            job.report = real
        if self.counts.rejected:
            self.counts.rejected.clear()
            self.stop()

    def commit(self) -> None:
        r = self.job.report
        r.created, r.updated, r.unchanged = self.counts.created, self.counts.updated, self.counts.unchanged
        if self.batch is not None:
            self.job._commit_batch(replace(self.batch, records=r.records))
            self.batch = None

    def abandon(self, why: str) -> None:
        self.stop()
        if self.batch is not None:
            _roll_back(self.job.ctx, self.batch, f"stored ahead of the checks, rolled back: {why}")
            self.batch = None


class _Reader:
    """The process reading and checking a file (``services.import_reader``), and a thread taking
    its frames off the pipe into a bounded queue, so that it reads on while this process stores
    (and waits when this process is far behind: the queue holds at most a few MiB)."""

    def __init__(self, kind: str, path: Path) -> None:
        import packstation

        root = str(Path(packstation.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "packstation.services.import_reader", kind, str(path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env)
        self.frames: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=16)
        self.thread = threading.Thread(target=self._pump, name="import-reader", daemon=True)
        self.thread.start()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        while self.thread.is_alive():  # let the pump finish (it may wait to put a frame)
            try:
                self.frames.get(timeout=0.1)
            except queue.Empty:
                pass
        self.thread.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def _pump(self) -> None:
        from packstation.services.import_reader import HEADER

        out = self.proc.stdout
        assert out is not None
        try:
            while len(head := out.read(HEADER.size)) == HEADER.size:
                (size,) = HEADER.unpack(head)
                data = out.read(size)
                if len(data) < size:
                    break
                self.frames.put(marshal.loads(data))
        except (OSError, ValueError, EOFError, TypeError):
            pass  # a broken frame: as if the reader had stopped (said by __iter__)
        finally:
            self.frames.put(None)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (frame := self.frames.get()) is not None:
            yield frame
            if frame[0] in ("E", "X"):
                return
        code = self.proc.wait()
        yield ("X", "error", f"the reading process stopped before the end of the file (exit status {code})")


class _Pacer:
    """Gives the benches the database between chunks, for certain.

    SQLite does not queue writers: a bench waiting for the write lock tries again every few ms
    (``adapters.db.engine.begin_immediate``, :data:`~packstation.adapters.db.engine.WRITE_POLL_S`)
    and gets it only if it is free at that instant. Chunk after chunk, the gaps between an
    import's transactions can be too short to be seen, and a bench would wait out its 5 s. So
    once the import has held the lock for :data:`HOLD` seconds in all, it lets go for
    :data:`PAUSE` (several poll intervals, so every waiting bench gets in; once one has begun, the
    import's next chunk waits for it): a bench waits at most about HOLD + PAUSE plus one chunk,
    and the import loses about PAUSE / HOLD of its storing time (3 %; 12 % when benches polled
    only every 100 ms, as SQLite's own busy handler does, and the pause had to be 0.12 s).
    """

    HOLD = 1.0
    PAUSE = 0.03

    def __init__(self) -> None:
        self.held = 0.0

    @contextmanager
    def holding(self) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.held += time.monotonic() - start
            if self.held >= self.HOLD:
                time.sleep(self.PAUSE)
                self.held = 0.0


_PACER = _Pacer()


def _built(chunk: list[StagedRecord], actor: str) -> dict[str, Any]:
    """The chunk's orders and their ``order.received`` events, made before the chunk's transaction."""
    built: dict[str, Any] = {}
    randomness = os.urandom(10 * len(chunk))  # one system call for the chunk's event ids, not one each
    for i, rec in enumerate(chunk):
        order = _order_from_staged(rec.data)
        # Event is frozen: its __init__ sets each field through object.__setattr__, which for a
        # file's events by the hundred thousand costs more than the rest of building them
        event = _new(Event)
        event.__dict__.update(kind="order.received", order_id=order.order_id, actor=actor, user=None,
                              payload={"status": order.status.value, "channel": order.channel},
                              id=_time_ordered_uuid(randomness[10 * i: 10 * i + 10]), occurred_at=None,
                              station_id="", seq=0)
        built[rec.key] = (order, event)
    return built


_new = object.__new__


def _each_chunk(staging: ImportStaging, size: int, *, data: bool = True) -> Iterator[list[StagedRecord]]:
    after = 0
    while chunk := staging.records(after, size, data=data):
        yield chunk
        after = chunk[-1].seq


# an order's row as it is staged: its values in this order (placed_at as ISO text), then the
# marketplace's label_zpl and label_url (None when not given)
_ORDER_ROW = ("order_id", "channel", "placed_at", "customer_name", "customer_email", "customer_phone", "ship_name",
              "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postcode", "ship_country", "currency",
              "payment_method", "payment_status", "carrier", "service", "tracking_number", "tote", "status",
              "content_hash")
_ORDER_VALUES = itemgetter(*_ORDER_ROW)
_STATUS = {s.value: s for s in OrderStatus}


def _staged_order(data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A staged order back as the validator made it: its row and its lines."""
    values, lines = data
    row = dict(zip(_ORDER_ROW, values[:-2], strict=True))
    row["placed_at"] = datetime.fromisoformat(row["placed_at"])
    for key, value in zip(("label_zpl", "label_url"), values[-2:], strict=True):
        if value:  # only when given, as the validator made it
            row[key] = value
    return row, [{"order_id": row["order_id"], "line_no": n, "sku": sku, "qty": qty, "unit_price": price,
                  "packed_qty": 0, "short_qty": 0} for n, sku, qty, price in lines]


def _order_from_staged(data: Any) -> Order:
    """The Order of a staged order, built straight from the staged values (the bulk path)."""
    (order_id, channel, placed_at, c_name, c_email, c_phone, s_name, s_line1, s_line2, s_city, s_region, s_postcode,
     s_country, currency, method, pay_status, carrier, service, tracking_number, tote, status, _, label_zpl,
     label_url), lines = data
    address = _new(Address)  # frozen (see _built)
    address.__dict__.update(name=s_name, line1=s_line1, line2=s_line2, city=s_city, region=s_region,
                            postcode=s_postcode, country=s_country)
    return Order(
        order_id=order_id, channel=channel, placed_at=datetime.fromisoformat(placed_at), customer_name=c_name,
        customer_email=c_email, customer_phone=c_phone, ship_to=address,
        currency=currency, payment_method=method, payment_status=pay_status, carrier=carrier, service=service,
        tracking_number=tracking_number, status=_STATUS[status], tote=tote, label_zpl=label_zpl, label_url=label_url,
        lines=[OrderLine(line_no=n, sku=sku, qty=qty, unit_price=Decimal(price)) for n, sku, qty, price in lines],
    )


def _restore(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """A staged row back as the validators made it (dates were kept as text)."""
    if kind == "orders":
        row["placed_at"] = datetime.fromisoformat(row["placed_at"])
    elif kind == "tracking":
        row["at"] = datetime.fromisoformat(row["at"])
    elif kind == "stock" and row["expiry"]:
        row["expiry"] = date.fromisoformat(row["expiry"])
    return row


def _held_by_import(uow: UnitOfWork, batch_id: str) -> str:
    batch = uow.imports.get(batch_id)
    what = (f"the import of {batch.file} started {batch.started_at:%Y-%m-%d %H:%M} UTC by {batch.actor}"
            if batch else "another import")
    return f"order is held by {what}, which has not finished; import this file again when it has"


def _renew(uow: UnitOfWork, batch: ImportBatch, ctx: Context) -> ImportBatch:
    """Renew the batch's lease (with every chunk); refuses if another process took it over."""
    expires = ctx.clock() + LEASE
    if not uow.imports.take_over(batch.id, batch.holder, batch.holder, expires):
        raise ImportStopped(f"the import of {batch.file} was taken over by another process (it thought this one "
                            "had stopped); that process finishes or rolls it back.")
    return replace(batch, expires_at=expires)


def _time_ordered_uuid(random_bytes: bytes | None = None) -> str:
    """A UUID whose first 48 bits are the time in milliseconds (RFC 9562 version 7), the rest random.

    A file's events are stored by the hundred thousand: with random (version 4) ids every one
    lands on a different page of the events' unique id index, and once that index outgrows the
    cache each insert costs a page read and a page write. Ids that grow with time go at its end.
    """
    rand = random_bytes if random_bytes is not None and len(random_bytes) == 10 else os.urandom(10)
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(rand, "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10
    h = f"{value:032x}"  # as str(uuid.UUID(int=value)) writes it, without the object
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _pending(row: dict[str, Any], lines: list[dict[str, Any]], fingerprint: str) -> str:
    return json.dumps({"row": {**row, "placed_at": row["placed_at"].isoformat()}, "lines": lines, "fp": fingerprint},
                      sort_keys=True)


def _update(uow: UnitOfWork, ctx: Context, session: Session, actor: str, order_id: str, row: dict[str, Any],
            lines: list[dict[str, Any]], fingerprint: str, now: datetime) -> str | None:
    """Overwrite an existing order with the file's content (its status moved through the
    lifecycle if payment changed); None, or why it can no longer be changed."""
    claim = uow.orders.hold(order_id)
    if claim.status.value not in _CHANGEABLE or claim.station_id:
        return _LOCKED.format(claim.status.value)
    order = _order_obj(row, lines)
    order.status = claim.status
    uow.orders.replace(order, fingerprint, now)
    uow.events.add(Event("order.updated", order_id, actor, None, {"status": row["status"]}), ctx.station_id, now)
    target = OrderStatus(row["status"])
    if target is not claim.status:  # paid meanwhile (or no longer): through the lifecycle
        change_status(uow, ctx, session, order_id, claim.status, target)
    return None


def _release(ctx: Context, session: Session, batch: ImportBatch,
             progress: Callable[[int], None] | None = None) -> ImportBatch:
    """Apply a committed batch's updates of existing orders, chunk by chunk, each with its event
    (and its status change through the lifecycle); then mark the batch done."""
    while True:
        with ctx.uow() as uow, _PACER.holding():
            batch = _renew(uow, batch, ctx)
            now = ctx.clock()
            kept = uow.imports.pending(batch.id, _UPDATES)
            for order_id, payload in kept:
                data = json.loads(payload)
                row = _restore("orders", data["row"])
                dropped = _update(uow, ctx, session, batch.actor, order_id, row, data["lines"], data["fp"], now)
                if dropped:  # a lead cancelled it meanwhile: that stands
                    uow.events.add(Event("import.update_dropped", order_id, batch.actor, None,
                                         {"file": batch.file, "reason": dropped}), ctx.station_id, now)
            uow.imports.settle(batch.id, [k for k, _ in kept])
            if not kept:
                batch = replace(batch, state=BatchState.DONE)
                uow.imports.save(batch)
                uow.commit()
                return batch
            batch = replace(batch, stored=batch.stored + len(kept))
            uow.imports.save(batch)
            uow.commit()
            uow.imports.tidy()
        if progress:
            progress(batch.stored)


def _roll_back(ctx: Context, batch: ImportBatch, reason: str) -> ImportBatch:
    """Remove what a batch that was never committed stored, chunk by chunk; then mark it rolled back."""
    while True:
        with ctx.uow() as uow, _PACER.holding():
            batch = _renew(uow, batch, ctx)
            n = uow.imports.discard(batch.id, CHUNK)
            if n == 0:
                batch = replace(batch, state=BatchState.ROLLED_BACK, reason=reason[:2000])
            uow.imports.save(batch)
            uow.commit()
            uow.imports.tidy()
        if n == 0:
            return batch


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
    # (a code given to two products of the file was refused before: Import._check_file)
    if report.rejected:
        return
    keys = [k for k in plan.rows if k in touched]
    uow.catalog.put_products([(_product(plan.rows[k], plan.children[k]), plan.rows[k]["content_hash"]) for k in keys],
                             ctx.clock())
    report.created += len(new)
    report.updated += len(changed)


def _apply_cartons(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    new, changed = _split(uow.catalog.imported_cartons(list(plan.rows)), plan, report)
    rows = [plan.rows[k] for k in plan.rows if k in set(new) | set(changed)]
    uow.catalog.put_cartons([(CartonType(code=r["code"], name=r["name"], tare_g=r["tare_g"], inner_l_mm=r["inner_l_mm"],
                                         inner_w_mm=r["inner_w_mm"], inner_h_mm=r["inner_h_mm"],
                                         max_weight_g=r["max_weight_g"]), r["content_hash"]) for r in rows])
    report.created += len(new)
    report.updated += len(changed)


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




def _apply_returns(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    # (order, sku) -> units on earlier returns in this file (kept across the file's chunks)
    in_file: dict[tuple[str, str], int] = plan.shared.setdefault("returned", {})
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
        number = row.get("tracking_number")
        if number and (outbound := uow.orders.find_by_tracking(number)) is not None:
            report.rejected.append(Rejection(plan.positions[k], k, f"tracking_number {number} is the parcel order "
                                             f"{outbound} went out in, not a return parcel"))
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
        number = row.get("tracking_number")
        carrier = (row.get("carrier") or _order_carrier(uow, row["order_id"])) if number else None
        ret = Return(rma_id=k, order_id=row["order_id"], reason=row["reason"], status=ReturnStatus(row["status"]),
                     lines=[ReturnLine(line_no=ln["line_no"], sku=ln["sku"], qty=ln["qty"]) for ln in plan.children[k]],
                     tracking_number=number, carrier=carrier)
        uow.returns.put(ret, row["content_hash"], now)
        # complete enough to replay the return elsewhere (the central sync)
        parcel = {"tracking_number": number, "carrier": carrier} if number else {}
        record(uow, ctx, session, "return." + row["status"], row["order_id"],
               {"rma_id": k, "order_id": row["order_id"], "reason": row["reason"], "status": row["status"],
                "origin": "import", "lines": [{"line_no": ln["line_no"], "sku": ln["sku"], "qty": ln["qty"]}
                                              for ln in plan.children[k]], **parcel})
    report.created += len(new)
    report.updated += len(changed)


def _order_carrier(uow: UnitOfWork, order_id: str) -> str | None:
    order = uow.orders.get(order_id)
    return order.carrier if order is not None else None


def _return_parcel(uow: UnitOfWork, ctx: Context, session: Session, row: dict[str, Any]) -> bool | None:
    """A tracking row of a return parcel: its initiated returns become picked (whatever the status:
    a return parcel delivered to the warehouse is still only picked; *received* is the desk's).
    None: the number is no return parcel's; else whether anything moved."""
    number = row["tracking_number"]
    if not number:
        return None
    parcel = [r for r in uow.returns.with_tracking(number) if not row["order_id"] or r.order_id == row["order_id"]]
    if not parcel:
        return None
    moved = False
    for ret in parcel:
        if ret.status is ReturnStatus.INITIATED:  # never backwards; a repeat changes nothing
            change_return_status(uow, ctx, session, ret, ReturnStatus.PICKED, source="import", tracking_number=number,
                                 carrier=ret.carrier, tracking_status=row["status"], at=row["at"])
            moved = True
    return moved


def _apply_tracking(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport) -> None:
    for k, row in plan.rows.items():
        moved = _return_parcel(uow, ctx, session, row)
        if moved is not None:
            if moved:
                report.updated += 1
            else:
                report.unchanged += 1
            continue
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
    """Stock lots (sku, lot, expiry, location, qty): what the bench checks a scanned lot against.

    Called once per chunk of the file (of :data:`CHUNK` lots), all in the file's one transaction;
    *plan* holds the chunk's lots, checked and unique. The one place where stock from a file is
    stored (and where the stock ledger's receipt or adjustment movements belong)."""
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
    created = sum(1 for lot in fresh if (lot.sku, lot.lot) not in before)
    report.unchanged += len(lots) - len(fresh)
    report.created += created
    report.updated += len(fresh) - created
    uow.catalog.put_lots(fresh)
    for lot in fresh:  # the stock ledger: received / adjusted movements to what was counted
        record_stock_count(uow, ctx, session, lot, ref=f"import:{report.file}")


def _apply_orders(uow: UnitOfWork, ctx: Context, session: Session, plan: _Plan, report: ImportReport,
                  existing: dict[str, ImportedState] | None = None, known_skus: set[str] | None = None) -> None:
    """The orders of a request (the order API, a replacement at the returns desk), checked and
    stored in the caller's transaction by the same rules as a file's: unknown SKUs, totes in use,
    orders held by an unfinished import or already being packed are rejected; nothing is stored then.

    *existing*: ``uow.orders.imported`` of the plan's orders if the caller read it already in this
    transaction. The new orders and their ``order.received`` events are stored in one statement
    each (``add_many``), however many there are. *known_skus*: see :func:`store_order_records`."""
    skus = {ln["sku"] for lines in plan.children.values() for ln in lines}
    if known_skus is None:
        known = uow.catalog.known_skus(skus)
    else:
        asked = skus - known_skus
        found = uow.catalog.known_skus(asked) if asked else set()
        known_skus |= found
        known = (skus - asked) | found
    for k, lines in plan.children.items():
        missing = sorted({ln["sku"] for ln in lines} - known)
        if missing:
            report.rejected.append(Rejection(plan.positions[k], k, f"unknown sku {', '.join(missing)}: import the catalog first"))
    first: dict[str, str] = {}
    for k, row in plan.rows.items():
        tote = row["tote"]
        if tote is None:
            continue
        if tote in first:
            report.rejected.append(Rejection(plan.positions[k], k, f"tote {tote} is also given to order {first[tote]} in this file"))
        else:
            first[tote] = k
    in_use = uow.imports.totes_in_use(list(first)) if first else {}
    for tote, k in first.items():
        others = [(oid, st) for oid, st in in_use.get(tote, []) if oid != k]
        if others:
            report.rejected.append(Rejection(plan.positions[k], k, f"tote {tote} already holds open order {others[0][0]} "
                                                                  f"({others[0][1].value}); use another tote or pack that order first"))
    if existing is None:
        existing = uow.orders.imported(list(plan.rows))
    new: list[str] = []
    changed: list[str] = []
    for k, row in plan.rows.items():
        old = existing.get(k)
        kind = _against(old, row["content_hash"])
        if kind == "new":
            new.append(k)
        elif kind == "held":
            report.rejected.append(Rejection(plan.positions[k], k, _held_by_import(uow, existing[k].import_batch or "")))
        elif kind == "unchanged":
            report.unchanged += 1
        elif kind == "locked":
            report.rejected.append(Rejection(plan.positions[k], k, _LOCKED.format(existing[k].status)))
        else:
            changed.append(k)
    if report.rejected:
        return
    now = ctx.clock()
    uow.orders.add_many([(_order_obj(plan.rows[k], plan.children[k]), plan.rows[k]["content_hash"]) for k in new], now)
    uow.events.add_many([Event("order.received", k, session.actor, session.user_name,
                               {"status": plan.rows[k]["status"], "channel": plan.rows[k]["channel"]}) for k in new],
                        ctx.station_id, now)
    for k in changed:
        refused = _update(uow, ctx, session, session.actor, k, plan.rows[k], plan.children[k], plan.rows[k]["content_hash"],
                          now)
        if refused:
            report.rejected.append(Rejection(plan.positions[k], k, refused))
    report.created += len(new)
    report.updated += len(changed)


def add_order(uow: UnitOfWork, ctx: Context, session: Session, rec: dict[str, Any], **event: Any) -> Order:
    """Store one new order record (the import's validation and arrival status) in *uow*'s
    transaction, with its ``order.received`` event (plus *event* in the payload). Raises
    RecordError. The caller checks *session*'s permission (a returns desk creates replacements)."""
    order, row = new_order(uow, rec, ctx.clock())
    record(uow, ctx, session, "order.received", order.order_id, {"status": row["status"], "channel": row["channel"],
                                                                  "record": rec, **event})
    return order


def new_order(uow: UnitOfWork, rec: dict[str, Any], at: datetime) -> tuple[Order, dict[str, Any]]:
    """:func:`add_order` without its event: the order and its stored row (the central database
    applying a station's ``order.received``, whose event is the station's). Raises RecordError."""
    order_id, row, lines = _order(rec)
    missing = sorted({ln["sku"] for ln in lines} - uow.catalog.known_skus(ln["sku"] for ln in lines))
    if missing:
        raise RecordError(f"unknown sku {', '.join(missing)}: import the catalog first")
    if uow.orders.imported([order_id]):
        raise RecordError(f"order {order_id} exists already")
    order = _order_obj(row, lines)
    uow.orders.add_many([(order, row["content_hash"])], at)
    return order, row


_APPLY = {"catalog": _apply_catalog, "cartons": _apply_cartons, "returns": _apply_returns,
          "tracking": _apply_tracking, "stock": _apply_stock}

# --- stable entry points for the order API (services/intake.py) --------------------------------
# The API validates and stores orders exactly as a file import does, through these two functions
# only; the rest of this module may change shape without the API noticing.

OrderRecord = tuple[str, dict[str, Any], list[dict[str, Any]]]  # (order_id, row, lines)


def validate_order_record(rec: Any) -> OrderRecord:
    """One order record checked by the import's own rules: (order_id, row, lines), else RecordError
    with the import's reason (``ship_to.country must be a two-letter ISO 3166 code``)."""
    if isinstance(rec, RecordError):
        raise rec
    if not isinstance(rec, dict):
        raise RecordError(f"expected an object, got {type(rec).__name__}")
    return _order(rec)


def store_order_records(uow: UnitOfWork, ctx: Context, session: Session, records: list[tuple[str, OrderRecord]], *,
                        known_skus: set[str] | None = None) -> tuple[dict[str, str], list[Rejection]]:
    """Store validated (position, record) pairs in *uow* as an import of them would; the caller
    checks the session and commits (or, with rejections, does not).

    *known_skus*: SKUs the caller saw in the catalog before (a product is never deleted, and an
    order line's SKU must name one: the database refuses it otherwise); only the others are
    looked up, and those found are added to the set.

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
        _apply_orders(uow, ctx, session, plan, report, known_skus=known_skus)
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
    _apply_orders(uow, ctx, session, plan, report, before, known_skus)
    locked = {k for k, v in outcomes.items() if v == "locked"}
    return outcomes, [r for r in report.rejected if r.key not in locked]


__all__ = ["CHUNK", "KINDS", "SUFFIXES", "ImportFileError", "ImportReport", "ImportStopped", "OrderRecord", "Progress",
           "RecordError", "Rejection", "add_order", "import_file", "import_records", "new_order", "recover_imports",
           "store_order_records", "validate_order_record"]
