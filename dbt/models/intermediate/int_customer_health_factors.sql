-- Health factor values 0..1 per customer at the current and the trend snapshot, one column per
-- category (usage, support, engagement, financial). Usage and financial are relative to the
-- tenant's median active customer now (the same reference for both snapshots, so the trend
-- compares like with like); support and engagement use fixed scales (CSAT 1-5, sentiment -1..1).
with features as (
    select * from {{ ref('int_customer_features') }}
    where snapshot_kind in ('current', 'trend')
),

reference as (
    select
        tenant_id,
        greatest(percentile_cont(0.5) within group (order by logins_30d), 1) as median_logins_30d,
        greatest(percentile_cont(0.5) within group (order by won_revenue_365d), 1) as median_revenue_365d,
        greatest(percentile_cont(0.5) within group (order by tickets_90d), 1) as median_tickets_90d
    from features
    where snapshot_kind = 'current' and is_active_at_snapshot
    group by tenant_id
),

factors as (
    select
        f.tenant_id,
        f.customer_id,
        f.snapshot_kind,
        f.snapshot_at,
        f.is_active_at_snapshot,
        f.logins_30d,
        f.days_since_last_usage,
        f.tickets_90d,
        f.avg_csat_90d,
        f.avg_ticket_sentiment_90d,
        f.avg_conversation_sentiment_90d,
        f.days_since_last_conversation,
        f.won_revenue_365d,
        f.open_deals,
        -- usage: login volume against the tenant median (capped at 2x) and recency
        0.6 * least(1.0, f.logins_30d / (2.0 * coalesce(r.median_logins_30d, 1)))
            + 0.4 * (1.0 - least(f.days_since_last_usage, 30) / 30.0) as usage_factor,
        -- support: few tickets (against the median), good CSAT, positive ticket tone
        0.4 * (1.0 - least(1.0, f.tickets_90d / (2.0 * coalesce(r.median_tickets_90d, 1))))
            + 0.3 * coalesce((f.avg_csat_90d - 1.0) / 4.0, 0.5)
            + 0.3 * coalesce((f.avg_ticket_sentiment_90d + 1.0) / 2.0, 0.5) as support_factor,
        -- engagement: conversation tone and recency
        0.5 * coalesce((f.avg_conversation_sentiment_90d + 1.0) / 2.0, 0.5)
            + 0.5 * (1.0 - least(f.days_since_last_conversation, 90) / 90.0) as engagement_factor,
        -- financial: revenue of the last year against the median, and open business
        0.7 * least(1.0, f.won_revenue_365d / (2.0 * coalesce(r.median_revenue_365d, 1)))
            + 0.3 * least(1.0, f.open_deals::numeric) as financial_factor
    from features as f
    left join reference as r on f.tenant_id = r.tenant_id
)

select
    tenant_id,
    customer_id,
    snapshot_kind,
    snapshot_at,
    is_active_at_snapshot,
    logins_30d,
    days_since_last_usage,
    tickets_90d,
    avg_csat_90d,
    avg_conversation_sentiment_90d,
    won_revenue_365d,
    round(usage_factor::numeric, 4)::double precision as usage_factor,
    round(support_factor::numeric, 4)::double precision as support_factor,
    round(engagement_factor::numeric, 4)::double precision as engagement_factor,
    round(financial_factor::numeric, 4)::double precision as financial_factor
from factors
