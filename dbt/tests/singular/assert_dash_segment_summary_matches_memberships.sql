-- dash_segment_summary adds up to fct_segment_memberships, per tenant and segment (members and
-- their MRR). Apart from assert_dashboard_marts_match_their_facts because both are built from
-- the memberships the segment recalculation writes after dim_customers (in Dagster, a later step
-- than the other marts). Returns one row per mismatch.
select 'dash_segment_summary', coalesce(f.tenant_id, d.tenant_id) as tenant_id,
       coalesce(f.segment_name, d.segment_name) as segment_name
from (
    select tenant_id, segment_id, segment_name, count(*) as members, sum(mrr) as mrr
    from {{ ref('fct_segment_memberships') }} group by 1, 2, 3
) as f
full join (
    select tenant_id, segment_id, segment_name, sum(members) as members, sum(mrr) as mrr
    from {{ ref('dash_segment_summary') }} group by 1, 2, 3
) as d on f.tenant_id = d.tenant_id and f.segment_id = d.segment_id
where f.members is distinct from d.members or f.mrr is distinct from d.mrr
