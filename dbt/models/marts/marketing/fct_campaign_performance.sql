-- One row per marketing campaign: budget against spend, the leads and opportunities it
-- sourced, its touchpoints, the revenue credited to it by each attribution model, ROI (on
-- linear attribution), cost per lead and cost per opportunity.
with campaigns as (
    select * from {{ ref('stg_crm__marketing_campaigns') }}
),

sourced_leads as (
    select campaign_id, count(*) as leads_sourced, count(*) filter (where lead_status = 'CONVERTED') as leads_converted
    from {{ ref('stg_crm__leads') }}
    where campaign_id is not null
    group by campaign_id
),

sourced_deals as (
    select
        leads.campaign_id,
        count(*) as opportunities,
        count(*) filter (where deals.is_won) as deals_won,
        coalesce(sum(deals.deal_value) filter (where deals.is_won), 0) as sourced_revenue
    from {{ ref('int_deals_enriched') }} as deals
    inner join {{ ref('stg_crm__leads') }} as leads on deals.lead_id = leads.lead_id
    where leads.campaign_id is not null
    group by leads.campaign_id
),

touches as (
    select campaign_id, count(*) as touchpoints
    from {{ ref('int_touchpoints') }}
    where campaign_id is not null
    group by campaign_id
),

attributed as (
    select
        campaign_id,
        {% for m in ['first_touch', 'last_touch', 'linear', 'time_decay', 'u_shaped', 'w_shaped'] %}
        coalesce(sum(credit) filter (where attribution_model = '{{ m }}'), 0) as revenue_{{ m }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ ref('fct_revenue_attribution') }}
    where campaign_id is not null
    group by campaign_id
)

select
    c.campaign_id,
    c.tenant_id,
    c.campaign_name,
    c.campaign_type,
    c.campaign_status,
    c.utm_campaign,
    c.segment_id,
    c.start_date,
    c.end_date,
    c.budget,
    c.spent,
    (c.budget - c.spent)::numeric(18, 2) as budget_remaining,
    case when c.budget > 0 then round(c.spent / c.budget, 4) end::double precision as budget_utilization,
    c.impressions,
    coalesce(sl.leads_sourced, 0)::integer as leads_sourced,
    coalesce(sl.leads_converted, 0)::integer as leads_converted,
    coalesce(sd.opportunities, 0)::integer as opportunities,
    coalesce(sd.deals_won, 0)::integer as deals_won,
    coalesce(sd.sourced_revenue, 0)::numeric(18, 2) as sourced_revenue,
    coalesce(t.touchpoints, 0)::integer as touchpoints,
    {% for m in ['first_touch', 'last_touch', 'linear', 'time_decay', 'u_shaped', 'w_shaped'] %}
    coalesce(a.revenue_{{ m }}, 0)::numeric(18, 2) as attributed_revenue_{{ m }},
    {% endfor %}
    case when c.spent > 0
        then round((coalesce(a.revenue_linear, 0) - c.spent) / c.spent, 4)
    end::double precision as roi,
    case when coalesce(sl.leads_sourced, 0) > 0 then round(c.spent / sl.leads_sourced, 2) end::numeric(18, 2) as cost_per_lead,
    case when coalesce(sd.opportunities, 0) > 0 then round(c.spent / sd.opportunities, 2) end::numeric(18, 2)
        as cost_per_opportunity
from campaigns as c
left join sourced_leads as sl on c.campaign_id = sl.campaign_id
left join sourced_deals as sd on c.campaign_id = sd.campaign_id
left join touches as t on c.campaign_id = t.campaign_id
left join attributed as a on c.campaign_id = a.campaign_id
