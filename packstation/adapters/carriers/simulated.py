"""A simulated carrier for the demo and the end-to-end tests: tracking numbers and labels the way a
carrier hands them out, an end-of-day close, and tracking that moves on after the close.

It behaves like a carrier API seen from the station (``services.carriers.CarrierPort``), in
memory: each created shipment gets the next tracking number of the account's prefix and a label
(ZPL for a ZPL label printer, else PDF) that names the carrier, the tracking number (as a Code 128
barcode) and the ship-to address. ``simulate = "error"`` refuses every shipment as a carrier
refuses a bad address; ``simulate = "timeout"`` answers after ``timeout_s`` with a timeout;
``delay_s`` makes it slow (it answers after that long, or times out at ``timeout_s``).
After the close a parcel reports *in transit*, and *delivered* ``deliver_after_s`` later.

Return parcels: :meth:`SimulatedCarrier.issue_return_label` hands out a return label's tracking
number (as a shop's returns portal gets one from the carrier for its customer); the parcel reports
nothing until :meth:`SimulatedCarrier.hand_in` (the customer drops it at a parcel shop), then *in
transit*, and *delivered* (to the warehouse) ``deliver_after_s`` later.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

from packstation.config import CarrierConfig
from packstation.domain.barcodes import with_check_digit
from packstation.domain.documents import Address as DocAddress
from packstation.domain.documents import LabelData
from packstation.domain.lifecycle import OrderStatus
from packstation.services.carriers import (
    CarrierClose,
    CarrierError,
    CarrierPort,
    CarrierTimeout,
    CreatedLabel,
    ShipmentRequest,
    TrackingUpdate,
)


@dataclass
class _Shipment:
    tracking_number: str
    reference: str
    closed_at: float | None = None
    voided: bool = False


class SimulatedCarrier(CarrierPort):
    connector = "simulated"
    supports_close = True

    def __init__(self, cfg: CarrierConfig, *, deliver_after_s: float = 120.0, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.code = cfg.code
        self.cfg = cfg
        self.min_poll_interval_s = cfg.track_every_s
        self.track_batch = cfg.track_batch
        self.deliver_after_s = deliver_after_s
        self.clock = clock
        self.prefix = cfg.tracking_prefix or f"SIM{cfg.code[:4]}"
        self._serial = itertools.count(int(time.time() * 10) % 10_000_000)
        self._lock = threading.Lock()
        self.shipments: dict[str, _Shipment] = {}  # shipment id -> shipment
        self.closes: list[CarrierClose] = []
        self.requests: list[ShipmentRequest] = []  # what it was asked (tests look)

    # --- the port -----------------------------------------------------------------------
    def create_shipment(self, request: ShipmentRequest) -> CreatedLabel:
        self.requests.append(request)
        if self.cfg.simulate == "timeout" or self.cfg.delay_s >= self.cfg.timeout_s:
            time.sleep(self.cfg.timeout_s)
            raise CarrierTimeout(f"{self.code} did not answer within {self.cfg.timeout_s:g} s (simulated)")
        if self.cfg.delay_s:
            time.sleep(self.cfg.delay_s)  # a slow carrier: the answer comes, late
        if self.cfg.simulate == "error":
            raise CarrierError(f"{self.code}: the consignee's address could not be verified (simulated refusal)")
        with self._lock:
            number = self._next_number()
            shipment_id = f"{self.code}-{number}"
            self.shipments[shipment_id] = _Shipment(number, request.reference)
        fmt = self.cfg.label_format.upper() if self.cfg.label_format != "auto" else request.label_format
        return CreatedLabel(number, shipment_id, self._label(request, number, fmt), fmt)

    def void(self, shipment_id: str) -> None:
        with self._lock:
            shipment = self.shipments.get(shipment_id)
            if shipment is None:
                raise CarrierError(f"{self.code}: no shipment {shipment_id}", retryable=False)
            if shipment.closed_at is not None:
                raise CarrierError(f"{self.code}: shipment {shipment_id} is on a closed manifest", retryable=False)
            shipment.voided = True

    def close_manifest(self, shipment_ids: list[str], tracking_numbers: list[str]) -> CarrierClose:
        now = self.clock()
        with self._lock:
            for sid in shipment_ids:
                if sid in self.shipments:
                    self.shipments[sid].closed_at = now
            close = CarrierClose(f"{self.code}-EOD-{len(self.closes) + 1:04d}")
            self.closes.append(close)
        return close

    def issue_return_label(self, reference: str) -> str:
        """A return label for a customer's parcel (not a port method: the shop asks the carrier for it)."""
        with self._lock:
            number = self._next_number()
            self.shipments[f"{self.code}-RET-{number}"] = _Shipment(number, reference)
        return number

    def hand_in(self, tracking_number: str) -> None:
        """The customer handed the return parcel in: the carrier has it from now."""
        with self._lock:
            shipment = next((s for s in self.shipments.values() if s.tracking_number == tracking_number), None)
            if shipment is None:
                raise CarrierError(f"{self.code}: no parcel {tracking_number}", retryable=False)
            shipment.closed_at = self.clock()

    def track(self, tracking_numbers: list[str]) -> list[TrackingUpdate]:
        now = self.clock()
        by_number = {s.tracking_number: s for s in self.shipments.values()}
        out = []
        for number in tracking_numbers:
            shipment = by_number.get(number)
            if shipment is None or shipment.voided or shipment.closed_at is None:
                continue
            from datetime import UTC, datetime

            if now - shipment.closed_at >= self.deliver_after_s:
                out.append(TrackingUpdate(number, OrderStatus.DELIVERED,
                                          datetime.fromtimestamp(shipment.closed_at + self.deliver_after_s, UTC),
                                          "Delivered (simulated)", "DLV"))
            else:
                out.append(TrackingUpdate(number, OrderStatus.IN_TRANSIT,
                                          datetime.fromtimestamp(shipment.closed_at, UTC), "Picked up (simulated)",
                                          "PU"))
        return out

    # --- helpers ------------------------------------------------------------------------
    def _next_number(self) -> str:
        digits = 20 - len(self.prefix) - 1
        body = f"{self.prefix}{next(self._serial) % 10**digits:0{digits}d}"
        return with_check_digit(body) if body.isdigit() else body + str(next(self._serial) % 10)

    def _label(self, request: ShipmentRequest, number: str, fmt: str) -> bytes:
        from packstation.adapters.documents import render_label

        t = request.ship_to
        data = LabelData(
            ship_from=request.ship_from,
            ship_to=DocAddress(name=t.name, line1=t.line1, line2=t.line2, city=t.city, region=t.region,
                               postcode=t.postcode, country=t.country, phone=request.recipient_phone),
            carrier=f"{self.code} (simulated)", service=request.service, order_id=request.order_id,
            carton_no=request.carton_seq, carton_count=None, weight_g=request.parcel.weight_g, sscc=request.sscc,
            tracking_number=number, cod_amount=request.cod_amount, cod_currency=request.currency,
        )
        return render_label(data, "zpl" if fmt == "ZPL" else "pdf")
