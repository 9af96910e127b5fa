-- Reconciliation: fct_deals has exactly the deals of crm.deals, with the same value and stage.
select coalesce(d.id, f.deal_id) as deal_id
from {{ source('crm', 'deals') }} as d
full join {{ ref('fct_deals') }} as f on d.id = f.deal_id
where d.id is null or f.deal_id is null or d.value <> f.deal_value or d.stage <> f.stage_name
