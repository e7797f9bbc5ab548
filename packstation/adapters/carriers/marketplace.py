"""Labels a marketplace made for an order (``label_url`` in the order record), fetched over HTTP(S).

The marketplace already bought the shipment (its tracking number is the order's
``tracking_number``); the station only downloads the label document and prints it instead of a
carrier's or its own. A download that fails or takes longer than the timeout is retried like a
carrier that does not answer.
"""

from __future__ import annotations

import httpx

from packstation.services.carriers import (
    CarrierError,
    CarrierPort,
    CarrierTimeout,
    CreatedLabel,
    ShipmentRequest,
)

MAX_LABEL_BYTES = 5 * 1024 * 1024


class MarketplaceLabels(CarrierPort):
    code = "marketplace"
    connector = "http"

    def __init__(self, *, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s

    def create_shipment(self, request: ShipmentRequest) -> CreatedLabel:
        url = request.label_url
        if not url:
            raise CarrierError("the order has no label URL", retryable=False)
        try:
            response = httpx.get(url, timeout=self.timeout_s, follow_redirects=True)
        except httpx.TimeoutException as exc:
            raise CarrierTimeout(f"the marketplace's label server did not answer within {self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise CarrierError(f"the marketplace's label could not be fetched: {exc}") from exc
        if response.status_code != 200:
            raise CarrierError(f"the marketplace's label server answered {response.status_code} for {url}")
        body = response.content
        if len(body) > MAX_LABEL_BYTES:
            raise CarrierError(f"the marketplace's label is {len(body)} bytes: too big for a label", retryable=False)
        head = body.lstrip()[:4]
        if head.startswith(b"%PDF"):
            fmt = "PDF"
        elif head[:3].upper() in (b"^XA", b"~DG", b"^FX"):
            fmt = "ZPL"
        else:
            raise CarrierError("the marketplace's label is neither a PDF nor ZPL", retryable=False)
        return CreatedLabel("", "", body, fmt)

    def void(self, shipment_id: str) -> None:
        return None  # the marketplace's shipment is the marketplace's to cancel

    def track(self, tracking_numbers: list[str]) -> list:  # type: ignore[type-arg]
        return []
