{#- The raw event types of staged activity types: `lead.email_opened` for EMAIL_OPENED (staging
    derives activity_type from the event type so), for `unseen_staged(event_types=...)` in models
    that keep some activity types only and name them once. -#}
{% macro raw_event_types(prefix, activity_types) -%}
    {%- set out = [] -%}
    {%- for t in activity_types -%}{%- do out.append(prefix ~ '.' ~ (t | lower)) -%}{%- endfor -%}
    {{ return(out) }}
{%- endmacro %}
