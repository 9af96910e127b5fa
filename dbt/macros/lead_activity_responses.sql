{#- Lead activity events (a relation or CTE with stg_raw__lead_activities' columns) with the
    rep's last outbound touch before each, and the response time of inbound ones. Used by
    int_lead_activity_events on a full build and, on an incremental run, over the new events
    and their leads' earlier ones. -#}
{% macro lead_activity_responses(events) -%}
select
    *,
    case
        when is_inbound and response_minutes is not null then response_minutes
        when is_inbound and last_outbound_at is not null
            then extract(epoch from (occurred_at - last_outbound_at)) / 60.0
    end as response_time_minutes
from (
    select
        *,
        max(case when is_outbound then occurred_at end) over (
            partition by lead_id order by occurred_at, event_id rows between unbounded preceding and 1 preceding
        ) as last_outbound_at
    from (
        select
            *,
            activity_type in ({{ sql_strings(outbound_activity_types()) }}) as is_outbound,
            activity_type in (
                'EMAIL_OPENED', 'EMAIL_CLICKED', 'CALL_ANSWERED', 'FORM_SUBMITTED',
                'WEBSITE_VISIT', 'DOCUMENT_VIEWED', 'MEETING_COMPLETED'
            ) as is_inbound
        from {{ events }}
    ) as flagged
) as with_last_outbound
{%- endmacro %}
