"""Policy notices: created by an official or admin (or `shanzhi notice add`), posted at their
time into every group whose tags match, through the paced outbox, with a delivery record per
group.

Tag matching: a notice's tags are {key: [values]}; a group matches when, for every key of the
notice, the group has at least one of its values under that key (AND across keys, OR within a
key). A notice without tags goes to every bound, active group.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from services import events as ev
from services.errors import BadArgument
from services.uow import UnitOfWork
from storage.ids import id_of
from storage.models import ChatGroup, Notice, NoticeDelivery, OutboxMessage

MAX_NOTICE = 4000


def parse_tags(spec: str) -> dict[str, list[str]]:
    """`township:敖阳街道,industry:manufacturing` (or `township:A|B`, or a key repeated) → {key: [values]}."""
    tags: dict[str, list[str]] = {}
    for part in (spec or "").replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, values = part.replace("：", ":").partition(":")
        if not sep or not key.strip() or not values.strip():
            raise BadArgument(what="tags", value=part, hint="标签写成 键:值，如 township:青石镇,kind:village")
        for v in values.split("|"):
            if v.strip() and v.strip() not in tags.setdefault(key.strip(), []):
                tags[key.strip()].append(v.strip())
    return tags


def matches(notice_tags: dict | None, group_tags: dict | None) -> bool:
    group_tags = group_tags or {}
    for key, wanted in (notice_tags or {}).items():
        have = group_tags.get(key) or []
        if isinstance(have, str):
            have = [have]
        if not set(map(str, wanted)) & set(map(str, have)):
            return False
    return True


class NoticeService:
    def create(
        self, uow: UnitOfWork, text: str, tags: dict[str, list[str]], send_at: datetime, created_by: int | None = None
    ) -> Notice:
        text = (text or "").strip()
        if not text:
            raise BadArgument(what="text", hint="通知内容不能为空")
        if len(text) > MAX_NOTICE:
            raise BadArgument(what="text", hint=f"通知不超过 {MAX_NOTICE} 字")
        if send_at.tzinfo is None:
            raise BadArgument(what="at", hint="发送时间需带时区")
        n = Notice(text=text, tags=tags, send_at=send_at, status="scheduled", created_by=created_by, created_at=uow.now)
        uow.session.add(n)
        uow.session.flush()
        return n

    def matching_groups(self, uow: UnitOfWork, tags: dict | None) -> list[ChatGroup]:
        return [g for g in uow.org.groups() if matches(tags, g.tags)]

    def run_due(self, uow: UnitOfWork, now: datetime) -> dict[str, int]:
        """Post every notice whose time has come: a delivery row per matching group, then the event
        whose handler writes one outbox message per delivery row (same transaction)."""
        stmt = (
            select(Notice)
            .where(Notice.status == "scheduled", col(Notice.send_at) <= now)
            .order_by(col(Notice.send_at), col(Notice.id))
        )
        if uow.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        counts = {"notices": 0, "deliveries": 0}
        from services.reminders import claim_rows

        for n in claim_rows(uow, Notice, list(uow.session.exec(stmt).all()), "scheduled"):
            groups = self.matching_groups(uow, n.tags)
            for g in groups:
                uow.session.add(
                    NoticeDelivery(
                        notice_id=n.id,
                        group_id=id_of(g),
                        platform=g.platform,
                        chat_id=g.chat_id,
                        title=g.title,
                        created_at=now,
                    )
                )
            uow.session.flush()
            n.status, n.sent_at, n.groups = "sent", now, len(groups)
            uow.emit(ev.NoticeDue(None, n.created_by, notice_id=n.id))
            counts["notices"] += 1
            counts["deliveries"] += len(groups)
        return counts

    def deliveries(self, uow: UnitOfWork, notice_id: int) -> list[NoticeDelivery]:
        return list(
            uow.session.exec(
                select(NoticeDelivery).where(NoticeDelivery.notice_id == notice_id).order_by(col(NoticeDelivery.id))
            ).all()
        )

    def status(self, uow: UnitOfWork, notice_id: int) -> dict | None:
        n = uow.session.get(Notice, notice_id)
        if n is None:
            return None
        rows = self.deliveries(uow, notice_id)
        out_ids = [r.outbox_id for r in rows if r.outbox_id]
        outbox = (
            {o.id: o for o in uow.session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(out_ids))).all()}
            if out_ids
            else {}
        )
        per_group = []
        counts = {"queued": 0, "sent": 0, "failed": 0}
        for r in rows:
            o = outbox.get(r.outbox_id)
            st = "queued" if o is None or o.status in ("pending", "sending") else o.status
            counts[st] = counts.get(st, 0) + 1
            per_group.append(
                {
                    "group": r.title,
                    "platform": r.platform,
                    "chat_id": r.chat_id,
                    "status": st,
                    "sent_at": o.sent_at.isoformat() if o is not None and o.sent_at else None,
                }
            )
        return {
            "id": n.id,
            "status": n.status,
            "send_at": n.send_at.isoformat() if n.send_at else None,
            "sent_at": n.sent_at.isoformat() if n.sent_at else None,
            "tags": n.tags or {},
            "groups": len(rows),
            **counts,
            "deliveries": per_group,
        }
