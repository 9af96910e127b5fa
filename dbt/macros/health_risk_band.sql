{#- The health risk level of a health score 0-100: low, medium, high or critical, from the
    thresholds health_risk_low_min, health_risk_medium_min and health_risk_high_min (vars).
    Shared by fct_customer_health and dash_customer_health_history. -#}
{% macro health_risk_band(score_column) -%}
    case
        when {{ score_column }} >= {{ var('health_risk_low_min') }} then 'low'
        when {{ score_column }} >= {{ var('health_risk_medium_min') }} then 'medium'
        when {{ score_column }} >= {{ var('health_risk_high_min') }} then 'high'
        else 'critical'
    end
{%- endmacro %}
