"""The dispatch dock: sealed cartons onto carrier manifests, by scans alone, and the hand-over.

Use cases (each checks the session: ``Permission.DISPATCH``) and the desk (:class:`Dock`, the
``DeskHandler`` the terminal gives dispatch users and leads at ``DESK-DOCK``):

- ``CARRIER-<CODE>`` (or ``CARRIER-<CODE>/<SERVICE>``) opens that carrier's manifest, or continues
  the one that is open (there is one open manifest per carrier and service, whichever dock
  opened it).
- A carton's SSCC (its label's GS1-128) or carrier tracking barcode loads it, after
  :func:`~packstation.domain.shipping.check_load` against the truth read in the same transaction:
  not sealed, order cancelled after packing (pull it: recorded), another carrier or service,
  already loaded (said, nothing changes), on another open manifest, already handed over on a
  closed manifest, unknown code, no carrier label yet. The rest of an order a lead split at a
  close (the order handed over without it) loads onto the next manifest.
- ``CMD-UNDO`` unloads the last carton loaded.
- ``CMD-CLOSE-MANIFEST`` closes it: every carton of each loaded order must be on it, or a lead
  approves the split (reason by number, badge + PIN); the close takes the manifest's number from
  the ``manifest`` series, moves the orders to *handed over* through the lifecycle, prints the
  manifest (with the signature blocks) and calls the carrier's end-of-day close where it has one.
  The rest of a split order is handed over with its own ``carton.handed_over`` event (the order
  is handed over already). The close carries an idempotency key: a close retried after a lost
  answer finds the manifest it made and makes no second one. What closes is exactly what the close
  read: its write locks the manifest's row and refuses if a carton was loaded or unloaded (at
  another dock) while the carrier answered.

With a central database configured (``ctx.central``) the dock works on the centre's units of
work: the truth every bench writes to. Otherwise on the station's own database.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from packstation.domain.barcodes import Barcode, BarcodeKind, RawScan
from packstation.domain.documents import ManifestCarton, ManifestData
from packstation.domain.identity import Desk, Permission, Session
from packstation.domain.lifecycle import OrderStatus, TransitionRefused
from packstation.domain.packing import Verdict
from packstation.domain.shipping import (
    SPLIT_REASONS,
    DockCarton,
    LoadDecision,
    Manifest,
    ManifestStatus,
    MissingCartons,
    carrier_code,
    check_load,
    incomplete_orders,
    manifest_code,
    parse_carrier_code,
)
from packstation.services import printing
from packstation.services.auth import LoginRefused
from packstation.services.carriers import CarrierError
from packstation.services.context import Context, record
from packstation.services.lifecycle import change_status
from packstation.services.outcome import Outcome, storage_failed
from packstation.services.ports import Conflict, StorageError, UnitOfWorkFactory
from packstation.services.terminal import PinCheck, PinWait

log = logging.getLogger(__name__)

SPLIT_WHAT = "Closing a manifest without every carton of an order"


def dock_uow(ctx: Context) -> UnitOfWorkFactory:
    """The units of work the dock works on: the centre's when configured, else the station's."""
    return ctx.central or ctx.uow


# --- use cases --------------------------------------------------------------------------------


def open_manifest(ctx: Context, session: Session, carrier: str, service: str = "") -> tuple[Manifest, bool]:
    """Open the carrier's manifest, or continue the open one. Returns (manifest, opened now)."""
    ctx.auth.require(session, Permission.DISPATCH, "The dispatch dock")
    carrier, service = carrier.strip().upper(), service.strip().upper()
    with dock_uow(ctx)() as uow:
        found = uow.manifests.open_for(carrier, service)
        if found is not None:
            return found, False
        manifest = Manifest(id=str(uuid.uuid4()), carrier=carrier, service=service, status=ManifestStatus.OPEN,
                            opened_at=ctx.clock(), opened_by=session.actor, station_id=ctx.station_id)
        uow.manifests.add(manifest)
        record(uow, ctx, session, "manifest.opened", None,
               {"manifest_id": manifest.id, "carrier": carrier, "service": service, "station": ctx.station_id})
        uow.commit()
    return manifest, True


