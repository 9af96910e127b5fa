{{ config(indexes=[
    {'columns': ['tenant_id', 'customer_id'], 'unique': True},
    {'columns': ['tenant_id', 'churn_risk_level']},
    {'columns': ['tenant_id', 'churn_probability desc nulls last', 'customer_id']}
]) }}
-- Customer health (rules, from the warehouse) beside the churn model's prediction, one row per
-- customer: the two views of risk a customer-success manager compares, each under its own name
-- (health_risk_level, churn_risk_level). The pages read churn predictions here, not in ml.*.
select
    customers.customer_id::uuid as customer_id,
    customers.tenant_id::uuid as tenant_id,
    customers.company::text as company,
    customers.lifecycle_stage::text as lifecycle_stage,
    customers.mrr::numeric(18, 2) as mrr,
    health.health_score::double precision as health_score,
    health.health_risk_level::text as health_risk_level,
    churn.churn_probability::double precision as churn_probability,
    churn.churn_risk_level::text as churn_risk_level,
    churn.factors::jsonb as churn_factors,
    churn.method::text as churn_method,
    churn.model_version::text as churn_model_version,
    churn.scored_at::timestamptz as churn_scored_at
from {{ ref('dim_customers') }} as customers
left join {{ ref('fct_customer_health') }} as health
    on health.customer_id = customers.customer_id
left join {{ source('ml', 'churn_predictions') }} as churn
    on churn.customer_id = customers.customer_id and churn.tenant_id = customers.tenant_id
