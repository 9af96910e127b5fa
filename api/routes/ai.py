"""The seed's CRMAIService reads answered on demand: lead score and its explanation, deal win
probability, churn with its factors, next best actions, the revenue forecast of a pipeline over
a timeframe; and CRMService.scoreLeads, a tenant-wide lead rescore that the API records as a
request (crm.lead_rescore_requests) and the ML jobs carry out: the API never writes scores.

Each answer is computed at request time from the entity's current row of its feature mart and
the tenant's active model (kept loaded per process: `_active_models`), by the functions the
batch scoring runs (the ML package's `service`): for the same features and model version it
equals the stored batch score. Without a model (none, unloadable, failing) the rules answer and
say so in `method` and `fallback_reason`, as the batch does. A lead's answer is kept for its
exact inputs (`_on_demand.Answers`): a repeated read of an unchanged lead skips the work; and a
lead whose stored batch score was computed from its current feature row by the model that would
answer now (`ml.lead_scores.inputs_digest`) is answered with that score."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import polars as pl
from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.core.auth import Principal
from api.core.db import Conn, fetchall, fetchone
from api.core.writes import record_audit_only
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
    RescoreRequestOut,
    RevenueForecastOut,
)
from crm.errors import CRMError, CRMErrorCode
from ml import forecast, marts, service, specs

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


STORED_SCORE = (
    "SELECT score, confidence, method, model_version, factors, recommendations, next_best_actions,"
    " inputs_digest FROM ml.lead_scores WHERE lead_id = %s"
)


async def _lead_answer(lead_id: UUID, p: Principal, db: Db, state: OnDemandState, explain: bool):
    async with db.tx(p.tenant_id) as conn:
        check_owner(p, await get_row(conn, "leads", lead_id, CRMErrorCode.LEAD_NOT_FOUND, "lead"), "lead")
        row = await entity_row(conn, state.columns, marts.LEADS, p.tenant_id, "lead_id", lead_id, "lead")
        active = await state.models.get(conn, specs.LEAD, p.tenant_id)
        stored = None if explain else await fetchone(conn, STORED_SCORE, (lead_id,))
    now = datetime.now(UTC)
    version = active.version.id if active.version is not None else None
    key = (specs.LEAD.name, explain, version, active.reason, row.row(0))
    answer = state.answers.get(key) or service.stored_lead_answer(row, stored, active)
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
    and the tenant's active lead model (ml.model_versions), else the rules; the stored batch
    score in ml.lead_scores when it was computed from this row by that model."""
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


RESCORE_PATH = "/leads/rescore"


def _rescore_out(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"links": {"self": f"{RESCORE_PATH}/{row['id']}"}}


async def _lead_features_built(conn: Conn, tenant: UUID) -> None:
    """503 unless the warehouse has built lead features for the tenant, decided now rather than
    by a run that would find nothing to score (a catalog look-up and an EXISTS that stops at the
    tenant's first row)."""
    row = await fetchone(conn, "SELECT to_regclass(%s) IS NOT NULL AS built", (marts.LEADS,))
    if row is None or not row["built"]:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            f"{marts.LEADS} is not built yet: scores need the warehouse's features (run dbt)",
            {"table": marts.LEADS},
        )
    row = await fetchone(
        conn, f"SELECT EXISTS (SELECT 1 FROM {marts.LEADS} WHERE tenant_id = %s) AS some", (tenant,)
    )
    if row is None or not row["some"]:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            "no lead features for your tenant yet: the warehouse has not taken its leads in",
            {"table": marts.LEADS},
        )


@router.post(
    RESCORE_PATH,
    tags=["leads"],
    status_code=202,
    response_model=RescoreRequestOut,
    responses={503: {"description": "the lead features are not built yet"}},
)
async def rescore_leads(p: LeadWriter, db: Db):
    """scoreLeads(tenantId): ask for every lead of your tenant to be scored again, as the
    scoring job does (its features from analytics.ml_features__leads, the active lead model of
    ml.model_versions or the rules). 202 with the request: the ML jobs act on it within seconds
    (the rescore sensor, every 5 s) and store the scores the lead reads answer with; poll
    `links.self` (GET /leads/rescore/{id}) for `status` done (rows, method) or failed (error).
    While a request of your tenant waits, asking again returns that one. A sales_rep may not
    rescore the whole tenant."""
    if p.own_only:
        raise CRMError(
            CRMErrorCode.FORBIDDEN,
            "a sales_rep may not rescore the tenant's leads",
            {"permission": "leads:write"},
        )
    async with db.tx(p.tenant_id) as conn:
        await _lead_features_built(conn, p.tenant_id)
        for _ in range(3):  # the waiting request, or a new one (a run may take the waiting one meanwhile)
            row = await fetchone(
                conn,
                "INSERT INTO crm.lead_rescore_requests (tenant_id, requested_by) VALUES (%s, %s)"
                " ON CONFLICT (tenant_id) WHERE status = 'pending' DO NOTHING RETURNING *",
                (p.tenant_id, p.actor_id),
            )
            if row is not None:
                await record_audit_only(
                    conn,
                    p,
                    table="lead_rescore_requests",
                    action="requested",
                    entity_id=row["id"],
                    before=None,
                    after=row,
                )
                break
            row = await fetchone(
                conn,
                "SELECT * FROM crm.lead_rescore_requests WHERE tenant_id = %s AND status = 'pending'",
                (p.tenant_id,),
            )
            if row is not None:
                break
        else:
            raise CRMError(CRMErrorCode.INTERNAL_ERROR, "the rescore request could not be recorded", {})
    resp = _out(RescoreRequestOut, _rescore_out(row))
    resp.status_code = 202
    resp.headers["Location"] = f"{RESCORE_PATH}/{row['id']}"
    return resp


@router.get(
    RESCORE_PATH + "/{request_id}",
    tags=["leads"],
    response_model=RescoreRequestOut,
    responses=NOT_FOUND,
)
async def rescore_request(request_id: UUID, p: LeadReader, db: Db):
    """A tenant rescore asked for (POST /leads/rescore): pending, running, done (rows, method,
    fallback reason) or failed (error). Another tenant's requests are not found."""
    async with db.tx(p.tenant_id) as conn:
        row = await fetchone(conn, "SELECT * FROM crm.lead_rescore_requests WHERE id = %s", (request_id,))
    if row is None:
        raise CRMError(
            CRMErrorCode.NOT_FOUND, f"rescore request {request_id} not found", {"id": str(request_id)}
        )
    return _out(RescoreRequestOut, _rescore_out(row))


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
