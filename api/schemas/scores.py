"""What the on-demand AI reads answer: the seed's LeadScore, ScoreExplanation, deal probability,
ChurnPrediction with its ChurnFactors, NextBestAction, CustomerHealthScore and RevenueForecast.

Every score says how it was made: `method` (the model, or the rules that answer without one),
`model_version`, and `fallback_reason` (why the rules answered; null when the model did)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from crm.enums import HealthTrend, RiskLevel

FactorValue = float | str | None


class Scored(BaseModel):
    method: str = Field(description="'model', or the fallback that answered ('rules', 'stage_default')")
    model_version: str = Field(description="the model version (name@version) or the rules' version")
    fallback_reason: str | None = Field(
        None, description="why the fallback answered (no active model, it cannot load, it failed)"
    )
    scored_at: datetime


class Factor(BaseModel):
    feature: str
    label: str = Field(description="the factor in words")
    contribution: float = Field(description="signed effect: log-odds (models) or points (lead rules)")
    value: FactorValue = Field(description="the feature's value for this record")


class NextBestAction(BaseModel):
    action: str
    reason: str
    priority: Literal["high", "medium", "low"]


class LeadScoreOut(Scored):
    """calculateLeadScore: the LeadScore of the seed (score, confidence, factors,
    recommendations, nextBestActions)."""

    tenant_id: UUID
    lead_id: UUID
    score: int = Field(ge=0, le=100)
    confidence: float = Field(ge=0, le=1)
    factors: list[Factor] = Field(description="strongest positive, then strongest negative")
    recommendations: list[str]
    next_best_actions: list[NextBestAction]


class LeadScoreExplanationOut(LeadScoreOut):
    """explainLeadScore: the score and every input's contribution. Model: base_logit +
    sum(all_contributions) = logit(probability). Rules: base_points + sum = score."""

    all_contributions: dict[str, float]
    probability: float | None = None
    base_logit: float | None = None
    base_points: float | None = None


class RescoreLinks(BaseModel):
    self: str = Field(description="where the request's state is read (GET)")


class RescoreRequestOut(BaseModel):
    """scoreLeads(tenantId), asked for: the tenant's leads are scored again by the ML jobs
    within seconds (the rescore sensor). Poll `links.self` until `status` is done or failed."""

    id: UUID
    tenant_id: UUID
    status: Literal["pending", "running", "done", "failed"] = Field(
        description="pending (waiting for a run), running, done (the scores are stored), failed (see error)"
    )
    requested_by: UUID | None = Field(description="the user or API key that asked")
    requested_at: datetime
    started_at: datetime | None = Field(description="when a run took it")
    finished_at: datetime | None
    rows: int | None = Field(description="leads scored (once done)")
    method: str | None = Field(description="'model', 'rules' or 'mixed' (once done)")
    methods: dict[str, int] = Field(description="leads scored per method (once done)")
    fallback_reason: str | None = Field(description="why the rules answered (no active model, ...)")
    error: str | None = Field(description="why it failed")
    links: RescoreLinks


class DealProbabilityOut(Scored):
    """calculateDealProbability: the win probability of an open deal; a closed deal's is 1
    (won) or 0 (lost), method 'closed'."""

    tenant_id: UUID
    deal_id: UUID
    status: Literal["open", "won", "lost"]
    probability: float = Field(ge=0, le=1)
    factors: list[Factor]


class ChurnFactor(Factor):
    """identifyChurnFactors: a factor with its HealthFactor category, weight and impact."""

    category: Literal["usage", "support", "engagement", "financial"]
    factor: str
    weight: float
    impact: Literal["positive", "negative", "neutral"]


class ChurnPredictionOut(Scored):
    """predictChurn: probability of churning within 90 days, its churn risk level, factors."""

    tenant_id: UUID
    customer_id: UUID
    churn_probability: float = Field(ge=0, le=1)
    churn_risk_level: RiskLevel
    factors: list[ChurnFactor]


class NextBestActionsOut(BaseModel):
    """suggestNextBestAction(customerId), from the churn prediction computed now."""

    customer_id: UUID
    churn_risk_level: RiskLevel
    method: str
    model_version: str
    actions: list[NextBestAction]


class HealthFactor(BaseModel):
    category: Literal["usage", "support", "engagement", "financial"]
    factor: str
    weight: float
    value: float | None
    score: float = Field(description="the factor's value 0..1")
    impact: Literal["positive", "negative", "neutral"]


class CustomerHealthOut(BaseModel):
    """calculateCustomerHealth: the CustomerHealthScore computed now."""

    tenant_id: UUID
    customer_id: UUID
    calculated_at: datetime = Field(description="the time the factors are as of")
    is_active_customer: bool
    health_score: float = Field(ge=0, le=100)
    health_score_previous: float | None
    health_score_change: float | None
    trend: HealthTrend
    health_risk_level: RiskLevel
    usage_factor: float
    support_factor: float
    engagement_factor: float
    financial_factor: float
    factors: list[HealthFactor]
    recommendations: list[str]


class ForecastPeriod(BaseModel):
    period_start: date = Field(description="first day of the expected close month")
    category: Literal["commit", "best_case", "pipeline"]
    expected: float
    lower: float
    upper: float


class ForecastTotal(BaseModel):
    expected: float
    lower: float = Field(description="80% interval, lower bound")
    upper: float
    deals: int = Field(description="open deals expected to close within the timeframe")


class RevenueForecastOut(BaseModel):
    """forecastRevenue(pipelineId, timeframe): the pipeline's open deals x their win
    probability, by expected close month and category, over the next `timeframe_days`."""

    pipeline_id: UUID
    pipeline_name: str
    timeframe_days: int
    as_of: date
    method: Literal["pipeline_weighted"]
    probability_versions: list[str] = Field(description="the deal probabilities' model versions")
    total: ForecastTotal
    periods: list[ForecastPeriod]
