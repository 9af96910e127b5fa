"""The `parked_events` check, run by the real `observe_landing` job against real Postgres: events
of tenants crm.tenants does not have yet (parked by the landers in raw.parked_events) are
counted with the oldest one's age, and a warning past `ParkedEventsConfig` never fails the run."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from dagster import AssetCheckSeverity, DagsterEventType

from orchestration import checks, keys


def _park(url: str, topic: str, tenant: uuid.UUID, minutes_ago: float) -> None:
    """A parked event as the lander writes it (streaming.parking), parked `minutes_ago`."""
    with psycopg.connect(url) as conn:
        offset = conn.execute("select coalesce(max(kafka_offset), -1) + 1 from raw.parked_events").fetchone()
        conn.execute(
            "insert into raw.parked_events (first_seen_at, topic, kafka_partition, kafka_offset, event_id,"
            " tenant_id, reason_code, reason, raw_bytes)"
            " values (now() - make_interval(secs => %s), %s, 0, %s, %s, %s, 'UNKNOWN_TENANT',"
            " 'tenant not in crm.tenants yet', %s)",
            (minutes_ago * 60, topic, offset[0] if offset else 0, uuid.uuid4(), tenant, b"{}"),
        )


def _check(defs, instance, config: dict | None = None):
    """Observe the landing (the check runs with it); the parked_events evaluation."""
    op = checks.parked_events_check.node_def.name
    result = defs.resolve_job_def("observe_landing").execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {op: {"config": config}}} if config else {},
    )
    failures = [
        e.event_specific_data.error.message[:400]
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    assert result.success, failures
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.asset_key == keys.PARKED_EVENTS]
    observed = [
        o.event_specific_data.asset_observation.metadata
        for o in result.get_asset_observation_events()
        if o.asset_key == keys.PARKED_EVENTS
    ]
    return evaluation, observed


def test_parked_events_are_counted_and_warn_past_the_thresholds(
    defs, dagster_instance, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = migrated_db
    monkeypatch.setenv("DATABASE_URL", url)  # the resources read it when a run starts
    # nothing parked: passes
    evaluation, observed = _check(defs, dagster_instance)
    assert evaluation.passed and evaluation.metadata["parked_events"].value == 0
    assert observed and observed[0]["row_count"].value == 0

    # a new tenant's first events, parked for seconds: normal
    fresh, stale = uuid.uuid4(), uuid.uuid4()
    for topic in ("lead-activities", "web-events"):
        _park(url, topic, fresh, minutes_ago=0.1)
    evaluation, observed = _check(defs, dagster_instance)
    assert evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    md = {k: v.value for k, v in evaluation.metadata.items()}
    assert (md["parked_events"], md["unknown_tenants"]) == (2, 1)
    assert md["per_topic"] == {
        "lead-activities": {"events": 1, "tenants": 1},
        "web-events": {"events": 1, "tenants": 1},
    }
    assert observed[0]["row_count"].value == 2

    # one parked for 40 minutes (no lander re-checking): a warning, the run still succeeds
    _park(url, "lead-activities", stale, minutes_ago=40)
    evaluation, _ = _check(defs, dagster_instance)
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["oldest_age_minutes"].value >= 40
    assert "the oldest has waited 40" in (evaluation.description or "")

    # more than max_events: a warning too (the age threshold raised out of the way)
    evaluation, _ = _check(defs, dagster_instance, {"max_events": 2, "max_age_minutes": 60.0})
    assert not evaluation.passed and evaluation.description == "3 events wait (more than 2)"
    evaluation, _ = _check(defs, dagster_instance, {"max_events": 3, "max_age_minutes": 60.0})
    assert evaluation.passed and evaluation.metadata["unknown_tenants"].value == 2
