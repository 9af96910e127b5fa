-- Active customers per tenant, health risk level, health bucket (score / 10, 0-9) and trend,
-- with score sums for averages: the Customers page's distribution and trend and the Overview's
-- at-risk count, from a few dozen rows per tenant instead of every customer.
{{ config(indexes=[{'columns': ['tenant_id']}]) }}
select
    tenant_id,
    health_risk_level,
    least(floor(health_score / 10), 9)::integer as health_bucket,
    trend,
    count(*)::integer as customers,
    coalesce(sum(health_score), 0)::numeric as health_score_sum,
    (count(health_score_previous))::integer as previous_scored,
    coalesce(sum(health_score_previous), 0)::numeric as health_score_previous_sum
from {{ ref('fct_customer_health') }}
where is_active_customer
group by 1, 2, 3, 4
