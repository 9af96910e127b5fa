{{ config(indexes=[
    {'columns': ['tenant_id', 'segment_id', 'mrr desc nulls last', 'customer_id']},
    {'columns': ['tenant_id', 'customer_id']}
]) }}
-- One row per segment and member customer (written by the segment recalculation in
-- warehouse/segments, over dim_customers), with the segment's state and the member's lifecycle
-- stage and MRR: the Segments page's members, and a customer's segments on Customer 360.
with memberships as (
    select * from {{ ref('stg_crm__customer_segment_memberships') }}
),

segments as (
    select * from {{ ref('stg_crm__customer_segments') }}
),

customers as (
    select customer_id, lifecycle_stage, mrr from {{ ref('stg_crm__customers') }}
)

select
    memberships.tenant_id,
    memberships.segment_id,
    segments.segment_name,
    segments.is_dynamic,
    segments.is_stale as segment_is_stale,
    segments.last_calculated as segment_last_calculated,
    memberships.customer_id,
    customers.lifecycle_stage,
    customers.mrr,
    memberships.added_at,
    {{ utc_day('memberships.added_at') }} as added_day
from memberships
inner join segments on memberships.segment_id = segments.segment_id
left join customers on memberships.customer_id = customers.customer_id
