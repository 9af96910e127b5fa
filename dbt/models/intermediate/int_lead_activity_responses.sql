-- Lead activity events with the time since the rep's last outbound touch (the response time
-- of inbound activities such as e-mail opens, clicks, answered calls and form submissions).
with activities as (
    select * from {{ ref('stg_raw__lead_activities') }}
),

flagged as (
    select
        *,
        activity_type in ('EMAIL_SENT', 'CALL_MADE', 'MEETING_SCHEDULED', 'PROPOSAL_SENT', 'CONTRACT_SENT')
            as is_outbound,
        activity_type in (
            'EMAIL_OPENED', 'EMAIL_CLICKED', 'CALL_ANSWERED', 'FORM_SUBMITTED',
            'WEBSITE_VISIT', 'DOCUMENT_VIEWED', 'MEETING_COMPLETED'
        ) as is_inbound
    from activities
),

with_last_outbound as (
    select
        *,
        max(case when is_outbound then occurred_at end) over (
            partition by lead_id order by occurred_at, event_id rows between unbounded preceding and 1 preceding
        ) as last_outbound_at
    from flagged
)

select
    *,
    case
        when is_inbound and response_minutes is not null then response_minutes
        when is_inbound and last_outbound_at is not null
            then extract(epoch from (occurred_at - last_outbound_at)) / 60.0
    end as response_time_minutes
from with_last_outbound
