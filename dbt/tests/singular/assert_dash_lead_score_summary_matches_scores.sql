-- dash_lead_score_summary adds up to fct_lead_scores, per tenant, method and band. Apart from
-- assert_dashboard_marts_match_their_facts because both are built after the ML jobs (in
-- Dagster, a later step than the other marts). Returns one row per mismatch.
select 'dash_lead_score_summary', coalesce(f.tenant_id, d.tenant_id) as tenant_id,
       coalesce(f.method, d.method) as method, coalesce(f.score_band, d.score_band) as score_band
from (
    select tenant_id, method, score_band, count(*) as leads, coalesce(sum(score), 0) as score
    from {{ ref('fct_lead_scores') }} group by 1, 2, 3
) as f
full join (
    select tenant_id, method, score_band, sum(leads) as leads, sum(score_sum) as score
    from {{ ref('dash_lead_score_summary') }} group by 1, 2, 3
) as d on f.tenant_id = d.tenant_id and f.method = d.method and f.score_band = d.score_band
where f.leads is distinct from d.leads or f.score is distinct from d.score