def find_carton(uow: Any, bc: Barcode, scan: RawScan | None = None) -> tuple[DockCarton | None, str]:
    """The carton a dock scan names: its SSCC (GS1-128 (00) or 18 digits) or its tracking number."""
    codes: list[str] = []
    if bc.sscc:
        codes.append(bc.sscc)
    if bc.kind is BarcodeKind.SSCC:
        codes.append(bc.value)
    raw = (scan.data if scan is not None else bc.raw or bc.value).strip()
    codes += [c for c in (raw, bc.raw.strip(), bc.value) if c]
    seen = []
    for code in codes:
        if code in seen:
            continue
        seen.append(code)
        found = uow.manifests.carton(code)
        if found is not None:
            return found, code
    return None, raw or bc.value


def load_carton(ctx: Context, session: Session, manifest: Manifest, bc: Barcode, scan: RawScan | None = None
                ) -> tuple[Outcome, DockCarton | None]:
    """Check one dock scan against the truth and load the carton if it may go (one transaction)."""
    ctx.auth.require(session, Permission.DISPATCH, "Loading cartons")
    try:
        with dock_uow(ctx)() as uow:
            carton, code = find_carton(uow, bc, scan)
            decision = check_load(carton, manifest, code)
            if decision.load:
                assert carton is not None and carton.sscc is not None
                uow.manifests.load(manifest.id, carton.order_id, carton.seq, carton.sscc, session.actor,
                                   ctx.station_id, ctx.clock())
                record(uow, ctx, session, "manifest.carton_loaded", carton.order_id,
                       {"manifest_id": manifest.id, "carrier": manifest.carrier, "seq": carton.seq,
                        "sscc": carton.sscc, "tracking_number": carton.tracking_number})
            elif decision.verdict is Verdict.ORDER_PULLED and carton is not None and carton.pulled_at is None:
                uow.manifests.mark_pulled(carton.order_id, carton.seq, ctx.clock())
                if carton.manifest_id is not None and carton.manifest_status is ManifestStatus.OPEN:
                    uow.manifests.unload(carton.manifest_id, carton.order_id, carton.seq)
                record(uow, ctx, session, "carton.pulled", carton.order_id,
                       {"seq": carton.seq, "sscc": carton.sscc, "order_status": carton.order_status.value,
                        "manifest_id": carton.manifest_id})
            else:
                record(uow, ctx, session, "dock.refused", carton.order_id if carton else None,
                       {"verdict": decision.verdict.value, "code": code, "manifest_id": manifest.id})
            uow.commit()
    except Conflict as exc:  # the manifest was closed meanwhile, or the carton loaded at another dock
        # a refusal either way (never the already-loaded no-op: this carton is on no manifest of this dock)
        with dock_uow(ctx)(readonly=True) as uow:
            current = uow.manifests.get(manifest.id)
        if current is None or current.status is not ManifestStatus.OPEN:
            return Outcome(Verdict.NO_MANIFEST, f"{exc} The carton was NOT loaded: scan "
                           f"{carrier_code(manifest.carrier, manifest.service)} to open the next manifest, then the "
                           "carton again.", data={"headline": "MANIFEST CLOSED — NOT LOADED"}), None
        return Outcome(Verdict.ON_OTHER_MANIFEST, f"{exc} Not loaded here.", data={"headline": "NOT LOADED"}), None
    return _outcome(decision, carton), carton


def _outcome(decision: LoadDecision, carton: DockCarton | None) -> Outcome:
    data: dict[str, Any] = {"headline": decision.headline}
    if carton is not None:
        data.update(order_id=carton.order_id, seq=carton.seq, sscc=carton.sscc)
    return Outcome(decision.verdict, decision.message, data=data)


