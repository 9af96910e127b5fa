"""Reconciliation checks: every landed event is in its fact mart, once (landed events = fact rows).

Compared per tenant: `count(distinct event_id)` in the landing table against the fact rows
that came from that lane. A difference means the warehouse dropped or duplicated events.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import AssetCheckResult, AssetChecksDefinition, MetadataValue, asset_check

from .keys import mart_key
from .resources import PostgresResource


@dataclass(frozen=True)
class Reconciliation:
    fact: str
    """A mart in schema analytics with an event_id column."""
    raw_table: str
    raw_filter: str = "true"
    """Which landed events belong in the fact (by event_type)."""


RECONCILIATIONS: tuple[Reconciliation, ...] = (Reconciliation("fct_lead_activities", "lead_activities"),)


def _reconciliation_check(rec: Reconciliation) -> AssetChecksDefinition:
    @asset_check(
        asset=mart_key(rec.fact),
        name=f"reconciles_with_raw_{rec.raw_table}",
        description=f"Per tenant, analytics.{rec.fact} has one row per event landed in raw.{rec.raw_table}.",
    )
    def reconciliation(postgres: PostgresResource) -> AssetCheckResult:
        rows = postgres.fetchall(
            f"""
            with landed as (
                select tenant_id, count(distinct event_id) as n from raw.{rec.raw_table}
                where {rec.raw_filter} group by tenant_id
            ), facts as (
                select tenant_id, count(*) as n, count(distinct event_id) as distinct_n
                from analytics.{rec.fact} where event_id is not null group by tenant_id
            )
            select coalesce(l.tenant_id, f.tenant_id)::text, coalesce(l.n, 0), coalesce(f.n, 0),
                   coalesce(f.distinct_n, 0)
            from landed l full join facts f using (tenant_id)
            """
        )
        bad = {
            t: {"landed": landed, "fact_rows": n, "distinct": d}
            for t, landed, n, d in rows
            if not landed == n == d
        }
        return AssetCheckResult(
            passed=not bad,
            metadata={
                "tenants": MetadataValue.int(len(rows)),
                "landed_events": MetadataValue.int(sum(r[1] for r in rows)),
                "fact_rows": MetadataValue.int(sum(r[2] for r in rows)),
                "mismatched_tenants": MetadataValue.json(bad),
            },
        )

    return reconciliation


def reconciliation_checks(manifest: Mapping[str, Any] | None) -> list[AssetChecksDefinition]:
    if not manifest:
        return []
    models = {n["name"] for n in manifest.get("nodes", {}).values() if n.get("resource_type") == "model"}
    return [_reconciliation_check(r) for r in RECONCILIATIONS if r.fact in models]
