"""Every SQL query the dashboards run, by name, with the page that runs it.

One place, so the benchmark can time exactly what the pages run and a reviewer can trace
each figure to its mart. Queries read only `analytics.*` marts (the ML outputs too, through
the marts over them in dbt/models/marts/scores), and each page's marts are listed in its dbt
exposure (dbt/models/exposures.yml, held equal by tests/dbt/test_exposures.py). None
relies on its own tenant filter alone: row-level security (keyed on the signed tenant that
`app.data.access.run_query` sets) applies to every row, and each query also filters on the bound
`:tenant_id`. Joins to unindexed marts take their limit first (materialized CTEs), so a plan
without statistics cannot turn into a nested loop over a sequential scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from crm import bands

TENANT = "cast(:tenant_id as uuid)"
"""The signed-in tenant, bound by `run_query`. Row-level security filters on the signed tenant
anyway; the explicit filter is defence in depth and gives the planner a value to estimate with."""


def sql_list(values: Iterable[str]) -> str:
    """`'a', 'b'`: constants of our own (never user input) as SQL literals, for `x in (...)`."""
    return ", ".join(f"'{v}'" for v in values)


AT_RISK = sql_list(bands.AT_RISK_LEVELS)
"""The risk levels the pages count as at risk (health and churn alike), as SQL literals."""


@dataclass(frozen=True)
class Query:
    page: str
    sql: str
    relations: tuple[str, ...]
    """The marts it reads (tests/dbt/test_exposures.py checks them against the SQL)."""
    defaults: dict = field(default_factory=dict)
    bench_params: dict = field(default_factory=dict)
    """Parameters the benchmark uses (ids are looked up by `bench_lookup`)."""
    personal: tuple[str, str | None] | None = None
    """(entity, parameter naming the record) when it returns personal data (what a person
    said): each time a page shows it, the view is recorded in crm.access_log. The marts name
    no one (people's e-mail and names are stored encrypted): a page naming a lead or a customer
    opens its name through `app.data.people`, which records that read."""


QUERIES: dict[str, Query] = {}


def q(
    name: str,
    page: str,
    relations: tuple[str, ...],
    sql: str,
    defaults: dict | None = None,
    bench_params: dict | None = None,
    personal: tuple[str, str | None] | None = None,
) -> None:
    QUERIES[name] = Query(page, sql, relations, defaults or {}, bench_params or {}, personal)


# --- Every page -------------------------------------------------------------------------------
# mart_freshness: when each mart was last built (dbt's post-hook writes it as the mart is built).
# Every page shows its marts' time under its title, and the data layer re-reads a query once a
# mart it reads was rebuilt (app.data.fetch).

FRESHNESS_PAGE = "Every page"

q(
    "mart_freshness",
    FRESHNESS_PAGE,
    ("analytics.mart_freshness",),
    f"""
select relation, built_at from analytics.mart_freshness where tenant_id = {TENANT}
""",
)

# dash_tenant_clocks: the tenant's clock (null for a live tenant). A tenant holding historical
# data lives at the end of its data: every page takes its "last N days" at the earlier of this
# clock and the real now (app.ui.tenant_now), passed to the queries below as `today`.
q(
    "tenant_clock",
    FRESHNESS_PAGE,
    ("analytics.dash_tenant_clocks",),
    f"""
select clock_at from analytics.dash_tenant_clocks where tenant_id = {TENANT}
""",
)

UNTIL = "(cast(:today as date) is null or day < cast(:today as date))"
"""Days before the tenant's today (its now's UTC day: complete days only); no bound when null."""

# --- Overview ---------------------------------------------------------------------------------
# dash_kpis_daily holds the tenant-total trailing-30-day KPIs per tenant and day with the day's
# weighted pipeline: the current period is the row of the last day before the tenant's today,
# the previous the row 30 days earlier.

q(
    "overview_kpis",
    "Overview",
    ("analytics.dash_kpis_daily",),
    f"""