def check_scan(ctx: Context, session: Session, bc: Barcode, scan: RawScan | None = None) -> Outcome:
    """A carton scanned with no manifest open: still checked (a cancelled order's carton is pulled)."""
    ctx.auth.require(session, Permission.DISPATCH, "The dispatch dock")
    with dock_uow(ctx)() as uow:
        carton, code = find_carton(uow, bc, scan)
    if carton is not None and carton.order_status is OrderStatus.CANCELLED:
        probe = Manifest(id="", carrier=carton.carrier, service="", status=ManifestStatus.OPEN,
                         opened_at=ctx.clock(), opened_by="", station_id="")
        outcome, _ = load_carton(ctx, session, probe, bc, scan)
        return outcome
    if carton is None:
        return _outcome(check_load(None, Manifest("", "", "", ManifestStatus.OPEN, ctx.clock(), "", ""), code), None)
    return Outcome(Verdict.NO_MANIFEST, f"No manifest is open at this dock: scan {carrier_code(carton.carrier)} "
                   f"first (carton {carton.ref} goes with {carton.carrier} {carton.service}).",
                   data={"headline": "SCAN THE CARRIER FIRST"})


def unload_last(ctx: Context, session: Session, manifest: Manifest) -> Outcome:
    """CMD-UNDO at the dock: take the last carton loaded off the open manifest."""
    ctx.auth.require(session, Permission.DISPATCH, "Unloading cartons")
    with dock_uow(ctx)() as uow:
        current = uow.manifests.get(manifest.id)
        if current is None or current.status is not ManifestStatus.OPEN:
            return Outcome(Verdict.NO_MANIFEST, "This manifest is closed: nothing to unload.")
        if not current.cartons:
            return Outcome(Verdict.NOTHING_TO_UNDO, f"Nothing to unload: the {current.label} manifest is empty.")
        last = max(current.cartons, key=lambda c: c.load_seq)
        uow.manifests.unload(manifest.id, last.order_id, last.seq)
        record(uow, ctx, session, "manifest.carton_unloaded", last.order_id,
               {"manifest_id": manifest.id, "seq": last.seq, "sscc": last.sscc})
        uow.commit()
    return Outcome(Verdict.CARTON_UNLOADED, f"Carton {last.sscc} (order {last.order_id}) unloaded: take it off the "
                   "pallet.", data={"headline": "UNLOADED", "order_id": last.order_id, "sscc": last.sscc})


@dataclass(frozen=True)
class CloseResult:
    manifest: Manifest
    again: bool = False  # the close had been done already (a retry): nothing new was made
    carrier_error: str = ""
    job_id: str = ""


def missing_cartons(ctx: Context, session: Session, manifest_id: str) -> list[MissingCartons]:
    ctx.auth.require(session, Permission.DISPATCH, "The dispatch dock")
    with dock_uow(ctx)(readonly=True) as uow:
        manifest = uow.manifests.get(manifest_id)
        if manifest is None:
            return []
        return incomplete_orders(manifest, uow.manifests.cartons_of(manifest.order_ids))


