-- Leads per tenant, owner (id and pseudonymous label), source, status, scoring method and score decade (0, 10, ... 90;
-- 100 counts in 90; null: not scored yet) with their band and score sum: the Leads page's
-- tiles, score histogram and filter options for any owner / source / status / band filter, from
-- a few thousand rows per tenant instead of every lead. Built from fct_lead_scores, so it runs
-- after the scoring job like the other marts that join ml.*. A decade lies in one band only
-- while the band thresholds (vars lead_score_*_min) are multiples of ten: the unique_combination
-- test on the grain without the band checks it.
{{ config(indexes=[{'columns': ['tenant_id']}]) }}
select
    tenant_id,
    assigned_user_id,
    owner_label,
    lead_source,
    lead_status,
    method,
    (least(score / 10, 9) * 10)::integer as score_decade,
    score_band,
    count(*)::integer as leads,
    coalesce(sum(score), 0)::bigint as score_sum
from {{ ref('fct_lead_scores') }}
group by 1, 2, 3, 4, 5, 6, 7, 8
