"""Every SQL query the dashboards run, by name, with the page that runs it.

One place, so the benchmark can time exactly what the pages run and a reviewer can trace
each figure to its mart. Queries read only `analytics.*` marts and `ml.*` outputs; none
relies on its own tenant filter alone: row-level security (keyed on `app.tenant_id`, set by
`app.data.access.run_query`) applies to every row, and each query also filters on the bound
`:tenant_id`. Joins to unindexed marts take their limit first (materialized CTEs), so a plan
without statistics cannot turn into a nested loop over a sequential scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TENANT = "cast(:tenant_id as uuid)"
"""The signed-in tenant, bound by `run_query`. Row-level security filters on `app.tenant_id`
anyway; the explicit filter is defence in depth and gives the planner a value to estimate with."""


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
# metrics_crm_daily holds trailing-30-day KPIs per tenant and day (is_tenant_total rows): the
# current period is the last day's row, the previous period the row 30 days earlier.

q(
    "overview_kpis",
    "Overview",
    ("analytics.metrics_crm_daily", "analytics.fct_pipeline_daily"),
    f"""
with last as (
    select max(day) as d from analytics.metrics_crm_daily where tenant_id = {TENANT} and is_tenant_total
)
select case when m.day = last.d then 'current' else 'previous' end as period, m.day,
       m.open_pipeline_value, m.open_deals, m.win_rate, m.lead_conversion_rate, m.deal_velocity,
       m.avg_deal_size, m.sales_cycle_days,
       (select coalesce(sum(p.weighted_value_in_stage), 0) from analytics.fct_pipeline_daily p
         where p.tenant_id = {TENANT} and p.day = m.day) as weighted_pipeline_value
from analytics.metrics_crm_daily m, last
where m.tenant_id = {TENANT} and m.is_tenant_total and m.day in (last.d, last.d - :days)
order by m.day desc
""",
    {"days": 30},
)

q(
    "overview_trend",
    "Overview",
    ("analytics.metrics_crm_daily", "analytics.fct_pipeline_daily"),
    f"""
with m as (
    select day, open_pipeline_value, won_revenue, leads_created, leads_converted
    from analytics.metrics_crm_daily
    where tenant_id = {TENANT} and is_tenant_total
      and day > (select max(day) from analytics.metrics_crm_daily where tenant_id = {TENANT}) - :days
), w as (
    select day, sum(weighted_value_in_stage) as weighted_pipeline_value
    from analytics.fct_pipeline_daily
    where tenant_id = {TENANT} and day >= (select min(day) from m)
    group by day
)
select m.*, coalesce(w.weighted_pipeline_value, 0) as weighted_pipeline_value
from m left join w using (day) order by m.day
""",
    {"days": 180},
)

q(
    "overview_churn_risk",
    "Overview",
    ("ml.churn_predictions",),
    f"""
select count(*) filter (where risk_level in ('high', 'critical')) as at_risk, count(*) as scored
from ml.churn_predictions where tenant_id = {TENANT}
""",
)

q(
    "overview_health_risk",
    "Overview",
    ("analytics.fct_customer_health",),
    f"""
select count(*) filter (where risk_level in ('high', 'critical')) as at_risk, count(*) as scored
from analytics.fct_customer_health where tenant_id = {TENANT} and is_active_customer
""",
)

# --- Pipeline & forecast -----------------------------------------------------------------------

q(
    "pipeline_funnel",
    "Pipeline & forecast",
    ("analytics.fct_deals",),
    f"""
select pipeline_id, pipeline_name, stage_name, stage_order, count(*) as deals,
       coalesce(sum(deal_value), 0) as amount, coalesce(sum(weighted_value), 0) as weighted_amount
from analytics.fct_deals
where tenant_id = {TENANT} and is_open
group by pipeline_id, pipeline_name, stage_name, stage_order
order by pipeline_name, stage_order
""",
)

q(
    "pipeline_stage_conversion",
    "Pipeline & forecast",
    ("analytics.fct_deal_stage_transitions",),
    f"""
with lost as (
    select stage_name from analytics.fct_deal_stage_transitions
    where tenant_id = {TENANT} and is_lost_stage group by stage_name
)
select pipeline_id, stage_name, stage_order, count(*) as entered,
       count(*) filter (where next_stage is not null and next_stage not in (select stage_name from lost))
           as advanced
