"""The seed's CRMAIService reads and CRMService.scoreLeads, answered on demand: lead score and
its explanation, deal win probability, churn with its factors, next best actions, the revenue
forecast of a pipeline over a timeframe, and a tenant-wide lead rescore.

Each answer is computed at request time from the entity's current row of its feature mart and
the tenant's active model (kept loaded per process: `_active_models`), by the functions the
batch scoring runs (the ML package's `service`): for the same features and model version it
equals the stored batch score. Without a model (none, unloadable, failing) the rules answer and
say so in `method` and `fallback_reason`, as the batch does. A lead's answer is kept for its
exact inputs (`_on_demand.Answers`): a repeated read of an unchanged lead skips the work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import polars as pl
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.core.auth import Principal
from api.core.db import fetchall
from api.deps import Db, Requires
from api.routes._common import check_owner, get_row, respond
from api.routes._features import entity_row, feature_frame
from api.routes._on_demand import OnDemandState
from api.schemas.common import ERRORS, NOT_FOUND, Responses
from api.schemas.scores import (
    ChurnPredictionOut,
    DealProbabilityOut,
    LeadScoreExplanationOut,
    LeadScoreOut,
    NextBestActionsOut,
    RescoreOut,
    RevenueForecastOut,
)
from crm.errors import CRMError, CRMErrorCode
from ml import forecast, marts, scoring, service, specs

router = APIRouter(responses=ERRORS)
LeadReader = Annotated[Principal, Requires("leads:read")]
LeadWriter = Annotated[Principal, Requires("leads:write")]
DealReader = Annotated[Principal, Requires("deals:read")]
CustomerReader = Annotated[Principal, Requires("customers:read")]
UNAVAILABLE: Responses = {503: {"description": "the warehouse has no features for it yet"}}
Timeframe = Annotated[
    int, Query(ge=1, le=730, description="days ahead: deals expected to close before today + timeframe_days")
]


def _out(model: type[BaseModel], answer: dict[str, Any]) -> Any:
    """The answer through its response model: what is sent is what the OpenAPI says."""
    return respond(model.model_validate(answer).model_dump(mode="json"))


async def _lead_answer(lead_id: UUID, p: Principal, db: Db, state: OnDemandState, explain: bool):
    async with db.tx(p.tenant_id) as conn:
        check_owner(p, await get_row(conn, "leads", lead_id, CRMErrorCode.LEAD_NOT_FOUND, "lead"), "lead")
        row = await entity_row(conn, state.columns, marts.LEADS, p.tenant_id, "lead_id", lead_id, "lead")
        active = await state.models.get(conn, specs.LEAD, p.tenant_id)
    now = datetime.now(UTC)
    version = active.version.id if active.version is not None else None
    key = (specs.LEAD.name, explain, version, active.reason, row.row(0))
    answer = state.answers.get(key)
    if answer is None:
        fn = service.lead_explanation_answer if explain else service.lead_score_answer
        answer = await asyncio.to_thread(fn, row, active, now)
        state.answers.put(key, answer)
    model = LeadScoreExplanationOut if explain else LeadScoreOut
    return _out(model, answer | {"scored_at": now})


@router.get(
    "/leads/{lead_id}/score",
    tags=["leads"],
    response_model=LeadScoreOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
)
async def score_lead(lead_id: UUID, p: LeadReader, db: Db, state: OnDemandState):
    """calculateLeadScore, now: score 0-100, confidence, factors with signed contributions,
    recommendations and next best actions, from the lead's analytics.ml_features__leads row
    and the tenant's active lead model (ml.model_versions), else the rules."""
    return await _lead_answer(lead_id, p, db, state, explain=False)


@router.get(
    "/leads/{lead_id}/score/explanation",
    tags=["leads"],
    response_model=LeadScoreExplanationOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
)
async def explain_lead_score(lead_id: UUID, p: LeadReader, db: Db, state: OnDemandState):
    """explainLeadScore, now: the score with every input's contribution, from the lead's
    analytics.ml_features__leads row and the tenant's active lead model (ml.model_versions)."""
    return await _lead_answer(lead_id, p, db, state, explain=True)