class CloseRefused(Exception):
    """The manifest cannot be closed as it is; ``missing`` lists orders that would be split."""

    def __init__(self, message: str, missing: list[MissingCartons] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []


def close_manifest(ctx: Context, session: Session, manifest_id: str, *, close_key: str,
                   approval: Session | None = None, reason: str = "") -> CloseResult:
    """Close the manifest: number, hand-over, the printed manifest, the carrier's end-of-day close.

    Idempotent by *close_key*: a close that is tried again (the answer was lost) returns the
    manifest the first one closed. Raises CloseRefused (empty, split without approval, an order
    no longer packed) or StorageError.
    """
    ctx.auth.require(session, Permission.DISPATCH, "Closing a manifest")
    if approval is not None:
        ctx.auth.require(approval, Permission.APPROVE, SPLIT_WHAT)
    uow_factory = dock_uow(ctx)
    with uow_factory(readonly=True) as uow:
        done = uow.manifests.by_close_key(close_key)
        if done is not None:
            return CloseResult(done, again=True)
        manifest = uow.manifests.get(manifest_id)
        if manifest is None:
            raise CloseRefused(f"No manifest {manifest_id}.")
        if manifest.status is not ManifestStatus.OPEN:
            raise CloseRefused(f"Manifest {manifest.code} is closed already.")
        if not manifest.cartons:
            raise CloseRefused(f"The {manifest.label} manifest is empty: load cartons first.")
        cartons_by_order = uow.manifests.cartons_of(manifest.order_ids)
    missing = incomplete_orders(manifest, cartons_by_order)
    if missing and approval is None:
        raise CloseRefused(_missing_text(missing), missing)
    if missing and not reason.strip():
        raise CloseRefused("A split needs a reason: pick one from the list.", missing)
    # packed, or handed over already without these cartons (the rest of a split order)
    not_packed = sorted({c.order_id for cs in cartons_by_order.values() for c in cs
                         if not c.order_status.shipped and c.order_id in manifest.order_ids})
    if not_packed:
        raise CloseRefused(f"Order(s) {', '.join(not_packed)} are no longer packed (cancelled meanwhile): "
                           "scan their cartons to pull them, then close.")
    status_of = {order_id: cs[0].order_status for order_id, cs in cartons_by_order.items() if cs}
    # the carrier's end-of-day close, before our transaction (no lock held while the network answers)
    carrier_ref, carrier_error = None, ""
    account = ctx.carriers.for_carrier(manifest.carrier) if ctx.carriers else None
    shipments = [c for cs in cartons_by_order.values() for c in cs
                 if (c.order_id, c.seq) in {(x.order_id, x.seq) for x in manifest.cartons}]
    if account is not None and account.supports_close:
        try:
            close = account.close_manifest([c.shipment_id for c in shipments if c.shipment_id],
                                           [c.tracking_number for c in shipments if c.tracking_number])
            carrier_ref = close.reference if close else None
        except CarrierError as exc:
            carrier_error = str(exc)
            log.warning("end-of-day close at %s failed: %s", manifest.carrier, exc)
    actor = approval or session
    job = None
    with uow_factory() as uow:
        # what closes is what was read (and goes on the PDF and the event): the row lock keeps loads
        # and unloads out until this commits; one that came while the carrier answered refuses the close
        current = uow.manifests.lock(manifest.id)
        if current is not None and current.status is ManifestStatus.CLOSED and current.close_key == close_key:
            return CloseResult(current, again=True)  # the same close, done meanwhile (a double scan)
        if current is None or current.status is not ManifestStatus.OPEN:
            raise Conflict(f"Manifest {manifest.label} was closed meanwhile at another dock.")
        if _loaded(current) != _loaded(manifest):
            raise Conflict(_changed_text(manifest, current))
        number = uow.numbers.next("manifest")
        manifest.number, manifest.closed_at, manifest.closed_by = number, ctx.clock(), session.actor
        manifest.close_key = close_key
        if missing:
            manifest.split_by, manifest.split_reason = actor.actor, reason.strip()
        manifest.carrier_ref = carrier_ref or (f"end-of-day close failed: {carrier_error}" if carrier_error else None)
        if not uow.manifests.close(manifest):
            raise Conflict(f"Manifest {manifest.label} was closed meanwhile at another dock.")
        code = manifest_code(number)
        for order_id in manifest.order_ids:
            on_it = [c for c in manifest.cartons if c.order_id == order_id]
            if status_of.get(order_id) is OrderStatus.PACKED:
                change_status(uow, ctx, session, order_id, OrderStatus.PACKED, OrderStatus.HANDED_OVER, desk="dock",
                              manifest=code, manifest_id=manifest.id, carrier=manifest.carrier,
                              cartons=[c.sscc for c in on_it])
                continue
            for c in on_it:  # the rest of a split order: the order is on its way already, never back
                record(uow, ctx, session, "carton.handed_over", order_id, {
                    "seq": c.seq, "sscc": c.sscc, "tracking_number": c.tracking_number, "manifest": code,
                    "manifest_id": manifest.id, "carrier": manifest.carrier, "desk": "dock",
                    "order_status": status_of[order_id].value})
        record(uow, ctx, actor, "manifest.closed", None, {
            "manifest_id": manifest.id, "number": number, "code": code, "carrier": manifest.carrier,
            "service": manifest.service, "close_key": close_key, "closed_by": session.actor,
            "cartons": [{"order_id": c.order_id, "seq": c.seq, "sscc": c.sscc} for c in manifest.cartons],
            "orders": manifest.order_ids, "weight_g": manifest.weight_g, "split": [m.order_id for m in missing],
            "split_by": manifest.split_by, "reason": manifest.split_reason, "carrier_ref": carrier_ref,
            "carrier_error": carrier_error or None, "station": ctx.station_id,
        })
        if ctx.documents is not None:
            # in the close's own commit: with a centre, in the centre's journal for this station, which
            # takes it into its own right after (and at its next start if it stops in between)
            job = printing.add_job(uow, ctx, session, manifest_job(ctx, manifest, session))
        uow.commit()
    if job is not None and ctx.central is not None:
        try:
            printing.take_from_centre(ctx)
        except StorageError as exc:
            log.warning("manifest %s: its print job waits at the central database (taken at the next start or "
                        "dock login): %s", manifest.code, exc)
    if job is not None and ctx.documents is not None:
        ctx.documents.wake()
    return CloseResult(manifest, carrier_error=carrier_error, job_id=job.id if job else "")


def _loaded(manifest: Manifest) -> set[tuple[str, int, int]]:
    return {(c.order_id, c.seq, c.load_seq) for c in manifest.cartons}


def _changed_text(read: Manifest, now: Manifest) -> str:
    before, after = {(c.order_id, c.seq): c for c in read.cartons}, {(c.order_id, c.seq): c for c in now.cartons}
    came = [c.sscc for k, c in after.items() if k not in before]
    went = [c.sscc for k, c in before.items() if k not in after]
    what = "; ".join(part for part in (f"loaded meanwhile: {', '.join(came)}" if came else "",
                                       f"unloaded meanwhile: {', '.join(went)}" if went else "") if part)
    return (f"the {read.label} manifest changed at another dock while it was closing ({what or 'cartons reloaded'}). "
            f"Nothing was closed. Scan CMD-CLOSE-MANIFEST again to close it as it is now ({len(now.cartons)} "
            "carton(s)).")


def manifest_data(ctx: Context, manifest: Manifest, dispatcher: str) -> ManifestData:
    assert ctx.documents is not None
    at = manifest.closed_at or ctx.clock()
    return ManifestData(
        manifest_id=manifest.code, carrier=manifest.label, created_at=f"{at:%Y-%m-%d %H:%M} UTC",
        ship_from=ctx.documents.ship_from, dispatcher=dispatcher,
        cartons=tuple(ManifestCarton(sscc=c.sscc, order_id=c.order_id, weight_g=c.weight_g,
                                     tracking_number=c.tracking_number or "", service=c.service)
                      for c in manifest.cartons),
    )


def manifest_job(ctx: Context, manifest: Manifest, session: Session) -> Any:
    assert ctx.documents is not None
    return ctx.documents.manifest(manifest_data(ctx, manifest, session.name), reason="manifest closed")


def _missing_text(missing: list[MissingCartons]) -> str:
    parts = [f"order {m.order_id}: {m.loaded} of {m.total} cartons loaded (missing {', '.join(m.missing[:3])}"
             + (" …" if len(m.missing) > 3 else "") + ")" for m in missing[:5]]
    return ("Not every carton of each order is loaded — " + "; ".join(parts) +
            ". Load the missing cartons, or a lead approves the split.")


def list_manifests(ctx: Context, session: Session, *, status: ManifestStatus | None = None,
                   limit: int = 50) -> list[Manifest]:
    ctx.auth.check(session, "The manifests")
    with dock_uow(ctx)(readonly=True) as uow:
        return uow.manifests.recent(status=status, limit=limit)


def find_manifest(ctx: Context, session: Session, ref: str) -> Manifest | None:
    """A manifest by its number (``M-000042`` or ``42``) or its id."""
    from packstation.domain.shipping import parse_manifest_code

    ctx.auth.check(session, "A manifest")
    with dock_uow(ctx)(readonly=True) as uow:
        number = parse_manifest_code(ref)
        if number is not None and (found := uow.manifests.by_number(number)) is not None:
            return found
        return uow.manifests.get(ref.strip())


def to_pull(ctx: Context, session: Session) -> list[DockCarton]:
    """Cartons of orders cancelled after packing, still to be pulled from the dock."""
    ctx.auth.require(session, Permission.DISPATCH, "The dispatch dock")
    with dock_uow(ctx)(readonly=True) as uow:
        return uow.manifests.to_pull()


def carriers_in_use(ctx: Context, session: Session) -> list[tuple[str, str]]:
    """(carrier code, service) for the dock card: configured accounts and the orders' carriers."""
    ctx.auth.check(session, "The dock card")
    with dock_uow(ctx)(readonly=True) as uow:
        used = uow.manifests.carriers_in_use()
    codes = {c.upper() for c, _ in used} | set(ctx.carriers.codes() if ctx.carriers else [])
    out = [(code, "") for code in sorted(codes)]
    for code in sorted(codes):
        services = sorted({s.upper() for c, s in used if c.upper() == code and s})
        if len(services) > 1:
            out += [(code, s) for s in services]
    return out


# --- the desk -----------------------------------------------------------------------------------


@dataclass
class DockView:
    """What the dock's page shows (read after each outcome)."""

    manifest: Manifest | None
    missing: list[MissingCartons] = field(default_factory=list)
    pull: list[DockCarton] = field(default_factory=list)
    split_request: bool = False
    split_reason: str | None = None


class Dock:
    """The dispatch dock desk: every scan is a carrier card, a carton or a dock command."""

    desk = Desk.DOCK

    def __init__(self, ctx: Context, session: Session):
        self.ctx = ctx
        self.session = session
        self.manifest: Manifest | None = None
        self.close_key: str | None = None  # the pending close's idempotency key (kept for a retry)
        self.split: str | None = None  # a split approval is awaited: "" until the reason is picked
        self.last_loaded: DockCarton | None = None

    # --- the desk protocol ------------------------------------------------------------------
    def start(self) -> Outcome:
        self.ctx.auth.require(self.session, Permission.DISPATCH, "The dispatch dock")
        try:
            pull = to_pull(self.ctx, self.session)
        except StorageError:
            pull = []
        try:
            printing.take_from_centre(self.ctx)  # a manifest closed just before this station stopped
        except StorageError as exc:
            log.warning("print jobs held at the central database not taken yet: %s", exc)
        text = f"Hello {self.session.name}. Scan a carrier (CARRIER-…) from the dock card to open its manifest."
        if pull:
            orders = sorted({c.order_id for c in pull})
            text += f" PULL {len(pull)} carton(s) of cancelled order(s) {', '.join(orders[:5])}."
        return Outcome(Verdict.LOGGED_IN, text, data={"headline": "DISPATCH DOCK"})

    def leave(self) -> None:
        self.manifest, self.split, self.close_key, self.last_loaded = None, None, None, None

    def handle(self, bc: Barcode, scan: RawScan) -> Outcome:
        try:
            return self._dispatch(bc, scan)
        except StorageError as exc:
            return storage_failed(exc)

    def _dispatch(self, bc: Barcode, scan: RawScan) -> Outcome:
        if self.split is not None:
            handled = self._split_scan(bc, scan)
            if handled is not None:
                return handled
        if bc.is_command:
            return self._command(bc.value)
        parsed = parse_carrier_code(bc.raw or bc.value) if bc.kind is BarcodeKind.TEXT else None
        if parsed is not None:
            return self._open(*parsed)
        if self.manifest is None:
            return check_scan(self.ctx, self.session, bc, scan)
        outcome, carton = load_carton(self.ctx, self.session, self.manifest, bc, scan)
        if outcome.verdict is Verdict.CARTON_LOADED:
            self.last_loaded = carton
            self.close_key = None  # the manifest changed: a close from now on is a new one
        elif outcome.verdict is Verdict.NO_MANIFEST:  # closed at another dock meanwhile
            self.manifest, self.split, self.close_key, self.last_loaded = None, None, None, None
        return outcome

    def _open(self, carrier: str, service: str) -> Outcome:
        manifest, new = open_manifest(self.ctx, self.session, carrier, service)
        self.manifest, self.split, self.close_key = manifest, None, None
        n = len(manifest.cartons)
        if new:
            return Outcome(Verdict.MANIFEST_OPENED, f"Manifest for {manifest.label} opened: scan each carton's label.",
                           data={"headline": f"{manifest.label} — MANIFEST OPEN", "manifest_id": manifest.id})
        return Outcome(Verdict.MANIFEST_OPENED, f"Continuing the {manifest.label} manifest ({n} carton(s) on it, opened "
                       f"{manifest.opened_at:%Y-%m-%d %H:%M} by {manifest.opened_by}): scan the next carton.",
                       data={"headline": f"{manifest.label} — MANIFEST OPEN", "manifest_id": manifest.id})

    def _command(self, cmd: str) -> Outcome:
        if cmd == "CMD-UNDO":
            if self.manifest is None:
                return Outcome(Verdict.NOTHING_TO_UNDO, "No manifest is open: nothing to unload.")
            outcome = unload_last(self.ctx, self.session, self.manifest)
            if outcome.verdict is Verdict.CARTON_UNLOADED:
                self.close_key = None
            return outcome
        if cmd == "CMD-CLOSE-MANIFEST":
            return self._close(None, "")
        return Outcome(Verdict.INVALID_SCAN, f"{cmd} is a pack-bench command: at the dock scan a carrier, a carton, "
                       "CMD-UNDO or CMD-CLOSE-MANIFEST.", data={"headline": "NOT A DOCK COMMAND"})

    # --- closing ------------------------------------------------------------------------------
    def _close(self, approval: Session | None, reason: str) -> Outcome:
        if self.manifest is None:
            return Outcome(Verdict.NO_MANIFEST, "No manifest is open: scan the carrier (CARRIER-…) first.")
        if self.close_key is None:
            self.close_key = str(uuid.uuid4())
        try:
            result = close_manifest(self.ctx, self.session, self.manifest.id, close_key=self.close_key,
                                    approval=approval, reason=reason)
        except CloseRefused as exc:
            if exc.missing and approval is None:
                if self.session.role.can_authorise:  # a lead at the dock approves once the reason is picked
                    self.split = ""
                    return self._reason_prompt(str(exc), self_approve=True)
                self.split = ""
                return self._reason_prompt(str(exc))
            return Outcome(Verdict.NOT_ALLOWED, str(exc), data={"headline": "MANIFEST NOT CLOSED"})
        except (TransitionRefused, Conflict) as exc:
            self.split = None  # nothing closed: the next CMD-CLOSE-MANIFEST starts again (and asks again)
            return Outcome(Verdict.NOT_ALLOWED, f"Manifest not closed: {exc}", data={"headline": "MANIFEST NOT CLOSED"})
        manifest = result.manifest
        self.manifest, self.split, self.close_key, self.last_loaded = None, None, None, None
        text = (f"Manifest {manifest.code} closed: {len(manifest.cartons)} carton(s) of {len(manifest.order_ids)} "
                f"order(s) handed over to {manifest.label}.")
        if result.again:
            text = f"Manifest {manifest.code} was closed already ({len(manifest.cartons)} cartons): nothing new."
        else:
            text += " The manifest prints: the driver signs it."
        if manifest.split_by:
            text += f" Split approved by {manifest.split_by} ({manifest.split_reason})."
        if result.carrier_error:
            text += f" {manifest.carrier}'s end-of-day close FAILED ({result.carrier_error}): tell the lead."
        return Outcome(Verdict.MANIFEST_CLOSED, text, data={"headline": f"MANIFEST {manifest.code} CLOSED",
                                                            "manifest_id": manifest.id, "number": manifest.number})

    def _reason_prompt(self, why: str, self_approve: bool = False) -> Outcome:
        listed = "; ".join(f"{i} {r}" for i, r in enumerate(SPLIT_REASONS, 1))
        who = "then close" if self_approve else "then a lead scans their badge and enters their PIN"
        return Outcome(Verdict.MANIFEST_INCOMPLETE, f"{why} To close anyway: scan the number of the reason ({listed}), "
                       f"{who}. CMD-UNDO cancels.", data={"headline": "ORDERS WOULD BE SPLIT", "reasons": list(SPLIT_REASONS),
                                                          "lead_action": "split"})

    def set_split_reason(self, reason: str) -> Outcome | None:
        if self.split is None or reason not in SPLIT_REASONS:
            return None
        self.split = reason
        if self.session.role.can_authorise:
            return self._close(self.session, reason)
        return Outcome(Verdict.NEEDS_LEAD, f"Split ({reason}): a lead scans their badge, then enters their PIN.",
                       data={"lead_action": "split", "reason": reason})

    def _split_scan(self, bc: Barcode, scan: RawScan) -> Outcome | None:
        if bc.is_command and bc.value == "CMD-UNDO":
            self.split = None
            return Outcome(Verdict.UNDONE, "Close cancelled: the manifest stays open. Load the missing cartons.",
                           data={"headline": "CLOSE CANCELLED"})
        if self.split == "":
            if bc.kind is BarcodeKind.NUMBER and 1 <= int(bc.value) <= len(SPLIT_REASONS):
                picked = self.set_split_reason(SPLIT_REASONS[int(bc.value) - 1])
                assert picked is not None
                return picked
            self.split = None  # anything else: the close is dropped, the scan handled as usual
            return None
        code = (scan.data or bc.raw or bc.value).strip()
        try:
            check = self.ctx.auth.check_badge(code)
        except LoginRefused:
            check = None
        if check is None or not check.user.role.can_authorise:
            self.split = None
            return Outcome(Verdict.NOT_ALLOWED, "That is not a lead's badge: the close is cancelled. If you scanned a "
                           "carton, scan it again.", data={"headline": "CLOSE CANCELLED"})
        wait = PinWait(code, check.user.name, "approve", Permission.APPROVE, SPLIT_WHAT)
        if check.needs_pin:
            return Outcome(Verdict.NEEDS_PIN, f"{check.user.name}: enter your PIN to approve the split ({self.split}).",
                           data={"await_pin": wait})
        result = PinCheck(wait, "").run(self.ctx)
        return self.approved(wait, result.session, result.error)

    def approved(self, wait: PinWait, approval: Session | None, error: str) -> Outcome:
        if self.split is None:
            return Outcome(Verdict.NOT_ALLOWED, "Nothing is waiting for a lead any more.")
        if approval is None:
            if "cancelled" in error:
                self.split = None
                return Outcome(Verdict.NOT_ALLOWED, f"Split: {error}.")
            return Outcome(Verdict.NOT_ALLOWED, f"Split not approved: {error} The lead scans their badge again "
                           "(CMD-UNDO cancels).")
        return self._close(approval, self.split or "")

    # --- the page ---------------------------------------------------------------------------
    def view(self) -> DockView:
        pull = to_pull(self.ctx, self.session)
        if self.manifest is None:
            return DockView(None, pull=pull)
        with dock_uow(self.ctx)(readonly=True) as uow:
            current = uow.manifests.get(self.manifest.id)
            missing = incomplete_orders(current, uow.manifests.cartons_of(current.order_ids)) if current else []
        if current is None or current.status is not ManifestStatus.OPEN:
            self.manifest = None
            return DockView(None, pull=pull)
        return DockView(current, missing, pull, split_request=self.split is not None, split_reason=self.split or None)


__all__ = [
    "SPLIT_WHAT", "CloseRefused", "CloseResult", "Dock", "DockView", "carriers_in_use", "check_scan", "close_manifest",
    "dock_uow", "find_manifest", "list_manifests", "load_carton", "manifest_data", "missing_cartons", "open_manifest",
    "to_pull", "unload_last",
]
