"""Next best actions: documented rules over a score, its factors and recent activity.

Rules (first match per rule, all that apply, highest priority first):
  1. hot lead (score >= 70) without a meeting held          -> "Book a meeting"      (high)
  2. hot lead with a meeting held                           -> "Send a proposal"     (high)
  3. warm lead (40-69) whose strongest negative factor is
     unanswered calls / few replies                         -> "Try another channel" (medium)
  4. warm lead, otherwise                                   -> "Send a case study"   (medium)
  5. e-mail clicks or downloads but no call answered        -> "Call while interest is fresh" (medium)
  6. cold lead (< 40)                                       -> "Move to nurture campaign" (low)
  7. no activity at all                                     -> "Verify contact details" (low)
Churn: critical/high risk -> "Schedule an executive check-in" / cause-specific play.
"""

from __future__ import annotations

from typing import Any

ACTION_PRIORITY = {"high": 0, "medium": 1, "low": 2}

CAUSE_PLAYS = {
    "usage": ("Run an adoption session", "product usage is falling"),
    "support": ("Escalate open tickets to a senior agent", "support experience is poor"),
    "engagement": ("Have the account manager reach out", "the customer has gone quiet"),
    "financial": ("Review pricing and billing with the customer", "billing signals show financial strain"),
}


def lead_actions(score: int, values: dict[str, Any], factors: list[dict]) -> list[dict]:
    """Next best actions for one lead (the seed's NextBestAction: action, reason, priority)."""

    def v(name: str) -> float:
        x = values.get(name)
        return float(x) if isinstance(x, int | float) else 0.0

    out: list[dict] = []
    meetings = v("meetings_completed")
    total = sum(
        v(k)
        for k in (
            "email_opens",
            "email_clicks",
            "website_visits",
            "form_submissions",
            "content_downloads",
            "calls_answered",
            "meetings_completed",
        )
    )
    negatives = [f for f in factors if f["contribution"] < 0]
    if score >= 70 and meetings == 0:
        out.append(
            {
                "action": "Book a meeting",
                "reason": f"Score {score}: high likelihood to convert and no meeting held yet",
                "priority": "high",
            }
        )
    elif score >= 70:
        out.append(
            {
                "action": "Send a proposal",
                "reason": f"Score {score} and a meeting already held",
                "priority": "high",
            }
        )
    elif score >= 40:
        weak = negatives[0]["feature"] if negatives else ""
        if weak in ("calls_answered", "email_replies", "response_time"):
            out.append(
                {
                    "action": "Try another channel",
                    "reason": f"Warm lead, but {negatives[0]['label'].lower()} holds the score back",
                    "priority": "medium",
                }
            )
        else:
            out.append(
                {
                    "action": "Send a relevant case study",
                    "reason": f"Warm lead (score {score}) to move forward",
                    "priority": "medium",
                }
            )
    if (v("email_clicks") > 0 or v("content_downloads") > 0) and v("calls_answered") == 0 and score >= 25:
        out.append(
            {
                "action": "Call while interest is fresh",
                "reason": "Clicked or downloaded content but has not spoken to sales",
                "priority": "medium",
            }
        )
    if score < 40:
        out.append(
            {
                "action": "Move to a nurture campaign",
                "reason": f"Score {score}: not ready for sales time",
                "priority": "low",
            }
        )
    if total == 0:
        out.append(
            {"action": "Verify contact details", "reason": "No engagement recorded", "priority": "low"}
        )
    return sorted(out, key=lambda a: ACTION_PRIORITY[a["priority"]])


def lead_recommendations(score: int, factors: list[dict]) -> list[str]:
    """Short manager-facing advice from the strongest factors."""
    recs: list[str] = []
    pos = [f for f in factors if f["contribution"] > 0]
    neg = [f for f in factors if f["contribution"] < 0]
    if pos:
        recs.append(f"Lean on the strongest signal: {pos[0]['label'].lower()}.")
    if neg:
        recs.append(f"Work on the weakest signal: {neg[0]['label'].lower()}.")
    if score >= 70:
        recs.append("Prioritise this lead today.")
    elif score < 20:
        recs.append("Keep in automated nurture; revisit when engagement rises.")
    return recs


def churn_actions(risk_level: str, top_category: str | None) -> list[dict]:
    out: list[dict] = []
    if risk_level in ("high", "critical") and top_category in CAUSE_PLAYS:
        action, why = CAUSE_PLAYS[top_category]
        out.append({"action": action, "reason": f"Churn risk {risk_level}: {why}", "priority": "high"})
    if risk_level == "critical":
        out.append(
            {"action": "Schedule an executive check-in", "reason": "Critical churn risk", "priority": "high"}
        )
    elif risk_level == "medium" and top_category in CAUSE_PLAYS:
        action, why = CAUSE_PLAYS[top_category]
        out.append({"action": action, "reason": f"Early warning: {why}", "priority": "medium"})
    return out
