-- Segment members per tenant, segment and month they joined (null: unknown), with their MRR
-- and the segment's state: the Segments page's sizes and growth without counting every
-- membership (tens of thousands per segment at scale L) on each view.
{{ config(indexes=[{'columns': ['tenant_id']}]) }}
select
    tenant_id,
    segment_id,
    segment_name,
    is_dynamic,
    segment_is_stale,
    segment_last_calculated,
    date_trunc('month', added_day)::date as added_month,
    count(*)::integer as members,
    sum(mrr)::numeric(18, 2) as mrr
from {{ ref('fct_segment_memberships') }}
group by 1, 2, 3, 4, 5, 6, 7
