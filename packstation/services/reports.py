"""Read-side views: an order's full status (``packstation status ORDER_ID --json``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from packstation.services.ports import UnitOfWorkFactory


class NotFound(LookupError):
    pass


def _iso(value: Any) -> Any:
    """ISO 8601 (stored date-times come back time-zone aware, in UTC)."""
    return value.isoformat() if isinstance(value, datetime | date) else value


def _iso_text(value: Any) -> Any:
    """The same for a date-time already turned into text by the store."""
    if isinstance(value, str):
        try:
            return _iso(datetime.fromisoformat(value))
        except ValueError:
            return value
    return _iso(value)


def order_status(uow_factory: UnitOfWorkFactory, order_id: str) -> dict[str, Any]:
    """State, cartons, scanned lines with lots/serials, and the event history of one order."""
    with uow_factory(readonly=True) as uow:
        real = uow.find_order_id(order_id)
        if real is None:
            raise NotFound(f"No order {order_id!r}.")
        order = uow.order_row(real)
        assert order is not None  # found by find_order_id in the same transaction
        lines = uow.order_lines_raw(real)
        cartons = uow.cartons_for(real)
        scans = uow.scans_for(real)
        events = uow.events_for(real)
    active = [s for s in scans if s["undone_at"] is None]
    by_line: dict[int, list[dict[str, Any]]] = {}
    for s in active:
        by_line.setdefault(s["line_no"], []).append(s)
    return {
        "order_id": real,
        "status": order["status"],
        "channel": order["channel"],
        "placed_at": _iso(order["placed_at"]),
        "carrier": order["carrier"],
        "service": order["service"],
        "tracking_number": order["tracking_number"],
        "payment": {"method": order["payment_method"], "status": order["payment_status"], "currency": order["currency"]},
        "claimed_by": order["claimed_by"],
        "ship_to": {k[5:]: order[k] for k in order if k.startswith("ship_")},
        "lines": [
            {
                "line_no": ln["line_no"],
                "sku": ln["sku"],
                "name": ln["name"],
                "qty": ln["qty"],
                "unit_price": ln["unit_price"],
                "packed": ln["packed_qty"],
                "short": ln["short_qty"],
                "short_reason": ln["short_reason"],
                "scans": [
                    {"id": s["id"], "qty": s["qty"], "carton": s["carton_seq"], "barcode": s["barcode"],
                     "lot": s["lot"], "expiry": _iso(s["expiry"]),
                     "serial": s["serial"], "user": s["user_name"], "at": _iso(s["scanned_at"])}
                    for s in by_line.get(ln["line_no"], [])
                ],
            }
            for ln in lines
        ],
        "cartons": [
            {"seq": c["seq"], "type": c["type_code"], "status": c["status"], "expected_g": c["expected_g"],
             "weight_g": c["measured_g"], "sscc": c["sscc"], "tracking_number": c["tracking_number"],
             "override_by": c["override_by"], "closed_at": _iso(c["closed_at"])}
            for c in cartons
        ],
        "undone_scans": len(scans) - len(active),
        "events": [{**e, "at": _iso_text(e.get("at"))} for e in events],
    }
