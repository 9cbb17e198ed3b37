"""Writing outbound messages to the outbox (inside the caller's unit of work) and addressing people.

A message is recorded here, in the same transaction as the state change it reports, before any
attempt to send it: a crash after the commit loses nothing, the delivery loop sends it later.
"""

from __future__ import annotations

from bot.messages import Button, ChatType, Outbound
from services.uow import UnitOfWork
from storage.models import Account, OutboxMessage, Person


def enqueue(
    uow: UnitOfWork,
    out: Outbound,
    *,
    purpose: str,
    ticket_id: int | None = None,
    inbox_id: int | None = None,
    person_id: int | None = None,
    flush: bool = False,
) -> OutboxMessage | None:
    """Record an outbound message: it goes out with the transaction's next statement or commit,
    batched with the others. With `flush` the row is written now and returned (for a caller that
    needs its id)."""
    values = _row(uow, out, purpose=purpose, ticket_id=ticket_id, inbox_id=inbox_id, person_id=person_id)
    if flush:
        return uow.outbox.add(OutboxMessage(**values))
    uow.outbox.append(values)
    return None


def _row(
    uow: UnitOfWork, out: Outbound, *, purpose: str, ticket_id: int | None, inbox_id: int | None, person_id: int | None
) -> dict:
    """The outbox columns of a message (every column, so rows of a batch share one INSERT)."""
    return {
        "platform": out.platform,
        "chat_id": out.chat_id,
        "chat_type": out.chat_type.value,
        "text": out.text,
        "reply_to": out.reply_to,
        "mentions": [list(m) for m in out.mentions] or None,
        "buttons": [[{"label": b.label, "command": b.command} for b in row] for row in out.buttons] or None,
        "fallback_chat_id": out.fallback_chat_id,
        "recipient_name": out.recipient_name,
        "recipient_person_id": person_id,
        "callback_id": out.callback_id,
        "force_reply": out.force_reply,
        "urgent": out.urgent,
        "purpose": purpose,
        "ticket_id": ticket_id,
        "inbox_id": inbox_id,
        "status": "pending",
        "attempts": 0,
        "created_at": uow.now,
        "next_attempt_at": uow.now,
        "sent_at": None,
        "sent_message_id": None,
        "error": None,
    }


def to_outbound(row: OutboxMessage) -> Outbound:
    return Outbound(
        platform=row.platform,
        chat_id=row.chat_id,
        text=row.text,
        chat_type=ChatType(row.chat_type),
        reply_to=row.reply_to,
        mentions=tuple((str(a), str(b)) for a, b in (row.mentions or [])),
        buttons=tuple(tuple(Button(**b) for b in r) for r in (row.buttons or [])),
        fallback_chat_id=row.fallback_chat_id,
        recipient_name=row.recipient_name,
        callback_id=row.callback_id,
        force_reply=row.force_reply,
        urgent=row.urgent,
    )


def pick_account(uow: UnitOfWork, person: Person, platform: str | None) -> Account | None:
    """The account to write to privately: on the ticket's platform if they have one, else their first."""
    accounts = uow.org.accounts_of(person.id)  # type: ignore[arg-type]
    for acc in accounts:
        if acc.platform == platform:
            return acc
    return accounts[0] if accounts else None