with last as (
    select max(day) as d from analytics.dash_kpis_daily where tenant_id = {TENANT} and {UNTIL}
)
select case when k.day = last.d then 'current' else 'previous' end as period, k.day,
       k.open_pipeline_value, k.open_deals, k.win_rate, k.lead_conversion_rate, k.deal_velocity,
       k.avg_deal_size, k.sales_cycle_days, k.weighted_pipeline_value
from analytics.dash_kpis_daily k, last
where k.tenant_id = {TENANT} and k.day in (last.d, last.d - :days)
order by k.day desc
""",
    {"days": 30, "today": None},
)

q(
    "overview_trend",
    "Overview",
    ("analytics.dash_kpis_daily",),
    f"""
select day, open_pipeline_value, won_revenue, leads_created, leads_converted, weighted_pipeline_value
from analytics.dash_kpis_daily
where tenant_id = {TENANT}
  and day > (select max(day) from analytics.dash_kpis_daily where tenant_id = {TENANT} and {UNTIL}) - :days
  and {UNTIL}
order by day
""",
    {"days": 180, "today": None},
)

q(
    "overview_churn_risk",
    "Overview",
    ("analytics.fct_customer_risk",),
    # two index ranges: the at-risk churn levels, and whether the tenant has any prediction at
    # all (counting every prediction only to test for none read the whole tenant's index)
    f"""
select (select count(*) from analytics.fct_customer_risk
        where tenant_id = {TENANT} and churn_risk_level in ({AT_RISK})) as at_risk,
       exists (select 1 from analytics.fct_customer_risk
               where tenant_id = {TENANT} and churn_probability is not null) as scored
""",
)

q(
    "overview_health_risk",
    "Overview",
    ("analytics.dash_customer_health_summary",),
    f"""
select coalesce(sum(customers) filter (where health_risk_level in ({AT_RISK})), 0) as at_risk,
       coalesce(sum(customers), 0) as scored
from analytics.dash_customer_health_summary where tenant_id = {TENANT}
""",
)

# --- Pipeline & forecast -----------------------------------------------------------------------

q(
    "pipeline_funnel",
    "Pipeline & forecast",
    ("analytics.dash_open_pipeline",),
    f"""
select pipeline_id, pipeline_name, bool_or(is_default_pipeline) as is_default, stage_name, stage_order,
       sum(deals) as deals, sum(amount) as amount, sum(weighted_amount) as weighted_amount
from analytics.dash_open_pipeline
where tenant_id = {TENANT}
group by pipeline_id, pipeline_name, stage_name, stage_order
order by pipeline_name, stage_order
""",
)

q(
    "pipeline_stage_conversion",
    "Pipeline & forecast",
    ("analytics.dash_stage_conversion",),
    f"""
select pipeline_id, stage_name, stage_order, entered, advanced
from analytics.dash_stage_conversion
where tenant_id = {TENANT}
order by pipeline_id, stage_order
""",
)

q(
    "pipeline_weighted_by_month",
    "Pipeline & forecast",
    ("analytics.dash_open_pipeline",),
    f"""
select close_month, sum(deals) as deals, sum(amount) as amount, sum(weighted_amount) as weighted_amount
from analytics.dash_open_pipeline
where tenant_id = {TENANT} and close_month is not null
group by close_month order by close_month
""",
)

# fct_deal_forecast: each open deal's value times its win probability (the deal model's where
# it scored the deal, else the stage's), beside the stage-weighted pipeline above.
q(
    "pipeline_expected",
    "Pipeline & forecast",
    ("analytics.fct_deal_forecast",),
    f"""
select pipeline_id, count(*) as deals, sum(deal_value) as amount, sum(expected_value) as expected_value,
       count(*) filter (where method = 'model') as scored_by_model
from analytics.fct_deal_forecast
where tenant_id = {TENANT}
group by pipeline_id
""",
)

# fct_revenue_forecast holds each tenant's latest forecast run of each kind; kind 'prophet' is the
# daily forecast whichever method the backtest chose, which the model version's metrics name with
# the periods its backtest scored and the seasonal naive baseline's error on them.
q(
    "forecast_daily",
    "Pipeline & forecast",
    ("analytics.fct_revenue_forecast", "analytics.dim_model_versions"),
    f"""
