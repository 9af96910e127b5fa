{{ config(indexes=[{'columns': ['tenant_id', 'lead_id'], 'unique': True}]) }}
-- One row per lead: the seed's LeadScoringContext (demographic, behavioral, engagement,
-- firmographic) computed from activity inside the lead's feature window, plus the label.
-- The window is [created_at, feature_cutoff_at) with feature_cutoff_at = the earliest of
-- created_at + lead_feature_window_days, the conversion time and now: nothing that happens
-- after conversion (or after the window) reaches the features. Proposal and contract
-- activities follow the lead's progress (they leak the outcome) and are left out.
-- The columns are exactly what the lead model reads (ml/schemas.py): keys, label, features.
-- Outcomes and their traces stay out: status, conversion time, the window's end and length
-- (cut short by a conversion), recency at the window's end; so do fields that repeat others
-- (company size = employee_count, utm_* = the source) or mean nothing to a model (campaign
-- ids, the owner, the technology list). custom_properties holds the lead's custom fields no
-- column maps (JSON); the model turns its frequent keys into inputs (ml/custom.py).
with leads as (
    select * from {{ ref('stg_crm__leads') }}
),

-- each tenant's now (int_tenant_clocks): a tenant holding historical data labels and cuts its
-- leads' windows at its own clock
params as (
    select
        tenant_id,
        now_at,
        make_interval(days => {{ var('lead_feature_window_days') }}) as feature_window,
        make_interval(days => {{ var('lead_conversion_window_days') }}) as label_window
    from {{ ref('int_tenant_clocks') }}
),

windows as (
    select
        leads.*,
        params.now_at,
        params.label_window,
        least(
            leads.created_at + params.feature_window,
            coalesce(leads.converted_at, 'infinity'::timestamptz),
            params.now_at
        ) as feature_cutoff_at
    from leads
    inner join params on leads.tenant_id = params.tenant_id
),

activities as (
    select responses.*
    from {{ ref('fct_lead_activities') }} as responses
    inner join windows
        on responses.lead_id = windows.lead_id
        and responses.occurred_at >= windows.created_at
        and responses.occurred_at < windows.feature_cutoff_at
    where responses.activity_type not in ('PROPOSAL_SENT', 'CONTRACT_SENT')
),

activity_features as (
    select
        lead_id,
        count(*) filter (where activity_type = 'EMAIL_SENT') as emails_sent,
        count(*) filter (where activity_type = 'EMAIL_OPENED') as email_opens,
        count(*) filter (where activity_type = 'EMAIL_CLICKED') as email_clicks,
        count(*) filter (where activity_type = 'WEBSITE_VISIT') as website_visits,
        coalesce(sum(page_views) filter (where activity_type = 'WEBSITE_VISIT'), 0) as page_views,
        count(*) filter (where activity_type = 'FORM_SUBMITTED') as form_submissions,
        count(*) filter (where activity_type = 'DOCUMENT_VIEWED') as content_downloads,
        count(*) filter (where activity_type = 'CALL_MADE') as calls_made,
        count(*) filter (where activity_type = 'CALL_ANSWERED') as calls_answered,
        count(*) filter (where activity_type = 'MEETING_SCHEDULED') as meetings_scheduled,
        count(*) filter (where activity_type = 'MEETING_COMPLETED') as meetings_completed,
        count(*) filter (where activity_type = 'NOTE_ADDED') as notes_added,
        avg(duration_seconds) filter (where activity_type = 'CALL_ANSWERED') as avg_call_duration_seconds,
        avg(response_time_minutes) as avg_response_time_minutes,
        min(occurred_at) filter (where is_inbound) as first_inbound_at,
        count(*) as activity_count,
        count(distinct {{ utc_day('occurred_at') }}) as active_days
    from activities
    group by lead_id
),

web_features as (
    select
        web.lead_id,
        count(*) filter (where web.event_type = 'web.page_view') as web_page_view_events,
        count(*) filter (where web.event_type = 'web.download') as web_downloads,
        count(distinct web.session_id) as web_sessions
    from {{ ref('stg_raw__web_events') }} as web
    inner join windows
        on web.lead_id = windows.lead_id
        and web.occurred_at >= windows.created_at
        and web.occurred_at < windows.feature_cutoff_at
    group by web.lead_id
),

reply_features as (
    select
        conv.lead_id,
        count(*) filter (where conv.event_type = 'conversation.message' and conv.direction = 'inbound') as email_replies
    from {{ ref('stg_raw__conversations') }} as conv
    inner join windows
        on conv.lead_id = windows.lead_id
        and conv.occurred_at >= windows.created_at
        and conv.occurred_at < windows.feature_cutoff_at
    group by conv.lead_id
),

final as (
    select
        windows.tenant_id,
        windows.lead_id,
        windows.created_at,
        case
            when windows.converted_at is not null
                and windows.converted_at <= windows.created_at + windows.label_window then true
            when windows.created_at + windows.label_window <= windows.now_at then false
        end as converted_90d,
        -- demographic
        windows.industry,
        windows.job_title,
        windows.country,
        windows.lead_source,
        windows.company is not null as has_company,
        -- behavioral
        coalesce(af.email_opens, 0)::integer as email_opens,
        coalesce(af.email_clicks, 0)::integer as email_clicks,
        coalesce(af.website_visits, 0)::integer as website_visits,
        coalesce(af.page_views, 0)::integer as page_views,
        coalesce(af.form_submissions, 0)::integer as form_submissions,
        coalesce(af.content_downloads, 0)::integer as content_downloads,
        coalesce(wf.web_page_view_events, 0)::integer as web_page_view_events,
        coalesce(wf.web_sessions, 0)::integer as web_sessions,
        -- engagement
        af.avg_response_time_minutes::double precision as response_time_minutes,
        ({{ days_between('windows.created_at', 'af.first_inbound_at') }} * 24.0)::double precision as first_response_hours,
        case when af.meetings_scheduled > 0
            then least(1.0, af.meetings_completed::double precision / af.meetings_scheduled)
        end as meeting_acceptance_rate,
        af.avg_call_duration_seconds::double precision as call_duration_seconds,
        coalesce(rf.email_replies, 0)::integer as email_replies,
        coalesce(af.emails_sent, 0)::integer as emails_sent,
        coalesce(af.calls_made, 0)::integer as calls_made,
        coalesce(af.calls_answered, 0)::integer as calls_answered,
        coalesce(af.meetings_scheduled, 0)::integer as meetings_scheduled,
        coalesce(af.meetings_completed, 0)::integer as meetings_completed,
        coalesce(af.notes_added, 0)::integer as notes_added,
        coalesce(af.activity_count, 0)::integer as activity_count,
        coalesce(af.active_days, 0)::integer as active_days,
        -- firmographic
        windows.annual_revenue,
        windows.employee_count,
        windows.funding_stage,
        -- custom properties: the model reads the keys present on enough of the tenant's leads
        windows.custom_properties
    from windows
    left join activity_features as af on windows.lead_id = af.lead_id
    left join web_features as wf on windows.lead_id = wf.lead_id
    left join reply_features as rf on windows.lead_id = rf.lead_id
)

select * from final
