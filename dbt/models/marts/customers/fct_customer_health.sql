{{ config(indexes=[{'columns': ['tenant_id', 'customer_id'], 'unique': True}, {'columns': ['tenant_id', 'health_score']}]) }}
-- One row per customer: health score 0-100 (weighted factors; weights are vars, normalised by
-- their sum), its trend against health_trend_days ago (improving / stable / declining beyond
-- +-health_trend_threshold points), health risk level (low / medium / high / critical) and the
-- factors as a JSON array of the seed's HealthFactor {category, factor, weight, value, impact}.
-- The scoring is the macro customer_health_scores, which customer_health_now (the score computed
-- when it is read, for the API) shares: one definition of the health score.
{{ customer_health_scores(ref('int_customer_health_factors')) }}
