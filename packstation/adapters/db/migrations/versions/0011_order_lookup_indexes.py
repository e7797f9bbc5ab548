"""order lookups by index: upper(order_id) (an order number in another case) and the claimed orders
of a station (partial index on claimed_by)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_order_id_upper", "orders", [sa.text("upper(order_id)")], unique=False)
    op.create_index("ix_orders_claimed_by", "orders", ["claimed_by"], unique=False,
                    sqlite_where=sa.text("claimed_by IS NOT NULL"), postgresql_where=sa.text("claimed_by IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_orders_claimed_by", table_name="orders")
    op.drop_index("ix_orders_order_id_upper", table_name="orders")
