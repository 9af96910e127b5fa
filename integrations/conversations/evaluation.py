"""Precision and recall of the analyser per signal on the hand-labelled messages of
`bench/data/conversations_labelled.jsonl` (B2B sales chat and e-mail lines written for it, not
by the synthetic world). Each message belongs to the `dev` part (the lexicon was checked
against it) or the `holdout` part (about 40%, never used to tune): figures are reported for
both parts and the whole set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm.settings import PROJECT_ROOT
from integrations.conversations.analyzer import (
    INTENT_TYPES,
    OBJECTION_TYPES,
    MessageAnalysis,
    extract_sales_signals,
)

LABELLED_SET = PROJECT_ROOT / "bench" / "data" / "conversations_labelled.jsonl"
BENCH_COMPETITORS = ("Capsule CRM", "Nimble")
"""The per-tenant competitor list the evaluation uses (two names missing from the default)."""
SPLITS = ("dev", "holdout", "all")


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: bool, predicted: bool) -> None:
        self.tp += gold and predicted
        self.fp += predicted and not gold
        self.fn += gold and not predicted

    def as_dict(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        f1 = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
        return {
            "precision": None if p is None else round(p, 3),
            "recall": None if r is None else round(r, 3),
            "f1": None if f1 is None else round(f1, 3),
            "support": self.tp + self.fn,
        }


def load(path: Path = LABELLED_SET) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def predicted_labels(a: MessageAnalysis) -> dict[str, Any]:
    """The analysis in the labelled set's terms."""
    return {
        "sentiment": a.first("sentiment"),
        "intent": a.first("intent"),
        "buying_signal": bool(a.of("buying_signal")),
        "pricing": bool(a.of("pricing")),
        "timeline": bool(a.of("timeline")),
        "next_step": bool(a.of("next_step")),
        "objections": sorted({s.value for s in a.of("objection")}),
        "competitors": sorted({s.value for s in a.of("competitor")}),
    }


def score(rows: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per signal (and per class of sentiment and intent, per objection type): precision,
    recall, F1 and support (the gold positives)."""
    counts: dict[str, Counts] = {}

    def c(name: str) -> Counts:
        return counts.setdefault(name, Counts())

    for gold, pred in rows:
        for label in ("positive", "negative", "neutral"):
            c(f"sentiment:{label}").add(gold["sentiment"] == label, pred["sentiment"] == label)
        for intent in INTENT_TYPES:
            c(f"intent:{intent}").add(gold["intent"] == intent, pred["intent"] == intent)
        for flag in ("buying_signal", "pricing", "timeline", "next_step"):
            c(flag).add(bool(gold[flag]), bool(pred[flag]))
        for o in OBJECTION_TYPES:
            c(f"objection:{o}").add(o in gold["objections"], o in pred["objections"])
        c("objection:any").add(bool(gold["objections"]), bool(pred["objections"]))
        names_gold = {n.lower() for n in gold["competitors"]}
        names_pred = {n.lower() for n in pred["competitors"]}
        for n in names_gold | names_pred:
            c("competitor").add(n in names_gold, n in names_pred)
    return {k: v.as_dict() for k, v in sorted(counts.items())}


def evaluate(
    rows: Sequence[dict[str, Any]], competitors: Sequence[str] = BENCH_COMPETITORS
) -> dict[str, Any]:
    """Figures per part (dev, holdout, all), with the sentiment and intent accuracy."""
    pairs = [(r, predicted_labels(extract_sales_signals(r["text"], competitors=competitors))) for r in rows]
    out: dict[str, Any] = {}
    for split in SPLITS:
        part = [(g, p) for g, p in pairs if split == "all" or g["split"] == split]
        out[split] = {
            "messages": len(part),
            "sentiment_accuracy": round(
                sum(g["sentiment"] == p["sentiment"] for g, p in part) / len(part), 3
            ),
            "intent_accuracy": round(sum(g["intent"] == p["intent"] for g, p in part) / len(part), 3),
            "signals": score(part),
        }
    return out


def errors(rows: Sequence[dict[str, Any]], split: str = "dev") -> list[dict[str, Any]]:
    """The messages of one part where a prediction differs from its label (for reviewing the
    lexicon against the dev part only)."""
    out = []
    for r in rows:
        if r["split"] != split:
            continue
        pred = predicted_labels(extract_sales_signals(r["text"], competitors=BENCH_COMPETITORS))
        diff = {k: (r[k], v) for k, v in pred.items() if (sorted(r[k]) if isinstance(v, list) else r[k]) != v}
        if diff:
            out.append({"id": r["id"], "text": r["text"], "gold_vs_predicted": diff})
    return out
