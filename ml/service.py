"""The seed's CRMAIService operations for one entity: calculateLeadScore / explainLeadScore,
calculateDealProbability, predictChurn / identifyChurnFactors, suggestNextBestAction.

An answer is computed from the entity's feature row (a one-row frame of its feature mart, typed
as the batch reads it) and the tenant's active model (`Active`), by the very functions the
batch scoring runs over every entity (`ml.specs`): the same inputs and model version give the
same answer. When there is no model, it cannot load or it fails, the rules answer instead and
say why (`fallback_reason`), as in the batch.

Two ways in: the `*_answer` functions take the frame and the model (the API reads both under
the tenant's row-level security and keeps loaded models); the others (the CLI) read them
from the database themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import polars as pl

from crm.errors import CRMError, CRMErrorCode
from ml import churn, deals, lead, marts, nba, scoring, store
from ml.registry import Version
from ml.specs import CHURN, DEALS, LEAD, ModelSpec

T = TypeVar("T")

CLOSED = "closed"
"""The method of a closed deal's probability: 1 when won, 0 when lost, by definition."""
JSON_FIELDS = ("factors", "recommendations", "next_best_actions")


@dataclass(frozen=True)
class Active:
    """A tenant's active model for one spec, loaded, or why the rules answer instead."""

    model: Any | None
    version: Version | None
    reason: str | None

    @classmethod
    def load(cls, url: str | None, spec: ModelSpec, tenant: str) -> Active:
        return cls(*scoring.active_model(url, spec, tenant))

    def run(self, fn: Callable[[Any | None, Version | None], T]) -> tuple[T, str | None]:
        """`fn(model, version)`, or the rules' `fn(None, None)` (`ml.scoring.with_fallback`)."""
        return scoring.with_fallback(fn, self.model, self.version, self.reason)


def _label(v: Version | None) -> str | None:
    return v.label if v is not None else None


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for k in JSON_FIELDS:
        if isinstance(row.get(k), str):
            row[k] = orjson.loads(row[k])
    return row


# --- answers from a feature row and the active model ----------------------------------------


def lead_score_answer(row: pl.DataFrame, active: Active, now: datetime) -> dict[str, Any]:
    """calculateLeadScore: the lead's `ml.lead_scores` row, JSON decoded, with the fallback
    reason (None when the model answered)."""
    rows, reason = _lead_rows(row, active, now)
    return _decoded(rows.row(0, named=True)) | {"fallback_reason": reason}


def stored_lead_answer(
    row: pl.DataFrame, stored: dict[str, Any] | None, active: Active
) -> dict[str, Any] | None:
    """calculateLeadScore answered by the stored batch score (an `ml.lead_scores` row) when it
    was computed from this very feature row by the model that would answer now (or by the
    rules, when they would): the same inputs and model give the same answer, so it is not
    computed again. None when it was not."""
    if stored is None or stored.get("inputs_digest") != lead.inputs_digest(row)[0]:
        return None
    label = _label(active.version) if active.model is not None else lead.RULES_VERSION
    method = "model" if active.model is not None else "rules"
    if (stored["model_version"], stored["method"]) != (label, method):
        return None
    keys = {"tenant_id": str(row["tenant_id"][0]), "lead_id": str(row["lead_id"][0])}
    answer = {k: stored[k] for k in lead.COLUMNS if k not in (*keys, "scored_at", "inputs_digest")}
    return _decoded(keys | answer) | {"fallback_reason": active.reason}


def _lead_rows(row: pl.DataFrame, active: Active, now: datetime) -> tuple[pl.DataFrame, str | None]:
    return active.run(lambda m, v: lead.score(row, m, _label(v), now))


def lead_explanation_answer(row: pl.DataFrame, active: Active, now: datetime) -> dict[str, Any]:
    """explainLeadScore: the score with every input's contribution (and the model's base
    log-odds, so that base + contributions = logit(probability); the rules' base points)."""
    lead_id = str(row["lead_id"][0])
    out, reason = active.run(lambda m, v: lead.explain(row, lead_id, m, _label(v), now))
    return out | {"fallback_reason": reason}


