"""The organisation: regions, units, people and groups; who someone is and what they may do.

Bootstrapped from the org file at start (idempotent: adds what is missing, updates names and
roles), then changed by admin commands such as /bind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.config import Config, OrgConfig
from services.errors import NotAuthorised, UnknownRegion
from services.uow import UnitOfWork
from storage.bulk.objects import new
from storage.ids import id_of
from storage.models import Account, ChatGroup, Person, Region, Ticket, Unit
from storage.repositories import invalidate_org_cache

STAFF_ROLES = ("grid_worker", "official", "admin")
TIERS = ("village", "township", "county")


@dataclass(frozen=True)
class Actor:
    """The person behind a message, with the account it came from."""

    person: Person
    account: Account
    new: bool = False  # first seen in this unit of work: no tickets, no history

    @property
    def id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    @property
    def role(self) -> str:
        return self.person.role

    @property
    def is_staff(self) -> bool:
        return self.person.role in STAFF_ROLES


class OrgService:
    def __init__(self, config: Config) -> None:
        self.config = config

    # --- bootstrap ---------------------------------------------------------------------------

    def bootstrap(self, uow: UnitOfWork, org: OrgConfig) -> None:
        s = uow.session
        for r in org.regions:
            row = s.get(Region, r.code) or Region(code=r.code, name=r.name, level=r.level)
            row.name, row.level, row.parent_code = r.name, r.level, r.parent
            s.add(row)
        for u in org.units:
            urow = s.get(Unit, u.code) or Unit(code=u.code, name=u.name, region_code=u.region, tier=u.tier)
            urow.name, urow.region_code, urow.tier = u.name, u.region, u.tier
            s.add(urow)
        s.flush()
        for p in org.people:
            person = None
            for platform, user_id in p.accounts.items():
                acc = uow.org.account(platform, str(user_id))
                if acc is not None:
                    person = uow.org.person(acc.person_id)
                    break
            if person is None:
                person = uow.org.person_by_name(p.name, p.role) or Person(name=p.name, created_at=uow.now)
            person.name, person.role, person.region_code, person.unit_code = p.name, p.role, p.region, p.unit
            person.duty, person.leader, person.public_name = p.duty, p.leader, p.public_name
            if p.unit and not p.region:
                unit = s.get(Unit, p.unit)
                person.region_code = unit.region_code if unit else None
            s.add(person)
            s.flush()
            for platform, user_id in p.accounts.items():
                acc = uow.org.account(platform, str(user_id))
                if acc is None:
                    s.add(
                        Account(person_id=id_of(person), platform=platform, user_id=str(user_id), display_name=p.name)
                    )
                elif acc.person_id != person.id:
                    acc.person_id = id_of(person)  # a resident account promoted to staff by the org file
        for g in org.groups:
            grow = uow.org.group(g.platform, g.chat_id) or ChatGroup(
                platform=g.platform, chat_id=g.chat_id, created_at=uow.now
            )
            grow.title, grow.region_code, grow.tags, grow.active = g.title, g.region, g.tags, True
            s.add(grow)
        s.flush()
        invalidate_org_cache(s)

    # --- identities --------------------------------------------------------------------------

    def actor(
        self, uow: UnitOfWork, platform: str, user_id: str, display_name: str, group_chat_id: str | None = None
    ) -> Actor:
        """The person behind a platform account; a first-time speaker becomes a resident.

        `group_chat_id` is the bound group they speak in, remembered as where they live."""
        found = uow.org.account_and_person(platform, user_id)
        if found is None:
            person, acc = self._resident(uow, platform, user_id, display_name, group_chat_id)
            uow.org.add_residents([(person, acc)])
        else:
            acc, person = found
            if display_name and acc.display_name != display_name:
                acc.display_name = display_name
            if group_chat_id and acc.last_group_chat_id != group_chat_id:
                acc.last_group_chat_id = group_chat_id
        return Actor(person, acc, new=uow.org.first_seen(platform, user_id))

    def prepare_senders(self, uow: UnitOfWork, senders: Sequence[tuple[str, str, str, str | None]]) -> None:
        """Read a batch's senders ((platform, user id, display name, bound group chat), in message
        order) in a few queries, and register its first-time speakers together, as `actor` would
        one by one: each with the name and group of their first message, first seen there."""
        uow.org.prefetch_senders({(platform, user_id) for platform, user_id, _, _ in senders})
        new: dict[tuple[str, str], tuple[Person, Account]] = {}
        for platform, user_id, name, chat in senders:
            if (platform, user_id) not in new and uow.org.account(platform, user_id) is None:
                new[(platform, user_id)] = self._resident(uow, platform, user_id, name, chat)
        if new:
            uow.org.add_residents(list(new.values()))

    @staticmethod
    def _resident(
        uow: UnitOfWork, platform: str, user_id: str, display_name: str, group_chat_id: str | None
    ) -> tuple[Person, Account]:
        person = new(Person, name=display_name or user_id, role="resident", created_at=uow.now)
        acc = new(
            Account,
            platform=platform,
            user_id=user_id,
            display_name=display_name or user_id,
            last_group_chat_id=group_chat_id,
        )
        return person, acc

    def home_region(self, uow: UnitOfWork, actor: Actor) -> str | None:
        """Where a resident lives, as far as the bot knows: the region of the group they last spoke in."""
        if actor.person.region_code:
            return actor.person.region_code
        for acc in uow.org.accounts_of(actor.id):
            if acc.last_group_chat_id:
                group = uow.org.group(acc.platform, acc.last_group_chat_id)
                if group and group.region_code:
                    return group.region_code
        return None

    # --- regions and routing -----------------------------------------------------------------

    @staticmethod
    def ancestors(uow: UnitOfWork, region_code: str) -> list[str]:
        """The region and every region above it, nearest first."""
        out: list[str] = []
        code: str | None = region_code
        while code and code not in out:
            out.append(code)
            region = uow.org.region(code)
            code = region.parent_code if region else None
        return out

    def find_region(self, uow: UnitOfWork, name_or_code: str) -> Region:
        key = name_or_code.strip().lstrip("@")
        for r in uow.org.regions():
            if key in (r.code, r.name):
                return r
        matches = [r for r in uow.org.regions() if key and key in r.name]
        if len(matches) == 1:
            return matches[0]
        raise UnknownRegion(region=key)

    def find_unit(self, uow: UnitOfWork, name_or_code: str) -> Unit | None:
        key = name_or_code.strip()
        units = uow.org.units()
        for u in units:
            if key in (u.code, u.name):
                return u
        matches = [u for u in units if key and key in u.name]
        return matches[0] if len(matches) == 1 else None

    def unit_for_tier(self, uow: UnitOfWork, region_code: str, tier: str) -> Unit | None:
        """The unit of `tier` responsible for a region: walk up until a region holds one."""
        for code in self.ancestors(uow, region_code):
            units = uow.org.units_in_region(code, tier)
            if units:
                return units[0]
        return None

    def route(self, uow: UnitOfWork, category: str, region_code: str) -> Unit | None:
        cat = self.config.categories.get(category) or self.config.categories["other"]
        if category == "conduct" and self.config.discipline_unit:
            return uow.org.unit(self.config.discipline_unit)
        if cat.handler in TIERS:
            return self.unit_for_tier(uow, region_code, cat.handler) or self.unit_for_tier(uow, region_code, "county")
        return uow.org.unit(cat.handler)

    def next_tier_unit(self, uow: UnitOfWork, ticket: Ticket) -> Unit | None:
        """The unit one tier up from the ticket's current one (village → township → county)."""
        idx = TIERS.index(ticket.tier) if ticket.tier in TIERS else 0
        for tier in TIERS[idx + 1 :]:
            unit = self.unit_for_tier(uow, ticket.region_code, tier)
            if unit is not None:
                return unit
        return None

    # --- people to tell ----------------------------------------------------------------------

    def officials(self, uow: UnitOfWork, unit_code: str | None) -> list[Person]:
        return uow.org.people(role="official", unit_code=unit_code) if unit_code else []

    def grid_workers(self, uow: UnitOfWork, region_code: str | None) -> list[Person]:
        if not region_code:
            return []
        for code in self.ancestors(uow, region_code):
            people = uow.org.people(role="grid_worker", region_code=code)
            if people:
                return people
        return []

    def admins(self, uow: UnitOfWork) -> list[Person]:
        return uow.org.people(role="admin")

    # --- who answers for a ticket --------------------------------------------------------------

    def handlers(self, uow: UnitOfWork, t: Ticket) -> list[Person]:
        """Who a ticket is dispatched to: its unit's officials; the group's grid worker when the unit has
        none (never for 作风: a cadre's conduct is not the village's to handle); the admins when nobody is."""
        people = self.officials(uow, t.unit_code)
        if not people and t.category != "conduct":
            people = self.grid_workers(uow, t.region_code)
        return people or self.admins(uow)

    def reminded(self, uow: UnitOfWork, t: Ticket, *, with_admins: bool = False) -> list[Person]:
        """Who is reminded of a ticket's deadline: its unit's officials and the group's grid worker, who
        answers to the residents for it (never for 作风); the county admins too when asked (county tier
        overdue) and when nobody else is there. Each person once."""
        people = list(self.officials(uow, t.unit_code))
        if t.category != "conduct":
            people += self.grid_workers(uow, t.region_code)
        if with_admins or not people:
            people += self.admins(uow)
        seen: set[int | None] = set()
        out = []
        for p in people:
            if p.id not in seen:
                seen.add(p.id)
                out.append(p)
        return out

    # --- authorisation -----------------------------------------------------------------------

    def may_work(self, uow: UnitOfWork, actor: Actor, ticket: Ticket) -> bool:
        """Only grid workers and officials of a ticket's region/unit (and admins) may change it.

        A complaint about cadre conduct is worked only by its handling unit and admins: the
        village's own cadres and grid worker must not handle a complaint about themselves.
        """
        role = actor.role
        if role == "admin":
            return True
        if role == "official" and actor.person.unit_code == ticket.unit_code:
            return True
        if ticket.category == "conduct":
            return False
        above = self.ancestors(uow, ticket.region_code)
        if role == "grid_worker":
            return actor.person.region_code in above
        if role == "official" and actor.person.unit_code:
            unit = uow.org.unit(actor.person.unit_code)
            return bool(unit and unit.region_code in above and unit.tier != "county")
        return False

    def may_accept(self, uow: UnitOfWork, actor: Actor, ticket: Ticket) -> bool:
        """签收 commits a unit to the work: only the handling unit's officials, officials of a unit above it over
        its region (a township over a village committee, not the other way round), grid workers and admins (who
        stand in where a unit has no one)."""
        if not self.may_work(uow, actor, ticket):
            return False
        if actor.role != "official" or actor.person.unit_code == ticket.unit_code:
            return True
        mine = uow.org.unit(actor.person.unit_code) if actor.person.unit_code else None
        theirs = uow.org.unit(ticket.unit_code) if ticket.unit_code else None
        if mine is None or theirs is None:
            return mine is not None
        rank = {tier: i for i, tier in enumerate(TIERS)}
        return rank.get(mine.tier, 0) > rank.get(theirs.tier, 0)

    def require_work(self, uow: UnitOfWork, actor: Actor, ticket: Ticket) -> None:
        if not self.may_work(uow, actor, ticket):
            raise NotAuthorised(ticket=ticket.no)

    def require_admin(self, actor: Actor) -> None:
        if actor.role != "admin":
            raise NotAuthorised()

    def require_staff(self, actor: Actor) -> None:
        if not actor.is_staff:
            raise NotAuthorised()

    # --- groups ------------------------------------------------------------------------------

    def ensure_group(self, uow: UnitOfWork, platform: str, chat_id: str, title: str | None) -> ChatGroup:
        group = uow.org.group(platform, chat_id)
        if group is None:
            group = new(
                ChatGroup, platform=platform, chat_id=chat_id, title=title or chat_id, created_at=uow.now, tags={}
            )
            uow.session.add(group)
            uow.session.flush()
        elif title and group.title != title:
            group.title = title
        if not group.active:
            group.active = True
        return group

    def bind(
        self, uow: UnitOfWork, actor: Actor, platform: str, chat_id: str, region: str, title: str | None
    ) -> ChatGroup:
        self.require_admin(actor)
        r = self.find_region(uow, region)
        group = self.ensure_group(uow, platform, chat_id, title)
        group.region_code = r.code
        group.tags = self.region_tags(uow, r.code, besides=group)
        return group

    def region_tags(self, uow: UnitOfWork, region_code: str, *, besides: ChatGroup | None = None) -> dict:
        """The notice tags of a region's group: those of its other groups (org.yaml's, on any platform), else its
        township and kind, so a policy notice to 青石镇's villages reaches a group bound by 绑定 too."""
        tags: dict[str, list[str]] = {}
        for g in uow.org.groups(region_code=region_code):
            if g is not besides:
                for key, values in (g.tags or {}).items():
                    have = tags.setdefault(key, [])
                    have.extend(v for v in values if v not in have)
        if tags:
            return tags
        region = uow.org.region(region_code)
        parent = uow.org.region(region.parent_code) if region and region.parent_code else None
        if region is None:
            return {}
        kind = "community" if region.name.endswith("社区") else "village"
        return {"township": [parent.name], "kind": [kind]} if parent and region.level == "village" else {}

    def migrate_group(self, uow: UnitOfWork, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A Telegram group upgraded to a supergroup: move its binding, tickets and reporters."""
        from sqlmodel import select

        from storage.models import TicketReporter

        uow.org.forget()
        old = uow.org.group(platform, old_chat_id)
        new = uow.org.group(platform, new_chat_id)
        if old is not None and new is None:
            old.chat_id = new_chat_id
        elif old is not None and new is not None:
            new.region_code = new.region_code or old.region_code
            new.tags = new.tags or old.tags
            old.active = False
        for t in uow.session.exec(
            select(Ticket).where(Ticket.platform == platform, Ticket.chat_id == old_chat_id)
        ).all():
            t.chat_id = new_chat_id
        for r in uow.session.exec(
            select(TicketReporter).where(TicketReporter.platform == platform, TicketReporter.chat_id == old_chat_id)
        ).all():
            r.chat_id = new_chat_id
        for acc in uow.session.exec(
            select(Account).where(Account.platform == platform, Account.last_group_chat_id == old_chat_id)
        ).all():
            acc.last_group_chat_id = new_chat_id
        uow.org.forget()


def likely_in_group(uow: UnitOfWork, person: Person, user_id: str, platform: str, chat_id: str) -> bool:
    """Whether a person is likely a member of a group: the bot sees no member lists, so — they spoke there, or
    they work for its village or its township (grid workers, the village committee, township cadres, who sit in
    their villages' groups). A county department's official, or someone of another township, is not: a mention
    of them there would reach nobody and tell the village who the bot failed to reach. Asked only when a private
    message cannot be delivered."""
    g = uow.org.group(platform, chat_id)
    if g is None:
        return False
    if uow.inbox.spoke_in(platform, chat_id, user_id):
        return True
    if not g.region_code:
        return False
    unit = uow.org.unit(person.unit_code) if person.unit_code else None
    home = person.region_code or (unit.region_code if unit else None)
    return home is not None and home in OrgService.ancestors(uow, g.region_code)[:2]  # the village, its township
