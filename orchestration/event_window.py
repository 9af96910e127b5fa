"""The landed events an event-driven refresh takes in, and the leads, deals and customers they
name: the new-events sensor passes the window to the run (`EventWindow`, a run-level resource),
the scoring and segment steps read the ids back from the events themselves.

Every landed event names the entities it concerns in its payload (`lead_id`, `deal_id`,
`customer_id`); a change made through the API (`crm-changes`) names its entity (`entity`,
`entity_id`) and, in the row it wrote, the ones it belongs to (an activity's lead, a deal's
customer, a converted lead's customer). Those are the entities whose features, scores and
segment memberships the window can have changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from dagster import ConfigurableResource

from .keys import RAW_TABLES
from .resources import PostgresResource

KINDS: tuple[str, ...] = ("lead", "deal", "customer")
"""The entities a refresh rescores (their ids are `<kind>_id` in payloads and in the marts)."""

# No overlap between windows: `received_at` is a landing transaction's start, so an event can
# commit after the sensor saw a newer one; but a window's events are read by the rescoring run,
# seconds after that, when a landing transaction (a fraction of a second) has long committed.
# A straggler would wait for the hourly full scoring.

EVENT_LANES: tuple[str, ...] = tuple(t for t in RAW_TABLES if t != "dead_letters")


def _lane_ids(table: str) -> str:
    """(tenant, kind, id) of every entity one event of `raw.<table>` names."""
    if table == "crm_changes":
        named = ", ".join(
            f"('{k}', case when r.payload ->> 'entity' = '{k}' then r.payload ->> 'entity_id' end),"
            f" ('{k}', r.payload -> 'after' ->> '{k}_id')"
            for k in KINDS
        )
    else:
        named = ", ".join(f"('{k}', r.payload ->> '{k}_id')" for k in KINDS)
    return f"""
        select r.tenant_id::text, k.kind, k.id
        from raw.{table} as r
        cross join lateral (values {named}) as k (kind, id)
        where r.received_at > %({table}_since)s::timestamptz
          and r.received_at <= %({table}_until)s::timestamptz
          and k.id is not null
    """


@dataclass
class Touched:
    """`{kind: {tenant: ids}}`: the entities a window's events name."""

    ids: dict[str, dict[str, set[str]]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, tenant: str, kind: str, entity_id: str) -> None:
        try:  # a payload is validated when it lands; one that is no uuid names nothing
            uuid.UUID(entity_id)
        except ValueError:
            return
        self.ids[kind].setdefault(tenant, set()).add(entity_id)

    def of(self, kind: str) -> dict[str, set[str]]:
        return self.ids[kind]

    def by_key(self, key: str) -> dict[str, set[str]]:
        """The ids of the kind a model's key column names (`lead_id` -> leads)."""
        return self.of(key.removesuffix("_id"))

    def counts(self) -> dict[str, int]:
        return {k: sum(len(v) for v in by_tenant.values()) for k, by_tenant in self.ids.items()}


class EventWindow(ConfigurableResource):
    """The events a run takes in, per landing lane: received after `since[lane]` (the previous
    window's end; a lane missing there: from the beginning) up to `until[lane]`. Empty `until`:
    not an event-driven run, so the steps reading it work on everything (a manual or scheduled
    run rescores every entity)."""

    since: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults)
    until: dict[str, str] = {}  # noqa: RUF012

    @property
    def limited(self) -> bool:
        return bool(self.until)

    def lanes(self) -> list[str]:
        """The landing lanes that received events in the window."""
        return sorted(
            lane
            for lane, until in self.until.items()
            if lane in EVENT_LANES and until > self.since.get(lane, "")
        )

    def touched(self, postgres: PostgresResource) -> Touched:
        """The leads, deals and customers the window's events name, per tenant."""
        out = Touched()
        lanes = self.lanes()
        if not lanes:
            return out
        params: dict[str, str] = {}
        for lane in lanes:
            params[f"{lane}_since"] = self.since.get(lane, "-infinity")
            params[f"{lane}_until"] = self.until[lane]
        sql = " union ".join(_lane_ids(lane) for lane in lanes)
        for tenant, kind, entity_id in postgres.fetchall(sql, params):
            out.add(tenant, kind, entity_id)
        return out


TRACE_SAMPLE = 10
"""Trace ids a refresh run names in its tags (`crm/trace_ids`); `crm/traced_events` counts all."""


def window_traces(
    postgres: PostgresResource, since: Mapping[str, str], until: Mapping[str, str], sample: int = TRACE_SAMPLE
) -> tuple[int, list[str]]:
    """How many of the window's events carry a trace (API writes: their `traceparent`), and up
    to `sample` of their trace ids, the newest first."""
    lanes = [lane for lane in until if lane in EVENT_LANES and until[lane] > since.get(lane, "")]
    if not lanes:
        return 0, []
    params: dict[str, str] = {}
    parts = []
    for lane in lanes:
        params[f"{lane}_since"] = since.get(lane, "-infinity")
        params[f"{lane}_until"] = until[lane]
        parts.append(
            f"select traceparent, received_at from raw.{lane} where traceparent is not null"
            f" and received_at > %({lane}_since)s::timestamptz and received_at <= %({lane}_until)s::timestamptz"
        )
    sql = (
        "with t as (" + " union all ".join(parts) + ")"
        " select (select count(*) from t), array(select substr(traceparent, 4, 32) from t"
        f" group by 1 order by max(received_at) desc limit {int(sample)})"
    )
    rows = postgres.fetchall(sql, params)
    return (int(rows[0][0]), list(rows[0][1])) if rows else (0, [])


def window_config(since: Mapping[str, str], until: Mapping[str, str]) -> dict:
    """The run config that hands a window to a run (the resource is keyed `event_window`)."""
    return {"resources": {"event_window": {"config": {"since": dict(since), "until": dict(until)}}}}


_BEFORE_DBT: dict[str, dict[str, str]] = {}
"""Per run: each lane's newest landing time just before the run's dbt step began (the steps of
an event-driven run share one process: `in_process_executor`)."""


def mark_before_dbt(run_id: str, postgres: PostgresResource) -> None:
    """Record what had landed when a run's dbt step began: its incremental models take in all
    that landed before their queries, the sensor's window and what landed while the run was
    queued and starting alike."""
    from .landing import newest_landing_times

    _BEFORE_DBT[run_id] = newest_landing_times(postgres)


def taken_in(window: EventWindow, run_id: str) -> EventWindow:
    """The window a run's scoring covers: its own, extended per lane to what had landed when its
    dbt step began, so a write that landed while the run was starting is rescored with the marts
    that took it in rather than one refresh later (the next window names it again: rescored
    twice, harmlessly). Unchanged for a run with no dbt step recorded or no window."""
    marks = _BEFORE_DBT.get(run_id)
    if not window.limited or not marks:
        return window
    lanes = {*window.until, *marks}
    until = {lane: max(window.until.get(lane, ""), marks.get(lane, "")) for lane in lanes}
    return EventWindow(since=dict(window.since), until=until)
