{#- One row per activity among `events` (a relation or parenthesised query with tenant_id,
    activity_id, received_at and event_id): its first landed report. Another system reporting
    an activity the CRM already published (same activity_id) is counted once. On an incremental
    run the activities the model already holds are left out too. Adds `report_rank` (always 1). -#}
{% macro first_reports(events) -%}
select *
from (
    select
        reports.*,
        row_number() over (
            partition by reports.tenant_id, reports.activity_id order by reports.received_at, reports.event_id
        ) as report_rank
    from {{ events }} as reports
    {% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as held
        where held.tenant_id = reports.tenant_id and held.activity_id = reports.activity_id
    )
    {% endif %}
) as ranked
where report_rank = 1
{%- endmacro %}
