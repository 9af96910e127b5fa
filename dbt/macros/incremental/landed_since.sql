{#- Incremental models read only the events landed since their last run: `received_at` after
    the newest one they already hold, less `incremental_overlap_minutes`: a landing transaction
    that began before a later-committed one carries the earlier time, and re-reading the
    overlap keeps such events from being skipped. `column` is the relation's landed-at column. -#}
{% macro landed_since(column='received_at') -%}
    {#- read when the model runs and inlined as a literal: with a subquery the planner cannot
        estimate how few rows pass, and picks full scans and hash joins over the whole history -#}
    {%- if execute -%}
        {%- set since = run_query(
            "select (coalesce(max(" ~ column ~ "), '-infinity'::timestamptz) - make_interval(mins => "
            ~ var('incremental_overlap_minutes') ~ "))::text from " ~ this
        ).columns[0].values()[0] -%}
        '{{ since }}'::timestamptz
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}
