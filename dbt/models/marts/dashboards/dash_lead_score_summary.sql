-- Leads per tenant, owner, source, status, scoring method and score decade (0, 10, ... 90;
-- 100 counts in 90; null: not scored yet) with their score sum: the Leads page's tiles, score
-- histogram and filter options for any owner / source / status / band filter, from a few
-- thousand rows per tenant instead of every lead. Built from fct_lead_scores, so it runs after
-- the scoring job like the other marts that join ml.* (the ranked list itself reads
-- ml.lead_scores through its (tenant_id, score) index).
{{ config(indexes=[{'columns': ['tenant_id']}]) }}
select
    tenant_id,
    owner_name,
    lead_source,
    lead_status,
    method,
    (least(score / 10, 9) * 10)::integer as score_band,
    count(*)::integer as leads,
    coalesce(sum(score), 0)::bigint as score_sum
from {{ ref('fct_lead_scores') }}
group by 1, 2, 3, 4, 5, 6
