"""shipping: manifests, manifest cartons, carrier label requests; carrier label columns on cartons; marketplace labels on orders

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('label_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('carton_seq', sa.Integer(), nullable=False),
    sa.Column('sscc', sa.String(length=18), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('next_try_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_requests')),
    sa.UniqueConstraint('order_id', 'carton_seq', name='uq_label_requests_carton')
    )
    with op.batch_alter_table('label_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_requests_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_label_requests_status'), ['status'], unique=False)

    op.create_table('manifests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=64), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('open_key', sa.String(length=140), nullable=True),
    sa.Column('number', sa.BigInteger(), nullable=True),
    sa.Column('opened_at', TS, nullable=False),
    sa.Column('opened_by', sa.String(length=160), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('closed_at', TS, nullable=True),
    sa.Column('closed_by', sa.String(length=160), nullable=True),
    sa.Column('close_key', sa.String(length=64), nullable=True),
    sa.Column('split_by', sa.String(length=160), nullable=True),
    sa.Column('split_reason', sa.String(length=200), nullable=True),
    sa.Column('carrier_ref', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifests')),
    sa.UniqueConstraint('close_key', name=op.f('uq_manifests_close_key')),
    sa.UniqueConstraint('number', name=op.f('uq_manifests_number')),
    sa.UniqueConstraint('open_key', name=op.f('uq_manifests_open_key'))
    )
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifests_status'), ['status'], unique=False)

    op.create_table('manifest_cartons',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('carton_seq', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.String(length=36), nullable=False),
    sa.Column('sscc', sa.String(length=18), nullable=False),
    sa.Column('load_seq', sa.Integer(), nullable=False),
    sa.Column('loaded_by', sa.String(length=160), nullable=False),
    sa.Column('loaded_at', TS, nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifests.id'], name=op.f('fk_manifest_cartons_manifest_id_manifests')),
    sa.PrimaryKeyConstraint('order_id', 'carton_seq', name=op.f('pk_manifest_cartons'))
    )
    with op.batch_alter_table('manifest_cartons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifest_cartons_manifest_id'), ['manifest_id'], unique=False)

    with op.batch_alter_table('cartons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_carrier', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('shipment_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pulled_at', TS, nullable=True))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_zpl', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('label_url', sa.String(length=500), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('label_url')
        batch_op.drop_column('label_zpl')

    with op.batch_alter_table('cartons', schema=None) as batch_op:
        batch_op.drop_column('pulled_at')
        batch_op.drop_column('shipment_id')
        batch_op.drop_column('label_carrier')

    with op.batch_alter_table('manifest_cartons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifest_cartons_manifest_id'))

    op.drop_table('manifest_cartons')
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifests_status'))

    op.drop_table('manifests')
    with op.batch_alter_table('label_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_requests_status'))
        batch_op.drop_index(batch_op.f('ix_label_requests_station_id'))

    op.drop_table('label_requests')
