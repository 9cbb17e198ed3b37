"""Queries and inserts, grouped by table. Repositories never commit: the service's unit of work does.

Claims of inbox and outbox rows use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several bot
processes on one database never take the same row; SQLite serialises writers by itself.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.bulk import postgres_rows, sqlite_rows
from storage.bulk.appends import append, append_object, set_latest, update_later
from storage.bulk.objects import column_values, insert_now, new
from storage.ids import id_of, next_id
from storage.models import (
    Account,
    ChatGroup,
    Consultation,
    InboxMessage,
    OutboxMessage,
    Person,
    PlatformState,
    Region,
    Ticket,
    TicketEvent,
    TicketReporter,
    Unit,
)
from storage.status import OPEN_STATUSES, Status

_EVENT_TABLE: sa.Table = TicketEvent.__table__  # type: ignore[attr-defined]
_TICKET_TABLE: sa.Table = Ticket.__table__  # type: ignore[attr-defined]
_REPORTER_TABLE: sa.Table = TicketReporter.__table__  # type: ignore[attr-defined]
_NEXT_NUMBER = sa.text(
    "INSERT INTO day_sequence (day, last) VALUES (:d, 1) "
    "ON CONFLICT (day) DO UPDATE SET last = day_sequence.last + 1 RETURNING last"
)
_SET_NUMBER = sa.text("UPDATE day_sequence SET last = :n WHERE day = :d")
_OUTBOX_TABLE: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
_INBOX_TABLE: sa.Table = InboxMessage.__table__  # type: ignore[attr-defined]


_STATEMENTS: dict[tuple, sa.Executable] = {}


def _built(key: tuple, build) -> sa.Executable:  # type: ignore[no-untyped-def]
    """A statement a batch runs every time, built once per process with its values as bound
    parameters. SQLAlchemy caches the SQL, but building the statement object is not free:
    ~1 ms for a two-entity select, several times what SQLite then takes to answer it."""
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


def _in(name: str) -> sa.BindParameter:
    return sa.bindparam(name, expanding=True)


def _locking(session: Session, stmt):  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


_INBOX_KEY = ("platform", "chat_id", "message_id", "variant")


def _inbox_insert(dialect: str) -> sa.Executable:
    """INSERT … ON CONFLICT (the message's unique key) DO NOTHING RETURNING id."""

    def build():  # type: ignore[no-untyped-def]
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        table = InboxMessage.__table__  # type: ignore[attr-defined]
        return insert(table).on_conflict_do_nothing(index_elements=list(_INBOX_KEY)).returning(table.c.id)

    return _built(("inbox_insert", dialect), build)


class InboxRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def find(self, platform: str, chat_id: str, message_id: str, variant: str = "") -> InboxMessage | None:
        return self.s.exec(
            select(InboxMessage).where(
                InboxMessage.platform == platform,
                InboxMessage.chat_id == chat_id,
                InboxMessage.message_id == message_id,
                InboxMessage.variant == variant,
            )
        ).first()

    def insert_new(self, values: dict) -> int | None:
        """Insert one inbox row (SQLAlchemy Core); its id, or None if the unique key already holds it."""
        return self.s.execute(_inbox_insert(self.s.get_bind().dialect.name), values).scalar()

    def insert_many(self, rows: Sequence[dict]) -> list[int | None]:
        """Insert inbox rows in one statement (one round trip on PostgreSQL); each row's id, or None
        where the unique key already holds it (also for a repeat of a key earlier in `rows`)."""
        if (
            self.s.get_bind().dialect.name == "postgresql"
        ):  # one short statement, whatever the batch (storage.bulk.postgres_rows)
            stmt = postgres_rows.insert(
                _INBOX_TABLE, list(rows[0]), on_conflict=_INBOX_KEY, returning=("id", *_INBOX_KEY)
            )
            found: Sequence[Any] = self.s.connection().execute(stmt, {"rows": postgres_rows.as_json(rows)}).all()
        else:
            found = sqlite_rows.insert_returning(
                self.s.connection(), _INBOX_TABLE, rows, on_conflict=_INBOX_KEY, returning=("id", *_INBOX_KEY)
            )
        ids = {tuple(r[1:]): r[0] for r in found}
        out: list[int | None] = []
        for row in rows:
            out.append(ids.pop(tuple(row[k] for k in _INBOX_KEY), None))
        return out

    def claim_many(self, inbox_ids: Sequence[int]) -> list[InboxMessage]:
        """The rows among `inbox_ids` that still wait, locked for this transaction, oldest first, as
        objects outside the session: their outcomes go out together (`finish_many`), not one UPDATE
        each, and building them from plain rows (`storage.bulk.objects.new`) skips the session's loading.
        The rows are found by primary key alone and the waiting ones kept here: with `status` in the
        query, PostgreSQL took the `(status, id)` index, which keeps an entry for every row that was
        ever pending until VACUUM removes it, and the claim grew with the inbox."""
        dialect = self.s.get_bind().dialect.name
        t = _INBOX_TABLE
        stmt = _built(
            ("claim_many", dialect),
            lambda: _locking(self.s, sa.select(t).where(t.c.id.in_(_in("ids"))).order_by(t.c.id)),
        )
        rows = self.s.connection().execute(stmt, {"ids": list(inbox_ids)}).mappings().all()
        return [new(InboxMessage, **row) for row in rows if row["status"] == "pending"]

    def finish_many(self, done: Sequence[InboxMessage]) -> None:
        """Mark processed rows done (rows detached from the session by the caller, so their outcome
        is written here and only here): queued, written with the transaction's other rows."""
        update_later(
            self.s,
            _INBOX_TABLE,
            ("status", "result", "processed_at", "ticket_id"),
            [
                {
                    "id": r.id,
                    "status": r.status,
                    "result": r.result,
                    "processed_at": r.processed_at,
                    "ticket_id": r.ticket_id,
                }
                for r in done
            ],
        )

    def claim(self, inbox_id: int) -> InboxMessage | None:
        """The row, locked for this transaction, if it still waits to be processed."""
        stmt = select(InboxMessage).where(InboxMessage.id == inbox_id, InboxMessage.status == "pending")
        return self.s.exec(_locking(self.s, stmt)).first()

    def pending_ids(self, limit: int = 500) -> list[int]:
        stmt = (
            select(InboxMessage.id).where(InboxMessage.status == "pending").order_by(col(InboxMessage.id)).limit(limit)
        )
        return [int(i) for i in self.s.exec(stmt).all() if i is not None]

    def count_pending(self) -> int:
        return self.s.exec(
            select(sa.func.count()).select_from(InboxMessage).where(InboxMessage.status == "pending")
        ).one()

    def spoke_in(self, platform: str, chat_id: str, sender_id: str) -> bool:
        """Whether someone has ever said anything in a chat (what the bot knows of who is in a group)."""
        return (
            self.s.exec(
                select(InboxMessage.id).where(
                    InboxMessage.platform == platform,
                    InboxMessage.chat_id == chat_id,
                    InboxMessage.sender_id == sender_id,
                )
            ).first()
            is not None
        )

    def with_result_in_chat(self, platform: str, chat_id: str, result: str, since: datetime) -> list[InboxMessage]:
        """The messages of a chat received since a time whose processing ended with this result, oldest first."""
        return list(
            self.s.exec(
                select(InboxMessage)
                .where(
                    InboxMessage.platform == platform,
                    InboxMessage.chat_id == chat_id,
                    InboxMessage.result == result,
                    col(InboxMessage.received_at) >= since,
                )
                .order_by(col(InboxMessage.id))
            ).all()
        )

    def same_kind_since(self, platform: str, sender_id: str, kind: str, since: datetime, before_id: int) -> int:
        stmt = (
            select(sa.func.count())
            .select_from(InboxMessage)
            .where(
                InboxMessage.platform == platform,
                InboxMessage.sender_id == sender_id,
                InboxMessage.kind == kind,
                col(InboxMessage.sent_at) >= since,
                col(InboxMessage.id) < before_id,
            )
        )
        return self.s.exec(stmt).one()


class OutboxRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, row: OutboxMessage) -> OutboxMessage:
        """Record a row now (its id is wanted, e.g. by a notice's delivery record)."""
        self.s.add(row)
        self.s.flush()
        return row

    def append(self, values: dict) -> None:
        """Record a row with the transaction's next statement or commit, batched with the others."""
        append(self.s, _OUTBOX_TABLE, values)

    def due(self, now: datetime, limit: int = 200, platforms: Sequence[str] | None = None) -> list[OutboxMessage]:
        """Rows to send now, oldest first; urgent ones ahead. 'sending' rows were in flight at a crash."""
        stmt = (
            select(OutboxMessage)
            .where(
                col(OutboxMessage.status).in_(("pending", "sending")),
                sa.or_(OutboxMessage.next_attempt_at.is_(None), col(OutboxMessage.next_attempt_at) <= now),  # type: ignore[union-attr]
            )
            .order_by(col(OutboxMessage.urgent).desc(), col(OutboxMessage.id))
            .limit(limit)
        )
        if platforms is not None:
            stmt = stmt.where(col(OutboxMessage.platform).in_(list(platforms)))
        return list(self.s.exec(_locking(self.s, stmt)).all())

    def get_locked(self, outbox_id: int) -> OutboxMessage | None:
        stmt = select(OutboxMessage).where(OutboxMessage.id == outbox_id)
        return self.s.exec(_locking(self.s, stmt)).first()

    def count_unsent(self, platforms: Sequence[str] | None = None) -> int:
        stmt = (
            select(sa.func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.status).in_(("pending", "sending")))
        )
        if platforms is not None:
            stmt = stmt.where(col(OutboxMessage.platform).in_(list(platforms)))
        return self.s.exec(stmt).one()

    def next_due_at(self, after: datetime, platforms: Sequence[str] | None = None) -> datetime | None:
        """The soonest retry still in the future (rows due now are being sent, or wait behind one of these)."""
        stmt = select(sa.func.min(OutboxMessage.next_attempt_at)).where(
            col(OutboxMessage.status).in_(("pending", "sending")), col(OutboxMessage.next_attempt_at) > after
        )
        if platforms is not None:
            stmt = stmt.where(col(OutboxMessage.platform).in_(list(platforms)))
        return self.s.exec(stmt).one()

    def latest_to(
        self, person_id: int, platform: str, chat_id: str, purposes: Sequence[str], since: datetime
    ) -> OutboxMessage | None:
        """The newest message of one of these purposes queued for a person in a chat since a time."""
        return self.s.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.recipient_person_id == person_id,
                OutboxMessage.platform == platform,
                OutboxMessage.chat_id == chat_id,
                col(OutboxMessage.purpose).in_(list(purposes)),
                col(OutboxMessage.created_at) >= since,
            )
            .order_by(col(OutboxMessage.id).desc())
        ).first()

    def by_sent_message(self, platform: str, chat_id: str, message_id: str) -> OutboxMessage | None:
        return self.s.exec(
            select(OutboxMessage).where(
                OutboxMessage.platform == platform,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.sent_message_id == message_id,
            )
        ).first()


