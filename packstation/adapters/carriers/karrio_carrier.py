"""A carrier account reached through karrio (the open-source multi-carrier SDK).

``[carriers.DHL] connector = "dhl_parcel_de"`` makes a karrio gateway for that connector with the
account's credentials (``credentials``), its connector config (``options``) and, for a sandbox, a
proxy or the tests' stub, ``server_url`` (every API address of the connector is moved to that
scheme and host, its path kept). The connector package (``karrio-dhl-parcel-de``, ...) must be
installed; karrio finds it by its entry point.

Bounded waits: karrio's connectors call ``urllib`` without a timeout. Every call here runs on a
small pool of threads with the account's ``timeout_s`` as the socket timeout (set for that thread
through :data:`_local`, read by the thin wrapper around ``karrio.lib.request``), and the caller waits
at most ``timeout_s`` for the answer: a carrier that hangs costs a seal at most that long.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from packstation.config import CarrierConfig
from packstation.domain.lifecycle import OrderStatus
from packstation.services.carriers import (
    CarrierClose,
    CarrierError,
    CarrierPort,
    CarrierTimeout,
    CreatedLabel,
    ShipmentRequest,
    TrackingUpdate,
    decode_label,
)

log = logging.getLogger(__name__)
_local = threading.local()
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="carrier")
_shim_lock = threading.Lock()
_shimmed = False

# karrio's tracker statuses -> the stage they move an order to
_TRACK_STATUS = {
    "delivered": OrderStatus.DELIVERED,
    "in_transit": OrderStatus.IN_TRANSIT,
    "out_for_delivery": OrderStatus.IN_TRANSIT,
    "delivery_delayed": OrderStatus.IN_TRANSIT,
    "ready_for_pickup": OrderStatus.IN_TRANSIT,
    "delivery_failed": OrderStatus.IN_TRANSIT,
}


def _install_timeout() -> None:
    """Give karrio's HTTP calls the timeout of the thread's account (they pass none themselves)."""
    global _shimmed
    with _shim_lock:
        if _shimmed:
            return
        import karrio.lib as klib

        for name in ("request", "request_with_response"):
            original = getattr(klib, name)

            def bounded(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = getattr(_local, "timeout", None)
                kwargs["max_retries"] = min(int(kwargs.get("max_retries") or 0), 1)
                return _original(*args, **kwargs)

            setattr(klib, name, bounded)
        try:
            from loguru import logger

            logger.disable("karrio")  # its own log lines on stderr; failures reach us as exceptions
        except ImportError:
            pass
        _shimmed = True


def _moved(url: str, base: str) -> str:
    """*url* with the scheme and host (and any path prefix) of *base*: ``https://api-eu.dhl.com/x`` ->
    ``http://127.0.0.1:8080/x``."""
    target = urllib.parse.urlsplit(base)
    parts = urllib.parse.urlsplit(url)
    path = target.path.rstrip("/") + parts.path
    return urllib.parse.urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))


