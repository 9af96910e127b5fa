{{ config(indexes=[{'columns': ['tenant_id', 'lead_id'], 'unique': True}]) }}
-- One row per lead: who (pseudonymous: the e-mail's key and domain, the company; the person's
-- e-mail, names and phone are stored encrypted and only the API and the dashboards' guarded
-- path open them), where from (source, UTM, campaign), owner, status and conversion, activity
-- totals, the rep's first response time, and the deals it produced.
with leads as (
    select * from {{ ref('stg_crm__leads') }}
),

users as (
    select user_id, user_label from {{ ref('stg_crm__users') }}
),

activities as (
    select
        lead_id,
        count(*) as activity_count,
        count(*) filter (where is_inbound) as inbound_activity_count,
        min(occurred_at) as first_activity_at,
        max(occurred_at) as last_activity_at,
        min(occurred_at) filter (where is_outbound and is_rep_activity) as first_rep_touch_at
    from {{ ref('fct_lead_activities') }}
    group by lead_id
),

deals as (
    select
        lead_id,
        count(*) as deal_count,
        count(*) filter (where is_won) as won_deal_count,
        coalesce(sum(deal_value) filter (where is_won), 0) as won_value
    from {{ ref('int_deals_enriched') }}
    where lead_id is not null
    group by lead_id
)

select
    leads.lead_id,
    leads.tenant_id,
    leads.email_key,
    leads.email_domain,
    leads.company,
    -- what a list names the lead by without opening its name: its company, else the start of its id
    coalesce(nullif(trim(leads.company), ''), 'Lead ' || left(leads.lead_id::text, 8)) as lead_label,
    leads.job_title,
    leads.industry,
    leads.country,
    leads.employee_count,
    leads.annual_revenue,
    leads.funding_stage,
    leads.lead_source,
    leads.utm_source,
    leads.utm_medium,
    leads.utm_campaign,
    leads.campaign_id,
    leads.lead_status,
    leads.assigned_user_id,
    users.user_label as owner_label,
    leads.customer_id,
    leads.created_at,
    {{ utc_day('leads.created_at') }} as created_day,
    leads.converted_at,
    leads.lead_status = 'CONVERTED' as is_converted,
    leads.lead_status = 'LOST' as is_lost,
    case when leads.converted_at is not null
        then {{ days_between('leads.created_at', 'leads.converted_at') }}
    end::double precision as days_to_convert,
    coalesce(activities.activity_count, 0)::integer as activity_count,
    coalesce(activities.inbound_activity_count, 0)::integer as inbound_activity_count,
    activities.first_activity_at,
    activities.last_activity_at,
    activities.first_rep_touch_at,
    ({{ days_between('leads.created_at', 'activities.first_rep_touch_at') }} * 24.0)::double precision as response_time_hours,
    coalesce(deals.deal_count, 0)::integer as deal_count,
    coalesce(deals.won_deal_count, 0)::integer as won_deal_count,
    coalesce(deals.won_value, 0)::numeric(18, 2) as won_value
from leads
left join users on leads.assigned_user_id = users.user_id
left join activities on leads.lead_id = activities.lead_id
left join deals on leads.lead_id = deals.lead_id