select f.period_start, f.period, f.yhat, f.yhat_lower, f.yhat_upper, f.backtest_mape, f.model_version,
       f.created_at, m.version, m.metrics ->> 'method' as method,
       (m.metrics ->> 'period_days')::integer as period_days,
       (m.metrics ->> 'seasonal_naive_mape')::float8 as naive_mape
from analytics.fct_revenue_forecast f
left join analytics.dim_model_versions m
  on m.tenant_id = f.tenant_id and m.model_name = 'revenue_prophet'
 and f.model_version = m.model_name || '@' || m.version
where f.tenant_id = {TENANT} and f.kind = 'prophet'
order by f.period_start
""",
)

q(
    "forecast_model_status",
    "Pipeline & forecast",
    ("analytics.dim_model_versions",),
    f"""
select version, status, reason, trained_at, metrics
from analytics.dim_model_versions
where tenant_id = {TENANT} and model_name = 'revenue_prophet'
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
  and day > (select max(day) from analytics.ml_series__revenue_daily where tenant_id = {TENANT} and {UNTIL}) - :days
  and {UNTIL}
order by day
""",
    {"days": 180, "today": None},
)

q(
    "forecast_categories",
    "Pipeline & forecast",
    ("analytics.fct_revenue_forecast",),
    f"""
select category, period_start, period, yhat
from analytics.fct_revenue_forecast
where tenant_id = {TENANT} and kind = 'pipeline'
order by period_start, category
""",
)

# --- Leads ------------------------------------------------------------------------------------
# Ranked by score in fct_lead_scores (index tenant_id, score desc, lead_id), where the filters
# live too: the limit is taken there first, then the few leads are joined to dim_leads.
# `band` is a lead score band (hot, warm, cold: crm.bands' thresholds, applied by dbt).
# dim_leads names a lead by its company or id (lead_label) and its owner by role and id
# (owner_label): the pages open the names of the leads and owners they list through
# app.data.people. `owner` is the owner's user id.

LEAD_FILTER = """
  and (cast(:band as text) is null or s.score_band = :band)
  and (cast(:owner as text) is null or s.assigned_user_id = cast(:owner as uuid))
  and (cast(:source as text) is null or s.lead_source = :source)
  and (cast(:status as text) is null or s.lead_status = :status)
"""
LEAD_DEFAULTS = {"owner": None, "source": None, "status": None, "band": None}

q(
    "leads_ranked",
    "Leads",
    ("analytics.fct_lead_scores", "analytics.dim_leads"),
    f"""
with top as materialized (
    select s.lead_id, s.score, s.method, s.factors, s.next_best_actions
    from analytics.fct_lead_scores s
    where s.tenant_id = {TENANT} and s.score is not null {LEAD_FILTER}
    order by s.score desc, s.lead_id
    limit :limit
)
select top.lead_id, l.lead_label, l.company, top.score,
       top.method as score_method,
       top.factors -> 0 ->> 'label' as top_factor,
       top.next_best_actions -> 0 ->> 'action' as next_best_action,
       l.lead_status as status, l.lead_source as source, l.assigned_user_id, l.owner_label, l.created_at
from top join analytics.dim_leads l on l.lead_id = top.lead_id and l.tenant_id = {TENANT}
order by top.score desc, top.lead_id
""",
    {**LEAD_DEFAULTS, "limit": 200},
)

# The tiles, the score histogram and the filter options come from dash_lead_score_summary
# (scored leads per owner, source, status, method and score decade, with the decade's band).
SUMMARY_FILTER = """
  and score_band <> 'unscored'
  and (cast(:band as text) is null or score_band = :band)
  and (cast(:owner as text) is null or assigned_user_id = cast(:owner as uuid))
  and (cast(:source as text) is null or lead_source = :source)
  and (cast(:status as text) is null or lead_status = :status)
"""

q(
    "leads_summary",
    "Leads",
    ("analytics.dash_lead_score_summary",),
    f"""
select coalesce(sum(leads), 0) as leads, round(sum(score_sum)::numeric / nullif(sum(leads), 0), 1) as avg_score,
       coalesce(sum(leads) filter (where score_band = 'hot'), 0) as hot,
       coalesce(sum(leads) filter (where method = 'model'), 0) as by_model
