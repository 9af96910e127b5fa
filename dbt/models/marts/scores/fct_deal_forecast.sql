{{ config(indexes=[{'columns': ['tenant_id', 'pipeline_id']}]) }}
-- Open deals with their win probability (ml.deal_probabilities, else the stage default) and the
-- expected value it implies: the model-weighted forecast per deal (the Pipeline & forecast
-- page's expected value beside the stage-weighted pipeline).
with deals as (
    select * from {{ ref('fct_deals') }} where is_open
)

select
    deals.deal_id::uuid as deal_id,
    deals.tenant_id::uuid as tenant_id,
    deals.pipeline_id::uuid as pipeline_id,
    deals.pipeline_name::text as pipeline_name,
    deals.stage_name::text as stage_name,
    deals.deal_value::numeric(18, 2) as deal_value,
    (deals.probability / 100.0)::double precision as stage_probability,
    coalesce(p.probability, deals.probability / 100.0)::double precision as win_probability,
    coalesce(p.method, 'stage_default')::text as method,
    p.model_version::text as model_version,
    round(deals.deal_value * coalesce(p.probability, deals.probability / 100.0)::numeric, 2)::numeric(18, 2)
        as expected_value
from deals
left join {{ source('ml', 'deal_probabilities') }} as p
    on p.deal_id = deals.deal_id and p.tenant_id = deals.tenant_id
