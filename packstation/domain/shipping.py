"""Shipping: carrier manifests at the dispatch dock, carrier labels, and an order's stages.

A **manifest** is the list a driver signs at hand-over: the cartons of one carrier (and, if it
was opened for one, one service) loaded at the dock. It is *open* while cartons are scanned onto
it and *closed* once; closing gives it its number (the ``manifest`` series: no gaps) and hands
its orders over to the carrier. A carton is on at most one manifest.

Every dock scan is checked against the truth the station sees (:class:`DockCarton`, read in the
scan's transaction) by :func:`check_load`, which returns the verdict: loaded, or why not. The
rules are plain functions here; ``services.dock`` stores what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from packstation.domain.lifecycle import OrderStatus
from packstation.domain.packing import CartonStatus, Verdict

CARRIER_PREFIX = "CARRIER-"
SPLIT_REASONS = ("carton damaged, repacked later", "carton missing at the dock", "driver's truck full",
                 "customer asked for partial delivery", "other")


class ManifestStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class LoadedCarton:
    """One carton on a manifest, as the manifest (and its PDF) lists it."""

    order_id: str
    seq: int
    sscc: str
    tracking_number: str | None
    service: str
    weight_g: int
    loaded_by: str
    loaded_at: datetime | None = None
    load_seq: int = 0  # the manifest's own order of loading (CMD-UNDO takes the highest)


@dataclass
class Manifest:
    id: str  # a UUID, from the moment it is opened
    carrier: str  # the carrier code, upper-cased (``DHL``)
    service: str  # "" = every service of the carrier
    status: ManifestStatus
    opened_at: datetime
    opened_by: str
    station_id: str
    number: int | None = None  # from the ``manifest`` number series, given at close
    closed_at: datetime | None = None
    closed_by: str | None = None
    close_key: str | None = None  # the idempotency key of the close (a retried close finds it)
    split_by: str | None = None  # the lead who approved closing without every carton of an order
    split_reason: str | None = None
    carrier_ref: str | None = None  # what the carrier's end-of-day close answered
    cartons: list[LoadedCarton] = field(default_factory=list)

    @property
    def code(self) -> str:
        """``M-000042`` once closed; before that the first 8 characters of its id."""
        return manifest_code(self.number) if self.number is not None else f"open-{self.id[:8]}"

    @property
    def label(self) -> str:
        return self.carrier + (f" / {self.service}" if self.service else "")

    @property
    def weight_g(self) -> int:
        return sum(c.weight_g for c in self.cartons)

    @property
    def order_ids(self) -> list[str]:
        return sorted({c.order_id for c in self.cartons})


def manifest_code(number: int) -> str:
    return f"M-{number:06d}"


def parse_manifest_code(text: str) -> int | None:
    """``M-000042`` or ``42`` -> 42; None if it is neither."""
    text = text.strip().upper()
    if text.startswith("M-"):
        text = text[2:]
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class DockCarton:
    """What the dock must know of a scanned carton, read from the truth in one query."""

    order_id: str
    seq: int
    status: CartonStatus
    sscc: str | None
    tracking_number: str | None
    order_status: OrderStatus
    carrier: str
    service: str
    weight_g: int | None
    manifest_id: str | None = None
    manifest_status: ManifestStatus | None = None
    manifest_number: int | None = None
    label_pending: bool = False  # its carrier label is not created yet (a label request waits)
    pulled_at: datetime | None = None  # set aside at the dock (order cancelled after packing)
    label_carrier: str | None = None  # the carrier account that labelled it (None: our own SSCC label)
    shipment_id: str | None = None

    @property
    def ref(self) -> str:
        return self.sscc or f"{self.order_id}/{self.seq}"


@dataclass(frozen=True)
class LoadDecision:
    verdict: Verdict
    message: str
    headline: str = ""

    @property
    def load(self) -> bool:
        return self.verdict is Verdict.CARTON_LOADED


def parse_carrier_code(value: str) -> tuple[str, str] | None:
    """``CARRIER-DHL`` -> ("DHL", ""); ``CARRIER-DHL/EXPRESS`` -> ("DHL", "EXPRESS"); else None."""
    value = value.strip().upper()
    if not value.startswith(CARRIER_PREFIX):
        return None
    rest = value[len(CARRIER_PREFIX):].strip()
    carrier, _, service = rest.partition("/")
    carrier, service = carrier.strip(), service.strip()
    return (carrier, service) if carrier else None


def carrier_code(carrier: str, service: str = "") -> str:
    """The dock card's barcode for a carrier (and one of its services)."""
    return f"{CARRIER_PREFIX}{carrier.strip().upper()}" + (f"/{service.strip().upper()}" if service else "")


