{{ config(indexes=[{'columns': ['tenant_id', 'customer_id'], 'unique': True}]) }}
-- Customer 360, one row per customer: lifecycle stage, MRR and revenue, open deals, tickets
-- and CSAT, conversations, product usage and health. Pseudonymous: the contact's e-mail, names
-- and phone are stored encrypted (crm.keys.personal), so only the e-mail's key and domain are here. Dynamic segments (warehouse/segments)
-- filter on a whitelisted set of these columns, so nothing here may come from the segment
-- memberships they write (fct_segment_memberships has them, downstream).
with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

deals as (
    select
        customer_id,
        count(*) filter (where is_won) as won_deals,
        coalesce(sum(deal_value) filter (where is_won), 0) as total_revenue,
        count(*) filter (where is_open) as open_deals,
        coalesce(sum(deal_value) filter (where is_open), 0) as open_pipeline_value,
        max(closed_at) filter (where is_won) as last_won_at
    from {{ ref('int_deals_enriched') }}
    where customer_id is not null
    group by customer_id
),

tickets as (
    select
        customer_id,
        count(*) as tickets_total,
        count(*) filter (where is_open) as open_tickets,
        avg(csat) as avg_csat,
        max(opened_at) as last_ticket_at
    from {{ ref('int_tickets_latest') }}
    where customer_id is not null
    group by customer_id
),

conversations as (
    select
        customer_id,
        count(distinct conversation_id) as conversations_total,
        max(occurred_at) as last_conversation_at
    from {{ ref('stg_raw__conversations') }}
    where customer_id is not null
    group by customer_id
),

usage_now as (
    select * from {{ ref('int_customer_features') }} where snapshot_kind = 'current'
),

health as (
    select customer_id, health_score, trend, health_risk_level from {{ ref('fct_customer_health') }}
),

converted_leads as (
    select customer_id, min(lead_id::text)::uuid as lead_id
    from {{ ref('stg_crm__leads') }}
    where customer_id is not null
    group by customer_id
)

select
    customers.customer_id,
    customers.tenant_id,
    customers.email_key,
    customers.email_domain,
    customers.company,
    -- the one name every page and list shows, naming no person: the company, else the start of
    -- the id (a consumer, or a customer imported from an order history, has no company)
    coalesce(
        nullif(trim(customers.company), ''),
        'Customer ' || left(customers.customer_id::text, 8)
    ) as customer_label,
    customers.industry,
    customers.company_size,
    customers.country,
    customers.tags,
    customers.lifecycle_stage,
    customers.became_customer_at,
    customers.churned_at,
    customers.created_at,
    converted_leads.lead_id,
    customers.mrr,
    (customers.mrr * 12)::numeric(18, 2) as arr,
    coalesce(deals.total_revenue, 0)::numeric(18, 2) as total_revenue,
    coalesce(deals.won_deals, 0)::integer as won_deals,
    coalesce(deals.open_deals, 0)::integer as open_deals,
    coalesce(deals.open_pipeline_value, 0)::numeric(18, 2) as open_pipeline_value,
    deals.last_won_at,
    coalesce(tickets.tickets_total, 0)::integer as tickets_total,
    coalesce(tickets.open_tickets, 0)::integer as open_tickets,
    round(tickets.avg_csat::numeric, 2)::double precision as avg_csat,
    tickets.last_ticket_at,
    coalesce(conversations.conversations_total, 0)::integer as conversations_total,
    conversations.last_conversation_at,
    coalesce(usage_now.logins_30d, 0)::integer as logins_30d,
    coalesce(usage_now.feature_events_90d, 0)::integer as feature_events_90d,
    coalesce(usage_now.distinct_users_90d, 0)::integer as active_users_90d,
    usage_now.days_since_last_usage,
    usage_now.tickets_90d,
    health.health_score,
    health.trend as health_trend,
    health.health_risk_level
from customers
left join deals on customers.customer_id = deals.customer_id
left join tickets on customers.customer_id = tickets.customer_id
left join conversations on customers.customer_id = conversations.customer_id
left join usage_now on customers.customer_id = usage_now.customer_id
left join health on customers.customer_id = health.customer_id
left join converted_leads on customers.customer_id = converted_leads.customer_id
