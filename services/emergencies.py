"""Emergencies (应急处突): everyone who must act alerted at once, again and wider until one of them acts.

An urgent ticket with a kind of emergency gets an `EmergencyAlert`. The first round goes, in parallel, to the
group's grid worker, the village committee, the township's duty officials, the county units the org file names
for that kind, and the unit the ticket went to. If nobody has said 收到 after `emergency.ack_minutes`, the sweep
alerts again and adds the township's leaders, the county duty desk and the admins, and keeps doing so every
`emergency.repeat_minutes` until someone acknowledges. Quiet hours never hold an alert.

Messages in the group about the same emergency within `emergency.follow_minutes` ("烧到后山了", "人已经救上来了")
attach to it and are forwarded to whoever acknowledged (to everyone alerted while nobody has); "已经没事了" closes
the alert, as does the ticket leaving the open states (办结, 撤销). Every round, acknowledgement, arrival and
closing is in the ticket's audit trail with its time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import col, select

from classifiers.types import Classification
from core.config import Config
from services import events as ev
from services import relation
from services.errors import AmbiguousAlert, NoAlert, NotAuthorised
from services.org import Actor, OrgService
from services.tickets import TicketService
from services.uow import UnitOfWork
from storage.ids import id_of
from storage.models import EmergencyAlert, Person, Ticket
from storage.purposes import Purpose
from storage.status import OPEN_STATUSES, Status

log = logging.getLogger(__name__)

ALERTING, ACKNOWLEDGED, ON_SITE, CLOSED = "alerting", "acknowledged", "on_site", "closed"
LIVE = (ALERTING, ACKNOWLEDGED, ON_SITE)

#: A resident saying the danger is over. Said in the group while an alert is live, it closes the alert (no more
#: re-alerts; the ticket stays with its unit until someone 办结 it).
ALL_CLEAR = re.compile(
    r"(?:已经|现在|都)?(?:没事了|没得事了|冇事了|没有事了|不要紧了|没危险了|安全了)|(?:火|明火)(?:已经|都)?(?:灭了|扑灭了?|熄了)"
    r"|(?:已经|都)?扑灭了|救上来了|捞上来了|(?:人|娃|孩子|老人|老人家)(?:已经)?找到了|虚惊一场|误会一场|警报解除|(?:已经)?处理好了"
)

#: Words that tie a message said soon after an emergency to that emergency, by kind (and for every kind).
_COMMON = (
    "救护车",
    "消防车",
    "警察",
    "民警",
    "120",
    "119",
    "110",
    "赶到",
    "到了没",
    "还没来",
    "快点",
    "严重",
    "受伤",
    "送医院",
)
#: Help arriving or done: news of the emergency under way, whatever kind the classifier reads into it
#: ("警察来了 人按住了 救护车也到了").
_NEWS_OF_IT = re.compile(r"(?:警察|民警|救护车|消防车|消防员|120|110|119)(?:已经|也)?(?:来了|到了|赶到)")
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "fire": ("火", "烧", "烟", "灭"),
    "gas": ("气", "味", "阀", "窗"),
    "flood": ("水", "淹", "涨", "洪", "堤", "冲"),
    "landslide": ("山", "塌", "滑", "泥", "石", "坡"),
    "collapse": ("塌", "倒", "墙", "房", "裂", "压"),
    "live_wire": ("电", "线", "杆", "火花"),
    "drowning": ("水", "河", "塘", "救", "捞", "落"),
    "trapped": ("困", "电梯", "出不来", "卡住", "门"),
    "missing": ("找", "走丢", "看到", "看见", "回来", "监控"),
    "domestic_violence": ("打", "家暴", "伤", "哭", "跑"),
    "weapon_fight": ("打", "刀", "伤", "架", "血", "棍"),
    "self_harm": (),
    "poisoning": ("毒", "吐", "药", "晕", "医院", "吃"),
    "road_accident": ("车", "撞", "伤", "血", "翻", "路"),
    "crowd": ("人", "堵", "闹", "围", "聚", "横幅"),
}
#: Kinds that are one emergency seen differently (a gas leak catching fire, a flood bringing a house down).
RELATED = {
    frozenset(("fire", "gas")),
    frozenset(("fire", "collapse")),
    frozenset(("flood", "landslide")),
    frozenset(("flood", "collapse")),
    frozenset(("landslide", "collapse")),
    frozenset(("flood", "drowning")),
    frozenset(("weapon_fight", "crowd")),
    frozenset(("weapon_fight", "domestic_violence")),
    frozenset(("live_wire", "fire")),
}

#: Place words a resident uses to say where (后山, 三组, 河边, 5栋): shown in the alert so people know where to run.
_PLACE = re.compile(
    r"[\u4e00-\u9fff0-9一二三四五六七八九十]{1,5}?(?:村|组|屯|庄|湾|坪|社区|小区|花园|路|街|巷|桥|河|河边|塘|山|坡|镇|栋|楼|号|单元"
    r"|门口|旁边|附近|边上|对面|路口|学校|市场|厂|店|场)"
)


def places(text: str, limit: int = 4) -> list[str]:
    out: list[str] = []
    for m in _PLACE.finditer(text):
        w = m.group(0)
        if w not in out:
            out.append(w)
        if len(out) >= limit:
            break
    return out


def _unique(people: Iterable[Person]) -> list[Person]:
    seen: set[int] = set()
    out = []
    for p in people:
        if p.id is not None and p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


class EmergencyService:
    def __init__(self, config: Config, org: OrgService, tickets: TicketService) -> None:
        self.config = config
        self.org = org
        self.tickets = tickets

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        return self.config.emergency

    # --- who -----------------------------------------------------------------------------------

    def circle(self, uow: UnitOfWork, t: Ticket, kind: str, *, wide: bool) -> list[Person]:
        """Who is alerted: the first round's people, and with `wide` also leaders, the duty desk and admins."""
        org = self.org
        people: list[Person] = list(org.grid_workers(uow, t.region_code))
        village = org.unit_for_tier(uow, t.region_code, "village")
        if village is not None:
            people += org.officials(uow, village.code)
        township = org.unit_for_tier(uow, t.region_code, "township")
        town_staff = org.officials(uow, township.code) if township is not None else []
        duty = [p for p in town_staff if p.duty]
        people += duty or town_staff  # a township that keeps no roster: all its officials
        spec = self.config.org.emergency if self.config.org else None
        for code in spec.units.get(kind, []) if spec else []:
            people += org.officials(uow, code)
        if township is None or t.unit_code != township.code:  # the township's own: its roster above
            people += org.officials(uow, t.unit_code)
        if wide:
            leaders = [p for p in town_staff if p.leader]
            people += leaders or town_staff
            if spec and spec.duty_desk:
                people += org.officials(uow, spec.duty_desk)
            people += org.admins(uow)
        return _unique(people) or _unique(org.admins(uow))

    # --- raising and widening ------------------------------------------------------------------

    def raise_(self, uow: UnitOfWork, t: Ticket, reported_at: datetime | None) -> EmergencyAlert:
        kind = t.emergency or "other"
        people = self.circle(uow, t, kind, wide=False)
        alert = EmergencyAlert(
            ticket_id=id_of(t),
            kind=kind,
            platform=t.platform,
            chat_id=t.chat_id,
            region_code=t.region_code,
            private=t.private,
            status=ALERTING,
            round=0,
            alerted=[p.id for p in people],
            reported_at=reported_at or uow.now,
            raised_at=uow.now,
            next_alert_at=uow.now + timedelta(minutes=self.settings.ack_minutes),
        )
        uow.session.add(alert)
        uow.session.flush()
        self._audit(uow, t, None, "alert", f"第1轮警报：{_names(people)}")
        uow.emit(ev.EmergencyAlert(t.id, None, alert_id=alert.id, round=0, people=tuple(id_of(p) for p in people)))
        return alert

    def run_due(self, uow: UnitOfWork, now: datetime) -> dict[str, int]:
        """Alert again every live alert nobody has acknowledged in time; close those whose ticket is done."""
        due = uow.session.exec(
            select(EmergencyAlert)
            .where(EmergencyAlert.status == ALERTING, col(EmergencyAlert.next_alert_at) <= now)
            .order_by(col(EmergencyAlert.id))
            .with_for_update(skip_locked=True)
        ).all()
        counts = {"emergency_realerts": 0, "emergency_closed": 0}
        for alert in due:
            t = uow.tickets.get(alert.ticket_id)
            if t is None or t.status not in OPEN_STATUSES:
                self._close(
                    uow,
                    alert,
                    t,
                    None,
                    "工单已办结" if t is not None and t.status != Status.DISMISSED else "工单已撤销",
                )
                counts["emergency_closed"] += 1
                continue
            alert.round += 1
            people = self.circle(uow, t, alert.kind, wide=True)
            alert.alerted = sorted(set(alert.alerted or []) | {p.id for p in people})  # type: ignore[misc]
            late = (now - (alert.raised_at or now)).total_seconds() / 60
            alert.next_alert_at = now + timedelta(minutes=self.settings.repeat_minutes)
            self._audit(
                uow, t, None, "alert", f"第{alert.round + 1}轮警报（{late:.0f} 分钟无人确认）：{_names(people)}"
            )
            uow.emit(
                ev.EmergencyAlert(
                    t.id,
                    None,
                    alert_id=alert.id,
                    round=alert.round,
                    people=tuple(id_of(p) for p in people),
                    minutes=round(late),
                )
            )
            counts["emergency_realerts"] += 1
        return counts

    def figures(self, uow: UnitOfWork, since: datetime, until: datetime) -> list[dict]:
        return figures(uow, since, until)

    def next_due(self, uow: UnitOfWork) -> datetime | None:
        return uow.session.exec(
            select(EmergencyAlert.next_alert_at)
            .where(EmergencyAlert.status == ALERTING)
            .order_by(col(EmergencyAlert.next_alert_at))
            .limit(1)
        ).first()

    # --- acting ----------------------------------------------------------------------------------

    def live_for(self, uow: UnitOfWork, actor: Actor, no: str | None) -> EmergencyAlert | None:
        """The live alert 收到/到场 means: the ticket named, or the only live one the person was alerted to.
        None when they name none and have none (their 收到 was said to something else)."""
        if no:
            t = self.tickets.get(uow, no)
            alert = self.of_ticket(uow, t.id)  # type: ignore[arg-type]
            if alert is None or alert.status == CLOSED:
                raise NoAlert(no=no)
            return alert
        mine = [a for a in self.live(uow) if actor.id in (a.alerted or [])]
        if len(mine) > 1:
            raise AmbiguousAlert()
        return mine[0] if mine else None

    def live(self, uow: UnitOfWork) -> list[EmergencyAlert]:
        return list(
            uow.session.exec(
                select(EmergencyAlert).where(col(EmergencyAlert.status).in_(LIVE)).order_by(col(EmergencyAlert.id))
            ).all()
        )

    def of_ticket(self, uow: UnitOfWork, ticket_id: int) -> EmergencyAlert | None:
        return uow.session.exec(select(EmergencyAlert).where(EmergencyAlert.ticket_id == ticket_id)).first()

    def _may_act(self, uow: UnitOfWork, actor: Actor, alert: EmergencyAlert, t: Ticket) -> None:
        if not actor.is_staff:
            raise NotAuthorised(ticket=t.no)
        if actor.id not in (alert.alerted or []) and not self.org.may_work(uow, actor, t):
            raise NotAuthorised(ticket=t.no)

    def acknowledge(self, uow: UnitOfWork, actor: Actor, alert: EmergencyAlert) -> Ticket:
        t = uow.tickets.get(alert.ticket_id)
        assert t is not None
        self._may_act(uow, actor, alert, t)
        if alert.status != ALERTING:
            return t  # someone was first: nothing to stop, nobody to tell again
        alert.status, alert.acknowledged_at, alert.acknowledged_by = ACKNOWLEDGED, uow.now, actor.id
        alert.next_alert_at = None
        self._audit(uow, t, actor.id, "ack", f"{actor.person.name} 收到")
        uow.emit(ev.EmergencyAck(t.id, actor.id, alert_id=alert.id))
        if t.status == Status.DISPATCHED and self.org.may_work(uow, actor, t):
            self.tickets.accept(uow, actor, t.no)
        return t

    def on_site(self, uow: UnitOfWork, actor: Actor, alert: EmergencyAlert) -> Ticket:
        t = uow.tickets.get(alert.ticket_id)
        assert t is not None
        self._may_act(uow, actor, alert, t)
        if alert.status == ALERTING:
            self.acknowledge(uow, actor, alert)
        if alert.on_site_at is not None:
            return t
        alert.status, alert.on_site_at, alert.on_site_by = ON_SITE, uow.now, actor.id
        self._audit(uow, t, actor.id, "on_site", f"{actor.person.name} 到场")
        uow.emit(ev.EmergencyOnSite(t.id, actor.id, alert_id=alert.id))
        return t

    # --- the group's follow-up messages ------------------------------------------------------------

    def follow_up(
        self, uow: UnitOfWork, platform: str, chat_id: str, actor: Actor, text: str, c: Classification
    ) -> EmergencyAlert | None:
        """If this message is about a live emergency of its group, attach it (and close the alert on an all-clear);
        the alert, or None when the message is not about one."""
        since = uow.now - timedelta(minutes=self.settings.follow_minutes)
        # each alert with its ticket in one query: every message of a group with a live emergency asks this, and a
        # ticket fetched on its own after each commit is one more query an alert (a ticket opened in this very
        # transaction is not written yet: the join finds none, and the repository has it)
        alerts = uow.session.exec(
            select(EmergencyAlert, Ticket)
            .join(Ticket, col(Ticket.id) == col(EmergencyAlert.ticket_id), isouter=True)
            .where(
                EmergencyAlert.platform == platform,
                EmergencyAlert.chat_id == chat_id,
                col(EmergencyAlert.status).in_(LIVE),
                col(EmergencyAlert.raised_at) >= since,
                col(EmergencyAlert.private).is_(False),
            )
            .order_by(col(EmergencyAlert.id).desc())
        ).all()
        for alert, joined in alerts:
            t = joined or uow.tickets.get(alert.ticket_id)
            if t is None:
                continue
            if not self._about(alert, t, actor, text, c, self.config.classifier.high):
                continue
            clear = bool(ALL_CLEAR.search(text)) and not c.urgent
            self._attach(uow, alert, t, actor, text, announce=not clear)  # an all-clear is announced as the closing
            if clear:
                self._close(uow, alert, t, actor, f"{actor.person.name}：{text[:60]}")
            return alert
        return None

    @staticmethod
    def _about(alert: EmergencyAlert, t: Ticket, actor: Actor, text: str, c: Classification, high: float) -> bool:
        reporter = actor.id == t.reporter_id
        if reporter and relation.adds_to(text, t.text):
            return True  # where it is, that it is still so ("是老茶山那边"), whatever kind the words sound like
        if (
            c.urgent
            and c.emergency
            and c.emergency != alert.kind
            and frozenset((c.emergency, alert.kind)) not in RELATED
            and not (actor.is_staff is False and _NEWS_OF_IT.search(text))
        ):
            return False  # another emergency: its own alert
        if any(w in text for w in _COMMON) and not actor.is_staff:
            return True  # "救护车到了没": news of the emergency
        if c.urgent or ALL_CLEAR.search(text):
            return True
        if actor.is_staff or relation.is_acknowledgement(text) or relation.is_forward(text):
            return False  # staff answering in the group, a resident's thanks: nothing for the people acting
        if c.intent == "consultation" and c.confidence >= high and not any(w in text for w in _COMMON):
            return False  # a question of its own ("电梯维保一般多久能到"), not news of the emergency
        words = KIND_WORDS.get(alert.kind, ()) + _COMMON
        if actor.id == t.reporter_id and len(text.strip()) >= 2:
            if any(w in text for w in words):
                return True
            # the reporter's next words are about it, unless they name another thing ("我家也是，水一直冇来"
            # after a fight: the water ticket's), turn to another problem, chat, or ask a question of their own
            if relation.turns_to_another(text) or relation.is_chit_chat(text):
                return False
            things = relation.problem_of(text).things
            if things and not (things & relation.problem_of(t.text).things):
                return False
            return not (c.intent == "consultation" and c.confidence >= high)
        if c.intent == "complaint" and c.confidence >= high and c.category != t.category:
            return False  # a neighbour's own problem of another kind ("路灯又不亮了 怕是烧掉了"): its own ticket
        return any(w in text for w in words)

    def _attach(
        self, uow: UnitOfWork, alert: EmergencyAlert, t: Ticket, actor: Actor, text: str, *, announce: bool = True
    ) -> None:
        details = list(t.details or [])
        details.append({"by": actor.person.name, "at": uow.now.isoformat(), "text": text[:2000]})
        t.details = details
        self._audit(uow, t, actor.id, "follow_up", text[:500])
        if announce:
            uow.emit(ev.EmergencyFollowUp(t.id, actor.id, alert_id=alert.id, text=text[:1000]))

    def _close(
        self, uow: UnitOfWork, alert: EmergencyAlert, t: Ticket | None, actor: Actor | None, reason: str
    ) -> None:
        if alert.status == CLOSED:
            return
        alert.status, alert.closed_at, alert.close_reason, alert.next_alert_at = CLOSED, uow.now, reason[:500], None
        if t is not None:
            self._audit(uow, t, actor.id if actor else None, "alert_closed", reason)
            uow.emit(ev.EmergencyClosed(t.id, actor.id if actor else None, alert_id=alert.id, reason=reason))

    def _audit(self, uow: UnitOfWork, t: Ticket, actor_id: int | None, action: str, note: str) -> None:
        uow.tickets.add_event(t, uow.now, actor_id, action, t.status, t.status, note)


