"""ticket.emergency: the kind of an urgent ticket (fire, gas, self_harm, ...)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The classifier now tells the kinds of emergency apart: what the group is told, who is alerted, and whether the
reporter may be named in the group at all (never for self-harm) depend on it. Nullable: tickets opened before
it, and every ticket that is not urgent, have none. Written by hand; the migration test checks it against the
models.
"""
import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emergency', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('emergency')
