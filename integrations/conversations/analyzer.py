"""`analyze_sales_conversation` and `extract_sales_signals`: sentiment (VADER, the lexicon
shipped in the `vadersentiment` wheel, with a few sales terms added), intent, buying signals,
objections, competitor mentions, pricing and timeline talk and next steps, from the cue
patterns of `lexicon`. Everything runs in-process; nothing is fetched at run time.

Each signal carries its confidence and the evidence: the quoted span and its offsets in the
message. A cue preceded by a negator in the same clause ("not ready to sign") does not count,
and an objection taken back ("price isn't an issue") is dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from integrations.conversations import lexicon as lx
from integrations.conversations.timeparse import parse_amount, resolve_date

ANALYZER_VERSION = "conversations-lexicon-1.0"
"""Stored with every signal: a new lexicon re-analyses nothing silently."""

SIGNAL_TYPES = (
    "sentiment",
    "intent",
    "buying_signal",
    "objection",
    "competitor",
    "pricing",
    "timeline",
    "next_step",
)
OBJECTION_TYPES = ("price", "timing", "authority", "need", "competitor")
INTENT_TYPES = ("cancellation", "complaint", "purchase", "support", "information", "other")

SALES_TERMS = {
    "expensive": -1.6,
    "pricey": -1.4,
    "overpriced": -2.0,
    "cancel": -1.5,
    "churn": -1.2,
    "outage": -2.0,
    "downtime": -1.6,
    "broken": -1.8,
    "unacceptable": -2.4,
    "crashing": -1.8,
    "crashes": -1.6,
    "bug": -1.0,
    "blocker": -1.3,
    "delay": -0.9,
    "delayed": -1.0,
    "approved": 1.5,
    "excited": 2.0,
    "thrilled": 2.4,
    "impressed": 2.2,
    "seamless": 1.8,
}
"""Sales and support words VADER's general lexicon scores too weakly or not at all."""

_WORD = re.compile(r"[\w'$€£.,-]+")


@dataclass(frozen=True)
class Signal:
    """One signal of one message: its type, value, confidence and the quoted evidence."""

    type: str
    value: str
    confidence: float
    evidence: str
    start: int
    end: int
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MessageAnalysis:
    """What one message says: its sentiment score and every signal found in it."""

    text: str
    sentiment: float
    signals: list[Signal]

    def of(self, type_: str) -> list[Signal]:
        return [s for s in self.signals if s.type == type_]

    def first(self, type_: str) -> str | None:
        found = self.of(type_)
        return found[0].value if found else None


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(SALES_TERMS)
    return analyzer


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_NEGATOR = re.compile(rf"(?:\b|(?<=n))(?:{lx.NEGATORS})\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[.;!?]|,\s|\bbut\b|\bhowever\b|\balthough\b", re.IGNORECASE)


def negated(text: str, start: int, window: int = 4) -> bool:
    """True when one of the `window` words before `start`, in the same clause, negates."""
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end() :] if breaks else before
    words = clause.split()[-window:]
    return bool(_NEGATOR.search(" ".join(words)))


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence holding [start, end): the quoted evidence of a next step."""
    left = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    rights = [i for i in (text.find(c, end) for c in ".!?\n") if i != -1]
    right = min(rights) + 1 if rights else len(text)
    while left < start and text[left].isspace():
        left += 1
    return left, right


def _matches(
    text: str, cues: Iterable[lx.Cue], *, negatable: bool = True
) -> list[tuple[lx.Cue, re.Match[str]]]:
    found: list[tuple[lx.Cue, re.Match[str]]] = []
    for cue in cues:
        for m in _compiled(cue.pattern).finditer(text):
            if negatable and negated(text, m.start()):
                continue
            found.append((cue, m))
    return found


def _signal(type_: str, cue: lx.Cue, m: re.Match[str], text: str, **detail: Any) -> Signal:
    return Signal(
        type_, cue.value, round(cue.base, 2), text[m.start() : m.end()].strip(), m.start(), m.end(), detail
    )


def _dedupe(signals: list[Signal]) -> list[Signal]:
    """One signal per overlapping span of a type, and one per value of a type whose values are
    kinds (pricing amounts and timeline phrases may each appear several times): the most
    confident wins."""
    kept: list[Signal] = []
    for s in sorted(signals, key=lambda s: (-s.confidence, s.start)):
        by_value = s.type not in ("pricing", "timeline")
        if any(
            k.type == s.type and ((by_value and k.value == s.value) or (k.start < s.end and s.start < k.end))
            for k in kept
        ):
            continue
        kept.append(s)
    return sorted(kept, key=lambda s: (s.start, s.type))


def competitor_pattern(names: Sequence[str]) -> str:
    alternatives = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in sorted(names, key=len, reverse=True))
    return rf"\b(?P<competitor>{alternatives})(?![\w.-]*\w)"


POSITIVE_FROM = 0.3
"""VADER's compound score from which a message reads positive: polite sales mail ("thanks,
happy to...") scores mildly positive without being so."""
NEGATIVE_INTENTS = ("complaint", "cancellation", "support")


