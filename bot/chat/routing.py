"""Routing of a stored message: inbox → command or classifier → services → outbox.

`store()` records an inbound message durably (idempotent on the platform's message id) and is
what an adapter waits for before confirming a message to its platform; `process()` handles one
stored message in one transaction, so a crash between the two only delays the message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

from sqlalchemy.exc import IntegrityError

from bot.chat import texts
from bot.chat.announce import buttons_after
from bot.chat.commands import REGISTRY, Command, UnknownCommand, help_text, parse
from bot.chat.outbox import enqueue
from bot.messages import ChatType, Inbound, Outbound
from classifiers.model import Classifier
from classifiers.types import Classification
from core.config import Config
from services import events as ev
from services import relation
from services.container import Services
from services.errors import AmbiguousTicket, BadArgument, NotAuthorised, ShanzhiError
from services.incoming import Outcome, Said
from services.org import Actor
from services.tickets import ALLOWED, STATUS_LABELS
from services.uow import UnitOfWork
from storage.db import is_transient, is_unreachable
from storage.ids import id_of
from storage.models import ChatGroup, InboxMessage, Ticket
from storage.purposes import Purpose
from storage.status import Status

log = logging.getLogger(__name__)


Classify = Callable[[str], Classification]
MAX_TEXT = 5000  # longer texts are stored whole but classified on their start
MAX_COMMAND = 1000
#: how long after the bot asks an official for a result their next private words are taken as that result
PROMPT_MINUTES = 30
RESULT_COMMAND, RESULT_NON_TEXT, RESULT_EMPTY, RESULT_UNBOUND = "command", "non_text", "empty", "unbound"

# Which of a person's tickets a command without a number can mean: those it may act on now.
STATUS_FOR = {**ALLOWED, "ignore": (Status.PENDING,)}


def _recorded(row: InboxMessage, out: Outcome) -> str:
    """Record on the inbox row the ticket a message now belongs to; the result is recorded by the caller."""
    if out.ticket_id is not None:
        row.ticket_id = out.ticket_id
    return out.result


_NOTICE_AT = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})\s*")


class Router:
    def __init__(self, config: Config, services: Services, classify: Classify) -> None:
        self.config = config
        self.services = services
        self.classify = classify
        # a loaded model classifies a batch at once; any other text → Classification function one text at a time
        self.classify_many: Callable[[Sequence[str]], list[Classification]] = (
            classify.many if isinstance(classify, Classifier) else (lambda ts: [classify(t) for t in ts])
        )
        # every command of the registry to its handler; a handler missing fails at start, not on a resident
        self._handlers = {s.handler: getattr(self, f"_cmd_{s.handler}") for s in REGISTRY}

    # --- storing -------------------------------------------------------------------------------

    def store(self, msg: Inbound) -> int | None:
        """Record the message (its INSERT has committed when this returns, as in `store_many`); its
        inbox id if it still needs processing, None if already done."""
        with self.services.autocommit() as uow:
            return self._store_one(uow, msg)

    def store_many(self, msgs: Sequence[Inbound]) -> list[int]:
        """Record a batch in one INSERT, which has committed when this returns (no transaction
        around it: see `Services.autocommit`); the ids still to process."""
        ids: list[int] = []
        with self.services.autocommit() as uow:
            variants = [_variant(msg) for msg in msgs]
            values = [_values_from(msg, variant, uow.now) for msg, variant in zip(msgs, variants)]
            for msg, variant, new_id in zip(msgs, variants, uow.inbox.insert_many(values) if values else ()):
                i = new_id if new_id is not None else self._stored_before(uow, msg, variant)
                if i is not None and i not in ids:
                    ids.append(i)
        return ids

    def _store_one(self, uow: UnitOfWork, msg: Inbound) -> int | None:
        variant = _variant(msg)
        new_id = uow.inbox.insert_new(_values_from(msg, variant, uow.now))  # ON CONFLICT DO NOTHING
        if new_id is not None:
            return new_id
        return self._stored_before(uow, msg, variant)

    def _stored_before(self, uow: UnitOfWork, msg: Inbound, variant: str) -> int | None:
        """Already stored (a redelivery, or another process was first): its id if it still waits."""
        found = uow.inbox.find(msg.platform, msg.chat_id, msg.message_id, variant)
        log.info("duplicate delivery of %s/%s/%s", msg.platform, msg.chat_id, msg.message_id)
        return found.id if found is not None and found.status == "pending" else None

    # --- processing ----------------------------------------------------------------------------

    def process(self, inbox_id: int) -> str | None:
        for attempt in range(1, 4):
            try:
                with self.services.uow() as uow:
                    row = uow.inbox.claim(inbox_id)
                    if row is None:
                        return None
                    result = self._handle(uow, row)
                    row.status, row.result, row.processed_at = "done", result, uow.now
                    return result
            except Exception as exc:
                if is_unreachable(exc):
                    raise  # the database is down: the row stays pending, nothing is marked
                if attempt < 3 and (is_transient(exc) or isinstance(exc, IntegrityError)):
                    # another process won a race (same new sender, deadlock…): the rollback undid
                    # everything, so processing again is safe
                    log.info("processing inbox #%s lost a race (%s); again", inbox_id, type(exc).__name__)
                    continue
                return self._failed(inbox_id, exc)
        return None

    def process_many(self, inbox_ids: Sequence[int]) -> None:
        """Process stored messages in one transaction, each at its own time, each announced in turn.

        If any message fails, the whole transaction rolls back and every message of the batch is
        processed again on its own (`process`: retried, or marked failed), so one bad message
        cannot spoil the others. A database outage propagates with every row still pending.
        """
        if len(inbox_ids) <= 1:
            for i in inbox_ids:
                self.process(i)
            return
        try:
            with self.services.uow() as uow:
                rows = uow.inbox.claim_many(inbox_ids)  # outside the session: outcomes go out together at the end
                said = {id_of(r): Said.of(r) for r in rows}
                self.services.intake.prepare_batch(uow, list(said.values()))
                classified = self._classify_batch(uow, rows)
                for row in rows:
                    uow.now = self.services.clock.now()
                    result = self._handle(uow, row, classified, said.get(id_of(row)))
                    row.status, row.result, row.processed_at = "done", result, uow.now
                    uow.announce_events()
                uow.inbox.finish_many(rows)
            return
        except Exception as exc:
            if is_unreachable(exc):
                raise
            log.info(
                "a batch of %d inbox rows failed (%s: %s); processing them one by one",
                len(inbox_ids),
                type(exc).__name__,
                str(exc)[:200],
            )
        for i in inbox_ids:
            self.process(i)

    def _failed(self, inbox_id: int, exc: Exception) -> str:
        log.error("processing inbox #%s failed", inbox_id, exc_info=exc)
        self._mark_failed(inbox_id, exc)
        return "error"

    def _mark_failed(self, inbox_id: int, exc: Exception) -> None:
        with self.services.uow() as uow:
            row = uow.session.get(InboxMessage, inbox_id)
            if row is None or row.status != "pending":
                return
            row.status, row.error, row.processed_at = "failed", f"{type(exc).__name__}: {exc}"[:2000], uow.now
            row.attempts += 1
            # someone waiting for an answer: a button, a command, anything said to the bot in private
            if (
                row.kind == "callback"
                or row.chat_type == ChatType.PRIVATE.value
                or (row.text and parse(row.text[:MAX_COMMAND]) is not None)
            ):
                self._reply(uow, row, texts.error("internal"), refused=True)

    def _classify_batch(self, uow: UnitOfWork, rows: Sequence[InboxMessage]) -> dict[int, Classification]:
        """Classify up front the batch's texts that `_handle` will classify (plain text in a bound
        group), so the staff their announcements go to are read together (`prepare_staff`).
        A text missed here is classified when handled; one classified in vain costs only time."""
        todo: list[tuple[int, str, str]] = []
        for row in rows:
            group = uow.org.group(row.platform, row.chat_id) if row.chat_type == ChatType.GROUP.value else None
            text = _plain_text(row.kind, row.text, row.variant, row.reply_to)
            if group is None or not group.region_code or text is None:
                continue
            todo.append((id_of(row), group.region_code, text))
        results = self.classify_many([text for _id, _region, text in todo]) if todo else []
        classified = {row_id: c for (row_id, _region, _text), c in zip(todo, results)}
        self.services.intake.prepare_staff(uow, [(region, c) for (_id, region, _text), c in zip(todo, results)])
        return classified

    def _handle(
        self,
        uow: UnitOfWork,
        row: InboxMessage,
        classified: dict[int, Classification] | None = None,
        said: Said | None = None,
    ) -> str:
        group = None
        if row.chat_type == ChatType.GROUP.value:
            group = self.services.org.ensure_group(uow, row.platform, row.chat_id, row.chat_title)
        bound_chat = row.chat_id if group is not None and group.region_code else None
        actor = self.services.org.actor(uow, row.platform, row.sender_id, row.sender_name, bound_chat)
        if row.kind not in ("text", "callback"):
            return self._non_text(uow, row, actor, group)
        text = (row.text or "").strip()
        if not text:
            return RESULT_EMPTY
        if row.variant.startswith("edit:"):
            return _recorded(row, self.services.intake.handle_edit(uow, said or Said.of(row), actor))
        if len(text) <= MAX_COMMAND:
            cmd = self._prompted_reply(uow, row, actor, text) or parse(
                text, text_without_number=row.chat_type == ChatType.PRIVATE.value and actor.is_staff
            )
            if isinstance(cmd, UnknownCommand):
                self._reply(uow, row, texts.error("unknown_command"), refused=True)
                return RESULT_COMMAND
            if cmd is not None:
                result = self._command(uow, row, actor, group, cmd)
                if result is not None:
                    return result
        elif text.startswith("/"):
            self._reply(uow, row, texts.error("too_long", limit=MAX_COMMAND), refused=True)
            return RESULT_COMMAND
        if group is not None and not group.region_code:
            return self._unbound(uow, row, group)
        c = (classified or {}).get(row.id) or self.classify(text[:MAX_TEXT])  # type: ignore[arg-type]
        if group is None and actor.is_staff and not c.urgent:
            # a grid worker's or official's own words to the bot (a note, a result typed without its command) are
            # no resident's complaint: they are told how to say what they mean (an emergency still goes through;
            # a 收到 or 好的 needs no answer)
            if relation.is_acknowledgement(text):
                return RESULT_COMMAND
            self._reply(uow, row, texts.staff_private_hint())
            return RESULT_COMMAND
        return _recorded(row, self.services.intake.handle_text(uow, said or Said.of(row), actor, group, c))

    # --- non-text and unbound groups ---------------------------------------------------------

    def _non_text(self, uow: UnitOfWork, row: InboxMessage, actor: Actor, group: ChatGroup | None) -> str:
        if row.kind == "voice":
            local_midnight = datetime.combine(row.sent_at.astimezone(texts.TZ).date(), time(0), tzinfo=texts.TZ)  # type: ignore[union-attr]
            if uow.inbox.same_kind_since(row.platform, row.sender_id, "voice", local_midnight, row.id) == 0:  # type: ignore[arg-type]
                self._reply(uow, row, texts.voice_hint())
            if group is not None:
                uow.emit(
                    ev.NonText(
                        None,
                        actor.id,
                        platform=row.platform,
                        chat_id=row.chat_id,
                        sender=actor.person.name,
                        message_kind=row.kind,
                    )
                )
        return RESULT_NON_TEXT

    def _unbound(self, uow: UnitOfWork, row: InboxMessage, group: ChatGroup) -> str:
        """Kept (its inbox row says so) and handled when the group is bound; the group is told once, and the admins
        asked to bind it."""
        if not group.bind_prompted:
            group.bind_prompted = True
            self._reply(uow, row, texts.unbound_group())
            uow.emit(ev.GroupNeedsBinding(None, None, platform=row.platform, chat_id=row.chat_id, title=group.title))
        return RESULT_UNBOUND

    # --- replies -------------------------------------------------------------------------------

    def _reply(
        self,
        uow: UnitOfWork,
        row: InboxMessage,
        text: str,
        *,
        buttons: tuple = (),
        force_reply: bool = False,
        purpose: str = "reply",
        ticket_id: int | None = None,
        mention: bool = False,
        refused: bool = False,
    ) -> None:
        """Answer a message where it was said (in a group, quoting it; with ``mention``, @-mentioning its sender
        too, as every message about a resident's own ticket does)."""
        if row.callback_id:
            self._answer_press(uow, row, text, used=not refused)  # a refused press leaves the buttons as they were
            if not force_reply:
                return
        enqueue(
            uow,
            Outbound(
                platform=row.platform,
                chat_id=row.chat_id,
                chat_type=ChatType(row.chat_type),
                text=text,
                reply_to=row.message_id if row.chat_type == "group" and not row.callback_id else None,
                buttons=buttons,
                force_reply=force_reply,
                mentions=((row.sender_id, row.sender_name),) if mention and row.chat_type == "group" else (),
            ),
            purpose=purpose,
            inbox_id=row.id,
            ticket_id=ticket_id,
        )

    # --- commands ------------------------------------------------------------------------------

    def _prompted_reply(self, uow: UnitOfWork, row: InboxMessage, actor: Actor, text: str) -> Command | None:
        """A reply to the bot's "please write the result" prompt completes that command; so does, in the private
        chat, the next thing its addressee writes within `PROMPT_MINUTES` without quoting it (an official types
        the result rather than replying to the prompt), while the command still applies to the ticket."""
        prompts = (Purpose.RESOLVE_PROMPT, Purpose.RETURN_PROMPT)
        if row.reply_to:
            out = uow.outbox.by_sent_message(row.platform, row.chat_id, row.reply_to)
        elif (
            row.chat_type == ChatType.PRIVATE.value and actor.is_staff and parse(text, text_without_number=True) is None
        ):
            since = uow.now - timedelta(minutes=PROMPT_MINUTES)
            out = uow.outbox.latest_to(actor.id, row.platform, row.chat_id, prompts, since)
        else:
            return None
        if out is None or out.recipient_person_id != actor.id or out.purpose not in prompts:
            return None
        t = uow.tickets.get(out.ticket_id) if out.ticket_id else None
        name = "resolve" if out.purpose == Purpose.RESOLVE_PROMPT else "return"
        if t is None or (not row.reply_to and t.status not in ALLOWED[name]):
            return None
        return Command(name, t.no, text, text)

    def _command(
        self, uow: UnitOfWork, row: InboxMessage, actor: Actor, group: ChatGroup | None, cmd: Command
    ) -> str | None:
        spec = cmd.spec
        try:
            if not spec.who.allows(actor.role, actor.is_staff):  # the one check of who may use a command
                if spec.refusal is None:
                    return None  # from them it is conversation (a resident's 收到 under a notice)
                raise _Refusal(spec.refusal)
            return self._handlers[spec.handler](uow, row, actor, group, cmd)
        except ShanzhiError as e:
            log.info("command %s by %s refused: %s %s", cmd.name, actor.person.name, e.code, e.params)
            hint = e.params.pop("hint", None) or _hint(cmd.name)
            if "status" in e.params:
                e.params["status"] = STATUS_LABELS.get(str(e.params["status"]), e.params["status"])
            self._reply(uow, row, texts.error(e.code, hint=hint, **e.params), refused=True)
            return RESULT_COMMAND

    def _cmd_help(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        self._reply(uow, row, help_text(actor.role, actor.is_staff, local=row.platform == "local"))
        return RESULT_COMMAND

    def _cmd_start(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        actor.account.can_dm = True
        if row.chat_type == "private":
            self._reply(uow, row, texts.welcome_private())
        return RESULT_COMMAND

    def _cmd_my(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        tickets = uow.tickets.of_reporter(actor.id)
        self._reply(uow, row, self._listing(tickets) if tickets else texts.no_tickets())
        return RESULT_COMMAND

    def _cmd_mine(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        tickets = self.services.tickets.mine(uow, actor)
        self._reply(uow, row, self._listing(tickets) if tickets else texts.no_tickets())
        return RESULT_COMMAND

    def _listing(self, tickets: list[Ticket]) -> str:
        from bot.chat.announce import status_label

        lines = [texts.my_tickets_header(len(tickets))]
        lines += [
            texts.ticket_line(t.no, status_label(t.status), self.config.category_label(t.category), t.text, t.deadline)
            for t in tickets[:20]
        ]
        return "\n".join(lines)

    def _cmd_show(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        from bot.chat.announce import status_label

        t = self._ticket_for(uow, row, actor, cmd, None)
        if not self.services.tickets.may_view(uow, actor, t):
            raise NotAuthorised(ticket=t.no)
        unit = uow.org.unit(t.unit_code) if t.unit_code else None
        text = texts.show_ticket(
            t.no,
            status_label(t.status),
            self.config.category_label(t.category),
            unit.name if unit else "—",
            t.created_at,
            t.deadline,
            t.text,
            t.resolution,
            len(uow.tickets.reporters(t.id)),
        )  # type: ignore[arg-type]
        if self.services.org.may_work(uow, actor, t) and t.evidence:
            text += f"\n判定依据：{t.evidence[:300]}"
        self._reply(uow, row, text)
        return RESULT_COMMAND

    def _cmd_bind(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        if group is None:
            raise _Refusal("group_only")
        if not cmd.arg:
            raise BadArgument(hint=texts.HINT_BIND)
        before = uow.org.region(group.region_code) if group.region_code else None
        g = self.services.org.bind(uow, actor, row.platform, row.chat_id, cmd.arg, row.chat_title)
        region = uow.org.region(g.region_code)  # type: ignore[arg-type]
        # what residents said before the group was bound, within the merge window, is handled now, in order
        since = uow.now - timedelta(hours=self.config.merge.window_hours)
        kept = uow.inbox.with_result_in_chat(row.platform, row.chat_id, RESULT_UNBOUND, since)
        self._reply(
            uow,
            row,
            texts.bound(g.title, region.name if region else cmd.arg, len(kept), before.name if before else None),
        )
        for r in kept:
            r.result = self._handle(uow, r)
        return RESULT_COMMAND

    def _cmd_notice(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        """发通知 township:青石镇,kind:village [2026-12-01 09:00] 正文 — a policy notice to the matching groups."""
        from services.notices import NoticeService, parse_tags

        tags_spec, _, rest = cmd.arg.partition(" ")
        m = _NOTICE_AT.match(rest.strip())
        at = self.services.clock.now()
        if m:
            at = datetime.fromisoformat(f"{m.group(1)} {m.group(2)}").replace(tzinfo=texts.TZ)
            rest = rest.strip()[m.end() :]
        if ":" not in tags_spec and "：" not in tags_spec:
            raise BadArgument(hint=texts.HINT_NOTICE)
        notices = NoticeService()
        tags = parse_tags(tags_spec)
        n = notices.create(uow, rest, tags, at, actor.id)
        self._reply(uow, row, texts.notice_created(id_of(n), at, len(notices.matching_groups(uow, tags))))
        return RESULT_COMMAND

    def _cmd_rate(self, uow, row, actor, group, cmd) -> str | None:  # type: ignore[no-untyped-def]
        if cmd.ticket_no:
            t = self.services.tickets.get(uow, cmd.ticket_no)
        else:
            waiting = uow.tickets.awaiting_rating(actor.id)
            if not waiting:
                return None  # a bare "1" from someone not being asked is just chat
            t = self._replied_ticket(uow, row) or waiting[0]
        self.services.tickets.rate(uow, actor, t.no, cmd.arg)
        from services.tickets import RATING_LABELS, RATINGS

        label = RATING_LABELS.get(RATINGS.get(cmd.arg, ""), cmd.arg)
        self._reply(
            uow,
            row,
            texts.reopened(t.no) if cmd.arg == "3" else texts.rated_thanks(t.no, label),
            ticket_id=t.id,
            mention=True,
        )
        return RESULT_COMMAND

    def _cmd_ack(self, uow, row, actor, group, cmd) -> str | None:  # type: ignore[no-untyped-def]
        """收到: someone alerted to an emergency is on it; the re-alerts stop and the group is told."""
        return self._emergency_step(
            uow, row, actor, cmd, self.services.emergencies.acknowledge, texts.emergency_ack_reply
        )

    def _cmd_onsite(self, uow, row, actor, group, cmd) -> str | None:  # type: ignore[no-untyped-def]
        """到场: they have arrived (an acknowledgement too, if nobody had given one)."""
        return self._emergency_step(
            uow, row, actor, cmd, self.services.emergencies.on_site, texts.emergency_on_site_reply
        )

    def _emergency_step(self, uow, row, actor, cmd, step, reply) -> str | None:  # type: ignore[no-untyped-def]
        alert = self.services.emergencies.live_for(uow, actor, cmd.ticket_no)
        if alert is None:
            return None  # 收到 said to a reminder or a notice: nothing to act on
        t = step(uow, actor, alert)
        self._reply(uow, row, reply(t.no), ticket_id=t.id)
        return RESULT_COMMAND

    def _cmd_work(self, uow, row, actor, group, cmd) -> str:  # type: ignore[no-untyped-def]
        """A staff command on a ticket: find the ticket, ask for a missing argument, or apply it."""
        t = self._ticket_for(uow, row, actor, cmd, STATUS_FOR[cmd.name])
        label, prompt = cmd.spec.done_word, cmd.spec.prompt
        if not cmd.arg and prompt:
            self.services.org.require_work(uow, actor, t)
            self._prompt(uow, row, actor, t, f"{cmd.name}_prompt", prompt.format(no=t.no))
            return RESULT_COMMAND
        if cmd.name == "split":
            return self._split(uow, row, actor, t, cmd.arg)
        if not cmd.arg and cmd.name in ("transfer", "recat"):
            labels = [c.label for c in self.config.categories.values()]
            raise BadArgument(
                hint=texts.hint_transfer(t.no) if cmd.name == "transfer" else texts.hint_recat(t.no, labels)
            )
        tickets = self.services.tickets
        apply = {
            "accept": lambda: tickets.accept(uow, actor, t.no),
            "resolve": lambda: tickets.resolve(uow, actor, t.no, cmd.arg),
            "return": lambda: tickets.return_(uow, actor, t.no, cmd.arg),
            "transfer": lambda: tickets.transfer(uow, actor, t.no, cmd.arg),
            "recat": lambda: tickets.recategorise(uow, actor, t.no, cmd.arg),
            "dismiss": lambda: tickets.dismiss(uow, actor, t.no, cmd.arg),
            "ignore": lambda: tickets.dismiss(uow, actor, t.no, cmd.arg or "网格员确认不是诉求"),
            "confirm": lambda: tickets.confirm(uow, actor, t.no),
        }
        apply[cmd.name]()
        self._reply(uow, row, texts.done(label, t.no), ticket_id=t.id)
        return RESULT_COMMAND

    def _split(self, uow: UnitOfWork, row: InboxMessage, actor: Actor, t: Ticket, who: str) -> str:
        """拆分: the household's own words go back to the classifier (a split is a judgement the rules got wrong)."""
        split_out = self.services.tickets.split(uow, actor, t.no, who, lambda text: self.classify(text[:MAX_TEXT]))
        name = who.strip().lstrip("@＠").strip()
        new_no, pending = (split_out.no, split_out.status == Status.PENDING) if split_out else (None, False)
        self._reply(uow, row, texts.split_done(t.no, name, new_no, pending), ticket_id=t.id)
        return RESULT_COMMAND

    @staticmethod
    def _answer_press(uow: UnitOfWork, row: InboxMessage, text: str, *, used: bool) -> None:
        """Answer a button press; a press that was used takes its message's buttons down to what is left."""
        used = used and row.reply_to is not None
        enqueue(
            uow,
            Outbound(
                platform=row.platform,
                chat_id=row.chat_id,
                chat_type=ChatType(row.chat_type),
                text=text[:190],
                callback_id=row.callback_id,
                reply_to=row.reply_to if used else None,
                buttons=buttons_after(row.text or "") if used else (),
            ),
            purpose=Purpose.CALLBACK_ANSWER,
            inbox_id=row.id,
        )

    def _prompt(self, uow: UnitOfWork, row: InboxMessage, actor: Actor, t: Ticket, purpose: str, text: str) -> None:
        if row.callback_id:
            self._answer_press(uow, row, texts.PROMPT_TYPE, used=False)  # not done until the result is written
        enqueue(
            uow,
            Outbound(
                platform=row.platform,
                chat_id=row.chat_id,
                chat_type=ChatType(row.chat_type),
                text=text,
                force_reply=True,
            ),
            purpose=purpose,
            ticket_id=t.id,
            inbox_id=row.id,
            person_id=actor.id,
        )

    # --- which ticket a command means ----------------------------------------------------------

    def _replied_ticket(self, uow: UnitOfWork, row: InboxMessage) -> Ticket | None:
        if not row.reply_to:
            return None
        out = uow.outbox.by_sent_message(row.platform, row.chat_id, row.reply_to)
        return uow.tickets.get(out.ticket_id) if out is not None and out.ticket_id else None

    def _ticket_for(
        self, uow: UnitOfWork, row: InboxMessage, actor: Actor, cmd: Command, statuses: tuple[str, ...] | None
    ) -> Ticket:
        """The ticket named, or the one replied to, or the only one of theirs that fits."""
        if cmd.ticket_no:
            return self.services.tickets.get(uow, cmd.ticket_no)
        t = self._replied_ticket(uow, row)
        if t is not None:
            return t
        candidates = [t for t in self.services.tickets.mine(uow, actor) if statuses is None or t.status in statuses]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise AmbiguousTicket()
        raise _Refusal(
            "need_ticket", example=f"{cmd.raw.split()[0] if cmd.raw else ''} {self.config.ticket_prefix}20261125-0001"
        )


class _Refusal(ShanzhiError):
    """A refusal whose message is a texts.ERRORS key."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, **params)
        self.code = code


def _hint(command: str) -> str:
    return texts.HINTS.get(command, texts.HINT_DEFAULT)


def _plain_text(kind: str, text: str | None, variant: str, reply_to: str | None) -> str | None:
    """The text a batch classifies up front (as `_handle` will: stripped, cut at MAX_TEXT), or
    None for what `_handle` answers otherwise or classifies only later: non-text, empty, edits,
    replies (which may complete a prompt) and commands. A text missed here is classified when
    handled; one classified in vain costs only time."""
    text = (text or "").strip()
    if kind != "text" or not text or variant or reply_to:
        return None
    if text.startswith("/") or (len(text) <= MAX_COMMAND and parse(text) is not None):
        return None
    return text[:MAX_TEXT]


def _variant(msg: Inbound) -> str:
    """An edit is stored as a row of its own beside the original."""
    return f"edit:{msg.sent_at.isoformat()}" if msg.edited else ""


def _values_from(msg: Inbound, variant: str, now: datetime) -> dict:
    """The inbox row of a message as column values (for a Core insert), without NUL characters:
    PostgreSQL's text cannot hold them (the INSERT, and with it the whole batch, would fail at
    every redelivery), and they carry nothing for a reader."""
    values = _columns_of(msg, variant, now)
    for key in _TYPED:  # what people type; ids and kinds come from the platform
        if values[key] and "\x00" in values[key]:
            values[key] = values[key].replace("\x00", "")
    return values


_TYPED = ("text", "sender_name", "chat_title")


def _columns_of(msg: Inbound, variant: str, now: datetime) -> dict:
    return {
        "platform": msg.platform,
        "chat_id": msg.chat_id,
        "chat_type": msg.chat_type.value,
        "message_id": msg.message_id,
        "variant": variant,
        "sender_id": msg.sender_id,
        "sender_name": msg.sender_name[:200],
        "kind": msg.kind,
        "text": msg.text,
        "reply_to": msg.reply_to,
        "mentions": list(msg.mentions) or None,
        "attachment": msg.attachment,
        "callback_id": msg.callback_id,
        "chat_title": (msg.chat_title or None) and msg.chat_title[:200],  # type: ignore[index]
        "sent_at": msg.sent_at,
        "received_at": now,
        "status": "pending",
        "attempts": 0,
        "processed_at": None,
        "result": None,
        "ticket_id": None,
        "error": None,
    }
