with source as (
    select * from {{ source('crm', 'deals') }}
),

renamed as (
    select
        id as deal_id,
        tenant_id,
        lead_id,
        customer_id,
        name as deal_name,
        value::numeric(18, 2) as deal_value,
        currency,
        probability,
        stage as stage_name,
        pipeline_id,
        assigned_user_id,
        expected_close_date,
        actual_close_date,
        lost_reason,
        created_at,
        updated_at
    from source
)

select * from renamed
