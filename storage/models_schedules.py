"""Tables of the schedules: reminder slots, policy notices and their delivery records.

A `Reminder` row is one slot in a ticket's schedule — (ticket, kind, due time) is unique — so a
sweep that runs twice, or two processes sweeping at once, can create it only once, and sending it
is a state change on that row in the same transaction as the outbox rows it produces. Digests use
the same table with ticket_id 0 (one row per digest run).

The APScheduler job table is declared here too (APScheduler creates it itself when missing, with
this very shape) so that alembic owns it and autogenerate never proposes to drop it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.models import dt_field, json_field, text_field

__all__ = ["Reminder", "Notice", "NoticeDelivery", "apscheduler_jobs"]


class Reminder(SQLModel, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        sa.UniqueConstraint("ticket_id", "kind", "due_at", name="uq_reminder_slot"),
        sa.Index("ix_reminder_status_send_after", "status", "send_after"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(default=0, index=True)  # 0: not about one ticket (digests)
    kind: str = Field(max_length=32)  # accept|due_soon_24h|due_soon_2h|due_now|overdue|escalate|followup_close|daily_digest|weekly_digest
    due_at: Optional[datetime] = dt_field(nullable=False)
    send_after: Optional[datetime] = dt_field(nullable=False)  # due_at, or the end of quiet hours
    status: str = Field(default="pending", max_length=16)  # pending|sent|superseded|obsolete
    urgent: bool = False
    held: bool = False  # held by quiet hours
    late: bool = False  # sent well after it was due (the process was down)
    unit_code: Optional[str] = Field(default=None, max_length=64)
    tier: Optional[str] = Field(default=None, max_length=16)
    recipients: int = 0
    note: Optional[str] = text_field()
    created_at: Optional[datetime] = dt_field()
    sent_at: Optional[datetime] = dt_field()


class Notice(SQLModel, table=True):
    """A policy notice, posted at `send_at` into every active group whose tags match."""

    __tablename__ = "notice"
    id: Optional[int] = Field(default=None, primary_key=True)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    tags: Optional[dict] = json_field()  # {"township": ["青石镇"], "industry": ["manufacturing"]}
    send_at: Optional[datetime] = dt_field(nullable=False, index=True)
    status: str = Field(default="scheduled", max_length=16, index=True)  # scheduled|sent|cancelled
    created_by: Optional[int] = Field(default=None)  # person id; None from the command line
    created_at: Optional[datetime] = dt_field()
    sent_at: Optional[datetime] = dt_field()
    groups: int = 0


class NoticeDelivery(SQLModel, table=True):
    """One row per group a notice went to; its state is the state of its outbox row."""

    __tablename__ = "notice_delivery"
    __table_args__ = (sa.UniqueConstraint("notice_id", "group_id", name="uq_notice_group"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    notice_id: int = Field(index=True)
    group_id: int
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    title: str = Field(default="", max_length=200)
    outbox_id: Optional[int] = Field(default=None, index=True)
    created_at: Optional[datetime] = dt_field()


# APScheduler 3's SQLAlchemyJobStore table (tablename "apscheduler_jobs"), same columns.
apscheduler_jobs = sa.Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary(), nullable=False),
)