from analytics.dash_lead_score_summary
where tenant_id = {TENANT} {SUMMARY_FILTER}
""",
    LEAD_DEFAULTS,
)

q(
    "leads_score_decades",
    "Leads",
    ("analytics.dash_lead_score_summary",),
    f"""
select score_decade, sum(leads) as leads
from analytics.dash_lead_score_summary
where tenant_id = {TENANT} {SUMMARY_FILTER}
group by 1 order by 1
""",
    LEAD_DEFAULTS,
)

q(
    "leads_filter_options",
    "Leads",
    ("analytics.dash_lead_score_summary",),
    f"""
select case when grouping(assigned_user_id) = 0 then 'owner' when grouping(lead_source) = 0 then 'source'
            else 'status' end as kind,
       coalesce(assigned_user_id::text, lead_source, lead_status) as value, max(owner_label) as label,
       sum(leads) as leads
from analytics.dash_lead_score_summary
where tenant_id = {TENANT}
group by grouping sets ((assigned_user_id), (lead_source), (lead_status))
""",
)

q(
    "lead_detail",
    "Lead",
    ("analytics.dim_leads", "analytics.fct_lead_scores"),
    f"""
with l as materialized (
    select * from analytics.dim_leads where tenant_id = {TENANT} and lead_id = cast(:lead_id as uuid)
)
select l.lead_id, l.lead_label, l.email_domain, l.company, l.job_title,
       l.industry, l.country, l.lead_status as status, l.lead_source as source, l.assigned_user_id,
       l.owner_label, l.created_at,
       l.converted_at, l.activity_count, l.response_time_hours, l.deal_count, l.won_value,
       s.score, s.score_band, s.confidence, s.method, s.model_version, s.factors, s.recommendations,
       s.next_best_actions, s.scored_at
from l left join analytics.fct_lead_scores s on s.lead_id = l.lead_id and s.tenant_id = {TENANT}
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
    ("analytics.dash_customer_health_summary",),
    f"""
select health_risk_level, health_bucket as bucket, sum(customers) as customers
from analytics.dash_customer_health_summary
where tenant_id = {TENANT}
group by 1, 2 order by 2
""",
)

q(
    "health_trend",
    "Customers",
    ("analytics.dash_customer_health_summary",),
    f"""
select trend, sum(customers) as customers,
       round(sum(health_score_sum) / nullif(sum(customers), 0), 1) as avg_health,
       round(sum(health_score_previous_sum) / nullif(sum(previous_scored), 0), 1) as avg_health_previous
from analytics.dash_customer_health_summary
where tenant_id = {TENANT}
group by trend
""",
)

q(
    "churn_risk_list",
    "Customers",
    ("analytics.fct_customer_risk", "analytics.dim_customers"),
    f"""
with top as materialized (
    select customer_id, lifecycle_stage, mrr, churn_probability, churn_risk_level, churn_factors, churn_method,
           health_score
    from analytics.fct_customer_risk
    where tenant_id = {TENANT} and churn_probability is not null
    order by churn_probability desc nulls last, customer_id limit :limit
)
select top.customer_id, c.customer_label as customer, top.lifecycle_stage, top.mrr,
       top.churn_probability, top.churn_risk_level, top.churn_factors as factors, top.churn_method as method,
       top.health_score
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
    select customer_id, health_score, health_risk_level, trend, factors
    from analytics.fct_customer_health
    where tenant_id = {TENANT} and is_active_customer and health_risk_level in ({AT_RISK})
    order by health_score, customer_id limit :limit
)
select top.customer_id, c.customer_label as customer, c.lifecycle_stage, c.mrr,
       top.health_score, top.health_risk_level, top.trend, top.factors
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
select calculated_at, health_score, health_score_previous, health_score_change, trend, health_risk_level,
       usage_factor, support_factor, engagement_factor, financial_factor, factors, recommendations
from analytics.fct_customer_health
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
""",
    {"customer_id": None},
)

