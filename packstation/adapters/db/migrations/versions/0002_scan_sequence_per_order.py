"""scan sequence per order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 14:53:51.228675
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_scans_order_seq", ["order_id", "seq"], unique=False)
    # number the scans already stored in the order they were made (portable SQL: SQLite and PostgreSQL)
    op.execute(
        "UPDATE scans SET seq = (SELECT COUNT(*) FROM scans AS s2 WHERE s2.order_id = scans.order_id"
        " AND (s2.scanned_at < scans.scanned_at OR (s2.scanned_at = scans.scanned_at AND s2.id <= scans.id)))"
    )


def downgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index("ix_scans_order_seq")
        batch_op.drop_column("seq")
