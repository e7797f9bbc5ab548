"""Applying the returns desk's events to another database (the centre): the central sync's appliers.

A returns desk works offline on its own database like a bench; its events travel to the centre
(``services.sync`` pushes them) and are applied there from their payload alone, through the same
repositories. Each applier is idempotent: an event applied twice (a reply lost, a retry) changes
nothing the second time - ids (items, photos, resolutions by key, credit notes by number, ledger
movements by event) say whether it is there already, and a status moves only from the state the
event left.

``APPLIERS`` maps event kind -> ``applier(uow, event)``; kinds that are audit only (the parcel's
receipts, refused scans) need nothing applied and are listed in ``AUDIT_ONLY``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from packstation.domain.events import Event
from packstation.domain.lifecycle import ReturnStatus, TransitionRefused
from packstation.domain.returns import (
    CreditNote,
    Photo,
    ReceivedItem,
    Resolution,
    ResolutionKind,
    ResolvedLine,
    Return,
    ReturnLine,
)
from packstation.domain.stock import MovementKind, StockMovement
from packstation.services.lifecycle import apply_return_status
from packstation.services.ports import Conflict, UnitOfWork


class Refused(Exception):
    """The event cannot be applied here (its return or item is unknown, a transition refused)."""


def _at(value: Any, event: Event) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value
    assert event.occurred_at is not None
    return event.occurred_at


def _return(uow: UnitOfWork, rma_id: str) -> Return:
    ret = uow.returns.get(rma_id)
    if ret is None:
        raise Refused(f"no return {rma_id} here")
    return ret


def _item(uow: UnitOfWork, rma_id: str, item_id: str) -> ReceivedItem:
    item = next((i for i in uow.returns.items([rma_id]) if i.id == item_id), None)
    if item is None:
        raise Refused(f"no received item {item_id} of {rma_id} here")
    return item


def _opened(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    if uow.returns.get(p["rma_id"]) is not None:
        return
    lines = [ReturnLine(int(x["line_no"]), x["sku"], int(x["qty"])) for x in p.get("lines", [])]
    ret = Return(p["rma_id"], p["order_id"], p["reason"], ReturnStatus(p["status"]), lines, origin=p.get("origin", "desk"),
                 tracking_number=p.get("tracking_number"), carrier=p.get("carrier"))
    at = _at(None, event)
    if ret.origin == "desk":
        uow.returns.add(ret, at)
    else:
        uow.returns.put(ret, "", at)


def _received(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    ret = _return(uow, p["rma_id"])
    if any(i.id == p["item_id"] for i in uow.returns.items([ret.rma_id])):
        return
    line = p["line"]
    if line.get("new") or line.get("grown") or ret.line(int(p["line_no"])) is None:
        uow.returns.put_line(ret.rma_id, ReturnLine(
            int(p["line_no"]), line["sku"], int(line["qty"]), unexpected=bool(line.get("unexpected")),
            unit_price=Decimal(line["unit_price"]) if line.get("unit_price") is not None else None))
    uow.returns.add_item(ReceivedItem(
        id=p["item_id"], rma_id=ret.rma_id, order_id=ret.order_id, line_no=int(p["line_no"]), sku=p["sku"],
        qty=int(p["qty"]), barcode=p["barcode"], received_by=event.actor, station_id=event.station_id,
        received_at=_at(p.get("received_at"), event), receipt_id=p.get("receipt_id"), lot=p.get("lot"),
        serial=p.get("serial"), unexpected=bool(p.get("unexpected")), matched_scan=p.get("matched_scan"),
        carton_seq=p.get("carton_seq"), sscc=p.get("sscc"), packer=p.get("packer")))


def _photo(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    if uow.photos.get(p["photo_id"]) is not None:
        return
    data = base64.b64decode(p["data_b64"])
    uow.photos.add(Photo(id=p["photo_id"], owner_kind=p["owner_kind"], owner_ref=p["owner_ref"], mime=p["mime"],
                         sha256=p["sha256"], size=len(data), taken_by=event.actor, station_id=event.station_id,
                         taken_at=_at(p.get("taken_at"), event)), data)


def _graded(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    _item(uow, p["rma_id"], p["item_id"])
    uow.returns.grade_item(p["item_id"], p["grade"], p.get("notes", ""), event.actor, _at(None, event))


def _noted(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    _item(uow, p["rma_id"], p["item_id"])
    uow.returns.note_item(p["item_id"], p["notes"])


def _decided(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    _item(uow, p["rma_id"], p["item_id"])
    uow.returns.decide_item(p["item_id"], p["disposition"], p.get("location"), event.actor, _at(None, event))


def _restocked(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    _item(uow, p["rma_id"], p["item_id"])
    at = _at(p.get("at"), event)
    uow.returns.mark_restocked(p["item_id"], p["location"], at)
    uow.stock.add([StockMovement(sku=p["sku"], location=p["location"], lot=p.get("lot") or "", qty=int(p["qty"]),
                                 kind=MovementKind(p.get("kind", "returned")), ref=p["rma_id"], event_id=event.id,
                                 actor=event.actor, at=at)])


def _resolved(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    ret = _return(uow, p["rma_id"])
    if any(r.key == p["key"] for r in uow.returns.resolutions(ret.rma_id)):
        return
    resolution = Resolution(
        id=p["resolution_id"], rma_id=ret.rma_id, kind=ResolutionKind(p["kind"]), key=p["key"], currency=p["currency"],
        lines=tuple(ResolvedLine(int(x["line_no"]), int(x["qty"]), Decimal(x["amount"]), Decimal(x["fee"]))
                    for x in p["lines"]),
        by=event.actor, at=_at(p.get("at"), event), credit_note=p.get("credit_note"),
        replacement_order=p.get("replacement_order"))
    try:
        uow.returns.add_resolution(resolution)
    except Conflict as exc:
        raise Refused(str(exc)) from None


def _credit_note(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    ret = _return(uow, p["rma_id"])
    if any(n.number == p["number"] for n in uow.returns.credit_notes(ret.rma_id)):
        return
    uow.returns.add_credit_note(CreditNote(
        number=p["number"], legal_entity=p["legal_entity"], station_id=p["station"], rma_id=ret.rma_id,
        order_id=ret.order_id, resolution_id=p["resolution_id"], currency=p["currency"], total=Decimal(p["total"]),
        issued_at=_at(p.get("issued_at"), event)))


def _status(uow: UnitOfWork, event: Event) -> None:
    p = event.payload
    ret = _return(uow, p["rma_id"])
    before, after = ReturnStatus(p["from"]), ReturnStatus(p["to"])
    if ret.status is after:
        return  # applied already
    if ret.status is not before:
        raise Refused(f"return {ret.rma_id} is {ret.status.value} here, not {before.value}")
    try:
        apply_return_status(uow, ret.rma_id, before, after, _at(None, event))
    except TransitionRefused as exc:
        raise Refused(str(exc)) from None


def _nothing(uow: UnitOfWork, event: Event) -> None:
    """Audit only: the event is stored with the others, nothing else changes."""


AUDIT_ONLY = ("return.receipt_opened", "return.receipt_joined", "return.receipt_closed", "return.scan_refused")

APPLIERS: dict[str, Callable[[UnitOfWork, Event], None]] = {
    "return.opened": _opened,
    "return.item_received": _received,
    "return.photo_added": _photo,
    "carton.photographed": _photo,
    "return.item_graded": _graded,
    "return.item_noted": _noted,
    "return.item_decided": _decided,
    "return.restocked": _restocked,
    "return.resolved": _resolved,
    "credit_note.issued": _credit_note,
    **{f"return.{s.value}": _status for s in (ReturnStatus.RECEIVED, ReturnStatus.INSPECTED, ReturnStatus.PROCESSED,
                                              ReturnStatus.CLOSED)},
    **dict.fromkeys(AUDIT_ONLY, _nothing),
}


def _imported(uow: UnitOfWork, event: Event) -> None:
    """``return.initiated`` / ``return.picked`` from an import: the announced return with its lines;
    ``return.picked`` from carrier tracking or a tracking import: a status change (``from`` / ``to``)."""
    if "from" in event.payload and "to" in event.payload:
        _status(uow, event)
        return
    _opened(uow, event)


APPLIERS["return.initiated"] = _imported
APPLIERS["return.picked"] = _imported


def apply(uow: UnitOfWork, event: Event) -> None:
    """Apply one event of the returns desk in *uow* (raises Refused; KeyError: not a returns event)."""
    APPLIERS[event.kind](uow, event)


__all__ = ["APPLIERS", "AUDIT_ONLY", "Refused", "apply"]
