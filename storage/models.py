"""Database tables (SQLModel). Schema changes go through alembic (storage/migrations).

Datetimes are stored as naive UTC and come back aware (UTC): see `UTCDateTime`. Code converts to
Asia/Shanghai only when it shows a time to a person or computes a working-day deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def dt_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def json_field() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))


def text_field(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(sa.Text(), nullable=nullable))


# --- organisation ----------------------------------------------------------------------------


class Region(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    level: str = Field(max_length=16)  # county | township | village
    parent_code: str | None = Field(default=None, max_length=64, index=True)


class Unit(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    region_code: str = Field(max_length=64, index=True)
    tier: str = Field(max_length=16)  # village | township | county


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(default="resident", max_length=16, index=True)  # resident|grid_worker|official|admin
    region_code: str | None = Field(default=None, max_length=64, index=True)
    unit_code: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime | None = dt_field()
    # In an emergency (org file): on the duty roster, alerted at once; a leader, alerted when nobody acknowledges;
    # whether the group may be told their name when they acknowledge ("网格员李明已收到").
    duty: bool = False
    leader: bool = False
    public_name: bool = True


class Account(SQLModel, table=True):
    """A person's identity on one platform."""

    __table_args__ = (sa.UniqueConstraint("platform", "user_id", name="uq_account_platform_user"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(index=True, foreign_key="person.id")
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=200)
    can_dm: bool = True  # false after a private send failed (not started / not a friend)
    last_group_chat_id: str | None = Field(default=None, max_length=128)


class ChatGroup(SQLModel, table=True):
    __tablename__ = "chat_group"
    __table_args__ = (sa.UniqueConstraint("platform", "chat_id", name="uq_group_platform_chat"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    title: str = Field(default="", max_length=200)
    region_code: str | None = Field(default=None, max_length=64, index=True)  # None: not bound yet
    tags: dict | None = json_field()
    active: bool = True  # false once the bot was removed
    bind_prompted: bool = False
    created_at: datetime | None = dt_field()


# --- inbox / outbox ----------------------------------------------------------------------------


class InboxMessage(SQLModel, table=True):
    """Every inbound message, stored before it is processed. Unique per platform message (and edit)."""

    __tablename__ = "inbox"
    __table_args__ = (
        sa.UniqueConstraint("platform", "chat_id", "message_id", "variant", name="uq_inbox_message"),
        sa.Index("ix_inbox_pending", "status", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    chat_type: str = Field(max_length=16)
    message_id: str = Field(max_length=128)
    variant: str = Field(default="", max_length=64)  # "" or "edit:<time>" for edits
    sender_id: str = Field(max_length=128)
    sender_name: str = Field(default="", max_length=200)
    kind: str = Field(default="text", max_length=16)
    text: str | None = text_field()
    reply_to: str | None = Field(default=None, max_length=128)
    mentions: list | None = json_field()
    attachment: str | None = text_field()
    callback_id: str | None = Field(default=None, max_length=128)
    chat_title: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = dt_field()
    received_at: datetime | None = dt_field()
    status: str = Field(default="pending", max_length=16)  # pending | done | failed
    attempts: int = 0
    processed_at: datetime | None = dt_field()
    result: str | None = Field(
        default=None, max_length=32
    )  # ticket|merged|detail|consultation|prompt|command|ignored|non_text|...
    ticket_id: int | None = Field(default=None, index=True)
    error: str | None = text_field()


class OutboxMessage(SQLModel, table=True):
    """Every outbound message, recorded before it is sent; delivered by the delivery loop."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    chat_type: str = Field(default="group", max_length=16)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    reply_to: str | None = Field(default=None, max_length=128)
    mentions: list | None = json_field()
    buttons: list | None = json_field()
    fallback_chat_id: str | None = Field(default=None, max_length=128)
    recipient_name: str | None = Field(default=None, max_length=200)
    recipient_person_id: int | None = Field(default=None, index=True)
    callback_id: str | None = Field(default=None, max_length=128)
    force_reply: bool = False
    urgent: bool = False
    purpose: str = Field(default="reply", max_length=32)  # receipt|dispatch|prompt|followup|reminder|notice|...
    ticket_id: int | None = Field(default=None, index=True)
    inbox_id: int | None = Field(default=None, index=True)
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed
    attempts: int = 0
    created_at: datetime | None = dt_field()
    next_attempt_at: datetime | None = dt_field()
    sent_at: datetime | None = dt_field()
    sent_message_id: str | None = Field(default=None, max_length=128, index=True)
    error: str | None = text_field()


# --- tickets ------------------------------------------------------------------------------------


class Ticket(SQLModel, table=True):
    # a chat's recent tickets (what a new complaint may repeat) without reading all its past ones
    __table_args__ = (sa.Index("ix_ticket_chat_created", "chat_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    no: str = Field(max_length=32, unique=True, index=True)
    status: str = Field(max_length=16, index=True)
    category: str = Field(max_length=32, index=True)
    urgent: bool = False
    emergency: str | None = Field(default=None, max_length=32)  # the kind, for urgent tickets (fire, gas, ...)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    details: list | None = json_field()  # further messages that add detail
    attachments: list | None = json_field()
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)  # the group (or private chat) it came from
    source_message_id: str | None = Field(default=None, max_length=128)
    source_inbox_id: int | None = Field(default=None)
    private: bool = False  # reported privately to the bot
    region_code: str = Field(max_length=64, index=True)
    unit_code: str | None = Field(default=None, max_length=64, index=True)
    tier: str = Field(default="village", max_length=16)
    reporter_id: int = Field(index=True)
    confidence: float = 0.0
    evidence: str | None = text_field()
    resolution: str | None = text_field()
    satisfaction: str | None = Field(default=None, max_length=16)  # satisfied|basic|unsatisfied|no_answer
    close_reason: str | None = Field(default=None, max_length=32)
    return_count: int = 0
    reopen_count: int = 0
    created_at: datetime | None = dt_field(index=True)
    dispatched_at: datetime | None = dt_field()
    accepted_at: datetime | None = dt_field()
    resolved_at: datetime | None = dt_field()
    closed_at: datetime | None = dt_field()
    deadline: datetime | None = dt_field(index=True)
    updated_at: datetime | None = dt_field()


class TicketReporter(SQLModel, table=True):
    """Everyone who reported a ticket: the first reporter and those merged in (我家也是)."""

    __tablename__ = "ticket_reporter"
    __table_args__ = (
        sa.UniqueConstraint("ticket_id", "person_id", name="uq_reporter"),
        # who reported in these chats lately (`TicketRepo.prefetch_recent_reporters`, every batch)
        sa.Index("ix_ticket_reporter_chat_joined", "chat_id", "joined_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True)
    person_id: int = Field(index=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    message_id: str | None = Field(default=None, max_length=128)
    joined_at: datetime | None = dt_field()
    rating: str | None = Field(default=None, max_length=16)
    rated_at: datetime | None = dt_field()


class TicketEvent(SQLModel, table=True):
    """The audit trail: every transition, who made it, when, and why."""

    __tablename__ = "ticket_event"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True)
    at: datetime | None = dt_field()
    actor_id: int | None = Field(default=None)  # None: the system
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    note: str | None = text_field()


class Consultation(SQLModel, table=True):
    """A question (咨询): not a ticket, handed to the group's grid worker and counted."""

    id: int | None = Field(default=None, primary_key=True)
    inbox_id: int = Field(index=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    region_code: str | None = Field(default=None, max_length=64, index=True)
    person_id: int
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime | None = dt_field(index=True)


class DaySequence(SQLModel, table=True):
    """Per-day counter behind ticket numbers (SG20261125-0007)."""

    __tablename__ = "day_sequence"
    day: str = Field(primary_key=True, max_length=16)
    last: int = 0


class PlatformState(SQLModel, table=True):
    """Connection state of each platform, for `shanzhi status`."""

    __tablename__ = "platform_state"
    platform: str = Field(primary_key=True, max_length=16)
    connected: bool = False
    detail: str | None = text_field()
    since: datetime | None = dt_field()


# --- schedules: reminders and notices ------------------------------------------------------------
# Tables of the schedules: reminder slots, policy notices and their delivery records.
#
# A `Reminder` row is one slot in a ticket's schedule — (ticket, kind, due time) is unique — so a
# sweep that runs twice, or two processes sweeping at once, can create it only once, and sending it
# is a state change on that row in the same transaction as the outbox rows it produces. Digests use
# the same table with ticket_id 0 (one row per digest run).
#
# The APScheduler job table is declared here too (APScheduler creates it itself when missing, with
# this very shape) so that alembic owns it and autogenerate never proposes to drop it.


class Reminder(SQLModel, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        sa.UniqueConstraint("ticket_id", "kind", "due_at", name="uq_reminder_slot"),
        sa.Index("ix_reminder_status_send_after", "status", "send_after"),
    )
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(default=0, index=True)  # 0: not about one ticket (digests)
    kind: str = Field(
        max_length=32
    )  # accept|due_soon_24h|due_soon_2h|due_now|overdue|escalate|followup_close|daily_digest|weekly_digest
    due_at: datetime | None = dt_field(nullable=False)
    send_after: datetime | None = dt_field(nullable=False)  # due_at, or the end of quiet hours
    status: str = Field(default="pending", max_length=16)  # pending|sent|superseded|obsolete
    urgent: bool = False
    held: bool = False  # held by quiet hours
    late: bool = False  # sent well after it was due (the process was down)
    unit_code: str | None = Field(default=None, max_length=64)
    tier: str | None = Field(default=None, max_length=16)
    recipients: int = 0
    note: str | None = text_field()
    created_at: datetime | None = dt_field()
    sent_at: datetime | None = dt_field()


class Notice(SQLModel, table=True):
    """A policy notice, posted at `send_at` into every active group whose tags match."""

    __tablename__ = "notice"
    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    tags: dict | None = json_field()  # {"township": ["青石镇"], "industry": ["manufacturing"]}
    send_at: datetime | None = dt_field(nullable=False, index=True)
    status: str = Field(default="scheduled", max_length=16, index=True)  # scheduled|sent|cancelled
    created_by: int | None = Field(default=None)  # person id; None from the command line
    created_at: datetime | None = dt_field()
    sent_at: datetime | None = dt_field()
    groups: int = 0


class NoticeDelivery(SQLModel, table=True):
    """One row per group a notice went to; its state is the state of its outbox row."""

    __tablename__ = "notice_delivery"
    __table_args__ = (sa.UniqueConstraint("notice_id", "group_id", name="uq_notice_group"),)
    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(index=True)
    group_id: int
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    title: str = Field(default="", max_length=200)
    outbox_id: int | None = Field(default=None, index=True)
    created_at: datetime | None = dt_field()


# APScheduler 3's SQLAlchemyJobStore table (tablename "apscheduler_jobs"), same columns.
apscheduler_jobs = sa.Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary(), nullable=False),
)


class EmergencyAlert(SQLModel, table=True):
    """An emergency being alerted (应急处突): who was told, when, and who acknowledged and arrived.

    One per urgent ticket with a kind of emergency. While `status` is ``alerting`` the sweep alerts again, a
    wider circle each round, at `next_alert_at`; an acknowledgement (收到) stops it."""

    __tablename__ = "emergency_alert"
    __table_args__ = (sa.Index("ix_emergency_alert_status_next", "status", "next_alert_at"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(unique=True)
    kind: str = Field(max_length=32)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=128, index=True)
    region_code: str = Field(max_length=64)
    private: bool = False  # nothing of it is posted to the group (self-harm)
    status: str = Field(default="alerting", max_length=16)  # alerting | acknowledged | on_site | closed
    round: int = 0  # alert rounds sent after the first
    alerted: list | None = json_field()  # person ids alerted so far
    reported_at: datetime | None = dt_field()  # when the resident sent the message
    raised_at: datetime | None = dt_field()  # when the bot read it and alerted
    next_alert_at: datetime | None = dt_field()
    acknowledged_at: datetime | None = dt_field()
    acknowledged_by: int | None = Field(default=None)
    on_site_at: datetime | None = dt_field()
    on_site_by: int | None = Field(default=None)
    closed_at: datetime | None = dt_field()
    close_reason: str | None = text_field()