_rescoring: dict[UUID, asyncio.Lock] = {}


@router.post(
    "/leads/rescore",
    tags=["leads"],
    response_model=RescoreOut,
    responses={503: {"description": "the lead features are not built yet"}},
)
async def rescore_leads(p: LeadWriter, request: Request):
    """scoreLeads(tenantId): score every lead of your tenant again, as the scoring job does
    (its features from analytics.ml_features__leads, the active lead model of ml.model_versions
    or the rules) and store the scores the lead reads answer with. One rescore per tenant at a
    time; a sales_rep may not rescore the whole tenant."""
    if p.own_only:
        raise CRMError(
            CRMErrorCode.FORBIDDEN,
            "a sales_rep may not rescore the tenant's leads",
            {"permission": "leads:write"},
        )
    url = request.app.state.settings.core.database_url
    if not url:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            "the scoring writer is not configured (DATABASE_URL)",
            {},
        )
    tenant = str(p.tenant_id)
    at = datetime.now(UTC)
    async with _rescoring.setdefault(p.tenant_id, asyncio.Lock()):
        run = await asyncio.to_thread(scoring.score_model, url, specs.LEAD, as_of=at, tenants=[tenant])
    if not run.tenants:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            "no lead features for your tenant yet (run dbt)",
            {"table": marts.LEADS},
        )
    summary = run.summary()
    return _out(
        RescoreOut,
        {
            "tenant_id": tenant,
            "rows": summary["rows"],
            "method": summary["method"],
            "methods": summary["methods"],
            "fallback_reason": run.fallback.get(tenant),
            "scored_at": at,
        },
    )


@router.get(
    "/deals/{deal_id}/probability",
    tags=["deals"],
    response_model=DealProbabilityOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
)
async def deal_probability(deal_id: UUID, p: DealReader, db: Db, state: OnDemandState):
    """calculateDealProbability, now: the win probability from the deal's
    analytics.ml_features__deals row and the tenant's active deal model (ml.model_versions),
    else its stage's default; 1 or 0 once the deal is won or lost."""
    async with db.tx(p.tenant_id) as conn:
        check_owner(p, await get_row(conn, "deals", deal_id, CRMErrorCode.DEAL_NOT_FOUND, "deal"), "deal")
        row = await entity_row(conn, state.columns, marts.DEALS, p.tenant_id, "deal_id", deal_id, "deal")
        active = await state.models.get(conn, specs.DEALS, p.tenant_id)
    answer = await asyncio.to_thread(service.deal_probability_answer, row, active, datetime.now(UTC))
    return _out(DealProbabilityOut, answer)


async def _churn(customer_id: UUID, p: Principal, db: Db, state: OnDemandState) -> dict[str, Any]:
    relation = marts.CUSTOMERS_CURRENT
    async with db.tx(p.tenant_id) as conn:
        await get_row(conn, "customers", customer_id, CRMErrorCode.CUSTOMER_NOT_FOUND, "customer")
        _, row = await feature_frame(
            conn,
            state.columns,
            relation,
            {"tenant_id": p.tenant_id, "customer_id": customer_id, "is_active_at_snapshot": True},
        )
        if row.height == 0:
            raise CRMError(
                CRMErrorCode.CUSTOMER_NOT_FOUND,
                f"customer {customer_id} is not an active customer in the warehouse: no churn to predict",
                {"id": str(customer_id), "table": relation},
            )
        active = await state.models.get(conn, specs.CHURN, p.tenant_id)
        reference = await state.references.get(conn, relation, p.tenant_id)
    return await asyncio.to_thread(service.churn_answer, row, reference, active, datetime.now(UTC))