from analytics.fct_deal_stage_transitions
where tenant_id = {TENANT} and not is_won_stage and not is_lost_stage
group by pipeline_id, stage_name, stage_order
order by pipeline_id, stage_order
""",
)

q(
    "pipeline_weighted_by_month",
    "Pipeline & forecast",
    ("analytics.fct_deals",),
    f"""
select date_trunc('month', expected_close_date)::date as close_month, count(*) as deals,
       coalesce(sum(deal_value), 0) as amount, coalesce(sum(weighted_value), 0) as weighted_amount
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
    "forecast_model_status",
    "Pipeline & forecast",
    ("ml.model_versions",),
    f"""
select version, status, reason, trained_at, metrics
from ml.model_versions
where tenant_id = {TENANT} and name = 'revenue_prophet'
order by trained_at desc, version desc limit 1
""",
)

q(
    "forecast_history",
    "Pipeline & forecast",
    ("analytics.ml_series__revenue_daily",),
    f"""
select day, won_revenue from analytics.ml_series__revenue_daily
where tenant_id = {TENANT}
  and day > (select max(day) from analytics.ml_series__revenue_daily where tenant_id = {TENANT}) - :days
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
# Ranked by the ML score (ml.lead_scores, index tenant_id + score): the limit is taken there
# first, then the few leads are joined to dim_leads.

LEAD_FILTER = f"""
  and (
    (cast(:owner as text) is null and cast(:source as text) is null and cast(:status as text) is null)
    or s.lead_id in (
        select l.lead_id from analytics.dim_leads l
        where l.tenant_id = {TENANT}
          and (cast(:owner as text) is null or l.owner_name = :owner)
          and (cast(:source as text) is null or l.lead_source = :source)
          and (cast(:status as text) is null or l.lead_status = :status)
    )
  )
"""
"""Filters live in dim_leads: a semi-join on the lead ids, dropped when no filter is set."""
LEAD_DEFAULTS = {"owner": None, "source": None, "status": None, "score_min": 0, "score_max": 100}

q(
    "leads_ranked",
    "Leads",
    ("ml.lead_scores", "analytics.dim_leads"),
    f"""
with top as materialized (
    select s.lead_id, s.score, s.method, s.factors, s.next_best_actions
    from ml.lead_scores s
    where s.tenant_id = {TENANT} and s.score between :score_min and :score_max {LEAD_FILTER}
    order by s.score desc, s.lead_id
    limit :limit
)
select top.lead_id, concat_ws(' ', l.first_name, l.last_name) as full_name, l.company, top.score,
       top.method as score_method,
       top.factors -> 0 ->> 'label' as top_factor,
       top.next_best_actions -> 0 ->> 'action' as next_best_action,
       l.lead_status as status, l.lead_source as source, l.owner_name, l.created_at
from top join analytics.dim_leads l on l.lead_id = top.lead_id and l.tenant_id = {TENANT}
order by top.score desc, top.lead_id
""",
    {**LEAD_DEFAULTS, "limit": 200},
)

q(
    "leads_summary",
    "Leads",
    ("ml.lead_scores", "analytics.dim_leads"),
    f"""
select count(*) as leads, round(avg(s.score)::numeric, 1) as avg_score,
       count(*) filter (where s.score >= 70) as hot,
       count(*) filter (where s.method = 'model') as by_model
from ml.lead_scores s
where s.tenant_id = {TENANT} and s.score between :score_min and :score_max {LEAD_FILTER}
""",
    LEAD_DEFAULTS,
)

q(
    "leads_score_bands",
    "Leads",
    ("ml.lead_scores", "analytics.dim_leads"),
    f"""
select least(s.score / 10, 9) * 10 as band, count(*) as leads
from ml.lead_scores s
where s.tenant_id = {TENANT} and s.score between :score_min and :score_max {LEAD_FILTER}
group by 1 order by 1
""",
    LEAD_DEFAULTS,
)

q(
    "leads_filter_options",
    "Leads",
    ("analytics.dim_leads",),
    f"""
select case when grouping(owner_name) = 0 then 'owner' when grouping(lead_source) = 0 then 'source'
            else 'status' end as kind,
       coalesce(owner_name, lead_source, lead_status) as value, count(*) as leads
from analytics.dim_leads
where tenant_id = {TENANT}
group by grouping sets ((owner_name), (lead_source), (lead_status))
""",
)

q(
    "lead_detail",
    "Lead",
    ("analytics.dim_leads", "ml.lead_scores"),
    f"""
with l as materialized (
    select * from analytics.dim_leads where tenant_id = {TENANT} and lead_id = cast(:lead_id as uuid)
)
select l.lead_id, concat_ws(' ', l.first_name, l.last_name) as full_name, l.email, l.company, l.job_title,
       l.industry, l.country, l.lead_status as status, l.lead_source as source, l.owner_name, l.created_at,
       l.converted_at, l.activity_count, l.response_time_hours, l.deal_count, l.won_value,
       s.score, s.confidence, s.method, s.model_version, s.factors, s.recommendations, s.next_best_actions,
       s.scored_at
from l left join ml.lead_scores s on s.lead_id = l.lead_id and s.tenant_id = {TENANT}
""",
    {"lead_id": None},
)

q(
    "lead_timeline",
    "Lead",
    ("analytics.fct_lead_activities",),
    f"""
select occurred_at, activity_type, is_inbound, duration_seconds, page_views, amount, utm_campaign
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
select risk_level, least(floor(health_score / 10), 9)::int as bucket, count(*) as customers
from analytics.fct_customer_health
where tenant_id = {TENANT} and is_active_customer
group by 1, 2 order by 2
""",
)

q(
    "health_trend",
    "Customers",
    ("analytics.fct_customer_health",),
    f"""
select trend, count(*) as customers, round(avg(health_score)::numeric, 1) as avg_health,
       round(avg(health_score_previous)::numeric, 1) as avg_health_previous
from analytics.fct_customer_health
where tenant_id = {TENANT} and is_active_customer
group by trend
""",
)

q(
    "churn_risk_list",
    "Customers",
    ("ml.churn_predictions", "analytics.dim_customers"),
    f"""
with top as materialized (
    select customer_id, churn_probability, risk_level, factors, method
    from ml.churn_predictions where tenant_id = {TENANT}
    order by churn_probability desc, customer_id limit :limit
)
select top.customer_id, coalesce(c.company, c.full_name, c.email) as company, c.lifecycle_stage, c.mrr,
       top.churn_probability, top.risk_level, top.factors, top.method, c.health_score
from top join analytics.dim_customers c on c.customer_id = top.customer_id and c.tenant_id = {TENANT}
order by top.churn_probability desc, top.customer_id
""",
    {"limit": 100},
)

q(
    "health_risk_list",
    "Customers",
    ("analytics.fct_customer_health", "analytics.dim_customers"),
    f"""
with top as materialized (
    select customer_id, health_score, risk_level, trend, factors
    from analytics.fct_customer_health
    where tenant_id = {TENANT} and is_active_customer and risk_level in ('high', 'critical')
    order by health_score, customer_id limit :limit
)
select top.customer_id, coalesce(c.company, c.full_name, c.email) as company, c.lifecycle_stage, c.mrr,
       top.health_score, top.risk_level, top.trend, top.factors
from top join analytics.dim_customers c on c.customer_id = top.customer_id and c.tenant_id = {TENANT}
order by top.health_score, top.customer_id
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
    "customer_health",
    "Customer",
    ("analytics.fct_customer_health",),
    f"""
select calculated_at, health_score, health_score_previous, health_score_change, trend, risk_level,
       usage_factor, support_factor, engagement_factor, financial_factor, factors, recommendations
from analytics.fct_customer_health
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
""",
    {"customer_id": None},
)

