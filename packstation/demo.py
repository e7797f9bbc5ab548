"""Demo data for the embedded default station: a realistic catalog, orders, cartons and users.

Seeded once, on the first start of a station without a config file, through the same import
use cases a real warehouse uses. Deterministic (fixed random seed), so screenshots and
walkthroughs in the README stay reproducible.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from packstation.domain.barcodes import with_check_digit
from packstation.domain.identity import ActorKind
from packstation.services import users
from packstation.services.imports import import_records

DEMO_USERS = (
    ("Pat Packer", "packer", "PACKER-001"),
    ("Lee Lead", "lead", "LEAD-001"),
    ("Rita Returns", "returns", "RETURNS-001"),
    ("Dan Dispatch", "dispatch", "DISPATCH-001"),
)

CARTON_TYPES = (
    {"code": "BOX-S", "name": "Small box", "tare_g": 150, "inner_mm": {"l": 250, "w": 180, "h": 100}, "max_weight_g": 5000},
    {"code": "BOX-M", "name": "Medium box", "tare_g": 280, "inner_mm": {"l": 350, "w": 250, "h": 150}, "max_weight_g": 10000},
    {"code": "BOX-L", "name": "Large box", "tare_g": 450, "inner_mm": {"l": 450, "w": 350, "h": 250}, "max_weight_g": 20000},
    {"code": "BOX-XL", "name": "Extra large box", "tare_g": 700, "inner_mm": {"l": 600, "w": 400, "h": 400}, "max_weight_g": 30000},
    {"code": "BOX-MAILER", "name": "Padded mailer", "tare_g": 40, "inner_mm": {"l": 300, "w": 220, "h": 30}, "max_weight_g": 1000},
)

_FAMILIES = (
    # (prefix, names, weight range g, tracking)
    ("TS", ["Organic cotton T-shirt", "Merino crew sweater", "Linen shirt", "Denim jacket", "Rain shell jacket",
            "Running shorts", "Yoga leggings", "Wool socks (3 pairs)", "Canvas cap", "Silk scarf"], (90, 900), "none"),
    ("SH", ["Trail running shoe", "Leather sneaker", "Canvas slip-on", "Hiking boot", "Flip-flops"], (250, 1400), "none"),
    ("CO", ["Vitamin C serum 30 ml", "Hyaluronic moisturiser 50 ml", "SPF 50 sun lotion", "Argan hair oil",
            "Charcoal face mask", "Lip balm trio", "Retinol night cream"], (40, 350), "lot_expiry"),
    ("NU", ["Whey protein 1 kg", "Oat bar box (12)", "Green tea 100 bags", "Espresso beans 500 g", "Dark chocolate 85 %",
            "Magnesium tablets (90)", "Omega-3 capsules (120)"], (60, 1100), "lot_expiry"),
    ("HW", ["Stainless water bottle", "Bamboo cutting board", "Ceramic mug", "Cast-iron skillet", "Glass food box set",
            "Chef's knife 20 cm", "Linen tea towel"], (120, 2600), "lot"),
    ("EL", ["Wireless earbuds", "USB-C charger 65 W", "Bluetooth speaker", "Smart watch", "Power bank 20 000 mAh",
            "Mechanical keyboard", "Noise-cancelling headphones", "Action camera"], (45, 1200), "serial"),
    ("TY", ["Wooden puzzle", "Plush bear", "Building blocks 500 pcs", "Card game", "Kite"], (80, 1500), "none"),
)

_VARIANTS = {
    "TS": ("S", "M", "L", "XL", "navy", "black", "sand"),
    "SH": ("EU 38", "EU 40", "EU 42", "EU 44", "EU 46"),
    "CO": ("travel size", "refill", "duo pack", "unscented"),
    "NU": ("vanilla", "chocolate", "unflavoured", "family pack"),
    "HW": ("small", "large", "graphite", "sage"),
    "EL": ("black", "white", "graphite", "2nd gen"),
    "TY": ("age 3+", "age 6+", "travel edition"),
}

_CHANNELS = ("amazon-de", "amazon-fr", "zalando", "ebay", "shop-web", "shop-app", "bol.com")
_CARRIERS = (("DHL", "Paket"), ("DHL", "Express"), ("UPS", "Standard"), ("DPD", "Classic"), ("PostNL", "Pakket"), ("GLS", "Business"))
_PEOPLE = (
    ("Anna Schmidt", "Hauptstraße 12", "Berlin", "10115", "DE"),
    ("Jean Dupont", "14 rue de la Paix", "Paris", "75002", "FR"),
    ("Sofia Rossi", "Via Roma 8", "Milano", "20121", "IT"),
    ("Jan de Vries", "Keizersgracht 101", "Amsterdam", "1015 CJ", "NL"),
    ("María García", "Calle Mayor 5", "Madrid", "28013", "ES"),
    ("Olivia Brown", "22 Baker Street", "London", "NW1 6XE", "GB"),
    ("Νίκος Παπαδόπουλος", "Οδός Ερμού 20", "Αθήνα", "105 63", "GR"),
    ("Piotr Kowalski", "ul. Marszałkowska 84", "Warszawa", "00-514", "PL"),
    ("Lukas Novák", "Václavské náměstí 1", "Praha", "110 00", "CZ"),
    ("Emma Johansson", "Drottninggatan 53", "Stockholm", "111 21", "SE"),
    ("Ivan Petrov", "ул. Тверская 7", "Москва", "125009", "RU"),
)


def _ean13(n: int) -> str:
    payload = f"590{n:09d}"
    return with_check_digit(payload)


def _gtin14(indicator: int, ean13: str) -> str:
    payload = f"{indicator}{ean13[:-1]}"
    return with_check_digit(payload)


def catalog(count: int = 224, rnd: random.Random | None = None) -> list[dict[str, Any]]:
    rnd = rnd or random.Random(7)
    out: list[dict[str, Any]] = []
    n = 0
    while len(out) < count:
        for prefix, names, (lo, hi), tracking in _FAMILIES:
            name = names[n % len(names)]
            variant = n // len(names)
            sku = f"{prefix}-{1000 + n:04d}"
            ean = _ean13(100000 + n)
            aisle, bay, level = "ABCDEFGH"[n % 8], 1 + (n * 7) % 24, 1 + n % 5
            rec: dict[str, Any] = {
                "sku": sku,
                "name": name if variant == 0 else f"{name} — {_VARIANTS[prefix][(variant - 1) % len(_VARIANTS[prefix])]}",
                "barcodes": [ean],
                "pack_barcodes": [],
                "weight_g": rnd.randint(lo, hi),
                "location": f"{aisle}-{bay:02d}-{level:02d}",
                "tracking": tracking,
            }
            if prefix in ("NU", "HW", "TS") and n % 3 == 0:
                rec["pack_barcodes"] = [{"barcode": _gtin14(1, ean), "qty": 6}]
            out.append(rec)
            n += 1
            if len(out) >= count:
                break
    return out


def orders(products: list[dict[str, Any]], count: int = 60, rnd: random.Random | None = None,
           now: datetime | None = None) -> list[dict[str, Any]]:
    rnd = rnd or random.Random(11)
    now = now or datetime.now(UTC)
    out = []
    for i in range(count):
        name, street, city, postcode, country = _PEOPLE[i % len(_PEOPLE)]
        carrier, service = _CARRIERS[i % len(_CARRIERS)]
        picks = rnd.sample(products, rnd.randint(1, 5))
        cod = i % 9 == 4
        held = i % 17 == 16
        lines = []
        for prod in picks:
            qty = 1 if prod["tracking"] == "serial" else rnd.choice((1, 1, 1, 2, 3))
            lines.append({"sku": prod["sku"], "qty": qty, "unit_price": f"{rnd.randint(3, 180)}.{rnd.choice(('00', '50', '95', '99'))}"})
        out.append({
            "order_id": f"SO-{10001 + i}",
            "channel": _CHANNELS[i % len(_CHANNELS)],
            "placed_at": (now - timedelta(hours=count - i)).isoformat(timespec="seconds"),
            "customer": {"name": name, "email": f"customer{i + 1}@example.com", "phone": f"+31 6 {10000000 + i * 7919}"},
            "ship_to": {"name": name, "line1": street, "line2": "", "city": city, "region": "", "postcode": postcode, "country": country},
            "currency": "GBP" if country == "GB" else "EUR",
            "payment": {"method": "cod" if cod else "prepaid", "status": "pending" if (cod or held) else "paid"},
            "carrier": carrier,
            "service": service,
            "tote": f"TOTE-{i + 1:03d}",
            "lines": lines,
        })
    out.extend(showcase_orders(products, count, now))
    return out


def showcase_orders(products: list[dict[str, Any]], after: int, now: datetime) -> list[dict[str, Any]]:
    """Two orders that show what the bench checks: a line of 6 a 6-pack barcode fills in one scan,
    and a lot + expiry product whose stock has an expired lot (scan it: refused)."""
    six = next(p for p in products if p["pack_barcodes"])
    dated = next(p for p in products if p["tracking"] == "lot_expiry")
    base = {"channel": "shop-web", "currency": "EUR", "carrier": "DHL", "service": "Paket",
            "payment": {"method": "prepaid", "status": "paid"},
            "customer": {"name": "Lena Weber", "email": "lena@example.com", "phone": "+49 40 555 0101"},
            "ship_to": {"name": "Lena Weber", "line1": "Jungfernstieg 7", "line2": "", "city": "Hamburg",
                        "region": "", "postcode": "20354", "country": "DE"}}
    return [
        {**base, "order_id": f"SO-{10001 + after}", "placed_at": (now - timedelta(minutes=30)).isoformat(timespec="seconds"),
         "tote": f"TOTE-{after + 1:03d}", "lines": [{"sku": six["sku"], "qty": 6, "unit_price": "9.90"}]},
        {**base, "order_id": f"SO-{10002 + after}", "placed_at": (now - timedelta(minutes=20)).isoformat(timespec="seconds"),
         "tote": f"TOTE-{after + 2:03d}", "lines": [{"sku": dated["sku"], "qty": 2, "unit_price": "14.50"}]},
    ]


def plain_orders(uow: Any, carrier: str | None = None, *, min_lines: int = 1, skip: tuple[str, ...] = ()) -> list[Any]:
    """The demo's released orders (of *carrier*, with at least *min_lines* lines) whose products need
    no lot or serial, each as ``(order, products by SKU)``: orders a bench packs by item scans
    alone (the walkthroughs, the window's tests, the benchmarks)."""
    found = []
    for n in range(10001, 10063):  # the demo's orders and its showcase orders
        order = uow.orders.get(f"SO-{n}")
        if (order is None or order.order_id in skip or order.status.value != "released"
                or (carrier is not None and order.carrier != carrier) or len(order.lines) < min_lines):
            continue
        products = uow.catalog.products(ln.sku for ln in order.lines)
        if all(p.tracking.value == "none" for p in products.values()):
            found.append((order, products))
    return found


DEMO_LEAD_PIN = "1234"  # shown on the demo login screen; leads approve with badge + PIN


def seed(station: Any, *, today: date | None = None) -> None:
    """Load the demo catalog, cartons, orders, stock lots and users (through the import use cases)."""
    ctx = station.ctx
    session = station.system_session(ActorKind.IMPORT, "demo")
    products = catalog()
    today = today or ctx.clock().date()
    for kind, records in (("catalog", products), ("cartons", list(CARTON_TYPES)), ("orders", orders(products)),
                          ("stock", stock_lots(products, today))):
        report = import_records(ctx, session, kind, [(f"record {i}", r) for i, r in enumerate(records, 1)], f"demo {kind}")
        if not report.ok:  # a bug in the demo generator, not a user error
            raise RuntimeError("demo data rejected: " + "; ".join(map(str, report.rejected[:3])))
    admin = station.system_session(ActorKind.SYSTEM, "demo")
    with ctx.uow(readonly=True) as uow:
        existing = {u.name for u in uow.users.list()}
    for name, role, badge in DEMO_USERS:
        if name not in existing:  # a seed interrupted earlier may have added some
            users.add_user(ctx, admin, name, role, badge, DEMO_LEAD_PIN if role == "lead" else None)


def stock_lots(products: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Two or three lots per lot-tracked product, one of them expired, so picklists choose the right
    lot and the bench can show an expired lot refused."""
    rows = []
    for n, prod in enumerate(products):
        if prod["tracking"] not in ("lot", "lot_expiry"):
            continue
        for k, days in enumerate((-20, 120 + n % 60, 400)):
            expiry = today + timedelta(days=days) if prod["tracking"] == "lot_expiry" else None
            rows.append({"sku": prod["sku"], "lot": f"L{n:03d}{'ABC'[k]}", "qty": 50, "location": prod["location"],
                         "expiry": expiry.isoformat() if expiry else ""})
    return rows


def seed_if_empty(station: Any) -> bool:
    """Seed the demo data when the station database has no products or no users yet.

    Each seeding step is its own transaction, so a first start killed after the orders were
    imported left products but no users: nobody could ever log in, and the old check
    (products only) never seeded again. With no users nobody can have packed anything, so
    running the (idempotent) imports again is safe.
    """
    first_sku = catalog(1)[0]["sku"]
    with station.ctx.uow(readonly=True) as uow:
        if uow.catalog.known_skus([first_sku]) and uow.users.list():
            return False
    seed(station)
    return True
