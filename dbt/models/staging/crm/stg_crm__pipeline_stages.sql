-- one row per stage of each pipeline (crm.sales_pipelines.stages is a jsonb array)
with source as (
    select * from {{ source('crm', 'sales_pipelines') }}
),

renamed as (
    select
        source.tenant_id,
        source.id as pipeline_id,
        source.name as pipeline_name,
        stage ->> 'name' as stage_name,
        (stage ->> 'order')::integer as stage_order,
        (stage ->> 'probability')::integer as stage_probability,
        coalesce((stage ->> 'is_won')::boolean, false) as is_won,
        coalesce((stage ->> 'is_lost')::boolean, false) as is_lost
    from source
    cross join lateral jsonb_array_elements(source.stages) as stage
)

select * from renamed
