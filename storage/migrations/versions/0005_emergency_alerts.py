"""emergency_alert, and who is alerted in an emergency (person.duty, person.leader, person.public_name)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

An emergency is alerted to everyone who must act, again and wider until one of them acknowledges: the alert's
rounds, acknowledgement and arrival are kept in a table of their own (the figures of 应急处突 are read from it).
Who is on the duty roster, who is a leader and who may be named in the group come from the org file. Written by
hand; the migration test checks it against the models.
"""
import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duty', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('leader', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('public_name', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        'emergency_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('chat_id', sa.String(length=128), nullable=False),
        sa.Column('region_code', sa.String(length=64), nullable=False),
        sa.Column('private', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('alerted', sa.JSON(), nullable=True),
        sa.Column('reported_at', UTCDateTime(), nullable=True),
        sa.Column('raised_at', UTCDateTime(), nullable=True),
        sa.Column('next_alert_at', UTCDateTime(), nullable=True),
        sa.Column('acknowledged_at', UTCDateTime(), nullable=True),
        sa.Column('acknowledged_by', sa.Integer(), nullable=True),
        sa.Column('on_site_at', UTCDateTime(), nullable=True),
        sa.Column('on_site_by', sa.Integer(), nullable=True),
        sa.Column('closed_at', UTCDateTime(), nullable=True),
        sa.Column('close_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ticket_id'),
    )
    with op.batch_alter_table('emergency_alert', schema=None) as batch_op:
        batch_op.create_index('ix_emergency_alert_chat_id', ['chat_id'], unique=False)
        batch_op.create_index('ix_emergency_alert_status_next', ['status', 'next_alert_at'], unique=False)


def downgrade() -> None:
    op.drop_table('emergency_alert')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('public_name')
        batch_op.drop_column('leader')
        batch_op.drop_column('duty')
