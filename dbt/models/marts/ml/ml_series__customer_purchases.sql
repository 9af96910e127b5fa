{{ config(indexes=[{'columns': ['tenant_id', 'customer_id', 'day'], 'unique': True}]) }}
-- Each customer's purchases per day: the won deals of a customer, by the UTC day they closed,
-- up to the last complete day before the tenant's now (int_tenant_clocks). The customer-base
-- revenue forecast (BG/NBD + Gamma-Gamma in ml/customer_base.py) reads each customer's
-- purchase process from it.
select
    enriched.tenant_id,
    enriched.customer_id,
    {{ utc_day('enriched.closed_at') }} as day,
    sum(enriched.deal_value)::numeric(18, 2) as amount,
    count(*)::integer as deals
from {{ ref('int_deals_enriched') }} as enriched
inner join {{ ref('int_tenant_clocks') }} as clocks on enriched.tenant_id = clocks.tenant_id
where enriched.is_won
  and enriched.customer_id is not null
  and {{ utc_day('enriched.closed_at') }} <= {{ utc_day('clocks.now_at') }} - 1
group by 1, 2, 3
