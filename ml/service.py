"""The seed's CRMAIService operations for one entity, against the database:
calculateLeadScore / explainLeadScore, calculateDealProbability, predictChurn /
identifyChurnFactors, suggestNextBestAction.

Each reads the entity's features from the marts and answers with the tenant's active model,
or the rules when there is none, it cannot load or it fails (`ml.scoring.answer`, as the
batch scoring does; the result's `method` says which).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import polars as pl

from crm.errors import CRMError, CRMErrorCode
from ml import churn, deals, lead, marts, nba, scoring, store
from ml.registry import Version
from ml.specs import CHURN, DEALS, LEAD


def _label(v: Version | None) -> str | None:
    return v.label if v is not None else None


def _lead_row(url: str | None, lead_id: str) -> pl.DataFrame:
    df = marts.lead_frame(url, lead_id=lead_id)
    if df.height == 0:
        raise CRMError(CRMErrorCode.LEAD_NOT_FOUND, f"lead {lead_id} not found", {"lead_id": lead_id})
    return df


def explain_lead_score(url: str | None, lead_id: str) -> dict:
    """explainLeadScore(leadId): score, confidence, method, model version, factors with signed
    contributions (and all of them), recommendations and next best actions."""
    row = _lead_row(url, lead_id)
    now = datetime.now(UTC)
    out, _ = scoring.answer(
        url, LEAD, row["tenant_id"][0], lambda m, v: lead.explain(row, lead_id, m, _label(v), now)
    )
    return out


def calculate_lead_score(url: str | None, lead_id: str, write: bool = True) -> dict:
    """calculateLeadScore: score one lead now (and store the row in ml.lead_scores)."""
    row = _lead_row(url, lead_id)
    now = datetime.now(UTC)
    out, _ = scoring.answer(url, LEAD, row["tenant_id"][0], lambda m, v: lead.score(row, m, _label(v), now))
    if write:
        store.upsert(url, LEAD.output, out, "lead_id")  # one lead: an upsert, not the tenant's refresh
    return out.row(0, named=True)


def calculate_deal_probability(url: str | None, deal_id: str) -> float:
    df = marts.deal_frame(url, deal_id=deal_id)
    if df.height == 0:
        raise CRMError(CRMErrorCode.MODEL_NOT_FOUND, f"deal {deal_id} not found", {"deal_id": deal_id})
    if df["status"][0] != "open":
        return 1.0 if df["status"][0] == "won" else 0.0
    now = datetime.now(UTC)
    out, _ = scoring.answer(
        url,
        DEALS,
        df["tenant_id"][0],
        lambda m, v: float(deals.predict(df, m, _label(v), now)["probability"][0]),
    )
    return out


def predict_churn(url: str | None, customer_id: str) -> dict:
    row = marts.customer_frame(url, current=True, customer_id=customer_id)
    if row.height == 0:
        raise CRMError(
            CRMErrorCode.MODEL_NOT_FOUND,
            f"customer {customer_id} is not an active customer",
            {"customer_id": customer_id},
        )
    now = datetime.now(UTC)
    rows, _ = scoring.answer(
        url, CHURN, row["tenant_id"][0], lambda m, v: churn.predict(row, m, _label(v), now)
    )
    out = rows.row(0, named=True)
    out["factors"] = orjson.loads(out["factors"])
    return out


def identify_churn_factors(url: str | None, customer_id: str) -> list[dict]:
    return predict_churn(url, customer_id)["factors"]


def suggest_next_best_action(url: str | None, customer_id: str) -> list[dict]:
    p = predict_churn(url, customer_id)
    top = next((f.get("category") for f in p["factors"] if f["contribution"] > 0), None)
    return nba.churn_actions(p["churn_risk_level"], top)
