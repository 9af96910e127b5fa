"""The seed's CRMAIService operations for one entity, against the database:
calculateLeadScore / explainLeadScore, calculateDealProbability, predictChurn /
identifyChurnFactors, suggestNextBestAction, forecastRevenue.

Each reads the entity's features from the marts, loads the tenant's active model from the
registry and, when there is none or it cannot load, answers with the rule-based fallback
(the result's `method` says which).
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from crm.errors import CRMError, CRMErrorCode
from ml import churn, deals, lead, marts, nba, registry, store


def _model(url: str | None, tenant: str, name: str):
    try:
        obj, v = registry.load_active(url, tenant, name)
        return obj, v.label
    except CRMError:
        return None, None


def _lead_row(url: str | None, lead_id: str) -> pl.DataFrame:
    df = store.read_table(url, marts.LEADS, "WHERE lead_id = %s::uuid", (lead_id,))
    if df.height == 0:
        raise CRMError(CRMErrorCode.LEAD_NOT_FOUND, f"lead {lead_id} not found", {"lead_id": lead_id})
    df = df.drop([c for c in marts.LEAD_DROP if c in df.columns])
    df = df.rename({k: v for k, v in marts.LEAD_RENAME.items() if k in df.columns})
    bools = [c for c, t in df.schema.items() if t == pl.Boolean]
    return df.with_columns([pl.col(c).cast(pl.Int8) for c in bools])


def explain_lead_score(url: str | None, lead_id: str) -> dict:
    """explainLeadScore(leadId): score, confidence, method, model version, factors with signed
    contributions (and all of them), recommendations and next best actions."""
    row = _lead_row(url, lead_id)
    tenant = row["tenant_id"][0]
    model, version = _model(url, tenant, lead.MODEL_NAME)
    return lead.explain(row, lead_id, model, version, datetime.now(UTC))


def calculate_lead_score(url: str | None, lead_id: str, write: bool = True) -> dict:
    """calculateLeadScore: score one lead now (and store the row in ml.lead_scores)."""
    row = _lead_row(url, lead_id)
    tenant = row["tenant_id"][0]
    model, version = _model(url, tenant, lead.MODEL_NAME)
    out = lead.score(row, model, version, datetime.now(UTC))
    if write:
        store.upsert(url, "ml.lead_scores", out, "lead_id")
    return out.row(0, named=True)


def calculate_deal_probability(url: str | None, deal_id: str) -> float:
    df = marts.deal_frame(url).filter(pl.col("deal_id") == deal_id)
    if df.height == 0:
        raise CRMError(CRMErrorCode.MODEL_NOT_FOUND, f"deal {deal_id} not found", {"deal_id": deal_id})
    if df["status"][0] != "open":
        return 1.0 if df["status"][0] == "won" else 0.0
    model, version = _model(url, df["tenant_id"][0], deals.MODEL_NAME)
    return deals.calculate_deal_probability(df, deal_id, model, version, datetime.now(UTC))


def _customer_row(url: str | None, customer_id: str) -> pl.DataFrame:
    df = marts.customer_frame(url, current=True).filter(pl.col("customer_id") == customer_id)
    if df.height == 0:
        raise CRMError(
            CRMErrorCode.MODEL_NOT_FOUND,
            f"customer {customer_id} is not an active customer",
            {"customer_id": customer_id},
        )
    return df


def predict_churn(url: str | None, customer_id: str) -> dict:
    import orjson

    row = _customer_row(url, customer_id)
    model, version = _model(url, row["tenant_id"][0], churn.MODEL_NAME)
    out = churn.predict(row, model, version, datetime.now(UTC)).row(0, named=True)
    out["factors"] = orjson.loads(out["factors"])
    return out


def identify_churn_factors(url: str | None, customer_id: str) -> list[dict]:
    return predict_churn(url, customer_id)["factors"]


def suggest_next_best_action(url: str | None, customer_id: str) -> list[dict]:
    p = predict_churn(url, customer_id)
    top = next((f.get("category") for f in p["factors"] if f["contribution"] > 0), None)
    return nba.churn_actions(p["risk_level"], top)