class KarrioCarrier(CarrierPort):
    def __init__(self, cfg: CarrierConfig, *, account_country: str = "DE") -> None:
        self.cfg = cfg
        self.code = cfg.code
        self.connector = cfg.connector
        self.account_country = account_country
        self.min_poll_interval_s = cfg.track_every_s
        self.track_batch = cfg.track_batch
        self._gateway: Any = None
        self._lock = threading.Lock()

    # --- karrio ---------------------------------------------------------------------------
    def gateway(self) -> Any:
        with self._lock:
            if self._gateway is None:
                self._gateway = self._make_gateway()
            return self._gateway

    def _make_gateway(self) -> Any:
        _install_timeout()
        import karrio.sdk as karrio

        provider = karrio.gateway.providers.get(self.connector)
        if provider is None:
            raise CarrierError(f"karrio has no connector {self.connector!r} installed here "
                               f"(pip install karrio-{self.connector.replace('_', '-')}); [carriers.{self.code}]",
                               retryable=False)
        settings_type = provider.Settings
        if self.cfg.server_url:
            base = self.cfg.server_url

            def move(name: str) -> property:
                original = getattr(provider.Settings, name)
                return property(lambda settings: _moved(original.fget(settings), base))

            names = [n for n in dir(provider.Settings) if n.endswith("server_url")
                     and isinstance(getattr(provider.Settings, n), property)]
            settings_type = type(f"Moved{provider.Settings.__name__}", (provider.Settings,),
                                 {n: move(n) for n in names})
        values: dict[str, Any] = {**self.cfg.settings(), "test_mode": self.cfg.test_mode,
                                  "config": dict(self.cfg.options), "carrier_id": self.code.lower()}
        if hasattr(provider.Settings, "account_country_code"):
            values.setdefault("account_country_code", self.account_country)
        try:
            settings = settings_type(**values)
        except TypeError as exc:
            raise CarrierError(f"[carriers.{self.code}] credentials do not fit connector {self.connector}: {exc}",
                               retryable=False) from exc
        return karrio.gateway[self.connector].create(settings)

    def _run(self, what: str, fn: Any) -> Any:
        """Run *fn* (a karrio call) with the account's timeout; wait at most that long for it."""
        timeout = self.cfg.timeout_s

        def call() -> Any:
            _local.timeout = timeout
            try:
                return fn()
            finally:
                _local.timeout = None

        future = _POOL.submit(call)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise CarrierTimeout(f"{self.code} did not answer within {timeout:g} s ({what})") from None
        except CarrierError:
            raise
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise CarrierTimeout(f"{self.code} did not answer within {timeout:g} s ({what})") from exc
            raise CarrierError(f"{self.code} cannot be reached ({what}): {reason}") from exc
        except Exception as exc:  # noqa: BLE001 - karrio raises its own error types (ParsedMessagesError, ...)
            messages = getattr(exc, "messages", None)
            if messages:
                raise CarrierError(f"{self.code} refused ({what}): {_messages(messages)}") from exc
            raise CarrierError(f"{self.code} failed ({what}): {exc}") from exc

    # --- the port -----------------------------------------------------------------------
    @property
    def supports_close(self) -> bool:  # type: ignore[override]
        try:
            return "create_manifest" in self.gateway().proxy_methods  # what the connector implements itself
        except CarrierError:
            return False

    def create_shipment(self, request: ShipmentRequest) -> CreatedLabel:
        import karrio.core.models as models
        import karrio.sdk as karrio

        gateway = self.gateway()
        fmt = self.cfg.label_format.upper() if self.cfg.label_format != "auto" else request.label_format
        f, t, p = request.ship_from, request.ship_to, request.parcel
        payload = models.ShipmentRequest(
            service=self._service(request.service),
            shipper=models.Address(company_name=f.name, address_line1=f.line1, address_line2=f.line2 or None,
                                   postal_code=f.postcode, city=f.city, country_code=f.country),
            recipient=models.Address(person_name=t.name, address_line1=t.line1, address_line2=t.line2 or None,
                                     postal_code=t.postcode, city=t.city, state_code=t.region or None,
                                     country_code=t.country, email=request.recipient_email or None,
                                     phone_number=request.recipient_phone or None),
            parcels=[models.Parcel(weight=max(p.weight_g, 1) / 1000, weight_unit="KG",
                                   length=(p.length_mm / 10) or None, width=(p.width_mm / 10) or None,
                                   height=(p.height_mm / 10) or None, dimension_unit="CM",
                                   reference_number=request.sscc)],
            reference=request.reference,
            label_type=self._label_type(fmt),
        )
        shipment, messages = self._run("create shipment",
                                       lambda: karrio.Shipment.create(payload).from_(gateway).parse())
        if shipment is None or not shipment.tracking_number:
            raise CarrierError(f"{self.code} refused the shipment: {_messages(messages) or 'no label in the answer'}")
        label = getattr(shipment.docs, "label", None) if shipment.docs else None
        if not label:
            raise CarrierError(f"{self.code} created shipment {shipment.tracking_number} but sent no label")
        label_type = (shipment.label_type or fmt).upper()
        return CreatedLabel(str(shipment.tracking_number), str(shipment.shipment_identifier or shipment.tracking_number),
                            decode_label(label), "ZPL" if label_type.startswith("ZPL") else "PDF")

    def _label_type(self, fmt: str) -> str:
        """The connector's own label type for ZPL or PDF (``options.label_type`` chooses it exactly).

        Connectors with label types of their own (DHL Parcel DE: ``ZPL2_910_300_700``, ...) get the
        first one of that format that is not an A4 sheet: the station prints on a label printer."""
        if "label_type" in self.cfg.options:
            return str(self.cfg.options["label_type"])
        import importlib

        try:
            units = importlib.import_module(f"karrio.providers.{self.connector}.units")
        except ImportError:
            return fmt
        kinds = getattr(units, "LabelType", None)
        if kinds is None:
            return fmt
        names = [k.name for k in kinds]
        return next((n for n in names if n.upper().startswith(fmt) and "A4" not in n.upper()), fmt)

    def _service(self, service: str) -> str:
        for name, code in self.cfg.services.items():
            if name.casefold() == service.casefold():
                return code
        return service

    def void(self, shipment_id: str) -> None:
        import karrio.core.models as models
        import karrio.sdk as karrio

        gateway = self.gateway()
        confirmation, messages = self._run("void", lambda: karrio.Shipment.cancel(
            models.ShipmentCancelRequest(shipment_identifier=shipment_id)).from_(gateway).parse())
        if confirmation is None or not getattr(confirmation, "success", False):
            raise CarrierError(f"{self.code} did not void shipment {shipment_id}: {_messages(messages)}")

    def close_manifest(self, shipment_ids: list[str], tracking_numbers: list[str]) -> CarrierClose | None:
        if not self.supports_close:
            return None
        import karrio.core.models as models
        import karrio.sdk as karrio

        gateway = self.gateway()
        request = models.ManifestRequest(shipment_identifiers=shipment_ids, address=models.Address(
            country_code=self.account_country), options={})
        details, messages = self._run("end-of-day close", lambda: karrio.Manifest.create(request).from_(gateway).parse())
        if details is None:
            raise CarrierError(f"{self.code} refused the end-of-day close: {_messages(messages)}")
        ref = (getattr(details, "meta", None) or {}).get("manifest_id") or getattr(details, "id", None) or "closed"
        return CarrierClose(str(ref))

    def track(self, tracking_numbers: list[str]) -> list[TrackingUpdate]:
        import karrio.core.models as models
        import karrio.sdk as karrio

        if not tracking_numbers:
            return []
        gateway = self.gateway()
        details, messages = self._run("tracking", lambda: karrio.Tracking.fetch(
            models.TrackingRequest(tracking_numbers=list(tracking_numbers))).from_(gateway).parse())
        if not details and messages:
            log.info("%s tracking: %s", self.code, _messages(messages))
        out = []
        for d in details or []:
            status = _TRACK_STATUS.get(str(getattr(d.status, "value", d.status) or ""))
            if status is None and getattr(d, "delivered", False):
                status = OrderStatus.DELIVERED
            latest = _latest(d.events or [])
            out.append(TrackingUpdate(str(d.tracking_number), status, _when(latest),
                                      (latest.description or "") if latest else "", (latest.code or "") if latest else ""))
        return out


def _latest(events: list[Any]) -> Any:
    return max(events, key=lambda e: getattr(e, "timestamp", None) or f"{e.date or ''}T{e.time or ''}", default=None)


def _when(event: Any) -> datetime | None:
    if event is None:
        return None
    stamp = getattr(event, "timestamp", None)
    if stamp:
        try:
            at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            return at if at.tzinfo else at.replace(tzinfo=UTC)
        except ValueError:
            pass
    return None


def _messages(messages: Any) -> str:
    out = []
    for m in messages or []:
        text = getattr(m, "message", None) or str(m)
        code = getattr(m, "code", None)
        out.append(f"{text} ({code})" if code else text)
    return "; ".join(out)


__all__ = ["KarrioCarrier"]
