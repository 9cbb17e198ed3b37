"""Configuration: `config.yaml` and the organisation file, validated by pydantic.

An unknown key or a bad value stops the bot at start with a message naming the key, because a
county that mistypes a time limit must find out before a resident's complaint is mis-routed.
Secrets are read from the environment only.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifiers.types import EMERGENCY_KINDS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config.yaml"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassifierConfig(Strict):
    model: str | None = None  # a model file from `shanzhi rules train` (default: the shipped one)
    urgent: float | None = Field(None, ge=0, le=1)  # urgency threshold (default: the model's own)
    high: float = Field(0.75, ge=0, le=1)
    middle: float = Field(0.45, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ClassifierConfig:
        if self.middle > self.high:
            raise ValueError("classifier.middle must not exceed classifier.high")
        return self


class CategoryConfig(Strict):
    label: str
    handler: str = "village"
    limit_days: int = Field(5, ge=1, le=60)
    urgent_hours: int = Field(4, ge=1, le=240)


class MergeConfig(Strict):
    window_hours: float = Field(72, gt=0)
    similarity: float = Field(0.35, ge=0, le=1)
    followup_minutes: float = Field(10, ge=0)
    edit_window_minutes: float = Field(15, ge=0)


class CalendarConfig(Strict):
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)


class DeliveryConfig(Strict):
    max_attempts: int = Field(8, ge=1)
    backoff_seconds: float = Field(2.0, ge=0)
    backoff_max_seconds: float = Field(300.0, ge=0)
    # A message being sent is leased for this long; a process that died mid-send leaves it to
    # be re-sent (at most once) after the lease runs out.
    lease_seconds: float = Field(60.0, gt=0)


class ResilienceConfig(Strict):
    """What the bot does while its database is unreachable (see bot/delivery/resilience.py)."""

    retry_initial_seconds: float = Field(1.0, gt=0)  # first wait before trying the database again
    retry_max_seconds: float = Field(30.0, gt=0)  # the wait doubles up to this
    spool_platforms: list[str] = Field(default_factory=lambda: ["wechat"])  # cannot re-deliver: spool to disk
    spool_max_messages: int = Field(10000, ge=0)


class RetentionConfig(Strict):
    """`shanzhi purge`: personal data of tickets closed more than this many days ago is masked."""

    purge_after_days: int = Field(365, ge=1)


class EmergencyConfig(Strict):
    """Emergencies (应急处突): how fast the circle widens, and the county's own numbers in the group's advice."""

    ack_minutes: float = Field(5, gt=0)  # nobody has said 收到 within this: alert again, to more people
    repeat_minutes: float = Field(5, gt=0)  # and again every this many minutes until someone acknowledges
    follow_minutes: float = Field(60, gt=0)  # messages in the group about it within this attach to it
    # Numbers shown in the group's advice (the national ones 110/119/120 are always there):
    gas_repair: str | None = None  # 燃气抢修
    power: str = "95598"  # 供电抢修
    police_station: str | None = None  # 派出所
    clinic: str | None = None  # 卫生院
    crisis_line: str = "12356"  # 心理援助热线, in the private reply to someone who speaks of harming themselves


class TelegramConfig(Strict):
    enabled: Literal["auto", True, False] = "auto"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    base_url: str | None = None  # a Bot API server other than Telegram's (tests, self-hosted)


class WeChatConfig(Strict):
    enabled: Literal["auto", True, False] = "auto"
    endpoint: str | None = None
    per_chat_interval_seconds: float = Field(3.0, ge=0)
    jitter_seconds: float = Field(2.0, ge=0)
    per_hour: int = Field(300, ge=0)


class PlatformsConfig(Strict):
    telegram: TelegramConfig = TelegramConfig()
    wechat: WeChatConfig = WeChatConfig()


# --- organisation file ---------------------------------------------------------------------


class RegionSpec(Strict):
    code: str
    name: str
    level: Literal["county", "township", "village"]
    parent: str | None = None


class UnitSpec(Strict):
    code: str
    name: str
    region: str
    tier: Literal["village", "township", "county"]


class PersonSpec(Strict):
    name: str
    role: Literal["grid_worker", "official", "admin"]
    region: str | None = None
    unit: str | None = None
    accounts: dict[str, str] = Field(default_factory=dict)
    duty: bool = False  # on the duty roster (值班): alerted at once in an emergency
    leader: bool = False  # alerted when nobody has acknowledged an emergency in time
    public_name: bool = True  # false: the group is told "网格员已收到", never the name


class GroupSpec(Strict):
    platform: str
    chat_id: str
    title: str
    region: str
    tags: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("chat_id", mode="before")
    @classmethod
    def _as_str(cls, v: object) -> str:
        return str(v)


class OrgEmergency(Strict):
    """Who is alerted in an emergency besides the village's and township's own people."""

    duty_desk: str | None = None  # the county duty desk (总值班室) unit: alerted when nobody acknowledges
    units: dict[str, list[str]] = Field(default_factory=dict)  # kind → county units alerted at once

    @field_validator("units")
    @classmethod
    def _known_kinds(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for kind in v:
            if kind not in EMERGENCY_KINDS:
                raise ValueError(f"unknown kind of emergency {kind!r} (one of {', '.join(EMERGENCY_KINDS)})")
        return v


class OrgConfig(Strict):
    county: str
    regions: list[RegionSpec]
    units: list[UnitSpec]
    people: list[PersonSpec] = Field(default_factory=list)
    groups: list[GroupSpec] = Field(default_factory=list)
    emergency: OrgEmergency = OrgEmergency()

    @model_validator(mode="after")
    def _references(self) -> OrgConfig:
        regions = {r.code for r in self.regions}
        units = {u.code for u in self.units}
        for r in self.regions:
            if r.parent and r.parent not in regions:
                raise ValueError(f"regions.{r.code}.parent: unknown region {r.parent!r}")
        for u in self.units:
            if u.region not in regions:
                raise ValueError(f"units.{u.code}.region: unknown region {u.region!r}")
        for p in self.people:
            if p.region and p.region not in regions:
                raise ValueError(f"people.{p.name}.region: unknown region {p.region!r}")
            if p.unit and p.unit not in units:
                raise ValueError(f"people.{p.name}.unit: unknown unit {p.unit!r}")
            if p.role == "official" and not p.unit:
                raise ValueError(f"people.{p.name}: an official needs a unit")
            if p.role == "grid_worker" and not p.region:
                raise ValueError(f"people.{p.name}: a grid worker needs a region")
        for g in self.groups:
            if g.region not in regions:
                raise ValueError(f"groups.{g.chat_id}.region: unknown region {g.region!r}")
        e = self.emergency
        if e.duty_desk and e.duty_desk not in units:
            raise ValueError(f"emergency.duty_desk: unknown unit {e.duty_desk!r}")
        for kind, codes in e.units.items():
            for code in codes:
                if code not in units:
                    raise ValueError(f"emergency.units.{kind}: unknown unit {code!r}")
        return self


class ScheduleSettings(Strict):
    """The schedules' knobs (defaults follow the county platform's practice)."""

    accept_hours: float = Field(4, gt=0)  # 签收提醒 when a dispatched ticket is not accepted within this
    due_soon_hours: tuple[float, ...] = (24, 2)  # reminders this long before the deadline
    overdue_every_hours: float = Field(24, gt=0)  # overdue reminders repeat (at the top tier)
    escalate_after_hours: float = Field(0, ge=0)  # overdue this long at a tier → next tier
    escalate_after_returns: int = Field(3, ge=1)  # returned + reopened this many times → next tier
    followup_days: float = Field(3, gt=0)  # 回访 unanswered this long → closed as 未表态
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 30)
    digest_time: time = time(8, 30)  # daily digest to officials, on working days
    weekly_weekday: int = Field(0, ge=0, le=6)  # Monday: the week's figures to the county admins
    late_grace_minutes: float = Field(10, ge=0)
    sweep_seconds: float = Field(60, gt=0)
    worst_overdue: int = Field(5, ge=0)
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Config(Strict):
    data_dir: Path = Path("data")
    database: str = "sqlite:///data/shanzhi.db"
    timezone: str = "Asia/Shanghai"
    org_file: Path = Path("org.yaml")
    ticket_prefix: str = Field("SG", pattern=r"^[A-Z]{1,6}$")
    classifier: ClassifierConfig = ClassifierConfig()
    categories: dict[str, CategoryConfig]
    discipline_unit: str | None = None
    merge: MergeConfig = MergeConfig()
    calendar: CalendarConfig = CalendarConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    resilience: ResilienceConfig = ResilienceConfig()
    retention: RetentionConfig = RetentionConfig()
    emergency: EmergencyConfig = EmergencyConfig()
    platforms: PlatformsConfig = PlatformsConfig()
    schedules: ScheduleSettings = ScheduleSettings()
    org: OrgConfig | None = None  # loaded from org_file

    @model_validator(mode="after")
    def _handlers_exist(self) -> Config:
        if self.org is None:
            return self
        units = {u.code for u in self.org.units}
        for key, cat in self.categories.items():
            if cat.handler not in ("village", "township") and cat.handler not in units:
                raise ValueError(f"categories.{key}.handler: unknown unit {cat.handler!r}")
        if self.discipline_unit and self.discipline_unit not in units:
            raise ValueError(f"discipline_unit: unknown unit {self.discipline_unit!r}")
        if "other" not in self.categories:
            raise ValueError("categories: an 'other' category is required")
        return self

    def database_url(self) -> str:
        """The environment wins over the file, so production credentials stay out of config.yaml."""
        from core.environment import environment

        return environment().database_url or self.database

    def category_label(self, key: str | None) -> str:
        if key and key in self.categories:
            return self.categories[key].label
        return key or self.categories["other"].label


def _format_error(err: ValidationError, source: Path) -> str:
    lines = [f"配置错误 (configuration error) in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"配置文件不存在 (config file not found): {path}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"配置文件格式错误 (YAML error) in {path}: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


def load_config(path: Path | str | None = None, overrides: dict | None = None) -> Config:
    """Load and validate config.yaml and its organisation file; relative paths are from the file's folder."""
    source = Path(path) if path else DEFAULT_CONFIG
    raw = _read_yaml(source)
    raw.update(overrides or {})
    base = source.resolve().parent
    org_file = Path(raw.get("org_file", "org.yaml"))
    if not org_file.is_absolute():
        org_file = base / org_file
    if "org" not in raw:
        raw["org"] = _read_yaml(org_file)
    raw["org_file"] = str(org_file)
    data_dir = Path(raw.get("data_dir", "data"))
    raw["data_dir"] = str(data_dir if data_dir.is_absolute() else base / data_dir)
    clf = raw.get("classifier")
    if isinstance(clf, dict) and isinstance(clf.get("model"), str) and not Path(clf["model"]).is_absolute():
        raw["classifier"] = {**clf, "model": str(base / clf["model"])}
    db = raw.get("database", "sqlite:///data/shanzhi.db")
    if isinstance(db, str) and db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        rel = db[len("sqlite:///") :]
        if rel and rel != ":memory:":
            raw["database"] = "sqlite:///" + str(base / rel)
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_error(e, source)) from e
