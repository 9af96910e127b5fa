with source as (
    select * from {{ source('crm', 'leads') }}
),

renamed as (
    select
        id as lead_id,
        tenant_id,
        customer_id,
        -- the person's e-mail, names and phone are stored encrypted (crm.keys.personal): only
        -- the address's blind index and its domain come this way
        email_bidx as email_key,
        {{ email_domain('email_domain', 'email') }} as email_domain,
        company,
        source as lead_source,
        status::text as lead_status,
        -- (the lead's score is the lead scoring's: ml.lead_scores, fct_lead_scores)
        assigned_user_id,
        tags,
        last_activity_at,
        converted_at,
        created_at,
        updated_at,
        -- the LeadScoringContext's demographic / firmographic fields live in custom_fields
        nullif(custom_fields ->> 'job_title', '') as job_title,
        nullif(custom_fields ->> 'industry', '') as industry,
        nullif(custom_fields ->> 'country', '') as country,
        {{ json_num('custom_fields', 'employee_count') }}::integer as employee_count,
        {{ json_num('custom_fields', 'annual_revenue') }}::numeric(18, 2) as annual_revenue,
        nullif(custom_fields ->> 'funding_stage', '') as funding_stage,
        case
            when jsonb_typeof(custom_fields -> 'technology_stack') = 'array'
                then array(select jsonb_array_elements_text(custom_fields -> 'technology_stack'))
        end as technology_stack,
        nullif(custom_fields ->> 'utm_source', '') as utm_source,
        nullif(custom_fields ->> 'utm_medium', '') as utm_medium,
        nullif(custom_fields ->> 'utm_campaign', '') as utm_campaign,
        {{ json_uuid('custom_fields', 'campaign_id') }} as campaign_id,
        -- the custom fields no column above maps (an import's unmapped columns): model inputs
        -- where present on enough of a tenant's leads (ml/custom.py)
        coalesce(custom_fields, '{}'::jsonb) - array[
            'job_title', 'industry', 'country', 'employee_count', 'annual_revenue', 'funding_stage',
            'technology_stack', 'utm_source', 'utm_medium', 'utm_campaign', 'campaign_id'
        ] as custom_properties
    from source
)

select * from renamed
