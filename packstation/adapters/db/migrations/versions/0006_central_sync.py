"""central sync: station sequence, fence and sync state on events; leases, station sync, conflicts,
change log, sync state and the stock ledger; change sequences on master data

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("station_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("fence", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("sync_state", sa.String(length=16), server_default="pending", nullable=False))
        batch_op.add_column(sa.Column("sync_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("received_at", TS, nullable=True))
        batch_op.create_unique_constraint("uq_events_station_seq", ["station_id", "station_seq"])
        batch_op.create_index("ix_events_sync_state", ["sync_state", "seq"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_token", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", TS, nullable=True))
        batch_op.add_column(sa.Column("change_seq", sa.BigInteger(), nullable=True))
    for table in ("products", "carton_types", "stock_lots", "users"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("change_seq", sa.BigInteger(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("holder", sa.String(length=200), server_default="", nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_leases")),
    )
    op.create_table(
        "station_sync",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_push_at", TS, nullable=True),
        sa.Column("last_pull_at", TS, nullable=True),
        sa.Column("clock_offset_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_sync")),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("station_side", sa.Text(), nullable=False),
        sa.Column("central_side", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(length=160), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    op.create_index(op.f("ix_conflicts_event_id"), "conflicts", ["event_id"], unique=False)
    op.create_index(op.f("ix_conflicts_order_id"), "conflicts", ["order_id"], unique=False)
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_changes")),
    )
    op.create_table(
        "sync_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=32), server_default="", nullable=False),
        sa.Column("lot", sa.String(length=20), server_default="", nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=120), server_default="", nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=160), server_default="", nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        sa.UniqueConstraint("event_id", name=op.f("uq_stock_movements_event_id")),
    )
    op.create_index("ix_stock_movements_sku_loc_lot", "stock_movements", ["sku", "location", "lot"], unique=False)
    # Events written before this upgrade: numbered per station in the order they were stored, so
    # a station that gets a central database later pushes its whole history, in order.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE events e SET station_seq = n.rn FROM (SELECT seq, row_number() OVER "
                   "(PARTITION BY station_id ORDER BY seq) AS rn FROM events) n WHERE e.seq = n.seq")
    else:
        op.execute("UPDATE events SET station_seq = (SELECT count(*) FROM events e2 WHERE "
                   "e2.station_id = events.station_id AND e2.seq <= events.seq)")


def downgrade() -> None:
    op.drop_index("ix_stock_movements_sku_loc_lot", table_name="stock_movements")
    op.drop_table("stock_movements")
    op.drop_table("sync_state")
    op.drop_table("changes")
    op.drop_index(op.f("ix_conflicts_order_id"), table_name="conflicts")
    op.drop_index(op.f("ix_conflicts_event_id"), table_name="conflicts")
    op.drop_table("conflicts")
    op.drop_table("station_sync")
    op.drop_table("leases")
    for table in ("users", "stock_lots", "carton_types", "products"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("change_seq")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("change_seq")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_token")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_sync_state")
        batch_op.drop_constraint("uq_events_station_seq", type_="unique")
        batch_op.drop_column("received_at")
        batch_op.drop_column("sync_reason")
        batch_op.drop_column("sync_state")
        batch_op.drop_column("fence")
        batch_op.drop_column("station_seq")
