with source as (
    select * from {{ source('crm', 'ticket_leads') }}
),

renamed as (
    select
        tenant_id,
        ticket_id,
        lead_id,
        customer_id,
        link as link_kind,
        -- (the requester's e-mail is personal, stored encrypted: it stays in crm.ticket_leads)
        created_by as created_by_user_id,
        created_at as linked_at
    from source
)

select * from renamed
