"""The things a packing bench deals with: products, carton types, orders and their lines.

(``Role`` lives in ``domain.identity`` and ``OrderStatus`` in ``domain.lifecycle``; both are
re-exported here.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from packstation.domain.identity import Role
from packstation.domain.lifecycle import OrderStatus


class Tracking(StrEnum):
    NONE = "none"
    LOT = "lot"
    LOT_EXPIRY = "lot_expiry"
    SERIAL = "serial"


@dataclass(frozen=True)
class PackBarcode:
    barcode: str
    qty: int


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    weight_g: int
    location: str = ""
    tracking: Tracking = Tracking.NONE
    barcodes: tuple[str, ...] = ()
    pack_barcodes: tuple[PackBarcode, ...] = ()


@dataclass(frozen=True)
class CartonType:
    code: str
    name: str
    tare_g: int
    inner_l_mm: int = 0
    inner_w_mm: int = 0
    inner_h_mm: int = 0
    max_weight_g: int = 0  # 0: no limit


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    badge: str
    has_pin: bool = False
    active: bool = True
    locked_until: datetime | None = None  # after too many wrong PINs


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    line2: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""


@dataclass
class OrderLine:
    line_no: int
    sku: str
    qty: int
    unit_price: Decimal
    packed: int = 0
    short: int = 0
    short_reason: str | None = None

    @property
    def remaining(self) -> int:
        return self.qty - self.packed - self.short

    @property
    def complete(self) -> bool:
        return self.remaining <= 0


@dataclass
class Order:
    order_id: str
    channel: str
    placed_at: datetime
    customer_name: str
    customer_email: str
    customer_phone: str
    ship_to: Address
    currency: str
    payment_method: str  # prepaid | cod
    payment_status: str  # paid | pending
    carrier: str
    service: str
    tracking_number: str | None
    status: OrderStatus
    lines: list[OrderLine] = field(default_factory=list)
    tote: str | None = None  # the tote barcode a bench may scan instead of the order number
    wave_id: str | None = None
    # a label the marketplace made for the order's parcel (printed instead of a carrier's or ours):
    # ZPL as given, or a URL the label is fetched from
    label_zpl: str | None = None
    label_url: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.qty for line in self.lines), Decimal("0"))

    @property
    def cod_amount(self) -> Decimal | None:
        """The amount the delivery agent collects (cash on delivery: the order total).

        Short-shipped units are not in the parcel, so they are not collected: the customer
        pays for what arrives (the label prints this figure).
        """
        if self.payment_method != "cod":
            return None
        return sum((line.unit_price * (line.qty - line.short) for line in self.lines), Decimal("0"))

    def line_for(self, sku: str) -> OrderLine | None:
        for line in self.lines:
            if line.sku == sku:
                return line
        return None

    @property
    def complete(self) -> bool:
        return all(line.complete for line in self.lines)


@dataclass(frozen=True)
class StockLot:
    """A lot of a product the warehouse holds (stock import, receipts): what a bench may accept."""

    sku: str
    lot: str
    expiry: date | None = None
    location: str = ""
    qty: int = 0


__all__ = ["Address", "CartonType", "Order", "OrderLine", "OrderStatus", "PackBarcode", "Product", "Role",
           "StockLot", "Tracking", "User"]