q(
    "customer_health_history",
    "Customer",
    ("analytics.dash_customer_health_history",),
    f"""
select day, health_score, health_risk_level, recorded_as
from analytics.dash_customer_health_history
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
order by day
""",
    {"customer_id": None},
)

q(
    "customer_segments",
    "Customer",
    ("analytics.fct_segment_memberships",),
    f"""
select segment_id, segment_name, added_at
from analytics.fct_segment_memberships
where tenant_id = {TENANT} and customer_id = cast(:customer_id as uuid)
order by segment_name
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

q(
    "customer_conversation_signals",
    "Customer",
    ("analytics.fct_conversation_signals", "analytics.fct_deals"),
    f"""
select s.occurred_at, d.deal_name as deal, s.signal_type, s.signal_value, s.confidence, s.signal_id
from analytics.fct_conversation_signals s
left join analytics.fct_deals d on d.deal_id = s.deal_id
where s.tenant_id = {TENANT} and s.customer_id = cast(:customer_id as uuid)
  and s.signal_type not in ('sentiment', 'intent')
order by s.occurred_at desc, s.signal_type limit 100
""",
    {"customer_id": None},
    personal=("conversation_signals", "customer_id"),
)

# --- Deal -------------------------------------------------------------------------------------
# One deal: the picker (open deals first, by value), its header with the deal model's win
# probability where fct_deal_forecast scored it (open deals), its stage history and the signals
# of the conversations that named it.

q(
    "deals_picker",
    "Deal",
    ("analytics.fct_deals", "analytics.dim_customers"),
    f"""
with top as materialized (
    select deal_id, deal_name, customer_id, stage_name, deal_value, is_open
    from analytics.fct_deals
    where tenant_id = {TENANT}
    order by is_open desc, deal_value desc nulls last, deal_id
    limit :limit
)
select top.deal_id, top.deal_name, c.customer_label as customer, top.stage_name as stage, top.deal_value,
       top.is_open
from top left join analytics.dim_customers c on c.customer_id = top.customer_id and c.tenant_id = {TENANT}
order by top.is_open desc, top.deal_value desc nulls last, top.deal_id
""",
    {"limit": 200},
)

q(
    "deal_detail",
    "Deal",
    ("analytics.fct_deals", "analytics.dim_customers", "analytics.fct_deal_forecast"),
    f"""
with d as materialized (
    select * from analytics.fct_deals where tenant_id = {TENANT} and deal_id = cast(:deal_id as uuid)
)
select d.deal_id, d.deal_name, d.customer_id, c.customer_label, d.pipeline_name, d.stage_name,
       d.deal_value, d.currency, d.probability, f.win_probability, f.method as probability_method,
       d.expected_close_date, d.is_open, d.is_won, d.is_lost, d.lost_reason, d.created_at, d.closed_at,
       d.age_days, d.days_in_stage
from d
left join analytics.dim_customers c on c.customer_id = d.customer_id and c.tenant_id = {TENANT}
left join analytics.fct_deal_forecast f on f.deal_id = d.deal_id and f.tenant_id = {TENANT}
""",
    {"deal_id": None},
)

q(
    "deal_stage_history",
    "Deal",
    ("analytics.fct_deal_stage_transitions",),
    f"""
select stage_sequence, stage_name as stage, from_stage, entered_at, exited_at, days_in_stage, is_current
from analytics.fct_deal_stage_transitions
where tenant_id = {TENANT} and deal_id = cast(:deal_id as uuid)
order by stage_sequence
""",
    {"deal_id": None},
)

q(
    "deal_conversation_signals",
    "Deal",
    ("analytics.fct_conversation_signals",),
    f"""
select occurred_at, signal_type, signal_value, confidence, signal_id
from analytics.fct_conversation_signals
where tenant_id = {TENANT} and deal_id = cast(:deal_id as uuid)
  and signal_type not in ('sentiment', 'intent')
order by occurred_at desc, signal_type limit 200
""",
    {"deal_id": None},
    personal=("conversation_signals", "deal_id"),
)

# --- Segments ---------------------------------------------------------------------------------

q(
    "segments",
    "Segments",
    ("analytics.dash_segment_summary",),
    f"""
select segment_id, segment_name, sum(members) as members, coalesce(sum(mrr), 0) as mrr,
       max(segment_last_calculated) as last_calculated, bool_or(segment_is_stale) as is_stale,
       bool_or(is_dynamic) as is_dynamic
from analytics.dash_segment_summary
where tenant_id = {TENANT}
group by segment_id, segment_name
order by members desc, segment_name
""",
)

q(
    "segment_growth",
    "Segments",
    ("analytics.dash_segment_summary",),
    f"""
select segment_name, added_month as month, sum(members) as added
from analytics.dash_segment_summary
where tenant_id = {TENANT} and added_month is not null
group by 1, 2 order by 1, 2
""",
)

q(
    "segment_members",
    "Segments",
    ("analytics.fct_segment_memberships", "analytics.dim_customers"),
    f"""
select m.customer_id, c.customer_label as customer, m.lifecycle_stage, m.mrr,
       c.health_score, c.health_risk_level, m.added_at
from analytics.fct_segment_memberships m
left join analytics.dim_customers c on c.customer_id = m.customer_id and c.tenant_id = {TENANT}
where m.tenant_id = {TENANT} and m.segment_id = cast(:segment_id as uuid)
order by m.mrr desc nulls last, m.customer_id limit 200
""",
    {"segment_id": None},
)

# --- Attribution ------------------------------------------------------------------------------
# dash_attribution_monthly: revenue per month won, model, channel, touchpoint type and campaign.
# `since` (a month, or null for all time) narrows the period on the summary's index.

SINCE = "(cast(:since as date) is null or a.won_month >= cast(:since as date))"

q(
    "attribution_by_channel",
    "Attribution",
    ("analytics.dash_attribution_monthly",),
    f"""
select a.attribution_model as model, a.channel, sum(a.revenue) as revenue
from analytics.dash_attribution_monthly a
where a.tenant_id = {TENANT} and {SINCE}
group by 1, 2 order by 1, 3 desc
""",
    {"since": None},
)

q(
    "attribution_by_campaign",
    "Attribution",
    ("analytics.dash_attribution_monthly", "analytics.fct_campaign_performance"),
    f"""
with top as (
    select a.campaign_id, sum(a.revenue) as revenue
    from analytics.dash_attribution_monthly a
    where a.tenant_id = {TENANT} and a.attribution_model = :model and a.campaign_id is not null and {SINCE}
    group by a.campaign_id
    having sum(a.revenue) > 0
)
select c.campaign_name, top.revenue
from top join analytics.fct_campaign_performance c on c.campaign_id = top.campaign_id and c.tenant_id = {TENANT}
order by top.revenue desc, c.campaign_name limit 25
""",
    {"model": "linear", "since": None},
)

q(
    "attribution_by_touchpoint",
    "Attribution",
    ("analytics.dash_attribution_monthly",),
    f"""
select a.touchpoint_type, sum(a.revenue) as revenue, sum(a.touchpoints) as touchpoints
from analytics.dash_attribution_monthly a
where a.tenant_id = {TENANT} and a.attribution_model = :model and {SINCE}
group by 1 order by 2 desc
""",
    {"model": "linear", "since": None},
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


# --- Integrations -----------------------------------------------------------------------------
# What the integrations did (admins and managers): ticket enrichments, outbound webhook
# deliveries and their dead letters, external CRM sync runs and the retry queue, per day from
# dash_integrations_daily and as rows from the facts; conversation signals from their mart. The
# days are live ones (the integrations run now), so the window ends at the tenant's newest day.

INTEGRATIONS = "Integrations"

q(
    "integrations_daily",
    INTEGRATIONS,
    ("analytics.dash_integrations_daily",),
    f"""
select day, tickets_enriched, unknown_requesters, enrichment_p95_latency_ms, leads_from_tickets,
       deliveries_planned, deliveries_delivered, delivery_attempts_failed, deliveries_dead, webhooks_received,
       campaign_sends, campaign_sends_dead, sync_runs_completed, sync_runs_failed, records_synced,
       records_failed, retry_queue_pending, retry_queue_dead
from analytics.dash_integrations_daily
where tenant_id = {TENANT}
  and day > (select max(day) from analytics.dash_integrations_daily where tenant_id = {TENANT}) - :days
order by day
""",
    {"days": 30},
)

q(
    "integrations_enrichments",
    INTEGRATIONS,
    ("analytics.fct_ticket_enrichments",),
    f"""
select requester_kind, count(*) as enrichments,
       percentile_cont(0.5) within group (order by latency_ms) as p50_latency_ms,
       percentile_cont(0.95) within group (order by latency_ms) as p95_latency_ms,
       count(lead_link_kind) as turned_into_leads
from analytics.fct_ticket_enrichments
where tenant_id = {TENANT}
group by requester_kind order by enrichments desc
""",
)

q(
    "integrations_delivery_status",
    INTEGRATIONS,
    ("analytics.fct_webhook_deliveries",),
    f"""
select delivery_status, count(*) as deliveries, sum(attempts) as attempts, sum(failed_attempts) as failed_attempts,
       percentile_cont(0.95) within group (order by enqueue_to_delivered_ms) as p95_delivered_ms
from analytics.fct_webhook_deliveries
where tenant_id = {TENANT}
group by delivery_status order by delivery_status
""",
)

q(
    "integrations_failed_deliveries",
    INTEGRATIONS,
    ("analytics.fct_webhook_deliveries",),
    f"""
select delivery_id, event_type, delivery_status, attempts, failed_attempts, last_status_code, last_error,
       enqueued_at, dead_at, next_attempt_at, replay_count
from analytics.fct_webhook_deliveries
where tenant_id = {TENANT} and (delivery_status = 'dead' or failed_attempts > 0)
order by (delivery_status = 'dead') desc, enqueued_at desc limit 200
""",
)

q(
    "integrations_sync_runs",
    INTEGRATIONS,
    ("analytics.fct_sync_runs",),
    f"""
select sync_run_id, provider, direction, run_trigger, run_status, requested_at, duration_s, records_created,
       records_updated, records_deleted, records_unchanged, records_failed, records_synced, error
from analytics.fct_sync_runs
where tenant_id = {TENANT}
order by requested_at desc limit 100
""",
)

q(
    "integrations_sync_objects",
    INTEGRATIONS,
    ("analytics.fct_sync_run_objects",),
    f"""
select provider, direction, vendor_object, sum(records_created) as created, sum(records_updated) as updated,
       sum(records_deleted) as deleted, sum(records_unchanged) as unchanged, sum(records_failed) as failed
from analytics.fct_sync_run_objects
where tenant_id = {TENANT}
group by 1, 2, 3 order by 1, 2, 3
""",
)

q(
    "integrations_retry_queue",
    INTEGRATIONS,
    ("analytics.fct_sync_retry_queue",),
    f"""
select retry_status, count(*) as items from analytics.fct_sync_retry_queue
where tenant_id = {TENANT}
group by retry_status order by retry_status
""",
)

q(
    "integrations_retry_items",
    INTEGRATIONS,
    ("analytics.fct_sync_retry_queue",),
    f"""
select provider, direction, vendor_object, record_id, retry_status, attempt_count, last_error, queued_at,
       next_attempt_at, updated_at
from analytics.fct_sync_retry_queue
where tenant_id = {TENANT} and retry_status in ('pending', 'dead')
order by (retry_status = 'dead') desc, updated_at desc limit 200
""",
)

q(
    "integrations_signals",
    INTEGRATIONS,
    ("analytics.fct_conversation_signals",),
    f"""
select signal_type, count(*) as signals, count(distinct conversation_id) as conversations,
       avg(confidence) as avg_confidence
from analytics.fct_conversation_signals
where tenant_id = {TENANT}
group by signal_type order by signals desc
""",
)


def page_queries() -> dict[str, list[str]]:
    """Page title -> the names of the queries it runs (for the benchmark)."""
    out: dict[str, list[str]] = {}
    for name, query in QUERIES.items():
        out.setdefault(query.page, []).append(name)
    return out
