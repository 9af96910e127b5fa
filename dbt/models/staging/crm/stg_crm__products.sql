with source as (
    select * from {{ source('crm', 'products') }}
),

renamed as (
    select
        id as product_id,
        tenant_id,
        name as product_name,
        sku,
        category as product_category,
        price::numeric(18, 2) as list_price,
        is_active
    from source
)

select * from renamed