def _sentiment(text: str, negative_cue: bool) -> tuple[float, Signal]:
    """VADER's compound score, read with the sales cues: an objection, complaint, cancellation
    or support problem makes a message negative unless VADER finds it clearly positive."""
    compound = float(_vader().polarity_scores(text)["compound"])
    if compound <= -0.05 or (negative_cue and compound < 0.5):
        label = "negative"
    elif compound >= POSITIVE_FROM:
        label = "positive"
    else:
        label = "neutral"
    strength = abs(compound) if label != "neutral" else 1 - abs(compound)
    confidence = round(0.5 + strength / 2, 2)
    detail = {"compound": compound, "sales_cue": negative_cue}
    return compound, Signal("sentiment", label, confidence, text.strip()[:200], 0, len(text), detail)


def _competitors(text: str, names: Sequence[str]) -> list[Signal]:
    pattern = _compiled(competitor_pattern(names))
    canonical = {n.lower(): n for n in names}
    out = []
    for m in pattern.finditer(text):
        name = canonical.get(re.sub(r"\s+", " ", m.group("competitor").lower()), m.group("competitor"))
        out.append(Signal("competitor", name, 0.95, m.group(0), m.start(), m.end()))
    return out


def _objections(text: str, names: Sequence[str]) -> list[Signal]:
    if any(_compiled(p).search(text) for p in lx.OBJECTION_DISMISSALS):
        return []
    comp = competitor_pattern(names)
    cues = [lx.Cue(c.value, c.pattern.replace("{competitor}", comp), c.base) for c in lx.OBJECTIONS]
    out = []
    for cue, m in _matches(text, cues, negatable=False):
        pre_negated = cue.value not in ("need", "authority", "timing") and negated(text, m.start())
        if not pre_negated:
            out.append(_signal("objection", cue, m, text))
    return out


def _pricing(text: str) -> list[Signal]:
    out = []
    for cue, m in _matches(text, lx.PRICING, negatable=False):
        detail: dict[str, Any] = {}
        if cue.value == "amount":
            amount = parse_amount(m.group(0))
            if amount is None or amount == 0:
                continue
            per_unit = bool(
                re.match(
                    r"\s*(/|per|a|an)\s*(seat|user|month|year|licen[cs]e|head|mo|yr)\b", text[m.end() :], re.I
                )
            )
            detail = {"amount": str(amount), "per_unit": per_unit}
        out.append(_signal("pricing", cue, m, text, **detail))
    return out


_BARE_MONTH = re.compile(r"(?i)may|march|mar|jan|june|jun|july|jul|aug|oct|nov|dec|sep|apr|feb")
_DATE_LEAD = re.compile(r"(?i)\b(in|by|before|after|until|from|since|early|mid|late|end\s+of)\s+$")


