-- One row per won deal, touchpoint and attribution model: the touchpoint's weight and its
-- credit of the deal value. Models: first_touch, last_touch, linear, time_decay (weight
-- 2^(-age / attribution_half_life_days), age = days before the win), u_shaped (40% first, 40%
-- last, 20% spread over the middle), w_shaped (30% first, 30% the last touch before the deal
-- was created, 30% last, 10% spread over the rest). When key touches coincide or no middle
-- touches exist, what is left is shared so weights always sum to 1. Credits are rounded to the
-- cent and the rounding remainder goes to the deal's largest credit, so per deal and model they
-- sum to the deal value exactly.
-- Incremental by deal (delete+insert on deal_id): a run recomputes the deals whose attribution
-- can have changed (won since the last run or with a changed value or close time, or with a
-- touchpoint landed since inside their window), drops the deals no longer won (pre-hook) and
-- leaves the rest; a full refresh gives the same rows (a deal deleted from crm.deals outright
-- needs one).
{{ config(
    materialized='incremental',
    unique_key='deal_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['deal_id']}, {'columns': ['touchpoint_id']}, {'columns': ['touch_received_at']}],
    pre_hook="""{% if is_incremental() %}
        -- deals no longer won (delete+insert only replaces the deals it inserts rows for)
        delete from {{ this }} where deal_id in (
            select deal_id from {{ ref('int_deals_enriched') }} where not (is_won and closed_at is not null)
        )
    {% else %} select 1 {% endif %}"""
) }}
-- depends_on: {{ ref('int_attributable_touches') }}
-- depends_on: {{ ref('int_deals_enriched') }}
-- depends_on: {{ ref('int_touchpoints') }}
{% if is_incremental() %}
{% set affected_deals %}
    with won as (
        select deal_id, lead_id, customer_id, closed_at, deal_value
        from {{ ref('int_deals_enriched') }}
        where is_won and closed_at is not null
    ),

    landed as (  -- touchpoints landed since the newest this fact holds and not attributed yet
        select t.lead_id, t.deal_id, t.customer_id, t.touched_at
        from {{ ref('int_touchpoints') }} as t
        where t.received_at > {{ landed_since('touch_received_at') }}
          and not exists (select 1 from {{ this }} as f where f.touchpoint_id = t.touchpoint_id)
    ),

    touched as (
        select won.deal_id, won.closed_at, landed.touched_at from landed inner join won on landed.lead_id = won.lead_id
        union all
        select won.deal_id, won.closed_at, landed.touched_at from landed inner join won on landed.deal_id = won.deal_id
        union all
        select won.deal_id, won.closed_at, landed.touched_at from landed inner join won on landed.customer_id = won.customer_id
    )

    select won.deal_id from won  -- won since the last run, or its value or close time changed
    left join lateral (  -- one index probe per won deal (a lateral LIMIT, not an anti-join's scan)
        select f.won_at, f.deal_value from {{ this }} as f where f.deal_id = won.deal_id limit 1
    ) as held on true
    where held.won_at is distinct from won.closed_at or held.deal_value is distinct from won.deal_value
    union
    select deal_id from touched  -- a new touchpoint inside the deal's window
    where {{ in_attribution_window('touched_at', 'closed_at') }}
{% endset %}
with touches as (
    {{ attributable_touches(deal_ids=inline_ids(affected_deals)) }}
),
{% else %}
with touches as (
    select * from {{ ref('int_attributable_touches') }}
),
{% endif %}


ranked as (
    select
        *,
        row_number() over (partition by deal_id order by touched_at, touchpoint_id) as touch_position,
        count(*) over (partition by deal_id) as touch_count
    from touches
),

keyed as (
    select
        *,
        coalesce(
            max(case when touched_at <= deal_created_at then touch_position end) over (partition by deal_id), 1
        ) as opportunity_position,
        power(0.5, {{ days_between('touched_at', 'won_at') }} / {{ var('attribution_half_life_days') }}) as decay
    from ranked
),

flags as (
    select
        *,
        touch_position in (1, touch_count) as is_u_key,
        touch_position in (1, opportunity_position, touch_count) as is_w_key,
        case when touch_count = 1 then 1 else 2 end as u_keys,
        1 + case when opportunity_position <> 1 then 1 else 0 end
          + case when touch_count not in (1, opportunity_position) then 1 else 0 end as w_keys,
        sum(decay) over (partition by deal_id) as decay_total
    from keyed
),

weights as (
    select
        flags.*,
        m.attribution_model,
        case m.attribution_model
            when 'first_touch' then case when touch_position = 1 then 1.0 else 0.0 end
            when 'last_touch' then case when touch_position = touch_count then 1.0 else 0.0 end
            when 'linear' then 1.0 / touch_count
            when 'time_decay' then decay / decay_total
            when 'u_shaped' then case
                when touch_count = u_keys then 1.0 / u_keys
                when is_u_key then 0.4
                else (1.0 - 0.4 * u_keys) / (touch_count - u_keys)
            end
            when 'w_shaped' then case
                when touch_count = w_keys then 1.0 / w_keys
                when is_w_key then 0.3
                else (1.0 - 0.3 * w_keys) / (touch_count - w_keys)
            end
        end as weight
    from flags
    cross join (
        values ('first_touch'), ('last_touch'), ('linear'), ('time_decay'), ('u_shaped'), ('w_shaped')
    ) as m (attribution_model)
),

rounded as (
    select
        *,
        round(deal_value * weight::numeric, 2) as credit_rounded,
        row_number() over (
            partition by deal_id, attribution_model order by weight desc, touch_position desc
        ) as weight_rank
    from weights
),

balanced as (
    select
        *,
        credit_rounded + case when weight_rank = 1
            then deal_value - sum(credit_rounded) over (partition by deal_id, attribution_model)
            else 0 end as credit
    from rounded
)

select
    md5(deal_id::text || '|' || touchpoint_id::text || '|' || attribution_model) as attribution_id,
    tenant_id,
    deal_id,
    lead_id,
    customer_id,
    won_at,
    {{ utc_day('won_at') }} as won_day,
    deal_value,
    attribution_model,
    touchpoint_id,
    touchpoint_source,
    touchpoint_type,
    channel,
    campaign_id,
    touched_at,
    touch_received_at,
    touch_position::integer as touch_position,
    touch_count::integer as touch_count,
    weight::double precision as weight,
    credit::numeric(18, 2) as credit,
    round((100.0 * weight)::numeric, 4)::double precision as percentage
from balanced
