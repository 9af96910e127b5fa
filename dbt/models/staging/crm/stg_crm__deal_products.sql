with source as (
    select * from {{ source('crm', 'deal_products') }}
),

renamed as (
    select
        id as deal_product_id,
        tenant_id,
        deal_id,
        product_id,
        quantity,
        unit_price::numeric(18, 2) as unit_price,
        discount::numeric(18, 2) as discount,
        total_price::numeric(18, 2) as total_price
    from source
)

select * from renamed
