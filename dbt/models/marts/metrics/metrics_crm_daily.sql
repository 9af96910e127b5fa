-- CRM KPIs per tenant, owner and day (owner_id = the nil uuid: the whole tenant), over the
-- trailing metrics_trailing_days (30) days ending that day:
--   lead_conversion_rate = leads converted / leads created
--   win_rate             = deals won / deals closed (won + lost)
--   avg_deal_size        = won revenue / deals won
--   sales_cycle_days     = mean days from creation to win of the deals won
--   deal_velocity        = open deals x win rate x average deal size / sales cycle (revenue per day)
--   pipeline_coverage    = open pipeline value at the end of the day / won revenue of the window
--   lead_response_time_hours = mean hours from lead creation to the rep's first outbound touch
{% set n = var('metrics_trailing_days') - 1 %}
with counts as (
    select * from {{ ref('int_metrics_daily_counts') }}
),

windowed as (
    select
        *,
        {% for c in ['leads_created', 'leads_converted', 'leads_responded', 'response_hours_sum', 'deals_won', 'deals_lost',
                     'won_revenue', 'won_cycle_days_sum'] %}
        sum({{ c }}) over w as {{ c }}_window{{ ',' if not loop.last }}
        {% endfor %}
    from counts
    window w as (partition by tenant_id, owner_id order by day rows between {{ n }} preceding and current row)
)

select
    tenant_id,
    owner_id,
    is_tenant_total,
    day,
    leads_created,
    leads_converted,
    deals_created,
    deals_won,
    deals_lost,
    won_revenue,
    open_deals,
    open_pipeline_value,
    case when leads_created_window > 0
        then round(leads_converted_window::numeric / leads_created_window, 4) end::double precision as lead_conversion_rate,
    case when deals_won_window + deals_lost_window > 0
        then round(deals_won_window::numeric / (deals_won_window + deals_lost_window), 4) end::double precision as win_rate,
    case when deals_won_window > 0 then round(won_revenue_window / deals_won_window, 2) end::numeric(18, 2) as avg_deal_size,
    case when deals_won_window > 0
        then round((won_cycle_days_sum_window / deals_won_window)::numeric, 2) end::double precision as sales_cycle_days,
    case when deals_won_window > 0 and won_cycle_days_sum_window > 0
        then round((open_deals
            * (deals_won_window::numeric / (deals_won_window + deals_lost_window))
            * (won_revenue_window / deals_won_window)
            / (won_cycle_days_sum_window / deals_won_window)::numeric), 2)
    end::numeric(18, 2) as deal_velocity,
    case when won_revenue_window > 0 then round(open_pipeline_value / won_revenue_window, 4) end::double precision
        as pipeline_coverage,
    case when leads_responded_window > 0
        then round((response_hours_sum_window / leads_responded_window)::numeric, 2) end::double precision
        as lead_response_time_hours
from windowed