def _timeline(text: str, ref: date | None) -> list[Signal]:
    out = []
    for cue, m in _matches(text, lx.TIMELINE, negatable=False):
        phrase = m.group(0)
        if (
            cue.value == "date"
            and _BARE_MONTH.fullmatch(phrase.strip())
            and not _DATE_LEAD.search(text[: m.start()])
        ):
            continue  # "we may", "march forward": a bare month word is a date only after a preposition
        resolved = resolve_date(cue.value, phrase, ref) if ref else None
        out.append(_signal("timeline", cue, m, text, resolved=resolved.isoformat() if resolved else None))
    return out


def _next_steps(text: str) -> list[Signal]:
    out = []
    for cue, m in _matches(text, lx.NEXT_STEPS):
        left, right = _sentence(text, m.start(), m.end())
        out.append(Signal("next_step", cue.value, cue.base, text[left:right].strip(), left, right))
    return out


def _intent(text: str, buying: list[Signal]) -> Signal:
    for name, cues in lx.INTENTS.items():
        found = _matches(text, cues)
        if name == "purchase" and not found and buying:
            b = buying[0]
            return Signal("intent", "purchase", round(b.confidence * 0.9, 2), b.evidence, b.start, b.end)
        if found:
            cue, m = found[0]
            return _signal("intent", cue, m, text)
    return Signal("intent", "other", 0.5, "", 0, 0)


def extract_sales_signals(
    text: str, *, competitors: Sequence[str] = (), reference_date: date | None = None
) -> MessageAnalysis:
    """Every signal of one message. `competitors`: the tenant's own list, added to the
    default one; `reference_date`: the message's date, for resolving "next month"."""
    names = tuple(dict.fromkeys([*lx.DEFAULT_COMPETITORS, *competitors]))
    buying = [_signal("buying_signal", c, m, text) for c, m in _matches(text, lx.BUYING)]
    intent = _intent(text, buying)
    objections = _objections(text, names)
    compound, sentiment = _sentiment(text, bool(objections) or intent.value in NEGATIVE_INTENTS)
    signals = [
        sentiment,
        intent,
        *buying,
        *objections,
        *_competitors(text, names),
        *_pricing(text),
        *_timeline(text, reference_date),
        *_next_steps(text),
    ]
    return MessageAnalysis(text, compound, _dedupe(signals))


@dataclass(frozen=True)
class ConversationInsights:
    """The seed's SalesInsights of a conversation: overall sentiment and intent, and its
    signals by type across the messages."""

    sentiment: float
    sentiment_label: str
    intent: str
    buying_signals: list[Signal]
    objections: list[Signal]
    competitors: list[str]
    pricing: list[Signal]
    timeline: list[Signal]
    next_steps: list[Signal]
    messages: list[MessageAnalysis]


def analyze_sales_conversation(
    texts: Sequence[str], *, competitors: Sequence[str] = (), reference_date: date | None = None
) -> ConversationInsights:
    """A conversation's insights: the mean sentiment of its messages, its most frequent
    non-"other" intent (a cancellation or complaint wins over any count), and every signal."""
    analyses = [
        extract_sales_signals(t, competitors=competitors, reference_date=reference_date) for t in texts
    ]
    mean = round(sum(a.sentiment for a in analyses) / len(analyses), 4) if analyses else 0.0
    intents = Counter(a.first("intent") for a in analyses if a.first("intent") not in (None, "other"))
    intent = next((i for i in ("cancellation", "complaint") if intents[i]), None) or (
        intents.most_common(1)[0][0] if intents else "other"
    )
    every = [s for a in analyses for s in a.signals]
    return ConversationInsights(
        sentiment=mean,
        sentiment_label="positive" if mean >= 0.05 else "negative" if mean <= -0.05 else "neutral",
        intent=str(intent),
        buying_signals=[s for s in every if s.type == "buying_signal"],
        objections=[s for s in every if s.type == "objection"],
        competitors=sorted({s.value for s in every if s.type == "competitor"}),
        pricing=[s for s in every if s.type == "pricing"],
        timeline=[s for s in every if s.type == "timeline"],
        next_steps=[s for s in every if s.type == "next_step"],
        messages=analyses,
    )