# Regions and units change only when the org file is loaded (bootstrap), yet routing reads them
# for every message: each process keeps a read-only copy per database, dropped by bootstrap.
_org_cache: weakref.WeakKeyDictionary[Engine, tuple[dict[str, Region], dict[str, Unit]]] = weakref.WeakKeyDictionary()


def invalidate_org_cache(session: Session) -> None:
    _org_cache.pop(session.get_bind(), None)  # type: ignore[arg-type]


class OrgRepo:
    """Organisation lookups. Accounts, groups and staff lists found in this unit of work are kept
    for the rest of it (a batch of messages reads the same ones again and again); they are the
    session's own objects, so changes made in the transaction show through. `forget()` drops them.
    """

    def __init__(self, session: Session) -> None:
        self.s = session
        self._accounts: dict[tuple[str, str], Account] = {}
        self._groups: dict[tuple[str, str], ChatGroup] = {}
        self._people: dict[tuple, list[Person]] = {}
        self._accounts_of: dict[int, list[Account]] = {}
        self._no_account: set[tuple[str, str]] = set()  # looked up in this unit of work and not found
        # the session's identity map holds objects weakly: these keep the people read so far alive
        # for the unit of work, so reading one again by id costs no query
        self._persons: dict[int, Person] = {}
        self._fresh: set[tuple[str, str]] = set()  # accounts added by `add_residents`, until `first_seen`

    def forget(self) -> None:
        self._persons.clear()
        self._no_account.clear()
        self._accounts.clear()
        self._groups.clear()
        self._people.clear()
        self._accounts_of.clear()

    def _org(self) -> tuple[dict[str, Region], dict[str, Unit]]:
        engine = self.s.get_bind()
        cached = _org_cache.get(engine)  # type: ignore[arg-type]
        if cached is None:
            regions = {r.code: r for r in self.s.exec(select(Region)).all()}
            units = {u.code: u for u in self.s.exec(select(Unit)).all()}  # org-file (insertion) order
            for obj in (*regions.values(), *units.values()):
                self.s.expunge(obj)  # detached, read-only copies shared by every session
            cached = (regions, units)
            _org_cache[engine] = cached  # type: ignore[index]
        return cached

    def region(self, code: str) -> Region | None:
        return self._org()[0].get(code)

    def regions(self) -> list[Region]:
        return list(self._org()[0].values())

    def unit(self, code: str) -> Unit | None:
        return self._org()[1].get(code)

    def units(self) -> list[Unit]:
        return list(self._org()[1].values())

    def units_in_region(self, region_code: str, tier: str | None = None) -> list[Unit]:
        return [u for u in self._org()[1].values() if u.region_code == region_code and (tier is None or u.tier == tier)]

    def person(self, person_id: int) -> Person | None:
        p = self._persons.get(person_id)
        if p is None:
            p = self.s.get(Person, person_id)
            if p is not None:
                self._persons[person_id] = p
        return p

    def prefetch_senders(self, keys: Iterable[tuple[str, str]]) -> None:
        """The accounts and people behind a batch's (platform, user id) pairs, with every account of
        those people, in one query per platform instead of two per message."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for platform, user_id in keys:
            if (platform, user_id) not in self._accounts:
                wanted[platform].add(user_id)
        stmt = _built(
            ("senders",),
            lambda: (
                select(Account, Person)
                .join(Person, Person.id == Account.person_id)  # type: ignore[arg-type]
                .where(
                    col(Account.person_id).in_(
                        select(Account.person_id).where(
                            Account.platform == sa.bindparam("platform"), col(Account.user_id).in_(_in("users"))
                        )
                    )
                )
                .order_by(col(Account.id))
            ),
        )
        for platform, users in wanted.items():
            found: dict[int, list[Account]] = {}
            for acc, person in self.s.exec(stmt, params={"platform": platform, "users": sorted(users)}).all():  # type: ignore[call-overload]
                self._persons[person.id] = person  # type: ignore[index]
                found.setdefault(person.id, []).append(acc)  # type: ignore[arg-type]
                if acc.platform == platform and acc.user_id in users:
                    self._accounts[(platform, acc.user_id)] = acc
            for person_id, accounts in found.items():
                self._accounts_of.setdefault(person_id, accounts)
            self._no_account.update((platform, u) for u in users if (platform, u) not in self._accounts)

    def prefetch_groups(self, keys: Iterable[tuple[str, str]]) -> None:
        """The groups of a batch, in one query per platform."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for platform, chat_id in keys:
            if (platform, chat_id) not in self._groups:
                wanted[platform].add(chat_id)
        stmt = _built(
            ("groups",),
            lambda: select(ChatGroup).where(
                ChatGroup.platform == sa.bindparam("platform"), col(ChatGroup.chat_id).in_(_in("chats"))
            ),
        )
        for platform, chats in wanted.items():
            for g in self.s.exec(stmt, params={"platform": platform, "chats": sorted(chats)}).all():  # type: ignore[call-overload]
                self._groups[(g.platform, g.chat_id)] = g

    def account(self, platform: str, user_id: str) -> Account | None:
        if (platform, user_id) in self._no_account:
            return None
        acc = self._accounts.get((platform, user_id))
        if acc is not None and acc.platform == platform and acc.user_id == user_id:
            return acc
        acc = self.s.exec(select(Account).where(Account.platform == platform, Account.user_id == user_id)).first()
        if acc is not None:
            self._accounts[(platform, user_id)] = acc
        return acc

    def account_and_person(self, platform: str, user_id: str) -> tuple[Account, Person] | None:
        """An account with its person, in one query (or none when memoised)."""
        if (platform, user_id) in self._no_account:
            return None
        acc = self._accounts.get((platform, user_id))
        if acc is not None and acc.platform == platform and acc.user_id == user_id:
            person = self.person(acc.person_id)
            return (acc, person) if person is not None else None
        row = self.s.exec(
            select(Account, Person)
            .join(Person, Person.id == Account.person_id)  # type: ignore[arg-type]
            .where(Account.platform == platform, Account.user_id == user_id)
        ).first()
        if row is None:
            return None
        self._accounts[(platform, user_id)] = row[0]
        self._persons[id_of(row[1])] = row[1]
        return row[0], row[1]

    def add_residents(self, residents: Sequence[tuple[Person, Account]]) -> None:
        """First-time speakers: new people with their one account each, written at once (an account
        needs its person's id, and the rest of the message the account's): two INSERTs in all.
        Each counts as first seen until `first_seen` is asked about it."""
        insert_now(self.s, [person for person, _ in residents])
        for person, acc in residents:
            acc.person_id = person.id  # type: ignore[assignment]
        insert_now(self.s, [acc for _, acc in residents])
        for person, acc in residents:
            key = (acc.platform, acc.user_id)
            self._no_account.discard(key)
            self._accounts[key] = acc
            self._persons[person.id] = person  # type: ignore[index]
            self._accounts_of[acc.person_id] = [acc]  # a new person's only account
            self._fresh.add(key)

    def first_seen(self, platform: str, user_id: str) -> bool:
        """Whether this account was added in this unit of work and not yet asked about (once only)."""
        if (platform, user_id) in self._fresh:
            self._fresh.discard((platform, user_id))
            return True
        return False

    def accounts_of(self, person_id: int) -> list[Account]:
        found = self._accounts_of.get(person_id)
        if found is None or any(a.person_id != person_id for a in found):
            found = list(
                self.s.exec(select(Account).where(Account.person_id == person_id).order_by(col(Account.id))).all()
            )
            self._accounts_of[person_id] = found
        return list(found)

    def people(
        self, *, role: str | None = None, region_code: str | None = None, unit_code: str | None = None
    ) -> list[Person]:
        # Staff (grid workers, officials, admins) are set by the org file, never in a message's
        # transaction, so their lists are kept for the unit of work; anything else is read afresh.
        key = (role, region_code, unit_code)
        if role in ("grid_worker", "official", "admin"):
            found = self._people.get(key)
            if found is None:
                with self.s.no_autoflush:  # nothing this transaction has pending can change who the staff are
                    found = self._people[key] = self._query_staff(role, region_code, unit_code)
            return list(found)
        return self._query_people(role, region_code, unit_code)

    def _query_staff(self, role: str, region_code: str | None, unit_code: str | None) -> list[Person]:
        """Staff with their accounts in one query: whoever is told something is then written to."""

        def build():  # type: ignore[no-untyped-def]
            stmt = (
                select(Person, Account)
                .outerjoin(Account, Account.person_id == Person.id)
                .where(Person.role == sa.bindparam("role"))
            )  # type: ignore[arg-type]
            if region_code:
                stmt = stmt.where(Person.region_code == sa.bindparam("region"))
            if unit_code:
                stmt = stmt.where(Person.unit_code == sa.bindparam("unit"))
            return stmt.order_by(Person.id, Account.id)

        stmt = _built(("staff", bool(region_code), bool(unit_code)), build)
        params = {"role": role, "region": region_code, "unit": unit_code}
        return self._remember_staff(self.s.exec(stmt, params={k: v for k, v in params.items() if v}).all())  # type: ignore[call-overload]

    def prefetch_staff(self, officials_of: Iterable[str], grid_workers_in: Iterable[str]) -> None:
        """The officials of some units, the grid workers of some regions and the admins, in one
        query: what `people` would read staff list by staff list while a batch is announced (each
        dispatched ticket's unit, the grid workers above each group). Lists known empty are kept too."""
        keys = (
            [("official", None, u) for u in sorted(set(officials_of))]
            + [("grid_worker", r, None) for r in sorted(set(grid_workers_in))]
            + [("admin", None, None)]
        )
        keys = [k for k in keys if k not in self._people]
        if not keys:
            return
        stmt = _built(
            ("staff_batch",),
            lambda: (
                select(Person, Account)
                .outerjoin(Account, Account.person_id == Person.id)  # type: ignore[arg-type]
                .where(
                    sa.or_(
                        sa.and_(col(Person.role) == "official", col(Person.unit_code).in_(_in("units"))),
                        sa.and_(col(Person.role) == "grid_worker", col(Person.region_code).in_(_in("regions"))),
                        col(Person.role) == "admin",
                    )
                )
                .order_by(col(Person.id), col(Account.id))
            ),
        )
        params = {
            "units": [k[2] for k in keys if k[0] == "official"],
            "regions": [k[1] for k in keys if k[0] == "grid_worker"],
        }
        with self.s.no_autoflush:  # as in `people`: nothing pending can change who the staff are
            found = self._remember_staff(self.s.exec(stmt, params=params).all())  # type: ignore[call-overload]
        lists: dict[tuple, list[Person]] = {key: [] for key in keys}
        for person in found:  # in id order, as `_query_staff` gives them
            key = (
                (person.role, None, person.unit_code)
                if person.role == "official"
                else (person.role, person.region_code, None)
                if person.role == "grid_worker"
                else (person.role, None, None)
            )
            if key in lists:
                lists[key].append(person)
        self._people.update(lists)

    def _remember_staff(self, rows: Iterable[tuple[Person, Account | None]]) -> list[Person]:
        """People of (person, account) rows, in order, each with their accounts kept for the unit of work."""
        people: dict[int, Person] = {}
        accounts: dict[int, list[Account]] = {}
        for person, acc in rows:
            people[person.id] = person  # type: ignore[index]
            accounts.setdefault(person.id, [])  # type: ignore[arg-type]
            if acc is not None:
                accounts[person.id].append(acc)  # type: ignore[index]
        self._persons.update(people)
        for pid, accs in accounts.items():
            self._accounts_of.setdefault(pid, accs)
        return list(people.values())

    def _query_people(self, role: str | None, region_code: str | None, unit_code: str | None) -> list[Person]:
        stmt = select(Person)
        if role:
            stmt = stmt.where(Person.role == role)
        if region_code:
            stmt = stmt.where(Person.region_code == region_code)
        if unit_code:
            stmt = stmt.where(Person.unit_code == unit_code)
        return list(self.s.exec(stmt.order_by(col(Person.id))).all())

    def person_by_name(self, name: str, role: str | None = None) -> Person | None:
        stmt = select(Person).where(Person.name == name)
        if role:
            stmt = stmt.where(Person.role == role)
        return self.s.exec(stmt).first()

    def group(self, platform: str, chat_id: str) -> ChatGroup | None:
        g = self._groups.get((platform, chat_id))
        if g is not None and g.platform == platform and g.chat_id == chat_id:
            return g
        g = self.s.exec(select(ChatGroup).where(ChatGroup.platform == platform, ChatGroup.chat_id == chat_id)).first()
        if g is not None:
            self._groups[(platform, chat_id)] = g
        return g

    def groups(
        self, *, platform: str | None = None, region_code: str | None = None, bound_only: bool = True
    ) -> list[ChatGroup]:
        stmt = select(ChatGroup).where(ChatGroup.active == True)  # noqa: E712
        if platform:
            stmt = stmt.where(ChatGroup.platform == platform)
        if region_code:
            stmt = stmt.where(ChatGroup.region_code == region_code)
        if bound_only:
            stmt = stmt.where(ChatGroup.region_code.is_not(None))  # type: ignore[union-attr]
        return list(self.s.exec(stmt.order_by(col(ChatGroup.id))).all())

    def platform_state(self, platform: str) -> PlatformState | None:
        return self.s.get(PlatformState, platform)

    def platform_states(self) -> list[PlatformState]:
        return list(self.s.exec(select(PlatformState)).all())


