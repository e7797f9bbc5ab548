"""imports at warehouse scale: the import journal (import_batches), the pending updates of an
unfinished import (import_pending), and the batch holding an order (orders.import_batch)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_batch", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_orders_import_batch", ["import_batch"], unique=False,
                              sqlite_where=sa.text("import_batch IS NOT NULL"),
                              postgresql_where=sa.text("import_batch IS NOT NULL"))
    op.create_table(
        "import_batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("records", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stored", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_index(op.f("ix_import_batches_state"), "import_batches", ["state"], unique=False)
    op.create_table(
        "import_pending",
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"],
                                name=op.f("fk_import_pending_batch_id_import_batches")),
        sa.PrimaryKeyConstraint("batch_id", "key", name=op.f("pk_import_pending")),
    )


def downgrade() -> None:
    op.drop_table("import_pending")
    op.drop_index(op.f("ix_import_batches_state"), table_name="import_batches")
    op.drop_table("import_batches")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_import_batch")
        batch_op.drop_column("import_batch")
