{#- The touchpoints of won deals inside the attribution lookback before each was won (by the
    deal's lead, the deal itself, or its customer); a won deal without any gets one
    'unattributed' row so every won deal's value is credited in full. `deal_ids`: SQL selecting
    the deal ids to compute (none: every won deal). Shared by int_attributable_touches (every
    deal) and fct_revenue_attribution's incremental path (the deals a run must recompute: the
    lookups go through int_touchpoints' lead, deal and customer indexes). -#}
{% macro attributable_touches(deal_ids=none) -%}
with won as materialized (
    select deal_id, tenant_id, lead_id, customer_id, deal_value, created_at as deal_created_at, closed_at as won_at
    from {{ ref('int_deals_enriched') }}
    where is_won and closed_at is not null
    {% if deal_ids is not none %} and deal_id in ({{ deal_ids }}) {% endif %}
),

matched as (
    select won.*, t.touchpoint_id, t.touchpoint_source, t.touchpoint_type, t.channel, t.campaign_id, t.touched_at,
           t.received_at as touch_received_at
    from won
    inner join {{ ref('int_touchpoints') }} as t on t.lead_id = won.lead_id
    union
    select won.*, t.touchpoint_id, t.touchpoint_source, t.touchpoint_type, t.channel, t.campaign_id, t.touched_at,
           t.received_at as touch_received_at
    from won
    inner join {{ ref('int_touchpoints') }} as t on t.deal_id = won.deal_id
    union
    select won.*, t.touchpoint_id, t.touchpoint_source, t.touchpoint_type, t.channel, t.campaign_id, t.touched_at,
           t.received_at as touch_received_at
    from won
    inner join {{ ref('int_touchpoints') }} as t on t.customer_id = won.customer_id
),

in_window as (
    select *
    from matched
    where {{ in_attribution_window('touched_at', 'won_at') }}
),

unattributed as (
    select
        won.*,
        won.deal_id as touchpoint_id,
        'none'::text as touchpoint_source,
        'none'::text as touchpoint_type,
        'unattributed'::text as channel,
        null::uuid as campaign_id,
        won.won_at as touched_at,
        null::timestamptz as touch_received_at
    from won
    where not exists (select from in_window where in_window.deal_id = won.deal_id)
)

select * from in_window
union all
select * from unattributed
{%- endmacro %}
