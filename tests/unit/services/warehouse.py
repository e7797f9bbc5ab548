"""A small warehouse on the fake database: what the service unit tests pack, and who packs it.

Stocked through the storage ports (``uow.catalog.put_products``, ``uow.orders.add_many``, ...),
not through SQL. Barcodes are real EAN-13s with check digits, stored under their lookup key,
so scans go through the same barcode interpretation as at a bench.
"""

from __future__ import annotations

from datetime import date, timedelta

from fakes import NOW, FakeDatabase, a_product, an_order, cheap_pin_hash, fake_context

from packstation.domain.barcodes import interpret, lookup_key, with_check_digit
from packstation.domain.identity import Role, Session
from packstation.domain.lifecycle import OrderStatus
from packstation.domain.model import CartonType, StockLot, Tracking
from packstation.domain.packing import PackSession
from packstation.services import packing
from packstation.services.context import Context
from packstation.services.outcome import Outcome


def ean13(n: int) -> str:
    return with_check_digit(f"590{n:09d}")


TEE, SERUM, MUG, BUDS, PUZZLE = (ean13(n) for n in (11, 12, 13, 14, 15))
NOT_IN_CATALOG = ean13(99)
LEAD_PIN, ADMIN_PIN, OLU_PIN = "1234", "4321", "2468"

BOX_S = CartonType("BOX-S", "Small box", 150, 250, 180, 100, 5000)
BOX_M = CartonType("BOX-M", "Medium box", 280, 350, 250, 150, 10000)

PRODUCTS = [
    a_product("TS-1", "Cotton tee", 200, lookup_key(TEE), location="A-01-01"),
    a_product("CO-1", "Vitamin C serum", 100, lookup_key(SERUM), tracking=Tracking.LOT_EXPIRY),
    a_product("HW-1", "Ceramic mug", 350, lookup_key(MUG), tracking=Tracking.LOT),
    a_product("EL-1", "Wireless earbuds", 80, lookup_key(BUDS), tracking=Tracking.SERIAL),
    a_product("TY-1", "Wooden puzzle", 300, lookup_key(PUZZLE)),
]
LOTS = [StockLot("CO-1", "L-GOOD", date(2027, 1, 31), "B-02-01", 40),
        StockLot("CO-1", "L-OLD", date(2026, 1, 31), "B-02-02", 3)]

ORDERS = [
    an_order("SO-1", {"TS-1": 2}, tote="TOTE-001", placed_at=NOW - timedelta(hours=9)),
    an_order("SO-2", {"TS-1": 1, "EL-1": 1}, placed_at=NOW - timedelta(hours=8)),
    an_order("SO-3", {"CO-1": 1}, placed_at=NOW - timedelta(hours=7)),
    an_order("SO-4", {"EL-1": 1}, placed_at=NOW - timedelta(hours=6)),
    an_order("SO-HOLD", {"TS-1": 1}, payment=("prepaid", "pending"), status=OrderStatus.ON_HOLD),
    an_order("SO-DONE", {"TS-1": 1}, status=OrderStatus.PACKED),
]

# name, role, badge, PIN
USERS = [
    ("Pat Packer", Role.PACKER, "PACKER-001", None),
    ("Olu Other", Role.PACKER, "PACKER-002", OLU_PIN),
    ("Lee Lead", Role.LEAD, "LEAD-001", LEAD_PIN),
    ("Ada Admin", Role.ADMIN, "ADMIN-001", ADMIN_PIN),
    ("Dee Dispatch", Role.DISPATCH, "DISPATCH-001", None),
    ("Rae Returns", Role.RETURNS, "RETURNS-001", None),
]


def stocked_database() -> FakeDatabase:
    db = FakeDatabase()
    with fake_context(db).uow() as uow:
        uow.catalog.put_products([(p, f"fp-{p.sku}") for p in PRODUCTS], NOW)
        uow.catalog.put_cartons([(BOX_S, "fp-s"), (BOX_M, "fp-m")])
        uow.catalog.put_lots(LOTS)
        uow.orders.add_many([(o, f"fp-{o.order_id}") for o in ORDERS], NOW)
        for name, role, badge, pin in USERS:
            uow.users.add(name, role, badge, cheap_pin_hash(pin) if pin else None, NOW)
        uow.commit()
    return db


# --- what a bench does, in a word each ---------------------------------------------------------


def scan(ctx: Context, session: Session, pack: PackSession, code: str, *, source: str = "wedge") -> Outcome:
    """An item scan at the bench: the code as the scanner typed it."""
    return packing.record_item_scan(ctx, session, pack, interpret(code), source=source)


def claim_with_items(ctx: Context, session: Session, order_id: str, *codes: str, box: str = "BOX-S") -> PackSession:
    """Claim *order_id*, open a carton of *box* and scan *codes* into it (each must be accepted)."""
    pack = packing.claim_order(ctx, session, order_id)
    assert packing.open_carton(ctx, session, pack, box).accepted
    for code in codes:
        outcome = scan(ctx, session, pack, code)
        assert outcome.verdict.value == "accepted", outcome.message
    return pack


def event_kinds(ctx: Context, order_id: str) -> list[str]:
    with ctx.uow(readonly=True) as uow:
        return [e.kind for e in uow.events.for_order(order_id)]
