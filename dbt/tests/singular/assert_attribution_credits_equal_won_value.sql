-- Reconciliation: for every won deal and every attribution model, the credits sum to the
-- deal's value to the cent (a won deal missing from a model fails too).
with won as (
    select deal_id, deal_value from {{ ref('fct_deals') }} where is_won and closed_at is not null
),
models as (
    select * from (values ('first_touch'), ('last_touch'), ('linear'), ('time_decay'), ('u_shaped'), ('w_shaped')) as m (attribution_model)
),
credited as (
    select deal_id, attribution_model, sum(credit) as credited
    from {{ ref('fct_revenue_attribution') }}
    group by deal_id, attribution_model
)
select won.deal_id, models.attribution_model, won.deal_value, credited.credited
from won
cross join models
left join credited on won.deal_id = credited.deal_id and models.attribution_model = credited.attribution_model
where credited.credited is distinct from won.deal_value
