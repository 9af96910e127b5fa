{{ config(materialized='table', post_hook='analyze {{ this }}') }}
-- The touchpoints of each won deal inside the attribution lookback before it was won (by the
-- deal's lead, the deal itself, or its customer), ordered; a won deal without any gets one
-- 'unattributed' row so every won deal's value is credited in full.
with won as (
    select deal_id, tenant_id, lead_id, customer_id, deal_value, created_at as deal_created_at, closed_at as won_at
    from {{ ref('int_deals_enriched') }}
    where is_won and closed_at is not null
),

touches as (
    select * from {{ ref('int_touchpoints') }}
),

matched as (
    select won.*, t.touchpoint_id, t.touchpoint_source, t.touchpoint_type, t.channel, t.campaign_id, t.touched_at
    from won
    inner join touches as t on t.lead_id = won.lead_id
    union
    select won.*, t.touchpoint_id, t.touchpoint_source, t.touchpoint_type, t.channel, t.campaign_id, t.touched_at
    from won
    inner join touches as t on t.deal_id = won.deal_id
    union
    select won.*, t.touchpoint_id, t.touchpoint_source, t.touchpoint_type, t.channel, t.campaign_id, t.touched_at
    from won
    inner join touches as t on t.customer_id = won.customer_id
),

in_window as (
    select *
    from matched
    where touched_at <= won_at
      and touched_at >= won_at - make_interval(days => {{ var('attribution_lookback_days') }})
),

unattributed as (
    select
        won.*,
        won.deal_id as touchpoint_id,
        'none'::text as touchpoint_source,
        'none'::text as touchpoint_type,
        'unattributed'::text as channel,
        null::uuid as campaign_id,
        won.won_at as touched_at
    from won
    where not exists (select from in_window where in_window.deal_id = won.deal_id)
)

select * from in_window
union all
select * from unattributed
