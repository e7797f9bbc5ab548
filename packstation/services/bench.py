"""The pack bench: what each scan means given who is packing and what is open.

The :class:`~packstation.services.terminal.Terminal` logs people in and hands a packer's scans
here. A packer never needs the keyboard: order numbers, command barcodes, carton barcodes,
items, lots, serials, reason numbers and a lead's badge (+ PIN on the keypad) all arrive as scans.
"""

from __future__ import annotations

from dataclasses import dataclass

from packstation.domain.barcodes import Barcode, BarcodeError, BarcodeKind, RawScan, prompt_value
from packstation.domain.identity import Desk, Permission, Session
from packstation.domain.packing import PackSession, Verdict
from packstation.services import packing as p
from packstation.services.auth import LoginRefused
from packstation.services.context import Context
from packstation.services.outcome import Outcome
from packstation.services.printing import REPRINT_REASONS
from packstation.services.terminal import PinWait

SHORT_REASONS = ("not available at pick", "damaged in stock", "customer changed the order", "other")
OVERRIDE_REASONS = ("packaging material not in the tare", "catalog weight is wrong", "scale reads wrong",
                    "item checked by hand", "other")
_REASONS = {"short": SHORT_REASONS, "override": OVERRIDE_REASONS, "reprint": REPRINT_REASONS}
_WHAT = {"short": "A short-ship", "override": "Overriding a blocked carton", "reprint": "A reprint"}


@dataclass
class LeadRequest:
    """A lead's approval the bench is waiting for: the action, its reason, then badge + PIN."""

    action: str  # "short", "override", "reprint"
    reason: str | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        return _REASONS[self.action]

    @property
    def what(self) -> str:
        return _WHAT[self.action]


