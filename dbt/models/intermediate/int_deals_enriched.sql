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
        coalesce(stages.is_won, deals.stage_name = 'Closed Won') as is_won,
        coalesce(stages.is_lost, deals.stage_name = 'Closed Lost') as is_lost
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