q(
    "customer_activity",
    "Customer",
    ("analytics.ml_features__customers_current",),
    f"""
select snapshot_at, tenure_days,
       logins_30d, sessions_90d, distinct_users_90d, usage_trend_ratio, days_since_last_usage,
       tickets_90d, urgent_tickets_90d, resolved_tickets_90d, avg_resolution_minutes_90d, avg_csat_90d,
       conversations_90d, messages_90d, avg_conversation_sentiment_90d, days_since_last_conversation,
       won_deals_total, won_revenue_total, open_deals, open_pipeline_value
from analytics.ml_features__customers_current
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
""",
    {"customer_id": None},
)

q(
    "customer_deals",
    "Customer",
    ("analytics.fct_deals",),
    f"""
select deal_id, deal_name, stage_name as stage, deal_value, is_won, is_lost, created_at, closed_at
from analytics.fct_deals
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
order by created_at desc limit 100
""",
    {"customer_id": None},
)

# --- Segments ---------------------------------------------------------------------------------

q(
    "segments",
    "Segments",
    ("analytics.fct_segment_memberships",),
    f"""
select segment_id, segment_name, count(customer_id) as members, coalesce(sum(mrr), 0) as mrr,
       max(segment_last_calculated) as last_calculated, bool_or(segment_is_stale) as is_stale,
       bool_or(is_dynamic) as is_dynamic
from analytics.fct_segment_memberships
where tenant_id = {TENANT}
group by segment_id, segment_name
order by members desc, segment_name
""",
)

