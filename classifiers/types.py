"""The classifier's output: what the bot acts on, and why.

Kept free of any import of ours so that `classifiers/` stays a pure library: text and
loaded rules in, a `Classification` with its evidence out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

INTENTS = ("complaint", "consultation", "other")
#: Kinds of emergency the bot tells apart (each has its own advice and people to alert).
EMERGENCY_KINDS = (
    "fire",
    "gas",
    "flood",
    "landslide",
    "collapse",
    "live_wire",
    "drowning",
    "trapped",
    "missing",
    "domestic_violence",
    "weapon_fight",
    "self_harm",
    "poisoning",
    "road_accident",
    "crowd",
)
DEFAULT_CATEGORIES = (
    "noise",
    "dispute",
    "road",
    "utilities",
    "environment",
    "labor",
    "welfare",
    "security",
    "enterprise",
    "conduct",
    "other",
)


class Evidence(NamedTuple):
    """One rule that fired: officials read these to see *why* a message became a ticket. (A named tuple: a
    decision has a dozen of them, made for every message the bot acts on.)"""

    rule_id: str
    target: str  # the head it counts for: "intent" | "category" | "urgent" | "emergency"
    label: str  # e.g. "complaint", "road", "urgent"
    matched: str  # the words of the message that matched
    weight: float  # what it added to that label's score


class Reasons(Sequence[Evidence]):
    """A decision's evidence, worked out when someone reads it (a ticket's 判定依据, ``shanzhi eval``), not for
    every message: most messages are chit-chat nobody explains, and finding the largest contributions costs as
    much as the decision itself. Equal to the tuple it stands for."""

    __slots__ = ("_compute", "_items")

    def __init__(self, compute: Callable[[], tuple[Evidence, ...]]) -> None:
        self._compute: Callable[[], tuple[Evidence, ...]] | None = compute
        self._items: tuple[Evidence, ...] | None = None

    def _get(self) -> tuple[Evidence, ...]:
        if self._items is None:
            assert self._compute is not None
            self._items, self._compute = self._compute(), None
        return self._items

    @overload
    def __getitem__(self, i: int) -> Evidence: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Evidence, ...]: ...
    def __getitem__(self, i: int | slice) -> Evidence | tuple[Evidence, ...]:
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[Evidence]:
        return iter(self._get())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reasons):
            other = other._get()
        return self._get() == other

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


@dataclass(frozen=True)
class Classification:
    """Everything the bot needs to decide what to do with one message."""

    intent: str  # top label among INTENTS
    confidence: float  # 0..1, calibrated probability of `intent`
    category: str | None  # the most likely category (set for every message: a hint where it is no complaint)
    urgent: bool  # the urgency reading reached its own (recall-oriented) threshold
    scores: dict[str, float] = field(default_factory=dict)  # intent -> probability
    evidence: Sequence[Evidence] = ()  # the largest contributions to each label chosen (a tuple or Reasons)
    urgency: float = 0.0  # probability that life, safety or property is at immediate risk
    emergency: str | None = None  # the kind of emergency (EMERGENCY_KINDS) when urgent

    def acted_intent(self, middle_threshold: float) -> str:
        """The intent the bot acts on: an emergency is a complaint whatever the intent reading (a missed
        emergency is the worst failure); otherwise the top label if confident enough, else other."""
        if self.urgent:
            return "complaint"
        return self.intent if self.confidence >= middle_threshold else "other"

    def explain(self) -> str:
        """A one-line human-readable account of the rules that fired."""
        if not self.evidence:
            return "无规则命中"
        return "; ".join(f"{e.rule_id}[{e.matched}]{e.weight:+.2f}" for e in self.evidence)
