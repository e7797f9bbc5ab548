"""Sample documents: what ``render-demo-label`` prints, what the README pictures show and what
the benchmark renders. The data is made up but shaped like a real order.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from packstation.domain.barcodes import sscc18
from packstation.domain.documents import (
    Address,
    CreditLine,
    CreditNoteData,
    LabelData,
    ManifestCarton,
    ManifestData,
    PackingSlipData,
    PickLine,
    PicklistData,
    PickOrder,
    SlipLine,
)

SHIP_FROM = Address(
    name="Packstation Demo Warehouse",
    line1="1 Logistics Way",
    city="Rotterdam",
    postcode="3011 AA",
    country="NL",
)

SHIP_TO = Address(
    name="Zoë Παπαδοπούλου",
    company="Ёлка и Ко",
    line1="Leoforos Vasilissis Sofias 12",
    line2="3rd floor, door B",
    city="Athens",
    postcode="106 74",
    country="GR",
    phone="+30 210 000 0000",
)


def demo_label(
    carton_no: int = 1, carton_count: int = 2, tracking: str | None = "1Z999AA10123456784"
) -> LabelData:
    return LabelData(
        ship_from=SHIP_FROM,
        ship_to=SHIP_TO,
        carrier="DHL Express",
        service="Economy Select",
        order_id="WEB-100234",
        carton_no=carton_no,
        carton_count=carton_count,
        weight_g=2345,
        sscc=sscc18(0, "0614141", carton_no),
        tracking_number=tracking,
    )


def demo_packing_slip() -> PackingSlipData:
    return PackingSlipData(
        order_id="WEB-100234",
        order_date=date(2026, 11, 24),
        customer_name="Zoë Παπαδοπούλου",
        ship_to=SHIP_TO,
        ship_from=SHIP_FROM,
        channel="Web shop",
        carton_count=2,
        lines=(
            SlipLine("SKU-TEA-01", "Green tea, loose leaf 250 g", 3, 3, lots=("L2406A",)),
            SlipLine(
                "SKU-KETTLE", "Electric kettle 1.7 l, brushed steel", 1, 1, serials=("KT-88812",)
            ),
            SlipLine("SKU-CUP-6", "Porcelain cups, set of 6", 2, 1),
        ),
        return_instructions=(
            "Not happy? Return unused items within 30 days. Pack them with this slip, "
            "drop the parcel at any DHL ServicePoint and show the return code below."
        ),
        return_code="RMA-WEB-100234",
    )


def demo_picklist(orders: int = 12) -> PicklistData:
    products = [
        ("SKU-TEA-01", "Green tea, loose leaf 250 g", "L2406A", date(2027, 6, 30)),
        ("SKU-KETTLE", "Electric kettle 1.7 l", "", None),
        ("SKU-CUP-6", "Porcelain cups, set of 6", "", None),
        ("SKU-HONEY", "Acacia honey 500 g", "H-0911", date(2027, 3, 1)),
        ("SKU-SPOON", "Teaspoons, set of 4", "", None),
        ("SKU-FILTER", "Paper tea filters (100)", "F-2201", None),
    ]
    lines: list[PickLine] = []
    pick_orders: list[PickOrder] = []
    for n in range(orders):
        order_id = f"WEB-{100200 + n}"
        tote = f"TOTE-{n + 1:03d}"
        count = 1 + n % 3
        pick_orders.append(PickOrder(order_id, tote, count))
        for k in range(count):
            sku, name, lot, expiry = products[(n + k * 2) % len(products)]
            aisle = "ABCD"[(n + k) % 4]
            location = f"{aisle}-{(n * 7 + k) % 12 + 1:02d}-{(n + k) % 4 + 1:02d}"
            lines.append(
                PickLine(location, sku, name, 1 + (n + k) % 3, order_id, tote, lot, expiry)
            )
    return PicklistData(
        wave_id="W-20261126-07",
        created_at="2026-11-26 14:05",
        orders=tuple(pick_orders),
        lines=tuple(lines),
        carrier="DHL Express",
        station="BENCH-01",
    )


def demo_manifest() -> ManifestData:
    cartons = tuple(
        ManifestCarton(
            sscc18(0, "0614141", n),
            f"WEB-{100230 + n // 2}",
            1200 + 150 * n,
            f"1Z999AA1012345{n:04d}",
            "Economy Select",
        )
        for n in range(1, 9)
    )
    return ManifestData(
        manifest_id="MAN-DHL-20261126-1",
        carrier="DHL Express",
        created_at="2026-11-26 16:30",
        ship_from=SHIP_FROM,
        cartons=cartons,
        dispatcher="dispatch.jan",
    )


def demo_credit_note() -> CreditNoteData:
    return CreditNoteData(
        number="CN-2026-000042",
        issued=date(2026, 11, 26),
        order_id="WEB-100234",
        customer=SHIP_TO,
        issuer=SHIP_FROM,
        currency="EUR",
        lines=(
            CreditLine(
                "SKU-CUP-6", "Porcelain cups, set of 6", 1, Decimal("24.95"), Decimal("0.21")
            ),
            CreditLine(
                "SKU-TEA-01", "Green tea, loose leaf 250 g", 2, Decimal("7.50"), Decimal("0.09")
            ),
        ),
        reason="Arrived damaged (two cups broken); tea returned unopened.",
        rma_id="RMA-WEB-100234",
    )
