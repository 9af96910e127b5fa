with source as (
    select * from {{ source('crm', 'sales_pipelines') }}
),

renamed as (
    select
        id as pipeline_id,
        tenant_id,
        name as pipeline_name,
        is_default,
        is_active,
        stages,
        created_at
    from source
)

select * from renamed
