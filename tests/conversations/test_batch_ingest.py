"""The batch entry point (`BotApp.on_messages`): a batch is stored in one transaction and processed
in one more, with the same outcome as one message at a time — the same inbox results, tickets and
outbound messages in the same order — idempotent by platform message id, and one bad message
cannot spoil the others: it is marked failed, the rest commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlmodel import select

from bot.adapters.local import LocalAdapter
from bot.app import BotApp
from bot.messages import ChatType, Inbound
from storage.models import (
    Account,
    Consultation,
    InboxMessage,
    OutboxMessage,
    Person,
    Ticket,
    TicketEvent,
    TicketReporter,
)

TEXTS = [
    "村口路灯坏了三天了，晚上黑漆漆的",
    "我家也是",
    "今天好热啊",
    "请问低保怎么申请？需要带什么材料",
    "快来人啊 后山着火了 风好大 往周家那边烧过来了",
    "收到",
    "隔壁工地半夜还在施工，吵得孩子睡不着",
    "哈哈哈",
    "村口路灯坏了好几天了，晚上走路不安全",
    "帮助",
]


def messages(clock, prefix: str = "m") -> list[Inbound]:  # type: ignore[no-untyped-def]
    out = []
    for i, text in enumerate(TEXTS):
        who = f"居民{i % 4}"
        out.append(
            Inbound(
                platform="local",
                chat_id="和平村群",
                chat_type=ChatType.GROUP,
                sender_id=who,
                sender_name=who,
                message_id=f"{prefix}{i}",
                sent_at=clock.now() + timedelta(seconds=i),
                text=text,
                chat_title="和平村群",
            )
        )
    return out


def snapshot(app: BotApp) -> tuple[list, ...]:
    with app.services.uow() as uow:
        inbox = [
            (r.message_id, r.status, r.result) for r in uow.session.exec(select(InboxMessage).order_by(InboxMessage.id))
        ]
        tickets = [
            (t.no, t.status, t.category, t.text, t.unit_code, t.tier, t.deadline, t.details, t.urgent, t.region_code)
            for t in uow.session.exec(select(Ticket).order_by(Ticket.id))
        ]
        consultations = [
            (q.chat_id, q.region_code, q.text) for q in uow.session.exec(select(Consultation).order_by(Consultation.id))
        ]
        outbox = [
            (o.purpose, o.chat_id, o.text, o.reply_to)
            for o in uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
        people = [
            (p.name, p.role, a.platform, a.user_id, a.display_name, a.last_group_chat_id)
            for a, p in uow.session.exec(
                select(Account, Person).join(Person, Person.id == Account.person_id).order_by(Account.id)
            )
        ]
        reporters = [
            (t.no, p.name, r.message_id)
            for r, t, p in uow.session.exec(
                select(TicketReporter, Ticket, Person)
                .join(Ticket, Ticket.id == TicketReporter.ticket_id)
                .join(Person, Person.id == TicketReporter.person_id)
                .order_by(TicketReporter.id)
            )
        ]
        events = [
            (t.no, e.action, e.from_status, e.to_status)
            for e, t in uow.session.exec(
                select(TicketEvent, Ticket).join(Ticket, Ticket.id == TicketEvent.ticket_id).order_by(TicketEvent.id)
            )
        ]
    return inbox, tickets, outbox, people, reporters, events, consultations


async def test_a_batch_has_the_same_outcome_as_one_message_at_a_time(
    config, clock, database_url, classify, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    one = BotApp(config, clock=clock, database_url=database_url, adapters=[LocalAdapter(clock)], classify=classify)
    await one.start(background=False)
    for msg in messages(clock):
        await one.on_message(msg)
    expected = snapshot(one)
    await one.stop()

    other_url = f"sqlite:///{tmp_path}/batch.db" if database_url.startswith("sqlite") else database_url
    if other_url == database_url:  # PostgreSQL: the same schema, other message ids and tickets numbered on
        return
    batch = BotApp(config, clock=clock, database_url=other_url, adapters=[LocalAdapter(clock)], classify=classify)
    await batch.start(background=False)
    await batch.on_messages(messages(clock))
    assert snapshot(batch) == expected
    assert expected[1] and expected[2] and expected[6]  # the batch did open tickets, write replies, record questions
    await batch.stop()


async def test_a_batch_is_idempotent_by_platform_message_id(config, clock, database_url, classify) -> None:  # type: ignore[no-untyped-def]
    local = LocalAdapter(clock)
    app = BotApp(config, clock=clock, database_url=database_url, adapters=[local], classify=classify)
    await app.start(background=False)
    msgs = messages(clock)
    await app.on_messages(msgs[:6] + msgs[:3])  # duplicates inside the batch
    first = snapshot(app)
    await app.on_messages(msgs[:6])  # the platform redelivers the batch
    assert snapshot(app) == first
    await app.on_message(msgs[0])
    assert snapshot(app) == first
    with app.services.uow() as uow:
        rows = uow.session.exec(select(InboxMessage)).all()
        assert len(rows) == 6 and {r.status for r in rows} == {"done"}
    assert await app.idle()
    # the street light's receipt (merged 我家也是) and the fire's safety advice, each with its ticket number
    assert len([l for l in local.bot_lines("和平村群") if "工单号" in l.text or "119" in l.text]) == 2
    await app.stop()


async def test_a_large_batch_with_repeats_across_it_stores_each_message_once(
    config, clock, database_url, classify
) -> None:  # type: ignore[no-untyped-def]
    # 150 messages: more than one multi-row INSERT takes (storage.bulk.sqlite_rows.CHUNK), with repeats
    # of the first messages near the end, in another statement than their originals
    app = BotApp(config, clock=clock, database_url=database_url, adapters=[LocalAdapter(clock)], classify=classify)
    await app.start(background=False)
    chatter = [
        Inbound(
            platform="local",
            chat_id="和平村群",
            chat_type=ChatType.GROUP,
            sender_id=f"u{i % 7}",
            sender_name=f"居民{i % 7}",
            message_id=f"c{i}",
            sent_at=clock.now() + timedelta(seconds=i),
            text=f"今天第{i}次说话",
            chat_title="和平村群",
        )
        for i in range(140)
    ]
    ids = app.router.store_many(chatter + chatter[:10])
    assert len(ids) == len(set(ids)) == 140
    assert app.router.store_many(chatter[130:]) == ids[130:]  # a redelivery: the same rows, still to process
    with app.services.uow() as uow:
        rows = uow.session.exec(select(InboxMessage).order_by(InboxMessage.id)).all()
        assert [r.message_id for r in rows] == [m.message_id for m in chatter]
        assert [r.id for r in rows] == sorted(ids)
    await app.stop()


async def test_one_bad_message_is_marked_failed_and_the_rest_of_its_batch_commits(
    config, clock, database_url, classify
) -> None:  # type: ignore[no-untyped-def]
    def fragile(text: str):  # type: ignore[no-untyped-def]
        if "施工" in text:
            raise RuntimeError("rules file corrupted")
        return classify(text)

    local = LocalAdapter(clock)
    app = BotApp(config, clock=clock, database_url=database_url, adapters=[local], classify=fragile)
    await app.start(background=False)
    await app.on_messages(messages(clock))
    with app.services.uow() as uow:
        rows = uow.session.exec(select(InboxMessage).order_by(InboxMessage.id)).all()
        status = {r.text: r.status for r in rows}
        assert status.pop("隔壁工地半夜还在施工，吵得孩子睡不着") == "failed"
        assert set(status.values()) == {"done"}
        assert "rules file corrupted" in next(r.error for r in rows if r.status == "failed")
        assert len(uow.session.exec(select(Ticket)).all()) >= 2
    assert await app.idle()
    lines = local.bot_lines("和平村群")
    assert any("工单号" in l.text for l in lines)
    assert not [l for l in lines if "Traceback" in l.text or "RuntimeError" in l.text]
    await app.stop()


async def test_pending_rows_left_by_a_crash_are_processed_in_batches(config, clock, database_url, classify) -> None:  # type: ignore[no-untyped-def]
    first = BotApp(config, clock=clock, database_url=database_url, adapters=[LocalAdapter(clock)], classify=classify)
    assert first.router.store_many(messages(clock))  # stored, then the process dies
    first.engine.dispose()

    local = LocalAdapter(clock)
    second = BotApp(config, clock=clock, database_url=database_url, adapters=[local], classify=classify)
    await second.start(background=False)
    assert await second.idle()
    inbox, tickets, *_ = snapshot(second)
    assert [s for _, s, _ in inbox] == ["done"] * len(TEXTS)
    assert len(tickets) >= 2
    await second.stop()


FOLLOW_UPS = [
    ("居民甲", "村口路灯坏了三天了，晚上黑漆漆的"),
    ("居民甲", "就是小卖部门口那一盏，灯杆也歪了"),  # the same resident within minutes: detail of her ticket
    ("居民乙", "隔壁工地半夜还在施工，吵得孩子睡不着"),
    ("李网格", "不是诉求 {no2} 工地有夜间施工许可"),  # the grid worker dismisses the second ticket
    ("居民乙", "工地的灰也大得很，衣服都晒不得"),  # her ticket is gone: no detail added to a dismissed ticket
    ("新来的", "我家也是"),  # a first-time speaker joins the open ticket
]


REPEAT_AFTER_DISMISSAL = [
    ("居民甲", "村口路灯坏了三天了，晚上黑漆漆的"),
    ("李网格", "不是诉求 {no1} 已报修"),
    ("居民乙", "村口路灯坏了好几天了，晚上走路不安全"),  # like the dismissed ticket: a new ticket, not merged into it
    ("居民丙", "村口路灯坏了好几天了晚上走路不安全啊"),  # like the new one: merged
]


def scripted(clock, script: list[tuple[str, str]], **nos: str) -> list[Inbound]:  # type: ignore[no-untyped-def]
    return [
        Inbound(
            platform="local",
            chat_id="和平村群",
            chat_type=ChatType.GROUP,
            sender_id=who,
            sender_name=who,
            message_id=f"f{i}",
            sent_at=clock.now() + timedelta(seconds=i),
            text=text.format(**nos),
            chat_title="和平村群",
        )
        for i, (who, text) in enumerate(script)
    ]


async def one_by_one_and_batched(config, clock, classify, tmp_path, script: list[tuple[str, str]]) -> list[tuple]:  # type: ignore[no-untyped-def]
    """The same script into two fresh databases, one message at a time and as one batch."""
    day = f"SG{clock.now():%Y%m%d}"
    outcomes = []
    for name, batched in (("one", False), ("batch", True)):
        app = BotApp(
            config,
            clock=clock,
            database_url=f"sqlite:///{tmp_path}/{name}.db",
            adapters=[LocalAdapter(clock)],
            classify=classify,
        )
        await app.start(background=False)
        msgs = scripted(clock, script, no1=f"{day}-0001", no2=f"{day}-0002")
        if batched:
            await app.on_messages(msgs)
        else:
            for m in msgs:
                await app.on_message(m)
        outcomes.append(snapshot(app))
        await app.stop()
    return outcomes


async def test_a_repeat_of_a_ticket_dismissed_in_the_same_batch_opens_a_new_one(
    config, clock, classify, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # two fresh SQLite databases are compared (a PostgreSQL run would share one schema)
    one, batch = await one_by_one_and_batched(config, clock, classify, tmp_path, REPEAT_AFTER_DISMISSAL)
    assert one == batch
    inbox = {mid: result for mid, _, result in batch[0]}
    assert [t[1] for t in batch[1]] == ["dismissed", "dispatched"]
    assert inbox["f2"] == "ticket" and inbox["f3"] == "merged"


async def test_follow_ups_and_a_dismissal_inside_one_batch_end_as_they_would_one_by_one(
    config, clock, classify, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # two fresh SQLite databases are compared (a PostgreSQL run would share one schema)
    outcomes = await one_by_one_and_batched(config, clock, classify, tmp_path, FOLLOW_UPS)
    assert outcomes[0] == outcomes[1]
    inbox = {mid: result for mid, _, result in outcomes[1][0]}
    assert inbox["f1"] == "detail" and inbox["f5"] == "merged"
    assert [t[1] for t in outcomes[1][1]][:2] == ["dispatched", "dismissed"]
    assert inbox["f4"] != "detail"


async def test_a_nul_character_in_a_message_does_not_block_its_batch(config, clock, database_url, classify) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL's text cannot hold NUL: stored as it came, such a message would fail its whole batch at
    every redelivery. It is stored without the NUL and handled like any other message."""
    app = BotApp(config, clock=clock, database_url=database_url, adapters=[LocalAdapter(clock)], classify=classify)
    await app.start(background=False)
    msgs = messages(clock, prefix="nul")
    msgs[0] = replace(msgs[0], text="村口路灯坏了\x00三天了，晚上黑漆漆的", sender_name="居\x00民0")
    await app.on_messages(msgs)
    inbox, tickets = snapshot(app)[:2]
    assert all(status == "done" for _, status, _ in inbox)
    assert tickets[0][3] == "村口路灯坏了三天了，晚上黑漆漆的"
    await app.stop()
