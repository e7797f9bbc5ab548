"""The database schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` create it.

Change a table here, then add a migration (``alembic revision --autogenerate``): the station
upgrades its database on start, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and always read back time-zone aware.

    SQLite has no time-zone type: without this a value written as ``12:05+05:30`` would read
    back as a naive ``12:05``, and the same column would be aware on PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UTCDateTime()

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("weight_g", Integer, nullable=False),
    Column("location", String(32), nullable=False, default=""),
    Column("tracking", String(16), nullable=False, default="none"),
    Column("content_hash", String(64), nullable=False, default=""),
    Column("updated_at", TS, nullable=False),
    Column("change_seq", BigInteger, nullable=True),
)

barcodes = Table(
    "barcodes",
    metadata,
    Column("code", String(64), primary_key=True),  # lookup key: GTIN-14 or upper-cased text
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False, index=True),
    Column("qty", Integer, nullable=False, default=1),  # units a scan of this code counts
)

carton_types = Table(
    "carton_types",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("tare_g", Integer, nullable=False),
    Column("inner_l_mm", Integer, nullable=False, default=0),
    Column("inner_w_mm", Integer, nullable=False, default=0),
    Column("inner_h_mm", Integer, nullable=False, default=0),
    Column("max_weight_g", Integer, nullable=False, default=0),
    Column("content_hash", String(64), nullable=False, default=""),
    Column("change_seq", BigInteger, nullable=True),
)

stock_lots = Table(
    "stock_lots",
    metadata,
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("expiry", Date, nullable=True),
    Column("location", String(32), nullable=False, default=""),
    Column("qty", Integer, nullable=False, default=0),
    Column("change_seq", BigInteger, nullable=True),
    PrimaryKeyConstraint("sku", "lot"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("placed_at", TS, nullable=False),
    Column("customer_name", String(200), nullable=False),
    Column("customer_email", String(200), nullable=False, default=""),
    Column("customer_phone", String(64), nullable=False, default=""),
    Column("ship_name", String(200), nullable=False),
    Column("ship_line1", String(200), nullable=False),
    Column("ship_line2", String(200), nullable=False, default=""),
    Column("ship_city", String(100), nullable=False),
    Column("ship_region", String(100), nullable=False, default=""),
    Column("ship_postcode", String(32), nullable=False),
    Column("ship_country", String(2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_method", String(16), nullable=False),
    Column("payment_status", String(16), nullable=False),
    Column("carrier", String(64), nullable=False),
    Column("service", String(64), nullable=False, default=""),
    Column("tracking_number", String(64), nullable=True, index=True),
    Column("tote", String(64), nullable=True, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("wave_id", String(36), nullable=True),
    Column("claimed_by", String(64), nullable=True),  # station id holding the order
    Column("claimed_user", String(100), nullable=True),
    Column("claimed_at", TS, nullable=True),
    # with a central database: the lease this station holds on the order (token, until when)
    Column("lease_token", BigInteger, nullable=True),
    Column("lease_expires_at", TS, nullable=True),
    Column("change_seq", BigInteger, nullable=True),  # the centre's change sequence (pulls)
    # a label the marketplace made for the order's parcel: ZPL as given, or where to fetch it
    Column("label_zpl", Text, nullable=True),
    Column("label_url", String(500), nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    # set while an import that has not finished holds the order (a new order of its file, or an
    # existing one it updates): no bench may claim it and no wave take it until it is released
    Column("import_batch", String(36), nullable=True),
    # only held orders are in it: the rest of the orders cost it nothing
    Index("ix_orders_import_batch", "import_batch", sqlite_where=text("import_batch IS NOT NULL"),
          postgresql_where=text("import_batch IS NOT NULL")),
    # the orders a station holds (its claims, its leases): only claimed orders are in it
    Index("ix_orders_claimed_by", "claimed_by", sqlite_where=text("claimed_by IS NOT NULL"),
          postgresql_where=text("claimed_by IS NOT NULL")),
)
# an order number scanned or typed in another case (so-10042): found by the index, not a scan of every order
Index("ix_orders_order_id_upper", func.upper(orders.c.order_id))

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(64), ForeignKey("orders.order_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("unit_price", String(24), nullable=False),  # exact decimal string
    Column("packed_qty", Integer, nullable=False, default=0),
    Column("short_qty", Integer, nullable=False, default=0),
    Column("short_reason", String(200), nullable=True),
    PrimaryKeyConstraint("order_id", "line_no"),
)

cartons = Table(
    "cartons",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(64), ForeignKey("orders.order_id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("type_code", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("expected_g", Integer, nullable=True),
    Column("measured_g", Integer, nullable=True),
    Column("sscc", String(18), nullable=True, unique=True),
    Column("tracking_number", String(64), nullable=True, index=True),
    Column("override_by", String(100), nullable=True),
    Column("opened_by", String(100), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("closed_at", TS, nullable=True),
    # the carrier account whose label it carries (NULL: our own SSCC label) and its shipment there
    Column("label_carrier", String(64), nullable=True),
    Column("shipment_id", String(64), nullable=True),
    # set aside at the dock because its order was cancelled or put on hold after packing
    Column("pulled_at", TS, nullable=True),
    UniqueConstraint("order_id", "seq", name="uq_cartons_order_seq"),
)

scans = Table(
    "scans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(64), ForeignKey("orders.order_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("carton_seq", Integer, nullable=False),
    Column("qty", Integer, nullable=False),
    Column("barcode", String(64), nullable=False),
    Column("lot", String(20), nullable=True),
    Column("expiry", Date, nullable=True),
    Column("serial", String(20), nullable=True),
    Column("user_name", String(100), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("scanned_at", TS, nullable=False),
    # how the code arrived: wedge (scanner burst), serial, evdev, typed
    Column("source", String(16), nullable=False, server_default="wedge"),
    Column("undone_at", TS, nullable=True),
    Column("undone_by", String(100), nullable=True),
    # the order's scans in the order they happened (undo takes back the highest); timestamps
    # can tie or step back with the clock, this cannot
    Column("seq", Integer, nullable=False, server_default="0"),
    Index("ix_scans_order_active", "order_id", "undone_at"),
    Index("ix_scans_order_seq", "order_id", "seq"),
)

# A serial may leave the warehouse once: the primary key refuses a second live scan of it.
serial_registry = Table(
    "serial_registry",
    metadata,
    Column("sku", String(64), nullable=False),
    Column("serial", String(20), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("scan_id", String(36), nullable=False),
    PrimaryKeyConstraint("sku", "serial"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("badge", String(64), nullable=False, unique=True),
    Column("pin_hash", String(200), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_pins", Integer, nullable=False, default=0),
    Column("locked_until", TS, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("change_seq", BigInteger, nullable=True),
)

# The outbox: every state change writes one row here in the same transaction.
events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("kind", String(48), nullable=False),
    Column("order_id", String(64), nullable=True, index=True),
    Column("station_id", String(64), nullable=False),
    Column("user_name", String(100), nullable=True),  # the person, for per-person figures
    # who acted: person:NAME, cli:OS_USER, import:OS_USER, api:CLIENT, carrier:NAME, system:WHAT
    Column("actor", String(160), nullable=False, server_default=""),
    Column("occurred_at", TS, nullable=False),
    Column("payload", Text, nullable=False),
    Column("pushed_at", TS, nullable=True),  # when the centre answered for it
    # the station's own order of its events, without gaps (the centre checks it)
    Column("station_seq", BigInteger, nullable=True),
    # the lease token the station held on the event's order when it wrote it (fencing)
    Column("fence", BigInteger, nullable=True),
    # at a station: pending (not pushed yet), applied, duplicate, refused, held (an earlier event of
    # its order was refused); at the centre: applied or refused
    Column("sync_state", String(16), nullable=False, server_default="pending"),
    Column("sync_reason", Text, nullable=True),
    Column("received_at", TS, nullable=True),  # the centre's clock when it was applied
    UniqueConstraint("station_id", "station_seq", name="uq_events_station_seq"),
    Index("ix_events_sync_state", "sync_state", "seq"),
)

# Number series (SSCC serials; later manifests and credit notes). number_series is the range
# this database hands out blocks from (a station's own range, or the centre's); number_blocks
# are the blocks a station holds and draws from.
number_series = Table(
    "number_series",
    metadata,
    # (120: a station's own credit-note series is "credit-note:<legal entity>:<station id>")
    Column("series", String(120), primary_key=True),
    Column("next_value", BigInteger, nullable=False),  # the first number not yet given to a block
    Column("last_value", BigInteger, nullable=False),  # the last number of the range
)

number_blocks = Table(
    "number_blocks",
    metadata,
    Column("series", String(120), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("first_value", BigInteger, nullable=False),
    Column("last_value", BigInteger, nullable=False),
    Column("next_value", BigInteger, nullable=False),  # last_value + 1 once used up
    PrimaryKeyConstraint("series", "station_id", "first_value"),
)

print_jobs = Table(
    "print_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("printer", String(200), nullable=False),  # the station's slot: label or document
    Column("target", String(300), nullable=False, server_default=""),  # printer URL or folder:NAME
    Column("file_name", String(200), nullable=False, server_default=""),  # folder targets
    Column("reason", String(200), nullable=False, server_default=""),  # sealed, order packed, a reprint's reason
    # the bench whose printer it is: on a shared database one bench must not retry another's labels
    Column("station_id", String(64), nullable=False, server_default="", index=True),
    Column("kind", String(32), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

returns = Table(
    "returns",
    metadata,
    Column("rma_id", String(64), primary_key=True),
    Column("order_id", String(64), ForeignKey("orders.order_id"), nullable=False, index=True),
    Column("reason", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    # import (announced by the shop) or desk (opened at the returns desk when a parcel came unannounced)
    Column("origin", String(16), nullable=False, server_default="import"),
    Column("closed_at", TS, nullable=True),
    # the return parcel (optional in the record): carrier tracking moves the return to picked
    Column("tracking_number", String(64), nullable=True, index=True),
    Column("carrier", String(64), nullable=True),
    Index("ix_returns_status_updated", "status", "updated_at"),
)

return_lines = Table(
    "return_lines",
    metadata,
    Column("rma_id", String(64), ForeignKey("returns.rma_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("grade", String(16), nullable=True),
    Column("disposition", String(16), nullable=True),
    Column("unit_price", String(24), nullable=True),  # the order line's price (exact decimal string)
    Column("unexpected", Boolean, nullable=False, server_default="0"),  # came back on no announced line
    Column("resolution_id", String(36), nullable=True),  # set once: the line is resolved
    PrimaryKeyConstraint("rma_id", "line_no"),
)

# One parcel opened at a returns desk; it may hold items of several returns of one customer.
return_receipts = Table(
    "return_receipts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("station_id", String(64), nullable=False),
    Column("customer", String(200), nullable=False),
    Column("opened_by", String(160), nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("closed_at", TS, nullable=True),
    Index("ix_return_receipts_station_open", "station_id", "closed_at"),
)

return_receipt_rmas = Table(
    "return_receipt_rmas",
    metadata,
    Column("receipt_id", String(36), ForeignKey("return_receipts.id"), nullable=False),
    Column("rma_id", String(64), ForeignKey("returns.rma_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    PrimaryKeyConstraint("receipt_id", "rma_id"),
)

# Every returned unit counted in at the desk, matched to the scan (and carton) it left in.
return_items = Table(
    "return_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False),  # the order items were received in, per return
    Column("rma_id", String(64), ForeignKey("returns.rma_id"), nullable=False, index=True),
    Column("order_id", String(64), nullable=False, index=True),
    Column("line_no", Integer, nullable=False),
    Column("receipt_id", String(36), nullable=True),
    Column("sku", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("barcode", String(64), nullable=False),
    Column("lot", String(20), nullable=True),
    Column("serial", String(20), nullable=True),
    Column("unexpected", Boolean, nullable=False, server_default="0"),
    Column("matched_scan", String(36), nullable=True),  # scans.id of the unit as it left
    Column("carton_seq", Integer, nullable=True),
    Column("sscc", String(18), nullable=True),
    Column("packer", String(100), nullable=True),
    Column("received_by", String(160), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("received_at", TS, nullable=False),
    Column("grade", String(16), nullable=True),
    Column("notes", Text, nullable=False, server_default=""),
    Column("graded_by", String(160), nullable=True),
    Column("graded_at", TS, nullable=True),
    Column("disposition", String(16), nullable=True),
    Column("location", String(32), nullable=True),
    Column("decided_by", String(160), nullable=True),
    Column("decided_at", TS, nullable=True),
    Column("restocked_at", TS, nullable=True),
)

# How a return's lines were settled: each line once (return_lines.resolution_id), each
# submission once (key).
return_resolutions = Table(
    "return_resolutions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("rma_id", String(64), ForeignKey("returns.rma_id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # refund, replacement, credit_note, none
    Column("key", String(40), nullable=False, unique=True),
    Column("lines", Text, nullable=False),  # JSON: [{line_no, qty, amount, fee}]
    Column("currency", String(3), nullable=False),
    Column("total", String(24), nullable=False),
    Column("credit_note", String(120), nullable=True, unique=True),
    Column("replacement_order", String(64), nullable=True),
    Column("created_by", String(160), nullable=False),
    Column("created_at", TS, nullable=False),
)

# The register of issued credit notes: numbered without gaps per legal entity and station.
credit_notes = Table(
    "credit_notes",
    metadata,
    Column("number", String(120), primary_key=True),
    Column("legal_entity", String(32), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("rma_id", String(64), ForeignKey("returns.rma_id"), nullable=False, index=True),
    Column("order_id", String(64), nullable=False),
    Column("resolution_id", String(36), nullable=False, unique=True),
    Column("currency", String(3), nullable=False),
    Column("total", String(24), nullable=False),
    Column("issued_at", TS, nullable=False),
)

# Photos: of returned items (the desk's camera) and of sealed cartons (the bench's, optional).
photos = Table(
    "photos",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_kind", String(16), nullable=False),  # return_item | carton
    Column("owner_ref", String(120), nullable=False),  # the item id, or ORDER/SEQ for a carton
    Column("mime", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("taken_by", String(160), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("taken_at", TS, nullable=False),
    Index("ix_photos_owner", "owner_kind", "owner_ref"),
)


# One running window per station id on this database (a lease renewed by a heartbeat).
station_seats = Table(
    "station_seats",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("token", String(64), nullable=False),
    Column("since", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)


# --- the central database (also created, unused, in a station's own database) ----------------

# Leases: which station may pack an order, until when, and the fencing token its events carry.
leases = Table(
    "leases",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("station_id", String(64), nullable=True),  # NULL: free
    Column("holder", String(200), nullable=False, server_default=""),
    Column("token", BigInteger, nullable=False),  # grows with every take-over
    Column("taken_at", TS, nullable=True),
    Column("expires_at", TS, nullable=True),
)

# What the centre knows of each station: the last event applied (its sequence), clocks.
station_sync = Table(
    "station_sync",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_push_at", TS, nullable=True),
    Column("last_pull_at", TS, nullable=True),
    Column("clock_offset_s", Float, nullable=True),  # station clock minus centre clock, last seen
)

# A station's work the centre refused (a lease taken over, a serial shipped elsewhere, ...):
# both sides kept, shown to a lead, never merged silently.
conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, index=True),
    Column("station_id", String(64), nullable=False),
    Column("order_id", String(64), nullable=True, index=True),
    Column("reason", Text, nullable=False),
    Column("station_side", Text, nullable=False),  # the refused event, as JSON
    Column("central_side", Text, nullable=False),  # what the centre had, as JSON
    Column("created_at", TS, nullable=False),
    Column("resolved_at", TS, nullable=True),
    Column("resolved_by", String(160), nullable=True),
)

# The centre's change log: one row per changed master-data or order record (written by triggers on
# the central PostgreSQL); stations pull everything after their cursor.
changes = Table(
    "changes",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("entity", String(32), nullable=False),
    Column("key", String(160), nullable=False),
)

# A station's own sync bookkeeping (cursor, last push/pull, clock offset, online): key -> value.
sync_state = Table(
    "sync_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# The inventory ledger: every movement of stock (received, adjusted, packed out, returned and
# restocked, scrapped) per SKU, location and lot. Stock on hand is the sum.
stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sku", String(64), nullable=False),
    Column("location", String(32), nullable=False, server_default=""),
    Column("lot", String(20), nullable=False, server_default=""),
    Column("qty", Integer, nullable=False),  # + in, - out
    Column("kind", String(16), nullable=False),  # received, adjusted, packed, returned, scrapped, ...
    Column("ref", String(120), nullable=False, server_default=""),  # order, RMA, import file
    Column("event_id", String(36), nullable=True, unique=True),  # the event it comes from: applied once
    Column("actor", String(160), nullable=False, server_default=""),
    Column("at", TS, nullable=False),
    Index("ix_stock_movements_sku_loc_lot", "sku", "location", "lot"),
)


# --- shipping: carrier manifests at the dock, carrier label requests ---------------------------

# A manifest is open while cartons are loaded onto it and closed once (then it has its number).
manifests = Table(
    "manifests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("carrier", String(64), nullable=False),
    Column("service", String(64), nullable=False, server_default=""),  # "": every service
    Column("status", String(16), nullable=False, index=True),
    # "CARRIER/SERVICE" while open, NULL once closed: one open manifest per carrier (and service)
    Column("open_key", String(140), nullable=True, unique=True),
    Column("number", BigInteger, nullable=True, unique=True),  # the manifest series, at close
    Column("opened_at", TS, nullable=False),
    Column("opened_by", String(160), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("closed_at", TS, nullable=True),
    Column("closed_by", String(160), nullable=True),
    Column("close_key", String(64), nullable=True, unique=True),  # a retried close finds its manifest
    Column("split_by", String(160), nullable=True),  # the lead who let orders leave in part
    Column("split_reason", String(200), nullable=True),
    Column("carrier_ref", Text, nullable=True),  # the carrier's end-of-day close answer
)

# The cartons on a manifest; a carton is on one manifest at most (primary key).
manifest_cartons = Table(
    "manifest_cartons",
    metadata,
    Column("order_id", String(64), nullable=False),
    Column("carton_seq", Integer, nullable=False),
    Column("manifest_id", String(36), ForeignKey("manifests.id"), nullable=False, index=True),
    Column("sscc", String(18), nullable=False),
    Column("load_seq", Integer, nullable=False),
    Column("loaded_by", String(160), nullable=False),
    Column("loaded_at", TS, nullable=False),
    Column("station_id", String(64), nullable=False),
    PrimaryKeyConstraint("order_id", "carton_seq"),
)

# Carrier labels still to be created (the carrier failed or timed out at the seal): retried.
label_requests = Table(
    "label_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("carton_seq", Integer, nullable=False),
    Column("sscc", String(18), nullable=False),
    Column("carrier", String(64), nullable=False),  # the carrier account, or "marketplace"
    Column("station_id", String(64), nullable=False, index=True),  # whose printer prints the label
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=True),
    Column("next_try_at", TS, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("order_id", "carton_seq", name="uq_label_requests_carton"),
)

# --- the order API, webhooks in and status out (issue 13) -------------------------------------

# API tokens per client: only the SHA-256 of a token is kept. The rate limit is a token bucket
# in the row (bucket, refilled at bucket_at: epoch seconds), shared by every API server.
api_clients = Table(
    "api_clients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_prefix", String(16), nullable=False),
    Column("rate_per_s", Float, nullable=False),
    Column("burst", Integer, nullable=False),
    Column("bucket", Float, nullable=False),
    Column("bucket_at", Float, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("created_by", String(160), nullable=False),
    Column("revoked_at", TS, nullable=True),
    Column("revoked_by", String(160), nullable=True),
    Column("last_used_at", TS, nullable=True),
)

# The first answer to a request sent with an Idempotency-Key, per client.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client", String(100), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", TS, nullable=False, index=True),
    PrimaryKeyConstraint("client", "key"),
)

# Shops' webhook deliveries, exactly as received (their signature was checked on these bytes),
# committed before the shop gets its 200; a worker applies them.
webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("delivery_id", String(200), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("shop", String(200), nullable=False, server_default=""),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", TS, nullable=False),
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("lease_until", TS, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("order_id", String(64), nullable=True),
    Column("processed_at", TS, nullable=True),
    UniqueConstraint("source", "delivery_id", name="uq_webhook_inbox_delivery"),
    Index("ix_webhook_inbox_state", "state", "id"),
)

# Which shop order each order came from, and the shop's updated_at of the newest version applied.
shop_orders = Table(
    "shop_orders",
    metadata,
    Column("source", String(16), nullable=False),
    Column("shop", String(200), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("order_id", String(64), nullable=False, index=True),
    Column("updated_at", TS, nullable=False),
    Column("fulfillment_id", String(64), nullable=True),
    PrimaryKeyConstraint("source", "shop", "external_id"),
)

# Endpoints that hear about stage changes (kind webhook: a signed POST; kind shopify: fulfillments).
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False, server_default="webhook"),
    Column("url", String(500), nullable=False),
    Column("shop", String(200), nullable=False, server_default=""),
    Column("events", Text, nullable=False),  # public event names, comma-separated
    Column("secret", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("created_by", String(160), nullable=False),
)

# One delivery per (subscription, event): its body is fixed when written, so every retry sends the
# same bytes under the same delivery id.
push_deliveries = Table(
    "push_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("subscription_id", Integer, ForeignKey("push_subscriptions.id"), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("order_id", String(64), nullable=True),
    Column("event", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TS, nullable=False),
    Column("lease_until", TS, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", TS, nullable=False),
    Column("delivered_at", TS, nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_push_deliveries_event"),
    Index("ix_push_deliveries_due", "state", "next_attempt_at"),
    Index("ix_push_deliveries_order", "subscription_id", "order_id", "state", "event_seq"),
)

# The outbox reader's place in the event log: every event up to read_seq has been read, except
# the numbers in missing (JSON {seq: first seen, epoch s}): transactions that had taken a number but
# not committed yet when the reader passed (or rolled back). They are looked for again until a grace
# period has passed.
push_cursors = Table(
    "push_cursors",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("read_seq", BigInteger, nullable=False),
    Column("missing", Text, nullable=False, server_default="{}"),
)

# --- imports at warehouse scale ----------------------------------------------------------------

# The journal of big imports stored in chunks (services/imports.py): one row per file while its
# orders go in hidden (publishing: a restart rolls it back), then come out (releasing: a restart
# finishes it). The holder renews its lease with every chunk; a dead holder's batch is recovered.
import_batches = Table(
    "import_batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("file", String(200), nullable=False),
    Column("actor", String(160), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("records", Integer, nullable=False, server_default="0"),
    Column("stored", Integer, nullable=False, server_default="0"),
    Column("created", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("reason", Text, nullable=False, server_default=""),
)

# The new content of existing orders an unfinished import updates, applied when it releases them.
import_pending = Table(
    "import_pending",
    metadata,
    Column("batch_id", String(36), ForeignKey("import_batches.id"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    PrimaryKeyConstraint("batch_id", "key"),
)
