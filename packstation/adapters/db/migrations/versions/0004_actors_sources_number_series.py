"""events name their actor, scans their source; number series in blocks; print jobs carry target, file and reason

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=160), server_default="", nullable=False))
    # events written before actors were recorded: a person's name, or an unnamed import/CLI
    op.execute("UPDATE events SET actor = 'person:' || user_name WHERE user_name IS NOT NULL")
    op.execute("UPDATE events SET actor = 'system:unrecorded' WHERE user_name IS NULL")

    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), server_default="wedge", nullable=False))

    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target", sa.String(length=300), server_default="", nullable=False))
        batch_op.add_column(sa.Column("file_name", sa.String(length=200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("reason", sa.String(length=200), server_default="", nullable=False))

    op.create_table(
        "number_series",
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_number_series")),
    )
    op.create_table(
        "number_blocks",
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("first_value", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", "station_id", "first_value", name=op.f("pk_number_blocks")),
    )
    # The old per-database counter held the last number handed out: the series continues after
    # it, so no SSCC issued before the upgrade comes round again. (The range's end is set when
    # the station first draws a block, from its configuration.)
    op.execute(
        "INSERT INTO number_series (series, next_value, last_value) "
        "SELECT name, value + 1, 0 FROM counters"
    )
    op.drop_table("counters")


def downgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.execute(
        "INSERT INTO counters (name, value) SELECT series, "
        "COALESCE((SELECT MAX(next_value) - 1 FROM number_blocks b WHERE b.series = s.series), next_value - 1) "
        "FROM number_series s"
    )
    op.drop_table("number_blocks")
    op.drop_table("number_series")
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("file_name")
        batch_op.drop_column("target")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("actor")
