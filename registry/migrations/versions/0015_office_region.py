"""office region: a detention's office may name its region, whose public holidays its clock skips

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('detention_cases') as batch:
        batch.add_column(sa.Column('office_region', sa.String(length=10), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('detention_cases') as batch:
        batch.drop_column('office_region')
