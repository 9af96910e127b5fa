"""Every SQL query the dashboards run, by name, with the page that runs it.

One place, so the benchmark can time exactly what the pages run and a reviewer can trace
each figure to its mart. Queries read only `analytics.*` marts and `ml.*` outputs; none
filters on tenant itself: row-level security (keyed on `app.tenant_id`, set by
`app.data.access.run_query`) does, and the leading `tenant_id` indexes serve it. Each query
still names `tenant_id = current_setting(...)` where it helps the planner use an index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"


@dataclass(frozen=True)
class Query:
    page: str
    sql: str
    relations: tuple[str, ...]
    defaults: dict = field(default_factory=dict)
    bench_params: dict = field(default_factory=dict)
    """Parameters the benchmark uses (ids are looked up by `bench_lookup`)."""


QUERIES: dict[str, Query] = {}


def q(
    name: str,
    page: str,
    relations: tuple[str, ...],
    sql: str,
    defaults: dict | None = None,
    bench_params: dict | None = None,
) -> None:
    QUERIES[name] = Query(page, sql, relations, defaults or {}, bench_params or {})


# --- Overview ---------------------------------------------------------------------------------

q(
    "overview_kpis",
    "Overview",
    ("analytics.metrics_crm_daily",),
    f"""
with bounds as (
    select max(metric_date) as last_day from analytics.metrics_crm_daily where tenant_id = {TENANT}
), periods as (
    select m.*, case when m.metric_date > b.last_day - :days then 'current' else 'previous' end as period
    from analytics.metrics_crm_daily m, bounds b
    where m.tenant_id = {TENANT} and m.metric_date > b.last_day - 2 * :days
)
select period,
       max(metric_date) as last_day,
       sum(leads_created) as leads_created,
       sum(leads_converted) as leads_converted,
       sum(deals_won) as deals_won,
       sum(deals_lost) as deals_lost,
       sum(won_revenue) as won_revenue,
       sum(won_days_to_close_total) as won_days_to_close_total,
       (array_agg(open_pipeline_value order by metric_date desc))[1] as open_pipeline_value,
       (array_agg(weighted_pipeline_value order by metric_date desc))[1] as weighted_pipeline_value,
       (array_agg(at_risk_customers order by metric_date desc))[1] as at_risk_customers
from periods group by period
""",
    {"days": 30},
)

q(
    "overview_trend",
    "Overview",
    ("analytics.metrics_crm_daily",),
    f"""
select metric_date, leads_created, leads_converted, deals_won, won_revenue,
       open_pipeline_value, weighted_pipeline_value
from analytics.metrics_crm_daily
where tenant_id = {TENANT} and metric_date > (select max(metric_date) from analytics.metrics_crm_daily
                                              where tenant_id = {TENANT}) - :days
order by metric_date
""",
    {"days": 180},
)

q(
    "overview_churn_risk",
    "Overview",
    ("ml.churn_predictions",),
    f"""
select count(*) filter (where risk_level in ('high', 'critical')) as at_risk,
       count(*) as scored
from ml.churn_predictions where tenant_id = {TENANT}
""",
)

# --- Pipeline & forecast -----------------------------------------------------------------------

q(
    "pipeline_funnel",
    "Pipeline & forecast",
    ("analytics.fct_deals",),
    f"""
select pipeline_name, stage, stage_order, count(*) as deals, coalesce(sum(amount), 0) as amount
from analytics.fct_deals
where tenant_id = {TENANT} and is_open
group by pipeline_name, stage, stage_order
order by pipeline_name, stage_order
""",
)

q(
    "pipeline_stage_conversion",
    "Pipeline & forecast",
    ("analytics.fct_deal_stage_transitions",),
    f"""
select pipeline_name, stage, stage_order,
       count(distinct deal_id) as entered,
       count(distinct deal_id) filter (where exited_at is not null and next_stage is not null
                                       and not next_stage_is_lost) as advanced
from analytics.fct_deal_stage_transitions
where tenant_id = {TENANT}
group by pipeline_name, stage, stage_order
order by pipeline_name, stage_order
""",
)

q(
    "pipeline_weighted_by_month",
    "Pipeline & forecast",
    ("analytics.fct_deals",),
    f"""
select date_trunc('month', expected_close_date)::date as close_month,
       coalesce(sum(amount), 0) as amount,
       coalesce(sum(weighted_amount), 0) as weighted_amount,
       count(*) as deals
from analytics.fct_deals
where tenant_id = {TENANT} and is_open and expected_close_date is not null
group by 1 order by 1
""",
)

q(
    "forecast_prophet",
    "Pipeline & forecast",
    ("ml.revenue_forecasts",),
    f"""
