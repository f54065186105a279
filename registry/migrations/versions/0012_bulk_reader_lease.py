"""bulk job reader lease: a worker takes over reading a manifest whose reader died

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bulk_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reader', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('reader_lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('chunk_lines', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('bulk_jobs', schema=None) as batch_op:
        batch_op.drop_column('chunk_lines')
        batch_op.drop_column('reader_lease_until')
        batch_op.drop_column('reader')
