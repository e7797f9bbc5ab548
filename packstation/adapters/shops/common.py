"""What the shop readers share: strict JSON, shop timestamps, prices as exact decimal strings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from packstation.services.imports import RecordError


def load_object(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object (numbers as exact decimals), or RecordError saying what is wrong."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RecordError(f"the body is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise RecordError(f"the body is a JSON {type(doc).__name__}, not an order object")
    return doc


def when(value: Any, *, naive_is_utc: bool = True) -> datetime | None:
    """An ISO 8601 time from a shop, time-zone aware (a time without an offset is UTC: WooCommerce's
    ``*_gmt`` fields); None if absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return ""
    return str(value).strip()


def decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def price_text(amount: Decimal) -> str:
    """A unit price as the import wants it: a decimal string with at most four decimals."""
    quantum = Decimal("0.01") if amount == amount.quantize(Decimal("0.01")) else Decimal("0.0001")
    return str(amount.quantize(quantum, rounding=ROUND_HALF_UP))


def merge_lines(items: list[tuple[str, int, Decimal | None]]) -> list[dict[str, Any]]:
    """(sku, qty, unit price) items as order lines, one per SKU (the import refuses a SKU on two
    lines), in the order they first appear: quantities add up, the unit price is what the units cost
    on average.

    A line without a SKU or a price is passed on as it is, for the import to refuse with its reason."""
    lines: list[dict[str, Any]] = []
    merged: dict[str, list[Any]] = {}  # sku -> [qty, total, the line]
    for sku, qty, price in items:
        if qty <= 0:
            continue  # removed from the order (Shopify keeps edited-out items with quantity 0)
        if not sku or price is None:
            lines.append({"sku": sku, "qty": qty, "unit_price": price_text(price) if price is not None else ""})
            continue
        if sku not in merged:
            merged[sku] = [0, Decimal(0), {"sku": sku}]
            lines.append(merged[sku][2])
        entry = merged[sku]
        entry[0] += qty
        entry[1] += price * qty
        entry[2].update(qty=entry[0], unit_price=price_text(entry[1] / entry[0]))
    return lines


__all__ = ["decimal", "load_object", "merge_lines", "price_text", "text", "when"]
