{#- The feature columns shared by ml_features__customers and ml_features__customers_current,
    by category (usage, support, engagement, financial). -#}
{% macro customer_feature_columns(alias) -%}
    {%- set cols = [
        'tenure_days',
        'logins_30d', 'logins_90d', 'feature_events_90d', 'feature_quantity_90d', 'distinct_features_90d',
        'distinct_users_90d', 'sessions_90d', 'avg_session_minutes_90d', 'usage_trend_ratio', 'days_since_last_usage',
        'tickets_90d', 'urgent_tickets_90d', 'resolved_tickets_90d', 'avg_first_response_minutes_90d',
        'avg_resolution_minutes_90d', 'avg_csat_90d', 'csat_responses_90d', 'avg_ticket_sentiment_90d', 'negative_tickets_90d',
        'conversations_90d', 'messages_90d', 'inbound_messages_90d', 'avg_conversation_sentiment_90d',
        'days_since_last_conversation', 'web_events_90d',
        'won_deals_total', 'won_revenue_total', 'won_revenue_365d', 'open_deals', 'open_pipeline_value',
        'days_since_last_won_deal'
    ] -%}
    {%- for c in cols %}{{ alias }}.{{ c }}{{ ",\n    " if not loop.last }}{% endfor -%}
{%- endmacro %}