select period_start, period, yhat, yhat_lower, yhat_upper, backtest_mape, model_version, created_at
from ml.revenue_forecasts
where tenant_id = {TENANT} and kind = 'prophet'
  and run_id = (select run_id from ml.revenue_forecasts where tenant_id = {TENANT} and kind = 'prophet'
                order by created_at desc limit 1)
order by period_start
""",
)

q(
    "forecast_history",
    "Pipeline & forecast",
    ("analytics.ml_series__revenue_daily",),
    f"""
select day, won_revenue from analytics.ml_series__revenue_daily
where tenant_id = {TENANT} and day > (select max(day) from analytics.ml_series__revenue_daily
                                      where tenant_id = {TENANT}) - :days
order by day
""",
    {"days": 180},
)

q(
    "forecast_categories",
    "Pipeline & forecast",
    ("ml.revenue_forecasts",),
    f"""
select category, period_start, period, yhat
from ml.revenue_forecasts
where tenant_id = {TENANT} and kind = 'pipeline'
  and run_id = (select run_id from ml.revenue_forecasts where tenant_id = {TENANT} and kind = 'pipeline'
                order by created_at desc limit 1)
order by period_start, category
""",
)

# --- Leads ------------------------------------------------------------------------------------

LEAD_FILTER = """
  and (cast(:owner as text) is null or owner_name = :owner)
  and (cast(:source as text) is null or source = :source)
  and (cast(:status as text) is null or status = :status)
  and score between :score_min and :score_max
"""

q(
    "leads_ranked",
    "Leads",
    ("analytics.dim_leads",),
    f"""
select lead_id, full_name, company, status, source, owner_name, score, score_method,
       top_factor, next_best_action, created_at
from analytics.dim_leads
where tenant_id = {TENANT} {LEAD_FILTER}
order by score desc, created_at desc, lead_id
limit :limit
""",
    {"owner": None, "source": None, "status": None, "score_min": 0, "score_max": 100, "limit": 200},
)

q(
    "leads_summary",
    "Leads",
    ("analytics.dim_leads",),
    f"""
select count(*) as leads, round(avg(score)::numeric, 1) as avg_score,
       count(*) filter (where score >= 70) as hot,
       count(*) filter (where score_method = 'model') as by_model
from analytics.dim_leads
where tenant_id = {TENANT} {LEAD_FILTER}
""",
    {"owner": None, "source": None, "status": None, "score_min": 0, "score_max": 100},
)

q(
    "leads_filter_options",
    "Leads",
    ("analytics.dim_leads",),
    f"""
select case when grouping(owner_name) = 0 then 'owner' when grouping(source) = 0 then 'source'
            else 'status' end as kind,
       coalesce(owner_name, source, status) as value, count(*) as leads
from analytics.dim_leads
where tenant_id = {TENANT}
group by grouping sets ((owner_name), (source), (status))
""",
)

q(
    "lead_detail",
    "Lead",
    ("analytics.dim_leads", "ml.lead_scores"),
    f"""
select l.lead_id, l.full_name, l.email, l.company, l.status, l.source, l.owner_name, l.created_at,
       l.converted_at, l.score, s.confidence, s.method, s.model_version, s.factors, s.recommendations,
       s.next_best_actions, s.scored_at
from analytics.dim_leads l
left join ml.lead_scores s on s.lead_id = l.lead_id and s.tenant_id = l.tenant_id
where l.tenant_id = {TENANT} and l.lead_id = cast(:lead_id as uuid)
""",
    {"lead_id": None},
)

q(
    "lead_timeline",
    "Lead",
    ("analytics.fct_lead_activities",),
    f"""
select occurred_at, activity_type, description
from analytics.fct_lead_activities
where tenant_id = {TENANT} and lead_id = cast(:lead_id as uuid)
order by occurred_at desc limit 200
""",
    {"lead_id": None},
)

# --- Customers --------------------------------------------------------------------------------

q(
    "health_distribution",
    "Customers",
    ("analytics.fct_customer_health",),
    f"""
select risk_level, width_bucket(health_score, 0, 100.0001, 10) as bucket, count(*) as customers
from analytics.fct_customer_health
where tenant_id = {TENANT} and is_current
group by 1, 2 order by 2
""",
)

q(
    "health_trend",
    "Customers",
    ("analytics.fct_customer_health",),
    f"""
select snapshot_date, round(avg(health_score)::numeric, 1) as avg_health,
       count(*) filter (where risk_level in ('high', 'critical')) as at_risk
from analytics.fct_customer_health
where tenant_id = {TENANT}
group by 1 order by 1
""",
)

q(
    "churn_risk_list",
    "Customers",
    ("ml.churn_predictions", "analytics.dim_customers"),
    f"""