class Bench:
    desk = Desk.BENCH

    def __init__(self, ctx: Context, session: Session):
        self.ctx = ctx
        self.session = session
        self.carton_prefix = ctx.packing.carton_prefix.upper()
        self.pack: PackSession | None = None
        self.lead_request: LeadRequest | None = None
        self.weighing_for: tuple[str, int] | None = None  # (order, carton) waiting for its weight
        self.reprint_target: tuple[Session, str] | None = None  # approved reprint: the next scan says of what
        # The window sets this: a seal that waits for a carrier hands back its PendingSeal (the window
        # asks the carrier off its GUI thread, then calls finish_seal); otherwise the seal waits here.
        self.labels_in_background = False
        self.sealing: p.PendingSeal | None = None  # a seal waiting for its carrier label

    # --- the desk protocol ------------------------------------------------------------------
    def start(self) -> Outcome:
        self.ctx.auth.require(self.session, Permission.PACK, "The pack bench")
        self.pack = p.resume_session(self.ctx, self.session)
        name = self.session.name
        if self.pack is not None:
            return Outcome(Verdict.LOGGED_IN, f"Hello {name}. Order {self.pack.order.order_id} is still open at "
                           "this bench: carry on.", data={"resumed": self.pack.order.order_id})
        return Outcome(Verdict.LOGGED_IN, f"Hello {name}. Scan an order or tote.")

    def leave(self) -> None:
        self.pack = None  # the claim stays: logging in again resumes the order
        self.lead_request = None
        self.reprint_target = None
        self.weighing_for = None

    def handle(self, bc: Barcode, scan: RawScan) -> Outcome:
        outcome = self._dispatch(bc, scan)
        return self._after(outcome)

    # --- weighing -----------------------------------------------------------------------------
    @property
    def awaiting_weight(self) -> bool:
        return self.weighing_for is not None

    def close_with_weight(self, grams: int) -> Outcome:
        """The stable weight read after CMD-CLOSE-CARTON, for the carton that command named.

        A weight for a carton that is no longer the open one, or after the seal was cancelled,
        closes nothing: it could be the wrong carton's.
        """
        wanted, self.weighing_for = self.weighing_for, None
        if self.pack is None:
            return Outcome(Verdict.NO_ORDER, "No order is open.")
        carton = self.pack.open_carton
        if wanted is None or carton is None or wanted != (self.pack.order.order_id, carton.seq):
            return Outcome(Verdict.NOT_ALLOWED, "No carton is waiting for its weight: scan CMD-CLOSE-CARTON again.")
        outcome = p.close_carton(self.ctx, self.session, self.pack, grams, label_later=self.labels_in_background)
        if outcome.verdict is Verdict.CARTON_BLOCKED:
            self.lead_request = LeadRequest("override")
        return self._after(outcome)

    def weighing_failed(self) -> None:
        self.weighing_for = None

    def finish_seal(self, seal: p.PendingSeal) -> Outcome:
        """The carrier answered (or gave up) for the seal a CREATING_LABEL outcome handed out: store it."""
        if self.sealing is seal:
            self.sealing = None
        return self._after(p.finish_seal(seal))

    # --- scans --------------------------------------------------------------------------------
    def _dispatch(self, bc: Barcode, scan: RawScan) -> Outcome:
        source = scan.source
        if self.sealing is not None:  # nothing may change the order while its carton seals
            return self.sealing.wait_outcome()
        if self.weighing_for is not None:
            return self._while_weighing(bc)
        if self.lead_request is not None:
            handled = self._lead_scan(bc, scan)
            if handled is not None:
                return handled
        if self.reprint_target is not None and not bc.is_command:
            approval, reason = self.reprint_target
            self.reprint_target = None
            code = bc.value if bc.kind is BarcodeKind.SSCC else (bc.raw or bc.value)
            return p.reprint_code(self.ctx, self.session, approval, code, reason)
        self.reprint_target = None
        if self.pack is None:
            if bc.is_command and bc.value == "CMD-REPRINT":
                return self._ask_lead("reprint")
            if bc.is_command:
                return Outcome(Verdict.NO_ORDER, "No order open: scan an order number or tote first.")
            return self._claim(bc)
        pack = self.pack
        if bc.is_command:
            return self._command(bc.value, pack)
        if pack.awaiting_qty:
            return p.set_quantity(pack, bc)
        if pack.pending is not None and (bc.kind in (BarcodeKind.TEXT, BarcodeKind.NUMBER, BarcodeKind.GS1_DATA)
                                         or pack.resolve(bc) is None) \
                and not self._is_carton(bc) and not self._catalogue_item(bc):
            return self._prompt_answer(pack, scan, source)
        if self._is_carton(bc):
            return p.open_carton(self.ctx, self.session, pack, bc.value)
        if pack.resolve(bc) is None and bc.kind is BarcodeKind.TEXT and self.ctx.auth.is_badge(bc.raw or bc.value):
            return Outcome(Verdict.NOT_ALLOWED, "That is a badge: nothing is waiting for a lead now. "
                           "(To approve something, the packer first scans CMD-SHORT or CMD-REPRINT.)",
                           data={"headline": "BADGE NOT NEEDED"})
        return p.record_item_scan(self.ctx, self.session, pack, bc, source=source)

    def _prompt_answer(self, pack: PackSession, scan: RawScan, source: str) -> Outcome:
        """A lot / expiry / serial: from a GS1 scan its AI (10) / (17) / (21), else the text."""
        want = {Verdict.NEEDS_LOT: "lot", Verdict.NEEDS_EXPIRY: "expiry", Verdict.NEEDS_SERIAL: "serial"}.get(
            pack.awaiting() or Verdict.NEEDS_LOT, "lot")
        try:
            text = prompt_value(scan, want)  # type: ignore[arg-type]
        except BarcodeError as exc:
            return Outcome(Verdict.INVALID_SCAN, f"Not a {want}: {exc}. Scan the {want} again.", sku=pack.pending.sku
                           if pack.pending else None)
        return p.record_detail(self.ctx, self.session, pack, text, source=source)

    def _while_weighing(self, bc: Barcode) -> Outcome:
        assert self.weighing_for is not None
        seq = self.weighing_for[1]
        if bc.is_command and bc.value == "CMD-UNDO":
            self.weighing_for = None
            return Outcome(Verdict.UNDONE, f"Seal cancelled: carton {seq} stays open. Scan CMD-CLOSE-CARTON to weigh again.",
                           data={"headline": "SEAL CANCELLED", "weighing_cancelled": True})
        return Outcome(Verdict.WEIGHING, f"Weighing carton {seq}: wait for the scale, nothing was counted. "
                       "(CMD-UNDO cancels the seal.)", data={"headline": "WEIGHING — WAIT"})

    def _command(self, cmd: str, pack: PackSession) -> Outcome:
        if cmd == "CMD-CLOSE-CARTON":
            carton = pack.open_carton
            if carton is None:
                return Outcome(Verdict.NEEDS_CARTON, "No carton is open.")
            if not carton.items:
                return Outcome(Verdict.NOT_ALLOWED, "The carton is empty: scan items into it first.")
            if pack.pending is not None or pack.awaiting_qty:
                return Outcome(Verdict.NOT_ALLOWED, "Finish the prompt first (or CMD-UNDO to cancel it), then close.")
            self.weighing_for = (pack.order.order_id, carton.seq)
            return Outcome(Verdict.NEEDS_WEIGHT, f"Put carton {carton.seq} on the scale…",
                           data={"seq": carton.seq, "expected_g": pack.expected_weight(carton)})
        if cmd == "CMD-NEW-CARTON":
            last = pack.cartons[-1].type.code if pack.cartons else None
            if last is None:
                with self.ctx.uow(readonly=True) as uow:
                    types = uow.catalog.carton_types()
                last = types[0].code if types else None
            if last is None:
                return Outcome(Verdict.NOT_ALLOWED, "No carton types are set up. Import cartons first.")
            return p.open_carton(self.ctx, self.session, pack, last)
        if cmd == "CMD-UNDO":
            return p.undo_last_scan(self.ctx, self.session, pack)
        if cmd == "CMD-QTY":
            pack.awaiting_qty = True
            return Outcome(Verdict.NEEDS_QTY, "Quantity: scan or type the number, then the item.")
        if cmd == "CMD-SHORT":
            if not pack.short_lines():
                return Outcome(Verdict.NOT_ALLOWED, "Nothing is missing: every line is complete.")
            return self._ask_lead("short")
        if cmd == "CMD-REPRINT":
            return self._ask_lead("reprint")
        if cmd == "CMD-CANCEL":
            outcome = p.release_order(self.ctx, self.session, pack)
            if outcome.verdict is Verdict.ORDER_RELEASED:
                self.pack = None
            return outcome
        return Outcome(Verdict.INVALID_SCAN, f"Unknown command {cmd}.")

    def _catalogue_item(self, bc: Barcode) -> bool:
        """A GTIN of a catalogue product is an item scan, never the answer to a lot/serial prompt.

        (A packer who grabs the wrong product at the lot prompt gets WRONG ITEM instead of that
        product's barcode stored as the lot.) A numeric lot that merely looks like a GTIN and is
        no product's barcode is still taken as the answer.
        """
        if bc.kind is not BarcodeKind.GTIN:
            return False
        with self.ctx.uow(readonly=True) as uow:
            return uow.catalog.by_barcode(bc.value) is not None

    def _is_carton(self, bc: Barcode) -> bool:
        return bc.kind is BarcodeKind.TEXT and bc.value.startswith(self.carton_prefix)

    def _claim(self, bc: Barcode) -> Outcome:
        try:
            self.pack = p.claim_order(self.ctx, self.session, bc.raw or bc.value)
        except p.OrderRefused as exc:
            return Outcome(Verdict.ORDER_REFUSED, str(exc))
        order = self.pack.order
        return Outcome(Verdict.ORDER_OPENED, f"Order {order.order_id}: {sum(ln.remaining for ln in order.lines)} "
                       "item(s) to pack. Scan a carton.", data={"order_id": order.order_id})

    # --- a lead's approval --------------------------------------------------------------------
    def _ask_lead(self, action: str) -> Outcome:
        self.lead_request = LeadRequest(action)
        return self._reason_prompt(self.lead_request)

    def _reason_prompt(self, request: LeadRequest) -> Outcome:
        listed = "; ".join(f"{i} {r}" for i, r in enumerate(request.reasons, 1))
        return Outcome(Verdict.NEEDS_REASON, f"{request.what}: scan the number of the reason ({listed}). "
                       "CMD-UNDO cancels.", data={"reasons": list(request.reasons), "lead_action": request.action})

    def set_lead_reason(self, reason: str) -> Outcome | None:
        """The reason picked (by number, or from the list on the screen) for the awaited action."""
        request = self.lead_request
        if request is None or reason not in request.reasons:
            return None
        request.reason = reason
        if self.session.role.can_authorise:  # a lead at the bench approves their own request
            return self._perform(request, self.session)
        return Outcome(Verdict.NEEDS_LEAD, f"{request.what} ({reason}): a lead scans their badge, then enters "
                       "their PIN.", data={"lead_action": request.action, "reason": reason})

    def _lead_scan(self, bc: Barcode, scan: RawScan) -> Outcome | None:
        """A scan while a lead's approval is awaited; None: not for the request (handle it normally)."""
        request = self.lead_request
        assert request is not None
        if bc.is_command:
            if request.action == "override" and (request.reason is None or bc.value != "CMD-UNDO"):
                # the packer fixes the blocked carton instead: CMD-UNDO takes the extra item back,
                # CMD-CLOSE-CARTON weighs again (only once a lead was asked does CMD-UNDO cancel that)
                self.lead_request = None
                return None
            if bc.value == "CMD-UNDO":
                self.lead_request = None
                return Outcome(Verdict.UNDONE, f"{request.what}: cancelled.", data={"headline": "CANCELLED"})
            return Outcome(Verdict.NOT_ALLOWED, f"{request.what} is waiting for a lead: finish it or scan CMD-UNDO.")
        if request.reason is None:
            if bc.kind is BarcodeKind.NUMBER and 1 <= int(bc.value) <= len(request.reasons):
                picked = self.set_lead_reason(request.reasons[int(bc.value) - 1])
                assert picked is not None
                return picked
            if request.action == "override" and self.pack is not None and self.pack.resolve(bc) is not None:
                self.lead_request = None  # an item scanned into the blocked carton: the packer fixes it
                return None
            return self._reason_prompt(request)
        code = (scan.data or bc.raw or bc.value).strip()
        refusal = ""
        try:
            check = self.ctx.auth.check_badge(code)
        except LoginRefused as exc:
            check = None
            refusal = str(exc)
        if check is None or not check.user.role.can_authorise:
            self.lead_request = None
            why = refusal if check is None and "Unknown badge" not in refusal else "That is not a lead's badge"
            return Outcome(Verdict.NOT_ALLOWED, f"{why}: {request.what.lower()} cancelled. "
                           "If you scanned an item, it was not counted: scan it again.")
        wait = PinWait(code, check.user.name, "approve", Permission.APPROVE, request.what)
        if check.needs_pin:
            return Outcome(Verdict.NEEDS_PIN, f"{check.user.name}: enter your PIN to approve "
                           f"{request.what.lower()} ({request.reason}).", data={"await_pin": wait})
        # no PIN on this badge and [security] lead_pin_required = false: the badge approves
        from packstation.services.terminal import PinCheck

        result = PinCheck(wait, "").run(self.ctx)
        return self.approved(wait, result.session, result.error)

    def approved(self, wait: PinWait, approval: Session | None, error: str) -> Outcome:
        request = self.lead_request
        if request is None:
            return Outcome(Verdict.NOT_ALLOWED, "Nothing is waiting for a lead any more.")
        if approval is None:
            if "cancelled" in error:
                self.lead_request = None
                return Outcome(Verdict.NOT_ALLOWED, f"{request.what}: {error}.")
            return Outcome(Verdict.NOT_ALLOWED, f"{request.what} not approved: {error} "
                           "The lead scans their badge again (CMD-UNDO cancels).")
        return self._perform(request, approval)

    def _perform(self, request: LeadRequest, approval: Session) -> Outcome:
        self.lead_request = None
        assert request.reason is not None
        if request.action == "reprint" and self.pack is None:
            self.reprint_target = (approval, request.reason)
            return Outcome(Verdict.NEEDS_REPRINT_TARGET, f"Reprint approved by {approval.name} ({request.reason}): "
                           "scan the carton's label (SSCC) or the order number.")
        if self.pack is None:
            return Outcome(Verdict.NO_ORDER, "No order open.")
        if request.action == "short":
            return self._after(p.short_ship(self.ctx, self.session, self.pack, approval, request.reason))
        if request.action == "override":
            return self._after(p.override_carton(self.ctx, self.session, self.pack, approval, request.reason,
                                                 label_later=self.labels_in_background))
        return p.reprint_code(self.ctx, self.session, approval, "", request.reason, pack=self.pack)

    # --- helpers ------------------------------------------------------------------------------
    def _after(self, outcome: Outcome) -> Outcome:
        seal = outcome.data.get("seal")
        if isinstance(seal, p.PendingSeal):
            self.sealing = seal
            return outcome
        if outcome.verdict in (Verdict.CARTON_CLOSED, Verdict.ORDER_COMPLETE, Verdict.LABEL_NOT_CREATED) \
                and outcome.data.get("sscc") and "seq" in outcome.data and self.pack is not None:
            outcome = self._photograph(outcome, self.pack.order.order_id, int(outcome.data["seq"]))
        if outcome.verdict is Verdict.ORDER_COMPLETE or outcome.data.get("order_complete") \
                or outcome.data.get("claim_lost"):
            self.pack = None  # packed, or no longer this bench's order
            self.lead_request = None
        return outcome


    def _photograph(self, outcome: Outcome, order_id: str, seq: int) -> Outcome:
        """``[bench] camera``: a photo of the sealed carton on the scale (the returns desk's evidence).

        Optional: a camera that fails costs the photo, never the seal (the outcome says so)."""
        camera = self.ctx.cameras.bench if self.ctx.cameras is not None else None
        if camera is None:
            return outcome
        from dataclasses import replace

        from packstation.services.photos import CameraError, photograph_carton
        from packstation.services.ports import StorageError

        try:
            photo = photograph_carton(self.ctx, self.session, order_id, seq, camera)
        except (CameraError, StorageError) as exc:
            return replace(outcome, message=f"{outcome.message} (No carton photo: {exc}.)")
        return replace(outcome, data={**outcome.data, "carton_photo": photo.id})


__all__ = ["OVERRIDE_REASONS", "SHORT_REASONS", "Bench", "LeadRequest"]
