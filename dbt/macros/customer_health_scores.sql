{#- The customer health score of each customer in `factors` (int_customer_health_factors:
    the current and trend snapshots' factor values): the weighted score 0-100 (weights are vars,
    normalised by their sum), its trend against health_trend_days ago, the health risk level,
    the factors as the seed's HealthFactor JSON and the recommendations. One definition for the
    mart (fct_customer_health) and for the score computed at request time (customer_health_now);
    `where` keeps only some rows of `factors` before anything is computed. -#}
{% macro customer_health_scores(factors, where=none) -%}
{% set w_usage = var('health_weight_usage') %}
{% set w_support = var('health_weight_support') %}
{% set w_engagement = var('health_weight_engagement') %}
{% set w_financial = var('health_weight_financial') %}
{% set w_total = w_usage + w_support + w_engagement + w_financial %}
with factors as (
    select * from {{ factors }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
),

scored as (
    select
        *,
        round((100.0 * (
            {{ w_usage }} * usage_factor
            + {{ w_support }} * support_factor
            + {{ w_engagement }} * engagement_factor
            + {{ w_financial }} * financial_factor
        ) / {{ w_total }})::numeric, 1) as health_score
    from factors
),

-- one row per customer: the current snapshot's columns and the trend snapshot's score (a
-- pivot, not a self-join: no join order for the planner to get wrong on fresh tables)
paired as (
    select
        customer_id,
        max(health_score) filter (where snapshot_kind = 'trend') as previous_score,
        bool_or(is_active_at_snapshot) filter (where snapshot_kind = 'trend') as previous_active
    from scored
    group by customer_id
),

current_scores as (
    select scored.*, paired.previous_score, paired.previous_active
    from scored
    inner join paired on scored.customer_id = paired.customer_id
    where scored.snapshot_kind = 'current'
),

final as (
    select
        c.tenant_id,
        c.customer_id,
        c.snapshot_at as calculated_at,
        c.is_active_at_snapshot as is_active_customer,
        c.health_score,
        c.previous_score as health_score_previous,
        (c.health_score - c.previous_score) as health_score_change,
        case
            when c.previous_score is null or not c.previous_active then 'stable'
            when c.health_score - c.previous_score > {{ var('health_trend_threshold') }} then 'improving'
            when c.health_score - c.previous_score < -{{ var('health_trend_threshold') }} then 'declining'
            else 'stable'
        end as trend,
        {{ health_risk_band('c.health_score') }} as health_risk_level,
        c.usage_factor,
        c.support_factor,
        c.engagement_factor,
        c.financial_factor,
        jsonb_build_array(
            {% for cat, col, weight, value in [
                ('usage', 'usage_factor', w_usage, 'logins_30d'),
                ('support', 'support_factor', w_support, 'tickets_90d'),
                ('engagement', 'engagement_factor', w_engagement, 'avg_conversation_sentiment_90d'),
                ('financial', 'financial_factor', w_financial, 'won_revenue_365d')] %}
            jsonb_build_object(
                'category', '{{ cat }}',
                'factor', '{{ value }}',
                'weight', round(({{ weight }} / {{ w_total }})::numeric, 4),
                'value', c.{{ value }},
                'score', c.{{ col }},
                'impact', case when c.{{ col }} >= 0.6 then 'positive' when c.{{ col }} < 0.4 then 'negative' else 'neutral' end
            ){{ ',' if not loop.last }}
            {% endfor %}
        ) as factors,
        array_remove(array[
            case when c.usage_factor < 0.4 then 'Usage is low: schedule an adoption review' end,
            case when c.support_factor < 0.4 then 'Support experience is poor: escalate open tickets' end,
            case when c.engagement_factor < 0.4 then 'Engagement is fading: reach out personally' end,
            case when c.financial_factor < 0.4 then 'Little recent revenue: look for an expansion opportunity' end
        ], null) as recommendations
    from current_scores as c
)

select * from final
{%- endmacro %}
