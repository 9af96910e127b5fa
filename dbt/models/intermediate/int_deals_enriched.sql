-- Each deal with its pipeline stage definition: won / lost / open, and when it closed.
with deals as (
    select * from {{ ref('stg_crm__deals') }}
),

stages as (
    select * from {{ ref('stg_crm__pipeline_stages') }}
),

enriched as (
    select
        deals.*,
        stages.stage_order,
        stages.stage_probability,
        {{ is_closed_as('won', 'stages', 'deals.stage_name') }} as is_won,
        {{ is_closed_as('lost', 'stages', 'deals.stage_name') }} as is_lost
    from deals
    left join stages
        on deals.pipeline_id = stages.pipeline_id
        and deals.stage_name = stages.stage_name
)

select
    *,
    not (is_won or is_lost) as is_open,
    case when is_won or is_lost then coalesce(actual_close_date, updated_at) end as closed_at
from enriched
