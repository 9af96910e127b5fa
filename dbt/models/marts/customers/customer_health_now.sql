{{ config(materialized='view') }}
-- The health score of the reading tenant's customers, computed when it is read (the API's
-- calculateCustomerHealth) from the current factor values, by the macro that builds
-- fct_customer_health: the same score, never a second implementation. A view has no row-level
-- security of its own, so it keeps the rows of the transaction's signed tenant,
-- crm.current_tenant() (what the marts' policies key on), and shows nothing without one.
{{ customer_health_scores(
    ref('int_customer_health_factors'),
    where="tenant_id = crm.current_tenant()"
) }}
