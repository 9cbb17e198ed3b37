"""The classifier's output: what the bot acts on, and why.

Kept free of any import of ours so that `classifiers/` stays a pure library: text and
loaded rules in, a `Classification` with its evidence out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INTENTS = ("complaint", "consultation", "other")
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


@dataclass(frozen=True)
class Evidence:
    """One rule that fired: officials read these to see *why* a message became a ticket."""

    rule_id: str
    target: str  # "intent" | "category" | "urgent" | "veto"
    label: str  # e.g. "complaint", "road", "urgent"
    matched: str  # the words of the message that matched
    weight: float

    def __init__(self, rule_id: str, target: str, label: str, matched: str, weight: float) -> None:
        # the __init__ dataclass would generate for a frozen class, without its five object.__setattr__ calls
        # (the classifier makes several per message): the same fields, in the same instance dict
        self.__dict__.update(rule_id=rule_id, target=target, label=label, matched=matched, weight=weight)


@dataclass(frozen=True)
class Classification:
    """Everything the bot needs to decide what to do with one message."""

    intent: str  # top label among INTENTS
    confidence: float  # 0..1, confidence in `intent`
    category: str | None  # a category key when intent is complaint, else None (may be set for hints)
    urgent: bool
    scores: dict[str, float] = field(default_factory=dict)  # intent -> score, for explanation
    evidence: tuple[Evidence, ...] = ()

    def acted_intent(self, middle_threshold: float) -> str:
        """The intent the bot acts on: the top label if confident enough, else other."""
        return self.intent if self.confidence >= middle_threshold else "other"

    def explain(self) -> str:
        """A one-line human-readable account of the rules that fired."""
        if not self.evidence:
            return "无规则命中"
        return "; ".join(f"{e.rule_id}[{e.matched}]{e.weight:+.1f}" for e in self.evidence)
