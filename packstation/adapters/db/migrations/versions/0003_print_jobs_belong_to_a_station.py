"""print jobs belong to a station

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:48:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("station_id", sa.String(length=64), server_default="", nullable=False))
        batch_op.create_index(batch_op.f("ix_print_jobs_station_id"), ["station_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_print_jobs_station_id"))
        batch_op.drop_column("station_id")
