"""A ticket's status: the states of the ticket state machine, whose transitions are the table in
``services.tickets.TRANSITIONS`` (a test checks the two name the same states).

A ``StrEnum``: the database column holds the plain value (``"dispatched"``), old rows and SQL filters read the
same, and a member compares equal to its value.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"  # 待确认: the classifier was unsure; the grid worker confirms or dismisses
    REGISTERED = "registered"  # 已受理: a complaint on record, not yet at a unit
    DISPATCHED = "dispatched"  # 已派单: at the handling unit, waiting for 签收
    ACCEPTED = "accepted"  # 已签收
    RETURNED = "returned"  # 已退单: the unit says it is not theirs; the township re-routes it
    RESOLVED = "resolved"  # 已办结: the unit's answer given, on the way to 回访
    FOLLOWUP = "followup"  # 回访中: the reporter is asked how satisfied they are
    CLOSED = "closed"  # 已销号
    DISMISSED = "dismissed"  # 不是诉求

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    Status.PENDING: "待确认",
    Status.REGISTERED: "已受理",
    Status.DISPATCHED: "已派单",
    Status.ACCEPTED: "已签收",
    Status.RETURNED: "已退单",
    Status.RESOLVED: "已办结",
    Status.FOLLOWUP: "回访中",
    Status.CLOSED: "已销号",
    Status.DISMISSED: "不是诉求",
}

#: not yet answered: waiting for someone to confirm, route, accept or resolve it
OPEN_STATUSES: tuple[Status, ...] = (
    Status.PENDING,
    Status.REGISTERED,
    Status.DISPATCHED,
    Status.ACCEPTED,
    Status.RETURNED,
)
#: being worked at some unit: deadlines and reminders apply
ACTIVE_STATUSES: tuple[Status, ...] = (Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED)
#: ended: nothing more happens to it unless it is reopened
ENDED_STATUSES: tuple[Status, ...] = (Status.CLOSED, Status.DISMISSED)