class TicketRepo:
    """Tickets and their reporters. Within a unit of work it remembers the reporters of tickets it
    opened and, once a batch asked for them, who joined which ticket lately in the batch's chats
    (`prefetch_recent_reporters`) and the tickets a new complaint there may repeat
    (`prefetch_chat_tickets`), so a batch does not ask for them message by message. What this
    transaction changed is always read from the session's own objects, never from those rows."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self._new: dict[int, list[TicketReporter]] = {}  # reporters of the tickets opened in this unit of work
        self._recent: dict[tuple[int, str, str], list[tuple[datetime, int, str]]] | None = (
            None  # (joined_at, id, status)
        )
        self._recent_since: datetime | None = None
        self._recent_chats: set[tuple[str, str]] = set()
        self._changed: dict[int, Ticket] = {}  # tickets changed (or opened) in this unit of work
        self._chat_tickets: dict[tuple[str, str], list[tuple]] | None = (
            None  # (id, category, status, text, created_at), newest first
        )
        self._chat_since: datetime | None = None
        self._numbers: dict[str, int] = {}  # day -> last number taken in this unit of work

    def get(self, ticket_id: int) -> Ticket | None:
        # a ticket opened in this unit of work may not be written yet (see `add`): the session's
        # identity map does not know it, so `Session.get` would flush to find it
        return self._changed.get(ticket_id) or self.s.get(Ticket, ticket_id)

    def by_no(self, no: str) -> Ticket | None:
        return self.s.exec(select(Ticket).where(Ticket.no == no.upper())).first()

    def add(self, t: Ticket) -> Ticket:
        """The ticket gets its id now and is written with the transaction's queued rows (one
        INSERT for a batch's tickets, `appends.append_object`), not by the session's flush."""
        t.id = next_id(self.s, _TICKET_TABLE)
        append_object(self.s, t)
        self._new[t.id] = []  # type: ignore[index]
        self._changed[t.id] = t  # type: ignore[index]
        if self._chat_tickets is not None and (t.platform, t.chat_id) in self._chat_tickets:
            self._chat_tickets[(t.platform, t.chat_id)].insert(0, (t.id, t.category, t.status, t.text, t.created_at))
        return t

    def next_number(self, day: str) -> int:
        """The day's next ticket number. The first call of a transaction takes the day's counter
        row (locked by the write until the commit, on both engines); later calls count on in
        memory and the counter's last value is written once, before the next statement or commit."""
        last = self._numbers.get(day)
        if last is None:
            # on the session's connection: only the counter row is touched, so the rows queued so
            # far need not be written before it (as the session would, not knowing what text reads)
            row = self.s.connection().execute(_NEXT_NUMBER, {"d": day}).one()
            last = int(row[0])
        else:
            last += 1
            set_latest(self.s, ("day_sequence", day), _SET_NUMBER, {"d": day, "n": last})
        self._numbers[day] = last
        return last

    def add_event(
        self,
        t: Ticket,
        at: datetime,
        actor_id: int | None,
        action: str,
        from_status: str | None,
        to_status: str | None,
        note: str | None,
    ) -> None:
        """The audit row of a change to `t`, written with the transaction's next statement or commit
        (batched). Every change to a ticket is audited, so this is also where the unit of work
        learns which tickets it changed (their remembered rows are then out of date)."""
        self._changed[t.id] = t  # type: ignore[index]
        append(
            self.s,
            _EVENT_TABLE,
            {
                "ticket_id": t.id,
                "at": at,
                "actor_id": actor_id,
                "action": action,
                "from_status": from_status,
                "to_status": to_status,
                "note": note,
            },
        )

    def prefetch_chat_tickets(self, chats: Iterable[tuple[str, str]], since: datetime) -> None:
        """The tickets opened since `since` in these chats, as plain rows (one query):
        `candidates_for_merge` then answers for them from memory."""
        self._chat_tickets, self._chat_since = {}, since
        by_platform: dict[str, set[str]] = defaultdict(set)
        for platform, chat_id in chats:
            by_platform[platform].add(chat_id)
            self._chat_tickets[(platform, chat_id)] = []
        stmt = _built(
            ("chat_tickets",),
            lambda: (
                sa.select(
                    col(Ticket.id),
                    col(Ticket.chat_id),
                    col(Ticket.category),
                    col(Ticket.status),
                    col(Ticket.text),
                    col(Ticket.created_at),
                )
                .where(
                    col(Ticket.platform) == sa.bindparam("platform"),
                    col(Ticket.chat_id).in_(_in("chats")),
                    col(Ticket.created_at) >= sa.bindparam("since"),
                )
                .order_by(col(Ticket.id).desc())
            ),
        )
        for platform, chat_ids in by_platform.items():
            rows = self.s.exec(stmt, params={"platform": platform, "chats": sorted(chat_ids), "since": since}).all()  # type: ignore[call-overload]
            for tid, chat_id, category, status, text, created_at in rows:
                self._chat_tickets[(platform, chat_id)].append((tid, category, status, text, created_at))

    def events(self, ticket_id: int) -> list[TicketEvent]:
        return list(
            self.s.exec(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
            ).all()
        )

    def reporters(self, ticket_id: int) -> list[TicketReporter]:
        if ticket_id in self._new:
            return list(self._new[ticket_id])
        return list(
            self.s.exec(
                select(TicketReporter).where(TicketReporter.ticket_id == ticket_id).order_by(col(TicketReporter.id))
            ).all()
        )

    def reporter(self, ticket_id: int, person_id: int) -> TicketReporter | None:
        if ticket_id in self._new:
            return next((r for r in self._new[ticket_id] if r.person_id == person_id), None)
        return self.s.exec(
            select(TicketReporter).where(TicketReporter.ticket_id == ticket_id, TicketReporter.person_id == person_id)
        ).first()

    def add_reporter(self, r: TicketReporter) -> None:
        """Queued as a plain row (nobody needs its id; the unique key is checked when it is written,
        with the transaction's next statement or commit); `r` itself stays out of the session."""
        append(self.s, _REPORTER_TABLE, column_values(r))
        if r.ticket_id in self._new:
            self._new[r.ticket_id].append(r)
        if self._recent is not None and (r.platform, r.chat_id) in self._recent_chats:
            t = self.get(r.ticket_id)
            if t is not None:
                self._recent.setdefault((r.person_id, r.platform, r.chat_id), []).append((r.joined_at, t.id, t.status))  # type: ignore[arg-type]

    def remove_reporter(self, r: TicketReporter) -> None:
        """A household split out of a ticket (its row was read from the database: `reporters`)."""
        self.s.delete(r)
        if self._recent is not None:
            key = (r.person_id, r.platform, r.chat_id)
            self._recent[key] = [x for x in self._recent.get(key, []) if x[1] != r.ticket_id]

    def prefetch_recent_reporters(self, chats: Iterable[tuple[str, str]], since: datetime) -> None:
        """Who joined which ticket since `since` in these chats, whatever its status (one query, plain
        rows); `latest_by_reporter_in_chat` then answers for them from memory."""
        self._recent, self._recent_since, self._recent_chats = {}, since, set(chats)
        by_platform: dict[str, set[str]] = defaultdict(set)
        for platform, chat_id in self._recent_chats:
            by_platform[platform].add(chat_id)
        stmt = _built(
            ("recent_reporters",),
            lambda: (
                sa.select(
                    col(TicketReporter.person_id),
                    col(TicketReporter.chat_id),
                    col(TicketReporter.joined_at),
                    col(Ticket.id),
                    col(Ticket.status),
                )
                .join(Ticket, Ticket.id == TicketReporter.ticket_id)  # type: ignore[arg-type]
                .where(
                    col(TicketReporter.platform) == sa.bindparam("platform"),
                    col(TicketReporter.chat_id).in_(_in("chats")),
                    col(TicketReporter.joined_at) >= sa.bindparam("since"),
                )
                .order_by(col(TicketReporter.id))
            ),
        )
        for platform, chat_ids in by_platform.items():
            rows = self.s.exec(stmt, params={"platform": platform, "chats": sorted(chat_ids), "since": since}).all()  # type: ignore[call-overload]
            for person_id, chat_id, joined_at, ticket_id, status in rows:
                self._recent.setdefault((person_id, platform, chat_id), []).append((joined_at, ticket_id, status))

    def latest_open_in_chat(self, platform: str, chat_id: str, since: datetime) -> Ticket | None:
        """The newest open ticket of a chat opened since `since` (what "我家也是" joins)."""
        remembered = self._remembered_in_chat(platform, chat_id, since)
        if remembered is not None:
            tid = next(
                (
                    tid
                    for tid, _, status, _, created_at in remembered
                    if status in OPEN_STATUSES and created_at >= since
                ),
                None,
            )
            return self.get(tid) if tid is not None else None
        stmt = (
            select(Ticket)
            .where(
                Ticket.platform == platform,
                Ticket.chat_id == chat_id,
                col(Ticket.status).in_(OPEN_STATUSES),
                col(Ticket.created_at) >= since,
            )
            .order_by(col(Ticket.id).desc())
            .limit(1)
        )
        return self.s.exec(stmt).first()

    def open_in_chat(self, platform: str, chat_id: str, since: datetime, limit: int = 50) -> list[tuple[int, str, str]]:
        """(id, category, text) of a chat's open tickets opened since `since`, newest first: what a "me too"
        or a neighbour's report may be about (pending ones too: a second household confirms them)."""
        remembered = self._remembered_in_chat(platform, chat_id, since)
        if remembered is not None:
            return list(
                islice(
                    (
                        (tid, cat, text)
                        for tid, cat, status, text, created_at in remembered
                        if status in OPEN_STATUSES and created_at >= since
                    ),
                    limit,
                )
            )
        stmt = (
            select(Ticket.id, Ticket.category, Ticket.text)
            .where(
                Ticket.platform == platform,
                Ticket.chat_id == chat_id,
                col(Ticket.status).in_(OPEN_STATUSES),
                col(Ticket.created_at) >= since,
            )
            .order_by(col(Ticket.id).desc())
            .limit(limit)
        )
        return [(int(i), str(c), str(t)) for i, c, t in self.s.exec(stmt).all() if i is not None]

    def candidates_for_merge(
        self, platform: str, chat_id: str, category: str, since: datetime, limit: int = 50
    ) -> list[tuple[int, str]]:
        """(id, text) of the open tickets of one category in a chat, newest first: what a new message may repeat."""
        mergeable = [s for s in OPEN_STATUSES if s != Status.PENDING]
        remembered = self._remembered_in_chat(platform, chat_id, since)
        if remembered is not None:
            return list(
                islice(
                    (
                        (tid, text)
                        for tid, cat, status, text, created_at in remembered
                        if cat == category and status in mergeable and created_at >= since
                    ),
                    limit,
                )
            )
        stmt = (
            select(Ticket.id, Ticket.text)
            .where(
                Ticket.platform == platform,
                Ticket.chat_id == chat_id,
                Ticket.category == category,
                col(Ticket.status).in_(mergeable),
                col(Ticket.created_at) >= since,
            )
            .order_by(col(Ticket.id).desc())
            .limit(limit)
        )
        return [(int(i), str(t)) for i, t in self.s.exec(stmt).all() if i is not None]

    def _remembered_in_chat(self, platform: str, chat_id: str, since: datetime) -> list[tuple] | None:
        """The chat's tickets opened since the batch's prefetch began, newest first, as (id, category,
        status, text, created_at) (None if the prefetch did not cover this chat and `since`; callers
        still compare `created_at` with `since`, last, as it is the dearest test); a ticket this
        transaction changed is read from its object, its remembered row being out of date."""
        remembered = self._chat_tickets.get((platform, chat_id)) if self._chat_tickets is not None else None
        if remembered is None or since < self._chat_since:  # type: ignore[operator]
            return None
        changed = self._changed
        if not changed:
            return remembered
        return [
            row if (t := changed.get(row[0])) is None else (row[0], t.category, t.status, t.text, t.created_at)
            for row in remembered
        ]

    def latest_by_reporter_in_chat(self, person_id: int, platform: str, chat_id: str, since: datetime) -> Ticket | None:
        if self._recent is not None and (platform, chat_id) in self._recent_chats and since >= self._recent_since:  # type: ignore[operator]
            best: tuple[datetime, int] | None = None
            for joined_at, ticket_id, status in self._recent.get((person_id, platform, chat_id), ()):
                changed = self._changed.get(ticket_id)
                if changed is not None:  # changed in this transaction: the remembered status is out of date
                    status = changed.status
                if joined_at >= since and status in OPEN_STATUSES and (best is None or joined_at >= best[0]):
                    best = (joined_at, ticket_id)
            return self.get(best[1]) if best else None
        stmt = (
            select(Ticket)
            .join(TicketReporter, TicketReporter.ticket_id == Ticket.id)  # type: ignore[arg-type]
            .where(
                TicketReporter.person_id == person_id,
                TicketReporter.platform == platform,
                TicketReporter.chat_id == chat_id,
                col(TicketReporter.joined_at) >= since,
                col(Ticket.status).in_(list(OPEN_STATUSES)),
            )
            .order_by(col(TicketReporter.joined_at).desc())
            .limit(1)
        )
        return self.s.exec(stmt).first()

    def of_reporter(self, person_id: int, limit: int = 20) -> list[Ticket]:
        stmt = (
            select(Ticket)
            .join(TicketReporter, TicketReporter.ticket_id == Ticket.id)  # type: ignore[arg-type]
            .where(TicketReporter.person_id == person_id)
            .order_by(col(Ticket.id).desc())
            .limit(limit)
        )
        return list(self.s.exec(stmt).all())

    def awaiting_rating(self, person_id: int) -> list[Ticket]:
        stmt = (
            select(Ticket)
            .join(TicketReporter, TicketReporter.ticket_id == Ticket.id)  # type: ignore[arg-type]
            .where(
                TicketReporter.person_id == person_id,
                Ticket.status == Status.FOLLOWUP,
                col(TicketReporter.rating).is_(None),
            )  # type: ignore[union-attr]
            .order_by(col(Ticket.resolved_at).desc())
        )
        return list(self.s.exec(stmt).all())

    def query(
        self,
        *,
        statuses: Sequence[str] | None = None,
        unit_codes: Sequence[str] | None = None,
        region_codes: Sequence[str] | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ticket]:
        stmt = select(Ticket)
        if statuses is not None:
            stmt = stmt.where(col(Ticket.status).in_(list(statuses)))
        if unit_codes is not None:
            stmt = stmt.where(col(Ticket.unit_code).in_(list(unit_codes)))
        if region_codes is not None:
            stmt = stmt.where(col(Ticket.region_code).in_(list(region_codes)))
        if created_from is not None:
            stmt = stmt.where(col(Ticket.created_at) >= created_from)
        if created_to is not None:
            stmt = stmt.where(col(Ticket.created_at) < created_to)
        stmt = stmt.order_by(col(Ticket.id))
        if limit:
            stmt = stmt.limit(limit)
        return list(self.s.exec(stmt).all())


class ConsultationRepo:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._added: dict[int, Consultation] = {}  # kept alive: the announcer reads them again in this unit of work

    def add(self, c: Consultation) -> Consultation:
        """Given its id now (see `storage.ids`), written with the transaction's queued rows, like a
        new ticket (`appends.append_object`)."""
        c.id = next_id(self.s, Consultation.__table__)  # type: ignore[attr-defined]
        append_object(self.s, c)
        self._added[c.id] = c
        return c

    def get(self, consultation_id: int) -> Consultation | None:
        return self._added.get(consultation_id) or self.s.get(Consultation, consultation_id)