def _names(people: Iterable[Person]) -> str:
    return "、".join(p.name for p in people)


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds() / 60, 1)


def figures(uow: UnitOfWork, since: datetime, until: datetime) -> list[dict]:
    """Each emergency reported in [since, until): minutes from the resident's message to the first alert delivered,
    to the first 收到, to the first 到场 (None: not yet), and how many rounds it took."""
    from storage.models import OutboxMessage

    alerts = uow.session.exec(
        select(EmergencyAlert)
        .where(col(EmergencyAlert.reported_at) >= since, col(EmergencyAlert.reported_at) < until)
        .order_by(col(EmergencyAlert.reported_at))
    ).all()
    out = []
    for a in alerts:
        t = uow.tickets.get(a.ticket_id)
        first_sent = uow.session.exec(
            select(OutboxMessage.sent_at)
            .where(
                OutboxMessage.ticket_id == a.ticket_id,
                OutboxMessage.purpose == Purpose.EMERGENCY_ALERT,
                col(OutboxMessage.sent_at).is_not(None),
            )
            .order_by(col(OutboxMessage.sent_at))
            .limit(1)
        ).first()
        by = uow.org.person(a.acknowledged_by) if a.acknowledged_by else None
        out.append(
            {
                "no": t.no if t else str(a.ticket_id),
                "kind": a.kind,
                "reported_at": a.reported_at.isoformat() if a.reported_at else None,
                "to_alert_minutes": _minutes(a.reported_at, first_sent),
                "to_ack_minutes": _minutes(a.reported_at, a.acknowledged_at),
                "to_on_site_minutes": _minutes(a.reported_at, a.on_site_at),
                "rounds": a.round + 1,
                "acknowledged_by": by.name if by else None,
                "status": a.status,
            }
        )
    return out
