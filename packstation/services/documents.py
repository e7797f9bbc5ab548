"""Build the printable document records (packstation.domain.documents) from the packing state."""

from __future__ import annotations

from datetime import date

from packstation.domain.documents import Address as DocAddress
from packstation.domain.documents import LabelData, PackingSlipData, SlipLine
from packstation.domain.model import Address, OrderStatus
from packstation.domain.packing import Carton, PackSession

RETURN_INSTRUCTIONS = (
    "To return an item within 30 days, keep this slip, repack the item and bring the parcel to any "
    "drop-off point of the carrier with the return code below."
)


def doc_address(a: Address, phone: str = "") -> DocAddress:
    return DocAddress(name=a.name, line1=a.line1, line2=a.line2, city=a.city, region=a.region,
                      postcode=a.postcode, country=a.country, phone=phone)


def label_data(session: PackSession, carton: Carton, ship_from: DocAddress, *, company_prefix_length: int) -> LabelData:
    """The shipping label of a sealed carton.

    "n of m" counts the cartons with items; while the order is still being packed the total is
    not known (another carton may follow), so the label says only "Carton n" rather than a
    count that would be wrong. Reprints after the order is packed carry the full count.
    """
    if carton.sscc is None or carton.measured_g is None:
        raise ValueError(f"carton {carton.seq} is not sealed yet")
    order = session.order
    filled = [c for c in session.cartons if c.items]
    return LabelData(
        ship_from=ship_from,
        ship_to=doc_address(order.ship_to, order.customer_phone),
        carrier=order.carrier,
        service=order.service,
        order_id=order.order_id,
        carton_no=[c.seq for c in filled].index(carton.seq) + 1,
        carton_count=len(filled) if order.status is OrderStatus.PACKED or session.complete else None,
        weight_g=carton.measured_g,
        sscc=carton.sscc,
        tracking_number=carton.tracking_number or order.tracking_number,
        cod_amount=order.cod_amount,
        cod_currency=order.currency if order.cod_amount is not None else "",
        company_prefix_length=company_prefix_length,
    )


def packing_slip_data(session: PackSession, ship_from: DocAddress) -> PackingSlipData:
    order = session.order
    lines = []
    for line in order.lines:
        items = [i for i in session.items if i.line_no == line.line_no]
        lines.append(SlipLine(
            sku=line.sku,
            name=session.products[line.sku].name,
            qty_ordered=line.qty,
            qty_shipped=line.packed,
            lots=tuple(sorted({i.lot for i in items if i.lot})),
            serials=tuple(i.serial for i in items if i.serial),
        ))
    placed = order.placed_at.date() if hasattr(order.placed_at, "date") else date.today()
    return PackingSlipData(
        order_id=order.order_id,
        order_date=placed,
        customer_name=order.customer_name,
        ship_to=doc_address(order.ship_to, order.customer_phone),
        ship_from=ship_from,
        lines=tuple(lines),
        carton_count=len([c for c in session.cartons if c.items]),
        channel=order.channel,
        return_instructions=RETURN_INSTRUCTIONS,
        return_code=f"RET-{order.order_id}",
    )
