"""`update_deal_from_conversation`: the changes a conversation's signals propose to a deal
(stage, expected close date, amount, next step), each with its confidence and the quoted
evidence, and which of them may be applied.

A proposal is applied only when its confidence reaches the threshold (the tenant's
`conversation_update_threshold` setting, default 0.8) and no one else changed that field after
the message it rests on: a human edit made since the conversation always wins. Skipped
proposals say why. The stage only ever moves one open stage forward; winning or losing a deal
stays a person's decision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

THRESHOLD_SETTING = "conversation_update_threshold"
DEFAULT_THRESHOLD = 0.8
CONVERSATION_REQUEST_PREFIX = "conversation:"
"""The audit `request_id` of changes applied from a conversation: every other change of a
field after the conversation counts as an edit the proposals must not overwrite."""
STRONG_BUYING = ("ready_to_buy", "budget_approved", "procurement")
FIELDS = ("stage", "expected_close_date", "value", "next_step")


@dataclass(frozen=True)
class Proposal:
    """A proposed change of one deal field, with why and whether it applies."""

    field: str
    current: Any
    proposed: Any
    confidence: float
    evidence: str
    message_event_id: str
    said_at: datetime
    apply: bool = False
    skipped_reason: str | None = None
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def threshold_of(settings: Mapping[str, Any] | None) -> float:
    value = (settings or {}).get(THRESHOLD_SETTING)
    try:
        return float(value) if value is not None else DEFAULT_THRESHOLD
    except (TypeError, ValueError):
        return DEFAULT_THRESHOLD


def _latest(signals: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return max(signals, key=lambda s: (s["occurred_at"], float(s["confidence"])), default=None)


def _by_message(signals: Sequence[Mapping[str, Any]]) -> dict[Any, list[Mapping[str, Any]]]:
    out: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for s in signals:
        out[s["message_event_id"]].append(s)
    return out


def _buying(message: Sequence[Mapping[str, Any]]) -> bool:
    return any(s["signal_type"] == "buying_signal" for s in message) or any(
        s["signal_type"] == "intent" and s["value"] == "purchase" for s in message
    )


def _next_open_stage(stages: Sequence[Mapping[str, Any]], current: str) -> str | None:
    ordered = sorted(stages, key=lambda s: s.get("order", 0))
    names = [s.get("name") for s in ordered]
    if current not in names:
        return None
    here = ordered[names.index(current)]
    if here.get("is_won") or here.get("is_lost"):
        return None
    later = [s for s in ordered[names.index(current) + 1 :] if not (s.get("is_won") or s.get("is_lost"))]
    return str(later[0]["name"]) if later else None


def _proposal(field: str, current: Any, proposed: Any, confidence: float, s: Mapping[str, Any]) -> Proposal:
    return Proposal(
        field=field,
        current=current,
        proposed=proposed,
        confidence=round(confidence, 3),
        evidence=str(s["evidence"]),
        message_event_id=str(s["message_event_id"]),
        said_at=s["occurred_at"],
    )


def _raw_proposals(
    deal: Mapping[str, Any], stages: Sequence[Mapping[str, Any]], signals: Sequence[Mapping[str, Any]]
) -> list[Proposal]:
    messages = _by_message(signals)
    out: list[Proposal] = []
    strong = [s for s in signals if s["signal_type"] == "buying_signal" and s["value"] in STRONG_BUYING]
    target = _next_open_stage(stages, deal["stage"])
    if (s := _latest(strong)) and target:
        out.append(_proposal("stage", deal["stage"], target, float(s["confidence"]) * 0.95, s))
    dated = [s for s in signals if s["signal_type"] == "timeline" and (s["detail"] or {}).get("resolved")]
    if s := _latest(dated):
        same = _buying(messages[s["message_event_id"]])
        current = deal.get("expected_close_date")
        current_day = current.astimezone(UTC).date().isoformat() if isinstance(current, datetime) else current
        out.append(
            _proposal(
                "expected_close_date",
                current_day,
                s["detail"]["resolved"],
                float(s["confidence"]) * (1.0 if same else 0.75),
                s,
            )
        )
    amounts = [
        s
        for s in signals
        if s["signal_type"] == "pricing"
        and s["value"] == "amount"
        and not (s["detail"] or {}).get("per_unit")
        and _buying(messages[s["message_event_id"]])
    ]
    if s := _latest(amounts):
        others = {a["detail"]["amount"] for a in messages[s["message_event_id"]] if a in amounts}
        conf = float(s["confidence"]) * (1.0 if len(others) == 1 else 0.6)
        out.append(_proposal("value", str(deal["value"]), str(Decimal(s["detail"]["amount"])), conf, s))
    if s := _latest([s for s in signals if s["signal_type"] == "next_step"]):
        current = (deal.get("custom_fields") or {}).get("next_step")
        out.append(_proposal("next_step", current, s["evidence"], float(s["confidence"]), s))
    return out


def _same(current: Any, proposed: Any) -> bool:
    if current is None:
        return False
    try:
        return Decimal(str(current)) == Decimal(str(proposed))
    except ArithmeticError:
        return str(current) == str(proposed)


def propose_deal_updates(
    deal: Mapping[str, Any],
    stages: Sequence[Mapping[str, Any]],
    signals: Sequence[Mapping[str, Any]],
    edited_at: Mapping[str, datetime],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Proposal]:
    """The proposals of a conversation's stored signals for a deal. `edited_at`: per field,
    when it was last changed other than from a conversation (from the audit log)."""
    out = []
    for p in _raw_proposals(deal, stages, signals):
        reason = None
        if _same(p.current, p.proposed):
            reason = "unchanged: the deal already holds this value"
        elif (edit := edited_at.get(p.field)) is not None and edit >= p.said_at:
            reason = f"edited since the conversation: {p.field} was changed at {edit.isoformat()}, after the message"
        elif p.confidence < threshold:
            reason = f"confidence {p.confidence} is below the threshold {threshold}"
        out.append(Proposal(**{**asdict(p), "apply": reason is None, "skipped_reason": reason}))
    return out


def field_edit_times(audit: Sequence[Mapping[str, Any]]) -> dict[str, datetime]:
    """Per deal field, the last time an audited change other than a conversation's changed it
    (`audit`: the deal's audit rows with before, after, request_id and occurred_at)."""
    out: dict[str, datetime] = {}
    for row in audit:
        if str(row.get("request_id") or "").startswith(CONVERSATION_REQUEST_PREFIX):
            continue
        before, after = row.get("before") or {}, row.get("after") or {}
        changed = {k for k in after if before.get(k) != after.get(k)} if before else set(after)
        if "custom_fields" in changed and (before.get("custom_fields") or {}).get("next_step") != (
            after.get("custom_fields") or {}
        ).get("next_step"):
            changed.add("next_step")
        for f in FIELDS:
            if f in changed and (f not in out or row["occurred_at"] > out[f]):
                out[f] = row["occurred_at"]
    return out


def close_date(value: str) -> datetime:
    """A proposed close date as the deal column holds it (midnight UTC)."""
    d = date.fromisoformat(value)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)
