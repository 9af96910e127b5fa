"""The landing zone as observable source assets: one per `raw.*` table (written by the Faust
landers; `raw.parked_events` too, whose events are not landed yet) and one per operational
`crm.*` table that dbt reads (written by the API and the simulator), except the ones a Dagster asset writes (`MATERIALIZED_CRM_TABLES`: those are that
asset). Dagster does not write the observed ones; it observes them, so the UI shows when data
last landed, and the data version (row count + newest landing time) changes exactly when new
rows did.
"""

import datetime as dt
from collections.abc import Iterable

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetsDefinition,
    Config,
    DataVersion,
    MetadataValue,
    ObserveResult,
    asset_check,
    observable_source_asset,
)

from .keys import PARKED_EVENTS, RAW_TABLES, SEGMENTS, crm_key, raw_key
from .resources import PostgresResource

LANDING_GROUP = "landing"
OPERATIONAL_GROUP = "operational"

MATERIALIZED_CRM_TABLES: frozenset[str] = frozenset({SEGMENTS.path[-1]})
"""`crm.*` tables a Dagster asset writes (the segment recalculation's memberships): dbt's sources
on them carry that asset's key, so they get no observable asset of their own."""


def _landing_stats(
    postgres: PostgresResource, table: str
) -> tuple[int, dt.datetime | None, dt.datetime | None]:
    """Row count, newest received_at, newest occurred_at of one raw table."""
    occurred = "null::timestamptz" if table == "dead_letters" else "max(occurred_at)"
    row = postgres.fetchall(f"select count(*), max(received_at), {occurred} from raw.{table}")[0]
    return int(row[0]), row[1], row[2]


def landing_data_version(count: int, newest: dt.datetime | None) -> str:
    """Changes whenever rows land (append-only tables: the count and the newest time only grow)."""
    return f"{count}@{newest.isoformat() if newest else '-'}"


def _observe_landing(table: str):
    @observable_source_asset(
        key=raw_key(table),
        group_name=LANDING_GROUP,
        description=(
            "Dead letters: events that failed validation, with their reason and original bytes."
            if table == "dead_letters"
            else f"Events landed from Kafka into raw.{table} (one row per event_id)."
        ),
    )
    def landing_table(postgres: PostgresResource) -> ObserveResult:
        count, newest_received, newest_occurred = _landing_stats(postgres, table)
        metadata: dict[str, MetadataValue] = {"row_count": MetadataValue.int(count)}
        if newest_received is not None:
            metadata["newest_received_at"] = MetadataValue.text(newest_received.isoformat())
            # read by Dagster's own freshness evaluation of observed sources
            metadata["dagster/last_updated_timestamp"] = MetadataValue.timestamp(newest_received)
        if newest_occurred is not None:
            metadata["newest_occurred_at"] = MetadataValue.text(newest_occurred.isoformat())
        return ObserveResult(
            data_version=DataVersion(landing_data_version(count, newest_received)), metadata=metadata
        )

    return landing_table


def _observe_operational(table: str):
    @observable_source_asset(
        key=crm_key(table),
        group_name=OPERATIONAL_GROUP,
        description=f"Operational table crm.{table} (written by the API; seeded by the simulator).",
    )
    def operational_table(postgres: PostgresResource) -> ObserveResult:
        has_updated = postgres.scalar(
            "select count(*) from information_schema.columns"
            " where table_schema = 'crm' and table_name = %(t)s and column_name = 'updated_at'",
            {"t": table},
        )
        newest_sql = "max(updated_at)" if has_updated else "null::timestamptz"
        count, newest = postgres.fetchall(f"select count(*), {newest_sql} from crm.{table}")[0]
        metadata: dict[str, MetadataValue] = {"row_count": MetadataValue.int(int(count))}
        if newest is not None:
            metadata["newest_updated_at"] = MetadataValue.text(newest.isoformat())
        return ObserveResult(
            data_version=DataVersion(landing_data_version(int(count), newest)), metadata=metadata
        )

    return operational_table


def parked_stats(postgres: PostgresResource) -> tuple[int, int | None, dt.datetime | None]:
    """Row count, newest id and oldest first_seen_at of raw.parked_events."""
    row = postgres.fetchall("select count(*), max(id), min(first_seen_at) from raw.parked_events")[0]
    return int(row[0]), row[1], row[2]


@observable_source_asset(
    key=PARKED_EVENTS,
    group_name=LANDING_GROUP,
    description=(
        "Events of tenants crm.tenants does not have yet, parked by the landers: landed once the "
        "tenant exists, dead-lettered (UNKNOWN_TENANT) after LANDER_PARK_TIMEOUT. Rows come and go, "
        "so the data version is the count and the newest id."
    ),
)
def parked_events(postgres: PostgresResource) -> ObserveResult:
    count, newest_id, oldest = parked_stats(postgres)
    metadata: dict[str, MetadataValue] = {"row_count": MetadataValue.int(count)}
    if oldest is not None:
        metadata["oldest_first_seen_at"] = MetadataValue.text(oldest.isoformat())
    return ObserveResult(data_version=DataVersion(f"{count}@{newest_id or 0}"), metadata=metadata)


def landing_assets() -> list[AssetsDefinition]:
    return [*(_observe_landing(t) for t in RAW_TABLES), parked_events]


def operational_assets(tables: Iterable[str]) -> list[AssetsDefinition]:
    """Observable assets for the `crm.*` tables dbt reads that no Dagster asset writes."""
    return [_observe_operational(t) for t in sorted(set(tables) - MATERIALIZED_CRM_TABLES)]


class FreshnessConfig(Config):
    """How old the newest landed event may be before the lane counts as stale."""

    max_lag_hours: float = 26.0


def _freshness_check(table: str) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_key(table),
        name="freshness",
        description=f"The newest event in raw.{table} landed less than max_lag_hours ago.",
    )
    def freshness(
        context: AssetCheckExecutionContext, config: FreshnessConfig, postgres: PostgresResource
    ) -> AssetCheckResult:
        count, newest, _ = _landing_stats(postgres, table)
        if newest is None:
            return AssetCheckResult(
                passed=True,
                severity=AssetCheckSeverity.WARN,
                description="nothing has landed on this lane yet",
                metadata={"row_count": 0},
            )
        lag_h = (dt.datetime.now(dt.UTC) - newest).total_seconds() / 3600
        return AssetCheckResult(
            passed=lag_h <= config.max_lag_hours,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "lag_hours": MetadataValue.float(round(lag_h, 3)),
                "max_lag_hours": MetadataValue.float(config.max_lag_hours),
                "newest_received_at": newest.isoformat(),
                "row_count": count,
            },
        )

    return freshness


def freshness_checks() -> list[AssetChecksDefinition]:
    return [_freshness_check(t) for t in RAW_TABLES if t != "dead_letters"]


def newest_landing_times(postgres: PostgresResource) -> dict[str, str]:
    """`{table: newest received_at ISO}` over the landing tables (the sensor's cursor)."""
    parts = " union all ".join(
        f"select '{t}', max(received_at) from raw.{t}" for t in RAW_TABLES if t != "dead_letters"
    )
    return {t: ts.isoformat() for t, ts in postgres.fetchall(parts) if ts is not None}


def all_landing_keys() -> list[AssetKey]:
    return [raw_key(t) for t in RAW_TABLES]
