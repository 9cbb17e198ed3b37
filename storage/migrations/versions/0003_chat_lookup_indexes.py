"""indexes for the two per-batch lookups by chat that read whole tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Every batch reads who reported in its chats since the follow-up window began and the tickets its
chats opened lately. ticket_reporter had no index on the chat (each batch scanned all of it);
ticket's index on chat_id alone read every past ticket of a chat to keep the recent ones. Both
now have (chat_id, time). Written by hand; the migration test checks it against the models.
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_chat_id')
        batch_op.create_index('ix_ticket_chat_created', ['chat_id', 'created_at'], unique=False)
    with op.batch_alter_table('ticket_reporter', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_reporter_chat_joined', ['chat_id', 'joined_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket_reporter', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_reporter_chat_joined')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_chat_created')
        batch_op.create_index('ix_ticket_chat_id', ['chat_id'], unique=False)
