"""returns desk: receipts, received items, resolutions, credit notes and photos; return lines with
their price, unexpected flag and resolution; returns with their origin; number series names up to
120 characters (a station's own credit-note series)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:21:32
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('photos',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner_kind', sa.String(length=16), nullable=False),
    sa.Column('owner_ref', sa.String(length=120), nullable=False),
    sa.Column('mime', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('taken_by', sa.String(length=160), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('taken_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photos'))
    )
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.create_index('ix_photos_owner', ['owner_kind', 'owner_ref'], unique=False)

    op.create_table('return_receipts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('customer', sa.String(length=200), nullable=False),
    sa.Column('opened_by', sa.String(length=160), nullable=False),
    sa.Column('opened_at', TS, nullable=False),
    sa.Column('closed_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_receipts'))
    )
    with op.batch_alter_table('return_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_return_receipts_station_open', ['station_id', 'closed_at'], unique=False)

    op.create_table('credit_notes',
    sa.Column('number', sa.String(length=120), nullable=False),
    sa.Column('legal_entity', sa.String(length=32), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('rma_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('resolution_id', sa.String(length=36), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.String(length=24), nullable=False),
    sa.Column('issued_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['rma_id'], ['returns.rma_id'], name=op.f('fk_credit_notes_rma_id_returns')),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_credit_notes')),
    sa.UniqueConstraint('resolution_id', name=op.f('uq_credit_notes_resolution_id'))
    )
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_notes_rma_id'), ['rma_id'], unique=False)

    op.create_table('return_items',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('rma_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('receipt_id', sa.String(length=36), nullable=True),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('barcode', sa.String(length=64), nullable=False),
    sa.Column('lot', sa.String(length=20), nullable=True),
    sa.Column('serial', sa.String(length=20), nullable=True),
    sa.Column('unexpected', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('matched_scan', sa.String(length=36), nullable=True),
    sa.Column('carton_seq', sa.Integer(), nullable=True),
    sa.Column('sscc', sa.String(length=18), nullable=True),
    sa.Column('packer', sa.String(length=100), nullable=True),
    sa.Column('received_by', sa.String(length=160), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', TS, nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=True),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('graded_by', sa.String(length=160), nullable=True),
    sa.Column('graded_at', TS, nullable=True),
    sa.Column('disposition', sa.String(length=16), nullable=True),
    sa.Column('location', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=160), nullable=True),
    sa.Column('decided_at', TS, nullable=True),
    sa.Column('restocked_at', TS, nullable=True),
    sa.ForeignKeyConstraint(['rma_id'], ['returns.rma_id'], name=op.f('fk_return_items_rma_id_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_items'))
    )
    with op.batch_alter_table('return_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_items_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_items_rma_id'), ['rma_id'], unique=False)

    op.create_table('return_receipt_rmas',
    sa.Column('receipt_id', sa.String(length=36), nullable=False),
    sa.Column('rma_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['receipt_id'], ['return_receipts.id'], name=op.f('fk_return_receipt_rmas_receipt_id_return_receipts')),
    sa.ForeignKeyConstraint(['rma_id'], ['returns.rma_id'], name=op.f('fk_return_receipt_rmas_rma_id_returns')),
    sa.PrimaryKeyConstraint('receipt_id', 'rma_id', name=op.f('pk_return_receipt_rmas'))
    )
    op.create_table('return_resolutions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('rma_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('lines', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.String(length=24), nullable=False),
    sa.Column('credit_note', sa.String(length=120), nullable=True),
    sa.Column('replacement_order', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=160), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['rma_id'], ['returns.rma_id'], name=op.f('fk_return_resolutions_rma_id_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_resolutions')),
    sa.UniqueConstraint('credit_note', name=op.f('uq_return_resolutions_credit_note')),
    sa.UniqueConstraint('key', name=op.f('uq_return_resolutions_key'))
    )
    with op.batch_alter_table('return_resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_resolutions_rma_id'), ['rma_id'], unique=False)

    with op.batch_alter_table('number_blocks', schema=None) as batch_op:
        batch_op.alter_column('series',
               existing_type=sa.VARCHAR(length=32),
               type_=sa.String(length=120),
               existing_nullable=False)

    with op.batch_alter_table('number_series', schema=None) as batch_op:
        batch_op.alter_column('series',
               existing_type=sa.VARCHAR(length=32),
               type_=sa.String(length=120),
               existing_nullable=False)

    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_price', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('unexpected', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('resolution_id', sa.String(length=36), nullable=True))

    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=16), server_default='import', nullable=False))
        batch_op.add_column(sa.Column('closed_at', TS, nullable=True))
        batch_op.create_index('ix_returns_status_updated', ['status', 'updated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_index('ix_returns_status_updated')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('origin')

    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.drop_column('resolution_id')
        batch_op.drop_column('unexpected')
        batch_op.drop_column('unit_price')

    with op.batch_alter_table('number_series', schema=None) as batch_op:
        batch_op.alter_column('series',
               existing_type=sa.String(length=120),
               type_=sa.VARCHAR(length=32),
               existing_nullable=False)

    with op.batch_alter_table('number_blocks', schema=None) as batch_op:
        batch_op.alter_column('series',
               existing_type=sa.String(length=120),
               type_=sa.VARCHAR(length=32),
               existing_nullable=False)

    with op.batch_alter_table('return_resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_resolutions_rma_id'))

    op.drop_table('return_resolutions')
    op.drop_table('return_receipt_rmas')
    with op.batch_alter_table('return_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_items_rma_id'))
        batch_op.drop_index(batch_op.f('ix_return_items_order_id'))

    op.drop_table('return_items')
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_notes_rma_id'))

    op.drop_table('credit_notes')
    with op.batch_alter_table('return_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_return_receipts_station_open')

    op.drop_table('return_receipts')
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_index('ix_photos_owner')

    op.drop_table('photos')
