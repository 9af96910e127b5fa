{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'day'],
    incremental_strategy='delete+insert',
    full_refresh=false,
    on_schema_change='append_new_columns',
    pre_hook="{{ rename_column_if_exists(this, 'risk_level', 'health_risk_level') }}",
    indexes=[{'columns': ['tenant_id', 'customer_id', 'day']}, {'columns': ['day']}]
) }}
-- Customer health over time: one row per active customer and day a build computed its health
-- (fct_customer_health is only "now"). Every build replaces each tenant's rows of the day its
-- health was calculated (delete+insert keyed on tenant and day: a tenant with its own clock
-- calculates at a past day, which must not wipe another tenant's history of that day), so the
-- history grows by one day per daily build; `full_refresh=false` keeps it through a
-- `--full-refresh`. The first build also records the score health_trend_days ago (the one the
-- trend compares against) so a fresh warehouse starts with two points per customer.
with health as (
    select * from {{ ref('fct_customer_health') }}
),

today as (
    select
        tenant_id,
        customer_id,
        {{ utc_day('calculated_at') }} as day,
        health_score,
        health_risk_level,
        'snapshot'::text as recorded_as
    from health
    where is_active_customer
)

{% if not is_incremental() %}
, trend_point as (
    select
        tenant_id,
        customer_id,
        {{ utc_day('calculated_at') }} - {{ var('health_trend_days') }} as day,
        health_score_previous as health_score,
        {{ health_risk_band('health_score_previous') }} as health_risk_level,
        'trend_backfill'::text as recorded_as
    from health
    where is_active_customer and health_score_previous is not null
)
{% endif %}

select tenant_id, customer_id, day, health_score, health_risk_level::text as health_risk_level, recorded_as
from today
{% if not is_incremental() %}
union all
select tenant_id, customer_id, day, health_score, health_risk_level::text, recorded_as
from trend_point
{% endif %}