def deal_probability_answer(row: pl.DataFrame, active: Active, now: datetime) -> dict[str, Any]:
    """calculateDealProbability: an open deal's win probability as the batch writes it to
    `ml.deal_probabilities`; a closed deal's is 1 (won) or 0 (lost) by definition."""
    status = str(row["status"][0])
    base = {"tenant_id": str(row["tenant_id"][0]), "deal_id": str(row["deal_id"][0]), "status": status}
    if status != "open":
        closed = {"probability": 1.0 if status == "won" else 0.0, "method": CLOSED, "model_version": ""}
        return base | closed | {"factors": [], "scored_at": now, "fallback_reason": None}
    rows, reason = active.run(lambda m, v: deals.predict(row, m, _label(v), now))
    return base | _decoded(rows.row(0, named=True)) | {"fallback_reason": reason}


def churn_answer(
    row: pl.DataFrame, reference: churn.RuleReference, active: Active, now: datetime
) -> dict[str, Any]:
    """predictChurn with identifyChurnFactors: the customer's `ml.churn_predictions` row. The
    rules rank it among the tenant's active customers (`reference`), as the batch does."""
    rows, reason = active.run(lambda m, v: churn.predict(row, m, _label(v), now, reference))
    return _decoded(rows.row(0, named=True)) | {"fallback_reason": reason}


def next_best_actions(prediction: dict[str, Any]) -> list[dict[str, Any]]:
    """suggestNextBestAction from a churn answer: the play of its strongest churn factor's
    category at its churn risk level (`ml.nba`)."""
    top = next((f.get("category") for f in prediction["factors"] if f["contribution"] > 0), None)
    return nba.churn_actions(prediction["churn_risk_level"], top)


# --- the same, reading the database (the command line) --------------------------------------


def _lead_row(url: str | None, lead_id: str) -> pl.DataFrame:
    df = marts.lead_frame(url, lead_id=lead_id)
    if df.height == 0:
        raise CRMError(CRMErrorCode.LEAD_NOT_FOUND, f"lead {lead_id} not found", {"lead_id": lead_id})
    return df


def explain_lead_score(url: str | None, lead_id: str) -> dict[str, Any]:
    """explainLeadScore(leadId) from the marts and the registry."""
    row = _lead_row(url, lead_id)
    active = Active.load(url, LEAD, row["tenant_id"][0])
    return lead_explanation_answer(row, active, datetime.now(UTC))


def calculate_lead_score(url: str | None, lead_id: str, write: bool = True) -> dict[str, Any]:
    """calculateLeadScore: score one lead now (and store its row in ml.lead_scores)."""
    row = _lead_row(url, lead_id)
    now = datetime.now(UTC)
    rows, reason = _lead_rows(row, Active.load(url, LEAD, row["tenant_id"][0]), now)
    if write:
        store.upsert(url, LEAD.output, rows, "lead_id")  # one lead: an upsert, not the tenant's refresh
    return _decoded(rows.row(0, named=True)) | {"fallback_reason": reason}


def calculate_deal_probability(url: str | None, deal_id: str) -> dict[str, Any]:
    row = marts.deal_frame(url, deal_id=deal_id)
    if row.height == 0:
        raise CRMError(CRMErrorCode.DEAL_NOT_FOUND, f"deal {deal_id} not found", {"deal_id": deal_id})
    active = Active.load(url, DEALS, row["tenant_id"][0])
    return deal_probability_answer(row, active, datetime.now(UTC))


def predict_churn(url: str | None, customer_id: str) -> dict[str, Any]:
    row = marts.customer_frame(url, current=True, customer_id=customer_id)
    if row.height == 0:
        raise CRMError(
            CRMErrorCode.CUSTOMER_NOT_FOUND,
            f"customer {customer_id} is not an active customer",
            {"customer_id": customer_id},
        )
    tenant = row["tenant_id"][0]
    reference = churn.RuleReference.of(marts.customer_frame(url, current=True, tenant_id=tenant))
    return churn_answer(row, reference, Active.load(url, CHURN, tenant), datetime.now(UTC))


def identify_churn_factors(url: str | None, customer_id: str) -> list[dict[str, Any]]:
    return predict_churn(url, customer_id)["factors"]


def suggest_next_best_action(url: str | None, customer_id: str) -> list[dict[str, Any]]:
    return next_best_actions(predict_churn(url, customer_id))
