-- The dashboards' summary marts (marts/dashboards) add up to the facts they summarise, per
-- tenant: a page reading a summary shows the same figures as one reading the fact. Returns
-- one row per mismatch. The lead score and segment summaries have their own tests
-- (assert_dash_lead_score_summary_matches_scores, assert_dash_segment_summary_matches_memberships):
-- their facts are built after the ML jobs and the segment recalculation (in Dagster, a later
-- step than the other marts).
with attribution as (
    select 'dash_attribution_monthly' as mart, a.tenant_id, a.attribution_model as part
    from (
        select tenant_id, attribution_model, sum(credit) as revenue, count(*) as touchpoints
        from {{ ref('fct_revenue_attribution') }} group by 1, 2
    ) as a
    full join (
        select tenant_id, attribution_model, sum(revenue) as revenue, sum(touchpoints) as touchpoints
        from {{ ref('dash_attribution_monthly') }} group by 1, 2
    ) as d on a.tenant_id = d.tenant_id and a.attribution_model = d.attribution_model
    where a.revenue is distinct from d.revenue or a.touchpoints is distinct from d.touchpoints
),

kpis as (
    select 'dash_kpis_daily', m.tenant_id, m.day::text
    from {{ ref('metrics_crm_daily') }} as m
    left join {{ ref('dash_kpis_daily') }} as d on m.tenant_id = d.tenant_id and m.day = d.day
    where m.is_tenant_total
      and (d.day is null or m.open_pipeline_value is distinct from d.open_pipeline_value
           or m.win_rate is distinct from d.win_rate)
),

pipeline as (
    select 'dash_open_pipeline', f.tenant_id, f.stage_name
    from (
        select tenant_id, pipeline_id, stage_name, count(*) as deals, coalesce(sum(weighted_value), 0) as weighted
        from {{ ref('fct_deals') }} where is_open group by 1, 2, 3
    ) as f
    full join (
        select tenant_id, pipeline_id, stage_name, sum(deals) as deals, sum(weighted_amount) as weighted
        from {{ ref('dash_open_pipeline') }} group by 1, 2, 3
    ) as d on f.tenant_id = d.tenant_id and f.pipeline_id = d.pipeline_id and f.stage_name = d.stage_name
    where f.deals is distinct from d.deals or round(f.weighted, 2) is distinct from round(d.weighted, 2)
),

stages as (
    select 'dash_stage_conversion', f.tenant_id, f.stage_name
    from (
        select tenant_id, pipeline_id, stage_name, count(*) as entered
        from {{ ref('fct_deal_stage_transitions') }} where not is_won_stage and not is_lost_stage
        group by 1, 2, 3
    ) as f
    full join {{ ref('dash_stage_conversion') }} as d
        on f.tenant_id = d.tenant_id and f.pipeline_id = d.pipeline_id and f.stage_name = d.stage_name
    where f.entered is distinct from d.entered or d.advanced > d.entered
),

health as (
    select 'dash_customer_health_summary', f.tenant_id, f.health_risk_level
    from (
        select tenant_id, health_risk_level, count(*) as customers, sum(health_score) as score
        from {{ ref('fct_customer_health') }} where is_active_customer group by 1, 2
    ) as f
    full join (
        select tenant_id, health_risk_level, sum(customers) as customers, sum(health_score_sum) as score
        from {{ ref('dash_customer_health_summary') }} group by 1, 2
    ) as d on f.tenant_id = d.tenant_id and f.health_risk_level = d.health_risk_level
    where f.customers is distinct from d.customers or f.score is distinct from d.score
)

select * from attribution
union all select * from kpis
union all select * from pipeline
union all select * from stages
union all select * from health