def same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def check_load(carton: DockCarton | None, manifest: Manifest, code: str) -> LoadDecision:
    """May *carton* (found for the scanned *code*, or None) go onto the open *manifest*?"""
    if carton is None:
        return LoadDecision(Verdict.UNKNOWN_CODE, f"{code} is no carton this warehouse sealed (no SSCC or tracking "
                            "number matches). Put it aside for a lead.", "UNKNOWN CODE")
    what = f"Carton {carton.ref} (order {carton.order_id})"
    if carton.order_status is OrderStatus.CANCELLED:
        return LoadDecision(Verdict.ORDER_PULLED, f"Order {carton.order_id} was cancelled after packing: do NOT load "
                            "it. Pull every carton of the order and take them to the lead.", "PULL — ORDER CANCELLED")
    if carton.manifest_id == manifest.id:
        return LoadDecision(Verdict.ALREADY_LOADED, f"{what} is already on this manifest: nothing changed.",
                            "ALREADY LOADED")
    if carton.manifest_status is ManifestStatus.CLOSED:
        number = manifest_code(carton.manifest_number) if carton.manifest_number is not None else "another"
        return LoadDecision(Verdict.ON_CLOSED_MANIFEST, f"{what} was handed over on manifest {number} already. "
                            "It should not be here: take it to the lead.", "ALREADY HANDED OVER")
    if carton.status is not CartonStatus.CLOSED or not carton.sscc:
        return LoadDecision(Verdict.NOT_SEALED, f"{what} is not sealed yet ({carton.status.value}): it goes back to "
                            "the bench.", "CARTON NOT SEALED")
    # packed; or handed over (in transit, delivered) without this carton: a lead split the order at
    # a close, and the rest goes on the carrier's next manifest
    if not carton.order_status.shipped:
        return LoadDecision(Verdict.NOT_SEALED, f"Order {carton.order_id} is {carton.order_status.value.replace('_', ' ')}"
                            ", not packed: its other cartons are still at the bench. Set this one aside.",
                            "ORDER NOT PACKED")
    if not same(carton.carrier, manifest.carrier):
        return LoadDecision(Verdict.WRONG_CARRIER, f"{what} goes with {carton.carrier} {carton.service}, not "
                            f"{manifest.label}: put it on the {carton.carrier} pile.", f"WRONG CARRIER — {carton.carrier}")
    if manifest.service and not same(carton.service, manifest.service):
        return LoadDecision(Verdict.WRONG_CARRIER, f"{what} is {carton.carrier} {carton.service}, this manifest takes "
                            f"{manifest.label} only.", f"WRONG SERVICE — {carton.service}")
    if carton.manifest_id is not None:  # on another open manifest (another dock, or another service's)
        return LoadDecision(Verdict.ON_OTHER_MANIFEST, f"{what} is on another open manifest of {carton.carrier}: "
                            "not loaded here. Put it on that manifest's pallet, or unload it there first (CMD-UNDO "
                            "at that dock).", "ON ANOTHER MANIFEST")
    if carton.label_pending:
        return LoadDecision(Verdict.LABEL_MISSING, f"{what} has no carrier label yet (the carrier has not answered): "
                            "set it aside until its label prints.", "NO CARRIER LABEL YET")
    if carton.order_status is not OrderStatus.PACKED:
        return LoadDecision(Verdict.CARTON_LOADED, f"{what} loaded: the rest of an order handed over without it "
                            "(a split). Closing this manifest hands it over.", "LOADED — REST OF A SPLIT ORDER")
    return LoadDecision(Verdict.CARTON_LOADED, f"{what} loaded.", "LOADED")


def handed_over_elsewhere(carton: DockCarton, manifest: Manifest) -> bool:
    """On a closed manifest other than *manifest*: it left with an earlier driver."""
    return carton.manifest_status is ManifestStatus.CLOSED and carton.manifest_id != manifest.id


@dataclass(frozen=True)
class MissingCartons:
    """Orders on a manifest whose cartons are not all loaded."""

    order_id: str
    loaded: int
    total: int
    missing: tuple[str, ...]  # the SSCCs (or order/seq) not loaded


def incomplete_orders(manifest: Manifest, cartons_by_order: dict[str, list[DockCarton]]) -> list[MissingCartons]:
    """Every loaded order must leave whole: the orders that would be split, and what is missing.

    Cartons handed over already (on another, closed manifest: an earlier split) are not missing."""
    loaded = {(c.order_id, c.seq) for c in manifest.cartons}
    out = []
    for order_id in manifest.order_ids:
        all_cartons = [c for c in cartons_by_order.get(order_id, []) if c.sscc and not handed_over_elsewhere(c, manifest)]
        missing = tuple(c.ref for c in all_cartons if (c.order_id, c.seq) not in loaded)
        if missing:
            out.append(MissingCartons(order_id, len(all_cartons) - len(missing), len(all_cartons), missing))
    return out


# --- carrier labels ---------------------------------------------------------------------------


class LabelRequestStatus(StrEnum):
    PENDING = "pending"  # waiting for the carrier (first try, or the next retry)
    WORKING = "working"  # a worker is asking the carrier right now
    FAILED = "failed"  # the last try failed; retried at next_try_at
    DONE = "done"  # the label was created and its print job written
    CANCELLED = "cancelled"  # the order was cancelled: no label wanted any more

    @property
    def waiting(self) -> bool:
        return self in (LabelRequestStatus.PENDING, LabelRequestStatus.WORKING, LabelRequestStatus.FAILED)


@dataclass(frozen=True)
class LabelRequest:
    """A carrier label still to be created for a sealed carton (the carrier failed at the seal)."""

    id: str
    order_id: str
    carton_seq: int
    sscc: str
    carrier: str  # the carrier account (config code), or "marketplace" for an order's own label URL
    station_id: str  # whose label printer prints it
    status: LabelRequestStatus = LabelRequestStatus.PENDING
    attempts: int = 0
    error: str = ""
    next_try_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def retry_delay_s(attempts: int) -> float:
    """Seconds before the next try after *attempts* failed ones: 15 s doubling to 10 minutes."""
    return float(min(15 * 2 ** max(attempts - 1, 0), 600))


# --- stages ------------------------------------------------------------------------------------

STAGES = ("received", "released", "picking", "packing", "packed", "handed_over", "in_transit", "delivered")


__all__ = [
    "CARRIER_PREFIX", "SPLIT_REASONS", "STAGES", "DockCarton", "LabelRequest", "LabelRequestStatus",
    "LoadDecision", "LoadedCarton", "Manifest", "ManifestStatus", "MissingCartons", "carrier_code", "check_load",
    "handed_over_elsewhere", "incomplete_orders", "manifest_code", "parse_carrier_code", "parse_manifest_code", "retry_delay_s", "same",
]