select p.customer_id, c.company, c.lifecycle_stage, c.mrr, p.churn_probability, p.risk_level,
       p.factors, p.method
from ml.churn_predictions p
join analytics.dim_customers c on c.customer_id = p.customer_id and c.tenant_id = p.tenant_id
where p.tenant_id = {TENANT}
order by p.churn_probability desc
limit :limit
""",
    {"limit": 100},
)

q(
    "customer_detail",
    "Customer",
    ("analytics.dim_customers",),
    f"""
select * from analytics.dim_customers
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
""",
    {"customer_id": None},
)

q(
    "customer_deals",
    "Customer",
    ("analytics.fct_deals",),
    f"""
select deal_id, deal_name, stage, amount, is_won, is_lost, created_at, closed_at
from analytics.fct_deals
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
order by created_at desc limit 100
""",
    {"customer_id": None},
)

q(
    "customer_health_history",
    "Customer",
    ("analytics.fct_customer_health",),
    f"""
select snapshot_date, health_score, risk_level
from analytics.fct_customer_health
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
order by snapshot_date
""",
    {"customer_id": None},
)

q(
    "customer_activity",
    "Customer",
    ("analytics.ml_features__customers_current",),
    f"""
select snapshot_at, lifecycle_stage, tenure_days,
       logins_30d, sessions_90d, distinct_users_90d, usage_trend_ratio, days_since_last_usage,
       tickets_90d, urgent_tickets_90d, resolved_tickets_90d, avg_resolution_minutes_90d, avg_csat_90d,
       conversations_90d, messages_90d, avg_conversation_sentiment_90d, days_since_last_conversation,
       won_deals_total, won_revenue_total, open_deals, open_pipeline_value
from analytics.ml_features__customers_current
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
""",
    {"customer_id": None},
)

# --- Segments ---------------------------------------------------------------------------------

q(
    "segments",
    "Segments",
    ("analytics.fct_segment_memberships",),
    f"""
select segment_id, segment_name, count(*) filter (where is_current) as members,
       max(last_calculated) as last_calculated, bool_or(is_stale) as is_stale
from analytics.fct_segment_memberships
where tenant_id = {TENANT}
group by segment_id, segment_name
order by members desc
""",
)

q(
    "segment_members",
    "Segments",
    ("analytics.fct_segment_memberships", "analytics.dim_customers"),
    f"""
select c.customer_id, c.company, c.lifecycle_stage, c.mrr, m.added_at
from analytics.fct_segment_memberships m
join analytics.dim_customers c on c.customer_id = m.customer_id and c.tenant_id = m.tenant_id
where m.tenant_id = {TENANT} and m.segment_id = cast(:segment_id as uuid) and m.is_current
order by c.mrr desc nulls last limit 200
""",
    {"segment_id": None},
)

# --- Attribution ------------------------------------------------------------------------------

q(
    "attribution_by_channel",
    "Attribution",
    ("analytics.fct_revenue_attribution",),
    f"""
select model, channel, sum(attributed_revenue) as revenue
from analytics.fct_revenue_attribution
where tenant_id = {TENANT}
group by model, channel order by model, revenue desc
""",
)

q(
    "attribution_by_campaign",
    "Attribution",
    ("analytics.fct_revenue_attribution",),
    f"""
select campaign_name, sum(attributed_revenue) as revenue
from analytics.fct_revenue_attribution
where tenant_id = {TENANT} and model = :model
group by campaign_name order by revenue desc limit 25
""",
    {"model": "linear"},
)

q(
    "attribution_by_touchpoint",
    "Attribution",
    ("analytics.fct_revenue_attribution",),
    f"""
select touchpoint_type, sum(attributed_revenue) as revenue, count(*) as touchpoints
from analytics.fct_revenue_attribution
where tenant_id = {TENANT} and model = :model
group by touchpoint_type order by revenue desc
""",
    {"model": "linear"},
)

# --- Campaigns --------------------------------------------------------------------------------

q(
    "campaigns",
    "Campaigns",
    ("analytics.fct_campaign_performance",),
    f"""
select campaign_id, campaign_name, campaign_type, status, budget, spent, leads, opportunities,
       won_revenue, roi, cost_per_opportunity
from analytics.fct_campaign_performance
where tenant_id = {TENANT}
order by spent desc
""",
)


def page_queries() -> dict[str, list[str]]:
    """Page title -> the names of the queries it runs (for the benchmark)."""
    out: dict[str, list[str]] = {}
    for name, query in QUERIES.items():
        out.setdefault(query.page, []).append(name)
    return out
