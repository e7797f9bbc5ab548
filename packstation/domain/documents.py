"""The data each printed document is rendered from.

The packing services build these records from the database; the renderers in
``packstation.adapters.documents`` turn them into ZPL, ESC/POS or PDF. Keeping them plain
(no ORM objects, no third-party types) lets every renderer be tested without a database and
keeps the rendering code from reaching back into storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from packstation.domain.barcodes import gtin_check_digit


class DocumentDataError(ValueError):
    """A document record that cannot be printed as given (say, an SSCC with a bad check digit)."""


def validate_sscc(sscc: str) -> str:
    """Return *sscc* if it is 18 digits with a correct GS1 check digit, else raise."""
    if len(sscc) != 18 or not sscc.isascii() or not sscc.isdigit():
        raise DocumentDataError(f"SSCC {sscc!r} must be exactly 18 digits")
    expected = gtin_check_digit(sscc[:17])
    if int(sscc[17]) != expected:
        raise DocumentDataError(
            f"SSCC {sscc} has check digit {sscc[17]}, expected {expected}; "
            "build it with packstation.domain.barcodes.sscc18()"
        )
    return sscc


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postcode: str
    country: str  # ISO 3166-1 alpha-2
    line2: str = ""
    region: str = ""
    company: str = ""
    phone: str = ""

    def lines(self) -> list[str]:
        """The address as printed, one entry per line, empty parts left out."""
        city_line = " ".join(p for p in (self.postcode, self.city) if p)
        if self.region:
            city_line = f"{city_line}, {self.region}" if city_line else self.region
        parts = [self.name, self.company, self.line1, self.line2, city_line, self.country]
        return [p for p in parts if p]


@dataclass(frozen=True)
class LabelData:
    """One carton's shipping label."""

    ship_from: Address
    ship_to: Address
    carrier: str
    service: str
    order_id: str
    carton_no: int
    carton_count: int | None  # None: not known yet (more cartons of the order may follow)
    weight_g: int
    sscc: str  # 18 digits, check digit included
    tracking_number: str | None = None
    cod_amount: Decimal | None = None
    cod_currency: str = ""
    company_prefix_length: int = 7  # digits of the GS1 company prefix, for the readable line

    def __post_init__(self) -> None:
        validate_sscc(self.sscc)
        if self.carton_no < 1 or (self.carton_count is not None and self.carton_no > self.carton_count):
            raise DocumentDataError(
                f"carton {self.carton_no} of {self.carton_count} is impossible; "
                "carton_no must be between 1 and carton_count"
            )
        if self.weight_g < 0:
            raise DocumentDataError(f"weight {self.weight_g} g is negative")
        if not 6 <= self.company_prefix_length <= 12:
            raise DocumentDataError("company_prefix_length must be 6 to 12 digits")
        if self.cod_amount is not None and not self.cod_currency:
            raise DocumentDataError("a cash-on-delivery amount needs its currency (cod_currency)")

    @property
    def carton_of(self) -> str:
        """"2 of 3", or "2" while the order's carton count is not known yet."""
        return f"{self.carton_no} of {self.carton_count}" if self.carton_count else str(self.carton_no)


@dataclass(frozen=True)
class SlipLine:
    sku: str
    name: str
    qty_ordered: int
    qty_shipped: int
    lots: tuple[str, ...] = ()
    serials: tuple[str, ...] = ()

    @property
    def qty_short(self) -> int:
        return max(0, self.qty_ordered - self.qty_shipped)


@dataclass(frozen=True)
class PackingSlipData:
    order_id: str
    order_date: date
    customer_name: str
    ship_to: Address
    ship_from: Address
    lines: tuple[SlipLine, ...]
    carton_count: int = 1
    channel: str = ""
    return_instructions: str = ""
    return_code: str = ""  # RMA / return barcode value; empty: no return barcode printed

    @property
    def short_lines(self) -> tuple[SlipLine, ...]:
        return tuple(line for line in self.lines if line.qty_short)


@dataclass(frozen=True)
class PickLine:
    location: str
    sku: str
    name: str
    qty: int
    order_id: str
    tote: str = ""
    lot: str = ""
    expiry: date | None = None
    barcode: str = ""  # what the picker scans to confirm the line; empty: the SKU


@dataclass(frozen=True)
class PickOrder:
    order_id: str
    tote: str = ""
    line_count: int = 0


@dataclass(frozen=True)
class PicklistData:
    wave_id: str
    created_at: str  # already formatted, e.g. "2026-11-26 14:05"
    orders: tuple[PickOrder, ...]
    lines: tuple[PickLine, ...]  # any order; the renderer sorts them in walking order
    carrier: str = ""
    station: str = ""


@dataclass(frozen=True)
class ManifestCarton:
    sscc: str
    order_id: str
    weight_g: int
    tracking_number: str = ""
    service: str = ""

    def __post_init__(self) -> None:
        validate_sscc(self.sscc)


@dataclass(frozen=True)
class ManifestData:
    manifest_id: str
    carrier: str
    created_at: str
    ship_from: Address
    cartons: tuple[ManifestCarton, ...]
    dispatcher: str = ""

    @property
    def total_weight_g(self) -> int:
        return sum(c.weight_g for c in self.cartons)


@dataclass(frozen=True)
class CreditLine:
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    tax_rate: Decimal = Decimal("0")  # e.g. Decimal("0.21")

    @property
    def net(self) -> Decimal:
        return self.unit_price * self.qty

    @property
    def tax(self) -> Decimal:
        return (self.net * self.tax_rate).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class CreditNoteData:
    number: str
    issued: date
    order_id: str
    customer: Address
    issuer: Address
    currency: str
    lines: tuple[CreditLine, ...]
    reason: str
    rma_id: str = ""

    def __post_init__(self) -> None:
        for line in self.lines:
            if not isinstance(line.unit_price, Decimal):
                raise DocumentDataError(
                    f"unit price of {line.sku} must be a Decimal, got {type(line.unit_price).__name__}"
                )

    @property
    def net_total(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0"))

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.net_total + self.tax_total


@dataclass(frozen=True)
class CommandCardData:
    title: str = "Packing bench commands"
    commands: tuple[str, ...] = ()  # empty: every command in packstation.domain.barcodes
    carton_types: tuple[str, ...] = ("BOX-S", "BOX-M", "BOX-L", "BOX-XL")
    quantities: tuple[int, ...] = tuple(range(1, 11))
    carriers: tuple[tuple[str, str], ...] = ()  # the dock card: (CARRIER-<CODE> barcode, caption)


_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def safe_file_name(*parts: str, suffix: str = ".pdf", max_len: int = 120) -> str:
    """A file name made from ids (order, SSCC) that can never leave its folder.

    Letters, digits, ``-`` and ``_`` are kept; anything else (``/``, ``..``, NUL, spaces,
    accents) becomes ``_``; the name is cut to *max_len*. When the ids had to be changed, a
    short hash of the originals is appended, so two different ids never share a file name.
    """
    import hashlib

    original = "-".join(parts)
    cleaned = "".join(ch if ch in _SAFE_CHARS else "_" for ch in original).strip("_-") or "document"
    if cleaned != original or len(cleaned) > max_len:
        digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cleaned = f"{cleaned[: max_len - 11]}-{digest}"
    return cleaned + suffix