@router.get(
    "/customers/{customer_id}/churn",
    tags=["customers"],
    response_model=ChurnPredictionOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
)
async def predict_churn(customer_id: UUID, p: CustomerReader, db: Db, state: OnDemandState):
    """predictChurn with identifyChurnFactors, now: churn probability within 90 days, churn
    risk level and factors (category, weight, value, impact), from the customer's
    analytics.ml_features__customers_current row and the tenant's active churn model
    (ml.model_versions), else the rules ranking it among the tenant's active customers."""
    return _out(ChurnPredictionOut, await _churn(customer_id, p, db, state))


@router.get(
    "/customers/{customer_id}/next-best-actions",
    tags=["customers"],
    response_model=NextBestActionsOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
)
async def next_best_actions(customer_id: UUID, p: CustomerReader, db: Db, state: OnDemandState):
    """suggestNextBestAction, now: the plays for the customer's churn risk and its strongest
    churn factor, from the churn prediction computed now (analytics.ml_features__customers_current,
    ml.model_versions)."""
    churn = await _churn(customer_id, p, db, state)
    body = {
        "customer_id": customer_id,
        "churn_risk_level": churn["churn_risk_level"],
        "method": churn["method"],
        "model_version": churn["model_version"],
        "actions": service.next_best_actions(churn),
    }
    return _out(NextBestActionsOut, body)


@router.get(
    "/pipelines/{pipeline_id}/forecast",
    tags=["pipelines"],
    response_model=RevenueForecastOut,
    responses=NOT_FOUND,
)
async def forecast_revenue(
    pipeline_id: UUID, p: DealReader, db: Db, state: OnDemandState, timeframe_days: Timeframe = 90
):
    """forecastRevenue(pipelineId, timeframe), now: the pipeline's open deals
    (analytics.ml_features__deals) weighted by their win probability (ml.deal_probabilities;
    the stage default for a deal not scored yet), by expected close month and category (commit,
    best case, pipeline) with an 80% interval, for the deals expected to close within the
    timeframe. The same computation as the tenant's pipeline forecast in the batch."""
    async with db.tx(p.tenant_id) as conn:
        pipeline = await get_row(
            conn, "sales_pipelines", pipeline_id, CRMErrorCode.PIPELINE_NOT_FOUND, "pipeline"
        )
        ids = [
            r["id"]
            for r in await fetchall(conn, "SELECT id FROM crm.deals WHERE pipeline_id = %s", (pipeline_id,))
        ]
        _, deals = await feature_frame(
            conn, state.columns, marts.DEALS, {"tenant_id": p.tenant_id, "deal_id": ids, "status": "open"}
        )
        probs = await fetchall(
            conn,
            "SELECT deal_id::text AS deal_id, probability, model_version FROM ml.deal_probabilities"
            " WHERE deal_id = ANY(%s)",
            (ids,),
        )
    as_of = datetime.now(UTC).date()
    scored = pl.DataFrame(
        [(r["deal_id"], r["probability"], r["model_version"]) for r in probs],
        schema={"deal_id": pl.Utf8(), "probability": pl.Float64(), "model_version": pl.Utf8()},
        orient="row",
    )
    frame = forecast.with_probabilities(deals, scored)
    rows = forecast.pipeline_forecast(frame, str(p.tenant_id), "", "", as_of, horizon_days=timeframe_days)
    periods = [
        {
            "period_start": r["period_start"],
            "category": r["category"],
            "expected": r["yhat"],
            "lower": r["yhat_lower"],
            "upper": r["yhat_upper"],
        }
        for r in rows.iter_rows(named=True)
    ]
    body = {
        "pipeline_id": pipeline_id,
        "pipeline_name": pipeline["name"],
        "timeframe_days": timeframe_days,
        "as_of": as_of,
        "method": "pipeline_weighted",
        "probability_versions": sorted(set(frame["model_version"].to_list())) if frame.height else [],
        "total": forecast.pipeline_total(frame, as_of, timeframe_days),
        "periods": periods,
    }
    return _out(RevenueForecastOut, body)
