with source as (
    select * from {{ source('crm', 'marketing_campaigns') }}
),

renamed as (
    select
        id as campaign_id,
        tenant_id,
        name as campaign_name,
        type::text as campaign_type,
        status::text as campaign_status,
        segment_id,
        start_date,
        end_date,
        budget::numeric(18, 2) as budget,
        spent::numeric(18, 2) as spent,
        nullif(metrics ->> 'utm_campaign', '') as utm_campaign,
        {{ json_num('metrics', 'impressions') }}::bigint as impressions,
        created_at
    from source
)

select * from renamed
