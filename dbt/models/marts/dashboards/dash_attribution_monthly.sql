-- Attributed revenue per tenant, month won, attribution model, channel, touchpoint type and
-- campaign: the Attribution page's figures. Summing fct_revenue_attribution live means reading
-- six rows per touchpoint of every won deal (about 10M rows at scale L); this is a few thousand
-- rows per tenant, and the month lets a page narrow the period without touching the fact.
{{ config(indexes=[{'columns': ['tenant_id', 'attribution_model', 'won_month']}]) }}
select
    tenant_id,
    date_trunc('month', won_day)::date as won_month,
    attribution_model,
    coalesce(channel, 'unknown') as channel,
    coalesce(touchpoint_type, 'unknown') as touchpoint_type,
    campaign_id,
    sum(credit)::numeric(18, 2) as revenue,
    count(*)::integer as touchpoints
from {{ ref('fct_revenue_attribution') }}
group by 1, 2, 3, 4, 5, 6
