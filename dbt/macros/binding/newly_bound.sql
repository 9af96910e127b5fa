{#- The rows an incremental event store holds unbound whose entity is now known (is_known):
    re-emitted by the store's run as bound, with bound_at the run's time, so the facts that take
    only bound events (fct_lead_activities, fct_deal_stage_transitions) take them in then. -#}
{% macro newly_bound(entity_model, key) -%}
select held.*
from {{ this }} as held
where not held.is_bound and {{ is_known('held', entity_model, key) }}
{%- endmacro %}
