"""Read-side views: an order's full status (``packstation status ORDER_ID --json``).

On a synced station (``ctx.central`` set) the status is the central database's: the order as every
station's pushed work left it, and its lease (which bench holds it, the fencing token, until when).
When the centre cannot be reached the station's own copy is shown instead, and the report says so
in ``source``. A standalone station's report has neither ``source`` nor ``lease``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from packstation.domain.identity import Session
from packstation.domain.lifecycle import OrderStatus
from packstation.services.context import Context
from packstation.services.ports import Lease, StorageError, UnitOfWorkFactory

CENTRAL = "central"


class NotFound(LookupError):
    pass


def _iso(value: Any) -> Any:
    """ISO 8601 (stored date-times come back time-zone aware, in UTC)."""
    return value.isoformat() if isinstance(value, datetime | date) else value


def order_status(ctx: Context, session: Session, order_id: str) -> dict[str, Any]:
    """State, cartons, scanned lines with lots/serials, and the event history of one order.

    Synced station: the centre's truth plus ``source`` (``"central"``) and ``lease`` (the holder's
    ``station`` and ``holder``, ``token``, ``taken_at``, ``expires_at``; ``station`` None once
    released; ``lease`` None if never leased). Centre unreachable: this station's copy, ``source``
    ``"local (centre unreachable: ...)"`` and ``lease`` only as far as this station holds it. An
    order the centre does not know but this station does: its local copy, ``source`` saying so."""
    ctx.auth.check(session, "An order's status")
    if ctx.central is None:
        return _status(ctx.uow, order_id)
    try:
        return _status(ctx.central, order_id, central=True)
    except StorageError as exc:
        report = _status(ctx.uow, order_id, own_lease_of=ctx.station_id)
        return _with_source(report, f"local (centre unreachable: {exc})")
    except NotFound:
        try:
            report = _status(ctx.uow, order_id, own_lease_of=ctx.station_id)
        except NotFound:
            raise NotFound(f"No order {order_id!r} at the central database or at this station.") from None
        return _with_source(report, "local (the central database has no such order)")


def _with_source(report: dict[str, Any], source: str) -> dict[str, Any]:
    report["source"] = source
    return report


def _lease(lease: Lease | None) -> dict[str, Any] | None:
    if lease is None:
        return None
    return {"station": lease.station_id, "holder": lease.holder or None, "token": lease.token,
            "taken_at": _iso(lease.taken_at), "expires_at": _iso(lease.expires_at)}


def _status(factory: UnitOfWorkFactory, order_id: str, *, central: bool = False,
            own_lease_of: str | None = None) -> dict[str, Any]:
    """The report from one database. *central*: with the order's lease there; *own_lease_of*: with
    this station's own copy of its lease (a synced station's local database)."""
    extra: dict[str, Any] = {}
    with factory(readonly=True) as uow:
        real = uow.orders.find_id(order_id)
        if real is None:
            raise NotFound(f"No order {order_id!r}.")
        order = uow.orders.get(real)
        claim = uow.orders.claim_of(real)
        assert order is not None and claim is not None  # found by find_id in the same transaction
        products = uow.catalog.products(ln.sku for ln in order.lines)
        types = {ct.code: ct for ct in uow.catalog.carton_types()}
        cartons = uow.shipments.cartons(real, types)
        scans = uow.shipments.scans(real)
        events = uow.events.for_order(real)
        manifests = uow.manifests.for_order(real)
        claimed_by = claim.station_id
        if central:
            lease = uow.leases.holder(real)
            # the centre's claims are its leases (a bench claims locally after taking the lease)
            claimed_by = claimed_by or (lease.station_id if lease is not None else None)
            extra = {"source": CENTRAL, "lease": _lease(lease)}
        elif own_lease_of is not None:
            held = uow.orders.leased(own_lease_of, [real])
            extra = {"lease": {"station": own_lease_of, "holder": claim.user, "token": held[0].token, "taken_at": None,
                               "expires_at": _iso(held[0].expires_at)} if held else None}
    active = [s for s in scans if s.undone_at is None]
    by_line: dict[int, list[Any]] = {}
    for s in active:
        by_line.setdefault(s.item.line_no, []).append(s)
    a = order.ship_to
    return {
        "order_id": real,
        "status": order.status.value,
        "channel": order.channel,
        "placed_at": _iso(order.placed_at),
        "carrier": order.carrier,
        "service": order.service,
        "tracking_number": order.tracking_number,
        "payment": {"method": order.payment_method, "status": order.payment_status, "currency": order.currency},
        "claimed_by": claimed_by,
        "ship_to": {"name": a.name, "line1": a.line1, "line2": a.line2, "city": a.city, "region": a.region,
                    "postcode": a.postcode, "country": a.country},
        "lines": [
            {
                "line_no": ln.line_no, "sku": ln.sku, "name": products[ln.sku].name if ln.sku in products else "",
                "qty": ln.qty, "unit_price": str(ln.unit_price), "packed": ln.packed, "short": ln.short,
                "short_reason": ln.short_reason,
                "scans": [
                    {"id": s.item.scan_id, "qty": s.item.qty, "carton": s.item.carton_seq, "barcode": s.item.barcode,
                     "lot": s.item.lot, "expiry": _iso(s.item.expiry), "serial": s.item.serial, "user": s.item.user,
                     "source": s.item.source, "station": s.station_id, "at": _iso(s.item.scanned_at)}
                    for s in by_line.get(ln.line_no, [])
                ],
            }
            for ln in order.lines
        ],
        "cartons": [
            {"seq": c.seq, "type": c.type.code, "status": c.status.value, "expected_g": c.expected_g,
             "weight_g": c.measured_g, "sscc": c.sscc, "tracking_number": c.tracking_number,
             "override_by": c.override_by, "closed_at": _iso(c.closed_at), "label_carrier": c.label_carrier}
            for c in cartons
        ],
        "undone_scans": len(scans) - len(active),
        "stages": stages(events),
        "manifests": [{"id": m.id, "code": m.code if m.number is not None else None, "carrier": m.carrier,
                       "status": m.status.value, "closed_at": _iso(m.closed_at),
                       "cartons": [c.sscc for c in m.cartons if c.order_id == real]} for m in manifests],
        "events": [{"id": e.id, "kind": e.kind, "at": _iso(e.occurred_at), "station": e.station_id, "actor": e.actor,
                    "user": e.user, "data": e.payload} for e in events],
        **extra,
    }


_STATUS_EVENTS = {f"order.{s.value}" for s in OrderStatus}


def _source(kind: str, actor: str, payload: dict[str, Any]) -> str:
    """Who or what caused a stage: bench, dock, carrier tracking, import, the command line, the API."""
    who = actor.split(":", 1)[0]
    if who == "carrier" or payload.get("source") == "carrier":
        return "carrier tracking"
    if who == "import":
        return "import" if payload.get("source") != "tracking" else "tracking import"
    if payload.get("desk") == "dock" or kind == "order.handed_over":
        return "dock"
    if who == "person":
        return "bench"
    return {"cli": "command line", "api": "api", "system": "station"}.get(who, who)


def stages(events: list[Any]) -> list[dict[str, Any]]:
    """Every stage the order went through, in order: when, who or what caused it, from where.

    ``at`` is when it happened (a carrier's scan time for tracking), ``recorded_at`` when the
    station stored it."""
    out: list[dict[str, Any]] = []
    for e in events:
        payload = e.payload or {}
        if e.kind == "order.received":
            entry = {"stage": "received", "at": _iso(e.occurred_at), "recorded_at": _iso(e.occurred_at),
                     "by": e.actor, "source": _source(e.kind, e.actor, payload), "station": e.station_id}
            out.append(entry)
            if payload.get("status") and payload["status"] != "received":
                out.append({**entry, "stage": payload["status"]})
        elif e.kind in _STATUS_EVENTS:
            at = payload.get("at") or _iso(e.occurred_at)
            entry = {"stage": e.kind.split(".", 1)[1], "at": at, "recorded_at": _iso(e.occurred_at), "by": e.actor,
                     "source": _source(e.kind, e.actor, payload), "station": e.station_id}
            for key in ("manifest", "carrier", "tracking_number", "reason", "description"):
                if payload.get(key):
                    entry[key] = payload[key]
            out.append(entry)
    return out