q(
    "segment_growth",
    "Segments",
    ("analytics.fct_segment_memberships",),
    f"""
select segment_name, date_trunc('month', added_day)::date as month, count(*) as added
from analytics.fct_segment_memberships
where tenant_id = {TENANT} and added_day is not null
group by 1, 2 order by 1, 2
""",
)

q(
    "segment_members",
    "Segments",
    ("analytics.fct_segment_memberships", "analytics.dim_customers"),
    f"""
select m.customer_id, coalesce(c.company, c.full_name, c.email) as customer, m.lifecycle_stage, m.mrr,
       c.health_score, c.risk_level, m.added_at
from analytics.fct_segment_memberships m
left join analytics.dim_customers c on c.customer_id = m.customer_id and c.tenant_id = {TENANT}
where m.tenant_id = {TENANT} and m.segment_id = cast(:segment_id as uuid)
order by m.mrr desc nulls last, m.customer_id limit 200
""",
    {"segment_id": None},
)

# --- Attribution ------------------------------------------------------------------------------

q(
    "attribution_by_channel",
    "Attribution",
    ("analytics.fct_revenue_attribution",),
    f"""
select attribution_model as model, coalesce(channel, 'unknown') as channel, sum(credit) as revenue
from analytics.fct_revenue_attribution
where tenant_id = {TENANT}
group by 1, 2 order by 1, 3 desc
""",
)

q(
    "attribution_by_campaign",
    "Attribution",
    ("analytics.fct_campaign_performance",),
    # the campaign mart carries each model's attributed revenue: no scan of the touchpoint rows
    f"""
select campaign_name, revenue from (
    select campaign_name,
           case :model when 'first_touch' then attributed_revenue_first_touch
                       when 'last_touch' then attributed_revenue_last_touch
                       when 'linear' then attributed_revenue_linear
                       when 'time_decay' then attributed_revenue_time_decay
                       when 'u_shaped' then attributed_revenue_u_shaped
                       when 'w_shaped' then attributed_revenue_w_shaped end as revenue
    from analytics.fct_campaign_performance
    where tenant_id = {TENANT}
) c
where revenue > 0
order by revenue desc, campaign_name limit 25
""",
    {"model": "linear"},
)

q(
    "attribution_by_touchpoint",
    "Attribution",
    ("analytics.fct_revenue_attribution",),
    f"""
select coalesce(touchpoint_type, 'unknown') as touchpoint_type, sum(credit) as revenue, count(*) as touchpoints
from analytics.fct_revenue_attribution
where tenant_id = {TENANT} and attribution_model = :model
group by 1 order by 2 desc
""",
    {"model": "linear"},
)

# --- Campaigns --------------------------------------------------------------------------------

q(
    "campaigns",
    "Campaigns",
    ("analytics.fct_campaign_performance",),
    f"""
select campaign_id, campaign_name, campaign_type, campaign_status, budget, spent, budget_utilization,
       leads_sourced, opportunities, deals_won, sourced_revenue, attributed_revenue_linear, roi,
       cost_per_lead, cost_per_opportunity
from analytics.fct_campaign_performance
where tenant_id = {TENANT}
order by spent desc, campaign_name
""",
)


def page_queries() -> dict[str, list[str]]:
    """Page title -> the names of the queries it runs (for the benchmark)."""
    out: dict[str, list[str]] = {}
    for name, query in QUERIES.items():
        out.setdefault(query.page, []).append(name)
    return out
