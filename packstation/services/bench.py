"""The bench: what each scan means given who is logged in and what is open.

The window, the end-to-end tests and the benchmark feed every scan to :meth:`Bench.scan`
and show the :class:`Outcome`. A packer never needs the keyboard: badges, order numbers,
command barcodes, carton barcodes, items, lots and serials all arrive here as scans.
"""

from __future__ import annotations

from dataclasses import dataclass

from packstation.domain.barcodes import Barcode, BarcodeError, BarcodeKind, RawScan, interpret
from packstation.domain.model import User
from packstation.domain.packing import CartonStatus, PackSession, Verdict
from packstation.services import packing as p
from packstation.services import users
from packstation.services.packing import Outcome, PackingContext
from packstation.services.ports import StorageError

SHORT_REASON_DEFAULT = "not available at pick"


@dataclass
class _LeadRequest:
    action: str  # "short", "override", "reprint"
    reason: str = ""


class Bench:
    """One packing bench: the logged-in user, the order being packed, and what is awaited."""

    def __init__(self, ctx: PackingContext, *, carton_prefix: str = "BOX-"):
        self.ctx = ctx
        self.carton_prefix = carton_prefix.upper()
        self.user: User | None = None
        self.session: PackSession | None = None
        self.pin_user: User | None = None  # badge scanned, waiting for the PIN
        self.lead_request: _LeadRequest | None = None
        self.weighing_for: tuple[str, int] | None = None  # (order, carton) waiting for its weight
        self.reprint_lead: User | None = None  # a lead approved a reprint; the next scan says of what

    # --- entry points ---------------------------------------------------------------------
    def scan(self, scan: RawScan | str) -> Outcome:
        self.weighing_for = None  # any scan means the packer moved on: a late weight is stale
        try:
            barcode = interpret(scan)
        except BarcodeError as exc:
            return Outcome(Verdict.INVALID_SCAN, f"Unreadable scan: {exc}.")
        try:
            return self._after(self._dispatch(barcode))
        except StorageError as exc:
            return Outcome(Verdict.STORAGE_FAILED, f"NOT SAVED — scan again. {exc}")

    def enter_pin(self, pin: str) -> Outcome:
        if self.pin_user is None:
            return Outcome(Verdict.NOT_ALLOWED, "No badge is waiting for a PIN.")
        badge = self.pin_user.badge
        self.pin_user = None
        try:
            return self._login(badge, pin)
        except StorageError as exc:  # as in scan(): the window shows it, the packer tries again
            return Outcome(Verdict.STORAGE_FAILED, f"NOT SAVED — scan your badge again. {exc}")

    def close_with_weight(self, grams: int) -> Outcome:
        """The stable weight read after CMD-CLOSE-CARTON, for the carton that command named.

        A weight that arrives after the packer scanned something else, or for a carton that is
        no longer the open one, closes nothing: it could be the wrong carton's.
        """
        wanted, self.weighing_for = self.weighing_for, None
        if self.session is None or self.user is None:
            return Outcome(Verdict.NO_ORDER, "No order is open.")
        carton = self.session.open_carton
        if wanted is None or carton is None or wanted != (self.session.order.order_id, carton.seq):
            return Outcome(Verdict.NOT_ALLOWED, "No carton is waiting for its weight: scan CMD-CLOSE-CARTON again.")
        outcome = p.close_carton(self.ctx, self.session, self.user, grams)
        return self._after(outcome)

    @property
    def awaiting_weight(self) -> bool:
        return self.weighing_for is not None

    def set_lead_reason(self, reason: str) -> bool:
        """The reason picked for the awaited lead action (short-ship, reprint); False if none awaits."""
        if self.lead_request is None or not reason.strip():
            return False
        self.lead_request.reason = reason.strip()
        return True

    def logout(self) -> Outcome:
        name = self.user.name if self.user else "nobody"
        self.user = None
        self.session = None  # the claim stays: logging in again resumes the order
        self.lead_request = None
        self.reprint_lead = None
        self.weighing_for = None
        return Outcome(Verdict.LOGGED_OUT, f"{name} logged out. Scan your badge.")

    # --- dispatch ---------------------------------------------------------------------------
    def _dispatch(self, bc: Barcode) -> Outcome:
        if self.user is None:
            if bc.is_command:
                return Outcome(Verdict.NOT_ALLOWED, "Log in first: scan your badge.")
            return self._login(bc.raw or bc.value, None)
        if bc.is_command and bc.value == "CMD-LOGOUT":
            return self.logout()
        if self.lead_request is not None and not bc.is_command:
            return self._lead_badge(bc)
        if self.reprint_lead is not None:
            approver, self.reprint_lead = self.reprint_lead, None
            if not bc.is_command:  # a carton label (SSCC) or an order number / tote
                return Outcome(Verdict.REPRINT_REQUESTED, f"Reprint approved by {approver.name}.",
                               data={"code": bc.value if bc.kind is BarcodeKind.SSCC else (bc.raw or bc.value),
                                     "lead": approver.name})
        if self.session is None:
            if bc.is_command and bc.value == "CMD-REPRINT":
                return self._ask_lead("reprint", "Reprint: a lead scans their badge, then the carton label or order.")
            if bc.is_command:
                return Outcome(Verdict.NO_ORDER, "No order open: scan an order number or tote first.")
            return self._claim(bc)
        session = self.session
        if bc.is_command:
            return self._command(bc.value, session)
        if session.awaiting_qty:
            return p.set_quantity(session, bc)
        if session.pending is not None and (bc.kind in (BarcodeKind.TEXT, BarcodeKind.NUMBER) or session.resolve(bc) is None) \
                and not self._is_carton(bc) and not self._catalogue_item(bc):
            return p.record_detail(self.ctx, session, self.user, bc.raw or bc.value)
        if self._is_carton(bc):
            return p.open_carton(self.ctx, session, self.user, bc.value)
        carton = session.open_carton
        if carton is not None and carton.status is CartonStatus.BLOCKED and session.resolve(bc) is None:
            lead = self._lead(bc)
            if lead is not None:
                return self._after(p.override_carton(self.ctx, session, lead))
        return p.record_item_scan(self.ctx, session, self.user, bc)

    def _command(self, cmd: str, session: PackSession) -> Outcome:
        assert self.user is not None
        if cmd == "CMD-CLOSE-CARTON":
            carton = session.open_carton
            if carton is None:
                return Outcome(Verdict.NEEDS_CARTON, "No carton is open.")
            if not carton.items:
                return Outcome(Verdict.NOT_ALLOWED, "The carton is empty: scan items into it first.")
            self.weighing_for = (session.order.order_id, carton.seq)
            return Outcome(Verdict.NEEDS_WEIGHT, f"Put carton {carton.seq} on the scale…",
                           data={"seq": carton.seq, "expected_g": session.expected_weight(carton)})
        if cmd == "CMD-NEW-CARTON":
            last = session.cartons[-1].type.code if session.cartons else None
            with self.ctx.uow(readonly=True) as uow:
                types = uow.carton_types()
            code = last or (types[0].code if types else None)
            if code is None:
                return Outcome(Verdict.NOT_ALLOWED, "No carton types are set up. Import cartons first.")
            return p.open_carton(self.ctx, session, self.user, code)
        if cmd == "CMD-UNDO":
            return p.undo_last_scan(self.ctx, session, self.user)
        if cmd == "CMD-QTY":
            session.awaiting_qty = True
            return Outcome(Verdict.NEEDS_QTY, "Quantity: scan or type the number, then the item.")
        if cmd == "CMD-SHORT":
            if not session.short_lines():
                return Outcome(Verdict.NOT_ALLOWED, "Nothing is missing: every line is complete.")
            return self._ask_lead("short", "Short-ship: a lead scans their badge to approve.")
        if cmd == "CMD-REPRINT":
            return self._ask_lead("reprint", "Reprint: a lead scans their badge.")
        if cmd == "CMD-CANCEL":
            outcome = p.release_order(self.ctx, session, self.user)
            if outcome.verdict is Verdict.ORDER_RELEASED:
                self.session = None
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
            return uow.product_by_barcode(bc.value) is not None

    def _is_carton(self, bc: Barcode) -> bool:
        return bc.kind is BarcodeKind.TEXT and bc.value.startswith(self.carton_prefix)

    def _ask_lead(self, action: str, message: str) -> Outcome:
        if self.user is not None and self.user.role.can_authorise:
            self.lead_request = _LeadRequest(action)
            return self._perform_lead(self.user)
        self.lead_request = _LeadRequest(action)
        return Outcome(Verdict.NEEDS_LEAD, message)

    def _lead(self, bc: Barcode) -> User | None:
        with self.ctx.uow(readonly=True) as uow:
            user = users.find_by_badge(uow, bc.raw or bc.value)
        return user if user is not None and user.role.can_authorise else None

    def _lead_badge(self, bc: Barcode) -> Outcome:
        lead = self._lead(bc)
        if lead is None:
            self.lead_request = None
            # nothing was counted: if the packer scanned an item here, say so
            return Outcome(Verdict.NOT_ALLOWED, "That is not a lead's badge: request cancelled. "
                           "If you scanned an item, it was not counted: scan it again.")
        return self._perform_lead(lead)

    def _perform_lead(self, lead: User) -> Outcome:
        request, self.lead_request = self.lead_request, None
        assert request is not None
        if self.session is None:
            if request.action == "reprint":  # nothing open: ask which carton or order
                self.reprint_lead = lead
                return Outcome(Verdict.NEEDS_REPRINT_TARGET,
                               f"Reprint approved by {lead.name}: scan the carton's label (SSCC) or the order number.")
            return Outcome(Verdict.NO_ORDER, "No order open.")
        if request.action == "short":
            return self._after(p.short_ship(self.ctx, self.session, lead, request.reason or SHORT_REASON_DEFAULT))
        if request.action == "reprint":
            return Outcome(Verdict.REPRINT_REQUESTED, f"Reprint approved by {lead.name}.",
                           data={"order_id": self.session.order.order_id, "lead": lead.name})
        return Outcome(Verdict.NOT_ALLOWED, f"Unknown lead request {request.action}.")

    # --- helpers ----------------------------------------------------------------------------
    def _login(self, badge: str, pin: str | None) -> Outcome:
        try:
            user = users.login(self.ctx.uow, badge, pin, clock=self.ctx.clock)
        except users.PinRequired as need:
            self.pin_user = need.user
            return Outcome(Verdict.NEEDS_PIN, f"{need.user.name}: enter your PIN.")
        except users.UserError as exc:
            return Outcome(Verdict.LOGIN_REFUSED, str(exc))
        session = p.resume_session(self.ctx)  # first: if this read fails, nobody is half logged in
        self.user, self.session = user, session
        if self.session is not None:
            return Outcome(Verdict.LOGGED_IN, f"Welcome back, {user.name}. Order {self.session.order.order_id} is still open here.",
                           data={"resumed": self.session.order.order_id})
        return Outcome(Verdict.LOGGED_IN, f"Hello {user.name}. Scan an order or tote.")

    def _claim(self, bc: Barcode) -> Outcome:
        assert self.user is not None
        try:
            self.session = p.claim_order(self.ctx, self.user, bc.raw or bc.value)
        except p.OrderRefused as exc:
            return Outcome(Verdict.ORDER_REFUSED, str(exc))
        order = self.session.order
        return Outcome(Verdict.ORDER_OPENED, f"Order {order.order_id}: {sum(ln.remaining for ln in order.lines)} item(s) to pack. Scan a carton.",
                       data={"order_id": order.order_id})

    def _after(self, outcome: Outcome) -> Outcome:
        if outcome.verdict is Verdict.ORDER_COMPLETE or outcome.data.get("claim_lost"):
            self.session = None  # packed, or no longer this bench's order
        return outcome
