{{ config(indexes=[{'columns': ['tenant_id', 'deal_id'], 'unique': True}]) }}
-- One row per deal: exactly what the deal win-probability model reads (ml/deals.py). Closed
-- deals train it (their stage columns describe the last open stage before the close, so
-- stages_reached does not count the closing stage); open ones are scored.
select
    deals.tenant_id,
    deals.deal_id,
    case when deals.is_won then 'won' when deals.is_lost then 'lost' else 'open' end as status,
    deals.stage_name,
    deals.probability::double precision as stage_probability,
    deals.deal_value,
    greatest(deals.stages_entered - case when deals.is_open then 0 else 1 end, 0)::double precision
        as stages_reached,
    deals.age_days,
    deals.pipeline_name,
    deals.lead_source,
    deals.created_at,
    deals.closed_at,
    deals.expected_close_date
from {{ ref('fct_deals') }} as deals
