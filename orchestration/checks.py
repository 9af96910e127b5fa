"""Reconciliation checks: every landed event is accounted for, once.

A landed activity event is the first report of its activity in an event store
(`int_lead_activity_events`, `int_deal_activity_events`), or a later report of one held there
(another source reporting the same activity: counted once). A stored activity is in its fact
mart once its lead or deal is known, and waits in the store (unbound) until then:

- `reconciles_with_raw_<table>` (on the fact, blocking): per tenant, no landed event is missing
  from the store, and the fact holds each bound stored activity exactly once.
- `unbound_events` (on each store, a warning only): how many events wait for an entity the CRM
  does not have yet, how many entities, and how long the oldest has waited. Ticketing and other
  systems routinely report a lead or deal before it exists, so waiting is normal; many events,
  or old ones, past the configured thresholds (`UnboundEventsConfig`) mean something upstream
  is wrong, never that the refresh is.
- `parked_events` (on `raw/parked_events`, a warning only): events of a tenant crm.tenants does
  not have yet, which the landers keep aside until it does (or dead-letter after
  LANDER_PARK_TIMEOUT). A few for seconds is a new tenant being committed; many, or old ones past
  `ParkedEventsConfig`, mean a source sends for tenants that never come or no lander re-checks.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    Config,
    MetadataValue,
    asset_check,
)

from .keys import PARKED_EVENTS, mart_key
from .resources import PostgresResource


@dataclass(frozen=True)
class EventStore:
    store: str
    """An incremental model in schema intermediate: one row per activity, `is_bound`."""
    raw_table: str
    entity_key: str
    """The column naming the entity the events wait for (lead_id, deal_id)."""
    fact: str | None = None
    """A mart in schema analytics holding the store's bound rows by event_id (reconciled)."""

    @property
    def key(self) -> AssetKey:
        return AssetKey(["intermediate", self.store])


STORES: tuple[EventStore, ...] = (
    EventStore("int_lead_activity_events", "lead_activities", "lead_id", fact="fct_lead_activities"),
    EventStore("int_deal_activity_events", "deal_activities", "deal_id"),
)


def _reconciliation_check(s: EventStore) -> AssetChecksDefinition:
    assert s.fact is not None

    @asset_check(
        asset=mart_key(s.fact),
        name=f"reconciles_with_raw_{s.raw_table}",
        description=(
            f"Per tenant, every event landed in raw.{s.raw_table} is in intermediate.{s.store} or repeats an "
            f"activity held there, and analytics.{s.fact} has each bound stored activity exactly once."
        ),
    )
    def reconciliation(postgres: PostgresResource) -> AssetCheckResult:
        rows = postgres.fetchall(
            f"""
            with landed as (
                select tenant_id, count(*) as n from raw.{s.raw_table} group by tenant_id
            ), missing as (
                select r.tenant_id, count(*) as n
                from raw.{s.raw_table} as r
                where not exists (select from intermediate.{s.store} as s where s.event_id = r.event_id)
                  and not exists (
                      select from intermediate.{s.store} as s
                      where s.tenant_id = r.tenant_id
                        and s.activity_id = coalesce(nullif(r.payload ->> 'activity_id', '')::uuid, r.event_id)
                  )
                group by r.tenant_id
            ), stored as (
                select tenant_id, count(*) as n, count(*) filter (where is_bound) as bound
                from intermediate.{s.store} group by tenant_id
            ), facts as (
                select tenant_id, count(*) as n, count(distinct event_id) as distinct_n
                from analytics.{s.fact} group by tenant_id
            )
            select t.tenant_id::text, coalesce(l.n, 0), coalesce(m.n, 0), coalesce(st.n, 0),
                   coalesce(st.bound, 0), coalesce(f.n, 0), coalesce(f.distinct_n, 0)
            from (
                select tenant_id from landed union select tenant_id from stored
                union select tenant_id from facts
            ) as t
            left join landed as l using (tenant_id)
            left join missing as m using (tenant_id)
            left join stored as st using (tenant_id)
            left join facts as f using (tenant_id)
            """
        )
        bad = {
            t: {"landed": landed, "missing": missing, "stored": stored, "bound": bound, "fact_rows": n}
            for t, landed, missing, stored, bound, n, d in rows
            if missing or not bound == n == d
        }
        return AssetCheckResult(
            passed=not bad,
            metadata={
                "tenants": MetadataValue.int(len(rows)),
                "landed_events": MetadataValue.int(sum(r[1] for r in rows)),
                "stored_activities": MetadataValue.int(sum(r[3] for r in rows)),
                "waiting_for_their_entity": MetadataValue.int(sum(r[3] - r[4] for r in rows)),
                "fact_rows": MetadataValue.int(sum(r[5] for r in rows)),
                "mismatched_tenants": MetadataValue.json(bad),
            },
        )

    return reconciliation


class UnboundEventsConfig(Config):
    """When events waiting for their lead or deal warrant a warning (run config of the check)."""

    max_events: int = 1000
    """More waiting events than this, over all tenants."""
    max_age_hours: float = 24.0
    """The oldest waiting event landed longer ago than this."""


