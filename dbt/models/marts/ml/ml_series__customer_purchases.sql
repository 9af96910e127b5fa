{{ config(indexes=[{'columns': ['tenant_id', 'customer_id', 'day'], 'unique': True}]) }}
-- Each customer's purchases per day: the won deals of a customer, by the UTC day they closed,
-- up to the last complete day. The customer-base revenue forecast (BG/NBD + Gamma-Gamma in
-- ml/customer_base.py) reads each customer's purchase process from it.
select
    tenant_id,
    customer_id,
    {{ utc_day('closed_at') }} as day,
    sum(deal_value)::numeric(18, 2) as amount,
    count(*)::integer as deals
from {{ ref('int_deals_enriched') }}
where is_won
  and customer_id is not null
  and {{ utc_day('closed_at') }} <= {{ utc_day(crm_now()) }} - 1
group by 1, 2, 3
