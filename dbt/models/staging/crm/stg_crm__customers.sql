with source as (
    select * from {{ source('crm', 'customers') }}
),

renamed as (
    select
        id as customer_id,
        tenant_id,
        -- the person's e-mail, names and phone are stored encrypted (crm.keys.personal): only
        -- the address's blind index and its domain come this way
        email_bidx as email_key,
        {{ email_domain('email_domain', 'email') }} as email_domain,
        company,
        industry,
        company_size,
        country,
        lifecycle_stage::text as lifecycle_stage,
        became_customer_at,
        churned_at,
        mrr::numeric(18, 2) as mrr,
        tags,
        -- custom fields (an import's unmapped columns): model inputs where present on enough
        -- of a tenant's customers (ml/custom.py)
        coalesce(custom_fields, '{}'::jsonb) as custom_properties,
        created_at,
        updated_at
    from source
)

select * from renamed
