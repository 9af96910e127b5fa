"""The analyser on its own: signals with confidence and quoted evidence, negation, the
tenant's competitors, dates resolved from the message's day, and the labelled set's shape."""

from __future__ import annotations

from collections import Counter
from datetime import date

from integrations.conversations.analyzer import analyze_sales_conversation, extract_sales_signals
from integrations.conversations.evaluation import evaluate, load

DAY = date(2026, 5, 12)


def _by_type(text: str, **kw) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in extract_sales_signals(text, reference_date=DAY, **kw).signals:
        out.setdefault(s.type, []).append(s)
    return out


def test_signals_carry_confidence_and_the_quoted_span() -> None:
    text = "We're ready to sign for $48k before end of Q3, please send the contract."
    found = _by_type(text)
    buying = found["buying_signal"][0]
    assert (
        buying.value == "ready_to_buy"
        and text[buying.start : buying.end] == buying.evidence == "ready to sign"
    )
    assert 0 < buying.confidence <= 1
    amount = next(s for s in found["pricing"] if s.value == "amount")
    assert amount.detail == {"amount": "48000", "per_unit": False}
    assert found["timeline"][0].detail["resolved"] == "2026-09-30"
    assert found["intent"][0].value == "purchase"
    assert found["next_step"][0].evidence == text  # the sentence holding the step


def test_negation_and_taken_back_objections() -> None:
    assert "buying_signal" not in _by_type("We're not ready to sign anything yet.")
    assert "objection" not in _by_type("Price isn't an issue for us, we care about integrations.")
    assert [s.value for s in _by_type("Honestly the price is too high.")["objection"]] == ["price"]
    cancel = _by_type("We've decided not to renew when the contract ends in June.")
    assert cancel["intent"][0].value == "cancellation"


def test_competitors_default_and_per_tenant() -> None:
    text = "Nimble came in at a third of your price, and HubSpot is cheaper too."
    assert [s.value for s in _by_type(text)["competitor"]] == ["HubSpot"]
    found = _by_type(text, competitors=["Nimble"])
    assert {s.value for s in found["competitor"]} == {"Nimble", "HubSpot"}
    assert {s.value for s in found["objection"]} >= {"competitor", "price"}


def test_relative_dates_resolve_from_the_message_day() -> None:
    resolved = lambda t: _by_type(t)["timeline"][0].detail["resolved"]  # noqa: E731
    assert resolved("We plan to sign next month.") == "2026-06-30"
    assert resolved("Target is Q1.") == "2027-03-31"
    assert resolved("We'll decide within two weeks.") == "2026-05-26"
    assert resolved("We want it signed by March 15.") == "2027-03-15"


def test_conversation_insights() -> None:
    insights = analyze_sales_conversation(
        ["Thanks for the demo!", "We might cancel if the outage happens again, this is unacceptable."]
    )
    assert insights.intent == "cancellation" and len(insights.messages) == 2


def test_labelled_set_is_large_hand_written_and_split() -> None:
    rows = load()
    assert len(rows) >= 300
    assert len({r["text"] for r in rows}) == len(rows)
    splits = Counter(r["split"] for r in rows)
    assert 0.3 < splits["holdout"] / len(rows) < 0.5
    for r in rows:
        assert r["intent"] in ("purchase", "information", "support", "complaint", "cancellation", "other")
        assert r["sentiment"] in ("positive", "negative", "neutral")
    figures = evaluate(rows)
    assert figures["all"]["messages"] == len(rows)
    assert set(figures["holdout"]["signals"]) >= {
        "buying_signal",
        "pricing",
        "timeline",
        "next_step",
        "competitor",
    }
