{{ config(materialized='table', post_hook='analyze {{ this }}') }}
-- Usage, support, engagement and financial features of each customer at each snapshot
-- (int_customer_snapshots), from events strictly before the snapshot and inside the
-- feature_lookback_days window before it: computed as of a point in time, never after it.
-- Support features count support tickets only: billing tickets (failed payments, invoices,
-- downgrades) are a financial signal (ml_features__customer_billing), not a support one.
-- `earliest` (no event before it reaches any snapshot's window) prunes the event scans: one
-- value for the run, from the earliest tenant's now (an uncorrelated subquery, computed once).
{%- set earliest -%}
    ((select min(now_at) from {{ ref('int_tenant_clocks') }})
        - make_interval(days => {{ [var('churn_training_snapshots') * var('churn_horizon_days'), var('health_trend_days')] | max + var('feature_lookback_days') }}))
{%- endset %}
with snapshots as (
    select * from {{ ref('int_customer_snapshots') }}
),

usage as (
    select
        s.customer_id,
        s.snapshot_kind,
        count(*) filter (where u.event_type = 'usage.login' and u.occurred_at >= s.snapshot_at - interval '30 days') as logins_30d,
        count(*) filter (where u.event_type = 'usage.login') as logins_90d,
        count(*) filter (where u.event_type = 'usage.feature_used') as feature_events_90d,
        coalesce(sum(u.quantity) filter (where u.event_type = 'usage.feature_used'), 0) as feature_quantity_90d,
        count(distinct u.feature) as distinct_features_90d,
        count(distinct u.user_ref) as distinct_users_90d,
        count(*) filter (where u.event_type = 'usage.session_ended') as sessions_90d,
        avg(u.duration_seconds) filter (where u.event_type = 'usage.session_ended') / 60.0 as avg_session_minutes_90d,
        count(*) filter (where u.occurred_at >= s.snapshot_at - interval '30 days') as usage_events_30d,
        count(*) filter (where u.occurred_at < s.snapshot_at - interval '30 days') as usage_events_prior_60d,
        max(u.occurred_at) as last_usage_at
    from snapshots as s
    inner join {{ ref('stg_raw__usage_events') }} as u
        on u.customer_id = s.customer_id
        and u.occurred_at >= s.window_start_at
        and u.occurred_at < s.snapshot_at
        and u.occurred_at >= {{ earliest }}
    group by s.customer_id, s.snapshot_kind
),

support as (
    select
        s.customer_id,
        s.snapshot_kind,
        count(*) filter (where t.event_type = 'ticket.created') as tickets_90d,
        count(*) filter (where t.event_type = 'ticket.created' and t.priority in ('HIGH', 'URGENT')) as urgent_tickets_90d,
        count(*) filter (where t.event_type = 'ticket.resolved') as resolved_tickets_90d,
        avg(t.first_response_minutes) filter (where t.event_type = 'ticket.resolved') as avg_first_response_minutes_90d,
        avg(t.resolution_minutes) filter (where t.event_type = 'ticket.resolved') as avg_resolution_minutes_90d,
        avg(t.csat) filter (where t.event_type = 'ticket.csat_submitted') as avg_csat_90d,
        count(*) filter (where t.event_type = 'ticket.csat_submitted') as csat_responses_90d,
        avg(t.sentiment) filter (where t.event_type = 'ticket.created') as avg_ticket_sentiment_90d,
        count(*) filter (where t.event_type = 'ticket.created' and t.sentiment < -0.3) as negative_tickets_90d
    from snapshots as s
    inner join {{ ref('stg_raw__tickets') }} as t
        on t.customer_id = s.customer_id
        and t.category is distinct from 'billing'
        and t.occurred_at >= s.window_start_at
        and t.occurred_at < s.snapshot_at
        and t.occurred_at >= {{ earliest }}
    group by s.customer_id, s.snapshot_kind
),

engagement as (
    select
        s.customer_id,
        s.snapshot_kind,
        count(*) filter (where c.event_type = 'conversation.started') as conversations_90d,
        count(*) filter (where c.event_type = 'conversation.message') as messages_90d,
        count(*) filter (where c.event_type = 'conversation.message' and c.direction = 'inbound') as inbound_messages_90d,
        coalesce(
            avg(c.sentiment) filter (where c.event_type = 'conversation.closed'),
            avg(c.sentiment) filter (where c.event_type = 'conversation.message')
        ) as avg_conversation_sentiment_90d,
        max(c.occurred_at) as last_conversation_at
    from snapshots as s
    inner join {{ ref('stg_raw__conversations') }} as c
        on c.customer_id = s.customer_id
        and c.occurred_at >= s.window_start_at
        and c.occurred_at < s.snapshot_at
        and c.occurred_at >= {{ earliest }}
    group by s.customer_id, s.snapshot_kind
),

web as (
    select
        s.customer_id,
        s.snapshot_kind,
        count(*) as web_events_90d
    from snapshots as s
    inner join {{ ref('stg_raw__web_events') }} as w
        on w.customer_id = s.customer_id
        and w.occurred_at >= s.window_start_at
        and w.occurred_at < s.snapshot_at
        and w.occurred_at >= {{ earliest }}
    group by s.customer_id, s.snapshot_kind
),

financial as (
    select
        s.customer_id,
        s.snapshot_kind,
        count(*) filter (where d.is_won and d.closed_at < s.snapshot_at) as won_deals_total,
        coalesce(sum(d.deal_value) filter (where d.is_won and d.closed_at < s.snapshot_at), 0) as won_revenue_total,
        coalesce(sum(d.deal_value) filter (
            where d.is_won and d.closed_at < s.snapshot_at and d.closed_at >= s.snapshot_at - interval '365 days'
        ), 0) as won_revenue_365d,
        count(*) filter (where d.created_at < s.snapshot_at and (d.closed_at is null or d.closed_at >= s.snapshot_at)) as open_deals,
        coalesce(sum(d.deal_value) filter (
            where d.created_at < s.snapshot_at and (d.closed_at is null or d.closed_at >= s.snapshot_at)
        ), 0) as open_pipeline_value,
        max(d.closed_at) filter (where d.is_won and d.closed_at < s.snapshot_at) as last_won_at
    from snapshots as s
    inner join {{ ref('int_deals_enriched') }} as d
        on d.customer_id = s.customer_id
        and d.created_at < s.snapshot_at
    group by s.customer_id, s.snapshot_kind
),

final as (
    select
        s.tenant_id,
        s.customer_id,
        s.snapshot_kind,
        s.snapshot_at,
        s.is_active_at_snapshot,
        greatest(0, {{ days_between('coalesce(s.became_customer_at, s.snapshot_at)', 's.snapshot_at') }})::double precision as tenure_days,
        -- usage
        coalesce(u.logins_30d, 0)::integer as logins_30d,
        coalesce(u.logins_90d, 0)::integer as logins_90d,
        coalesce(u.feature_events_90d, 0)::integer as feature_events_90d,
        coalesce(u.feature_quantity_90d, 0)::integer as feature_quantity_90d,
        coalesce(u.distinct_features_90d, 0)::integer as distinct_features_90d,
        coalesce(u.distinct_users_90d, 0)::integer as distinct_users_90d,
        coalesce(u.sessions_90d, 0)::integer as sessions_90d,
        u.avg_session_minutes_90d::double precision as avg_session_minutes_90d,
        -- events per day in the last 30 days over the 60 before them (1 = flat, < 1 = falling)
        case when coalesce(u.usage_events_prior_60d, 0) > 0
            then (u.usage_events_30d / 30.0) / (u.usage_events_prior_60d / 60.0)
        end::double precision as usage_trend_ratio,
        coalesce({{ days_between('u.last_usage_at', 's.snapshot_at') }}, {{ var('feature_lookback_days') }})::double precision
            as days_since_last_usage,
        -- support
        coalesce(sp.tickets_90d, 0)::integer as tickets_90d,
        coalesce(sp.urgent_tickets_90d, 0)::integer as urgent_tickets_90d,
        coalesce(sp.resolved_tickets_90d, 0)::integer as resolved_tickets_90d,
        sp.avg_first_response_minutes_90d::double precision as avg_first_response_minutes_90d,
        sp.avg_resolution_minutes_90d::double precision as avg_resolution_minutes_90d,
        sp.avg_csat_90d::double precision as avg_csat_90d,
        coalesce(sp.csat_responses_90d, 0)::integer as csat_responses_90d,
        sp.avg_ticket_sentiment_90d::double precision as avg_ticket_sentiment_90d,
        coalesce(sp.negative_tickets_90d, 0)::integer as negative_tickets_90d,
        -- engagement
        coalesce(e.conversations_90d, 0)::integer as conversations_90d,
        coalesce(e.messages_90d, 0)::integer as messages_90d,
        coalesce(e.inbound_messages_90d, 0)::integer as inbound_messages_90d,
        e.avg_conversation_sentiment_90d::double precision as avg_conversation_sentiment_90d,
        coalesce({{ days_between('e.last_conversation_at', 's.snapshot_at') }}, {{ var('feature_lookback_days') }})::double precision
            as days_since_last_conversation,
        coalesce(w.web_events_90d, 0)::integer as web_events_90d,
        -- financial
        coalesce(f.won_deals_total, 0)::integer as won_deals_total,
        coalesce(f.won_revenue_total, 0)::numeric(18, 2) as won_revenue_total,
        coalesce(f.won_revenue_365d, 0)::numeric(18, 2) as won_revenue_365d,
        coalesce(f.open_deals, 0)::integer as open_deals,
        coalesce(f.open_pipeline_value, 0)::numeric(18, 2) as open_pipeline_value,
        {{ days_between('f.last_won_at', 's.snapshot_at') }}::double precision as days_since_last_won_deal
    from snapshots as s
    left join usage as u on s.customer_id = u.customer_id and s.snapshot_kind = u.snapshot_kind
    left join support as sp on s.customer_id = sp.customer_id and s.snapshot_kind = sp.snapshot_kind
    left join engagement as e on s.customer_id = e.customer_id and s.snapshot_kind = e.snapshot_kind
    left join web as w on s.customer_id = w.customer_id and s.snapshot_kind = w.snapshot_kind
    left join financial as f on s.customer_id = f.customer_id and s.snapshot_kind = f.snapshot_kind
)

select * from final
