"""office time zone: a detention's days are counted in its office's zone

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    # Cases already open keep counting in the service's zone (the empty value), as they did.
    with op.batch_alter_table('detention_cases') as batch:
        batch.add_column(sa.Column('office_zone', sa.String(length=64), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('detention_cases') as batch:
        batch.drop_column('office_zone')