def unbound_summary(postgres: PostgresResource, s: EventStore) -> dict[str, Any]:
    """Waiting events of a store: total, distinct entities, oldest landing time, per tenant."""
    rows = postgres.fetchall(
        f"""
        select tenant_id::text, count(*), count(distinct {s.entity_key}), min(received_at)
        from intermediate.{s.store} where not is_bound group by tenant_id order by tenant_id
        """
    )
    oldest = min((r[3] for r in rows), default=None)
    return {
        "events": sum(int(r[1]) for r in rows),
        "entities": sum(int(r[2]) for r in rows),
        "oldest_received_at": oldest,
        "tenants": {t: {"events": int(n), "entities": int(e)} for t, n, e, _ in rows},
    }


UNIT_SECONDS = {"hours": 3600, "minutes": 60}


def _warn_past(
    events: int,
    oldest: dt.datetime | None,
    *,
    max_events: int,
    max_age: float,
    unit: str,
    metadata: dict[str, MetadataValue],
) -> AssetCheckResult:
    """A warning, never an error: more than `max_events` events wait, or the oldest has waited
    longer than `max_age` (in `unit`). The metadata gets the age and both thresholds."""
    age = 0.0 if oldest is None else (dt.datetime.now(dt.UTC) - oldest).total_seconds() / UNIT_SECONDS[unit]
    reasons = []
    if events > max_events:
        reasons.append(f"{events} events wait (more than {max_events})")
    if age > max_age:
        reasons.append(f"the oldest has waited {age:.1f} {unit} (more than {max_age} {unit})")
    return AssetCheckResult(
        passed=not reasons,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(reasons) or None,
        metadata={
            **metadata,
            f"oldest_age_{unit}": MetadataValue.float(round(age, 3)),
            "max_events": MetadataValue.int(max_events),
            f"max_age_{unit}": MetadataValue.float(max_age),
        },
    )


def _unbound_check(s: EventStore) -> AssetChecksDefinition:
    @asset_check(
        asset=s.key,
        name="unbound_events",
        description=(
            f"Events in intermediate.{s.store} naming a {s.entity_key.removesuffix('_id')} the CRM does not "
            "have yet (kept, and bound by the run that finds it): warns past max_events or max_age_hours."
        ),
    )
    def unbound_events(config: UnboundEventsConfig, postgres: PostgresResource) -> AssetCheckResult:
        summary = unbound_summary(postgres, s)
        oldest: dt.datetime | None = summary["oldest_received_at"]
        return _warn_past(
            summary["events"],
            oldest,
            max_events=config.max_events,
            max_age=config.max_age_hours,
            unit="hours",
            metadata={
                "unbound_events": MetadataValue.int(summary["events"]),
                f"unknown_{s.entity_key.removesuffix('_id')}s": MetadataValue.int(summary["entities"]),
                "oldest_received_at": MetadataValue.text(oldest.isoformat() if oldest else "-"),
                "per_tenant": MetadataValue.json(summary["tenants"]),
            },
        )

    return unbound_events


class ParkedEventsConfig(Config):
    """When parked events (tenant not known yet) warrant a warning (run config of the check)."""

    max_events: int = 1000
    """More parked events than this, over all tenants."""
    max_age_minutes: float = 15.0
    """The oldest was parked longer ago than this. The landers dead-letter a parked event after
    LANDER_PARK_TIMEOUT (10 minutes by default), so past that plus their re-check nothing should
    be this old: no lander is re-checking the table."""


def parked_summary(postgres: PostgresResource) -> dict[str, Any]:
    """Parked events: total, distinct tenants, the oldest first_seen_at, per topic."""
    rows = postgres.fetchall(
        """
        select topic, count(*), count(distinct tenant_id), min(first_seen_at)
        from raw.parked_events group by topic order by topic
        """
    )
    tenants = postgres.scalar("select count(distinct tenant_id) from raw.parked_events")
    return {
        "events": sum(int(r[1]) for r in rows),
        "tenants": int(tenants or 0),
        "oldest_first_seen_at": min((r[3] for r in rows), default=None),
        "topics": {t: {"events": int(n), "tenants": int(k)} for t, n, k, _ in rows},
    }


@asset_check(
    asset=PARKED_EVENTS,
    name="parked_events",
    description=(
        "Events in raw.parked_events (their tenant is not in crm.tenants yet; the landers land them "
        "once it is): warns past max_events or max_age_minutes, never fails a run."
    ),
)
def parked_events_check(config: ParkedEventsConfig, postgres: PostgresResource) -> AssetCheckResult:
    summary = parked_summary(postgres)
    oldest: dt.datetime | None = summary["oldest_first_seen_at"]
    return _warn_past(
        summary["events"],
        oldest,
        max_events=config.max_events,
        max_age=config.max_age_minutes,
        unit="minutes",
        metadata={
            "parked_events": MetadataValue.int(summary["events"]),
            "unknown_tenants": MetadataValue.int(summary["tenants"]),
            "oldest_first_seen_at": MetadataValue.text(oldest.isoformat() if oldest else "-"),
            "per_topic": MetadataValue.json(summary["topics"]),
        },
    )


def reconciliation_checks(manifest: Mapping[str, Any] | None) -> list[AssetChecksDefinition]:
    """The checks of the event stores and facts the dbt project has."""
    if not manifest:
        return []
    models = {n["name"] for n in manifest.get("nodes", {}).values() if n.get("resource_type") == "model"}
    checks = [_unbound_check(s) for s in STORES if s.store in models]
    checks += [_reconciliation_check(s) for s in STORES if s.fact and {s.store, s.fact} <= models]
    return checks
