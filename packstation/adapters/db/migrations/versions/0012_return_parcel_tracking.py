"""the return parcel of a return: its tracking number (indexed: a tracking import row or the desk's
scan finds the return by it) and its carrier (the account whose tracking moves it to picked)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("carrier", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_returns_tracking_number"), ["tracking_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_returns_tracking_number"))
        batch_op.drop_column("carrier")
        batch_op.drop_column("tracking_number")
