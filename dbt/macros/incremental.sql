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

{#- The ids of the `raw.<table>` events an incremental model has not yet taken in: landed since
    its watermark (with the overlap) and not already held under `held_key`. Selected from the raw
    table itself (its columns, not the staging view's parsed JSON) so that the overlap's rows,
    already held, cost an index probe each and no JSON parsing; the model then reads just these
    events through its staging view (by event_id, the raw primary key). `event_types`: only
    these raw event types (a model that holds only some of a table's events). -#}
{% macro unseen_events(table, held_key='event_id', received_column='received_at', event_types=none) -%}
    select r.event_id
    from {{ source('raw', table) }} as r
    where r.received_at > {{ landed_since(received_column) }}
      {% if event_types %}
      and r.event_type in ({{ sql_strings(event_types) }})
      {% endif %}
      and not exists (select 1 from {{ this }} as held where held.{{ held_key }} = r.event_id)
{%- endmacro %}

{#- The staged rows (staging view `model` over `raw.<table>`) of the events `unseen_events`
    finds. Each is looked up by event_id through the raw primary key: the OFFSET 0 keeps the
    planner from flattening the lookup into a hash join, which would parse every event's JSON
    payload in the view to join a few thousand of them. -#}
{% macro unseen_staged(model, table, held_key='event_id', received_column='received_at', event_types=none) -%}
    select staged.*
    from ({{ unseen_events(table, held_key, received_column, event_types) }}) as unseen
    cross join lateral (
        select * from {{ ref(model) }} as s where s.event_id = unseen.event_id offset 0
    ) as staged
{%- endmacro %}

{#- What an incremental model reads from a staging view: on an incremental run the staged rows
    of the events it has not taken in yet (`unseen_staged`), on a full build the whole view. -#}
{% macro staged_since_last_run(model, table, held_key='event_id', event_types=none) -%}
    {%- if is_incremental() -%}
        ({{ unseen_staged(model, table, held_key, event_types=event_types) }}) as landed
    {%- else -%}
        {{ ref(model) }}
    {%- endif -%}
{%- endmacro %}

{#- The ids `query` returns, run when the model runs and inlined as a VALUES list (for
    `x in (...)`): the planner then knows how few they are. Computed inside the model's own
    statement, a small set of ids estimated as the whole table turns index lookups into merge
    joins over entire facts. -#}
{% macro inline_ids(query) -%}
    {%- set ids = run_query(query).columns[0].values() if execute else [] -%}
    {%- if ids | length == 0 -%}
        select null::uuid where false
    {%- else -%}
        values {% for id in ids %}('{{ id }}'::uuid){{ ", " if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}

{#- The raw event types of staged activity types: `lead.email_opened` for EMAIL_OPENED (staging
    derives activity_type from the event type so), for `unseen_staged(event_types=...)` in models
    that keep some activity types only and name them once. -#}
{% macro raw_event_types(prefix, activity_types) -%}
    {%- set out = [] -%}
    {%- for t in activity_types -%}{%- do out.append(prefix ~ '.' ~ (t | lower)) -%}{%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{#- `'A', 'B'`: a list of names as SQL string literals, for `x in (...)`. -#}
{% macro sql_strings(values) -%}
    {%- for v in values %}'{{ v }}'{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}
