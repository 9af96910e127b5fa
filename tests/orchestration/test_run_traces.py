"""A refresh run names the traces of the API writes it takes in: the new-events sensor tags
the run with their count and a sample of their trace ids, and the runs' JSON log lines carry
the run id (and, at the run's start and end, those trace ids)."""

from __future__ import annotations

import json
import uuid

import psycopg
from dagster import DagsterInstance, RunRequest, build_sensor_context, job, op
from psycopg.types.json import Jsonb

from orchestration.resources import PostgresResource
from orchestration.sensors import TRACE_IDS_TAG, TRACED_TAG, new_events_sensor


def _land(url: str, table: str, traceparent: str | None) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at, source,"
            " payload, traceparent) values (%s, %s, 'test.event', 1, now(), 'test', %s, %s)",
            (uuid.uuid4(), uuid.uuid4(), Jsonb({}), traceparent),
        )


def _tick(url: str, cursor: str | None, instance: DagsterInstance):
    ctx = build_sensor_context(
        cursor=cursor, instance=instance, resources={"postgres": PostgresResource(database_url=url)}
    )
    return new_events_sensor(ctx), ctx.cursor


def test_the_refresh_run_is_tagged_with_the_traces_it_takes_in(migrated_db: str) -> None:
    instance = DagsterInstance.ephemeral()
    _land(migrated_db, "crm_changes", "00-" + "0a" * 16 + "-" + "0b" * 8 + "-01")  # before the baseline
    _, cursor = _tick(migrated_db, None, instance)
    traces = ["%032x" % (i + 1) for i in range(12)]
    for i, trace in enumerate(traces):
        _land(migrated_db, "crm_changes" if i % 2 else "lead_activities", f"00-{trace}-{'1' * 16}-01")
    _land(migrated_db, "web_events", None)  # no trace: not counted
    req, _ = _tick(migrated_db, cursor, instance)
    assert isinstance(req, RunRequest)
    assert req.tags[TRACED_TAG] == "12"
    sample = req.tags[TRACE_IDS_TAG].split(",")
    assert len(sample) == 10 and set(sample) <= set(traces) and "0a" * 16 not in sample


def test_run_log_lines_are_json_with_the_run_id_and_its_traces(crm_home) -> None:
    """The handler the project's dagster.yaml gives every run writes its JSON lines."""
    import yaml
    from dagster._core.test_utils import instance_for_test

    from orchestration.instance import DAGSTER_YAML
    from orchestration.logs import RUN_LOG

    @op
    def step(context) -> None:
        context.log.info("working")

    @job
    def traced_job() -> None:
        step()

    trace = "ab" * 16
    with instance_for_test(
        overrides={"python_logs": yaml.safe_load(DAGSTER_YAML)["python_logs"]}
    ) as instance:
        result = traced_job.execute_in_process(
            instance=instance, tags={TRACED_TAG: "1", TRACE_IDS_TAG: trace}
        )
    text = (crm_home / "logs" / RUN_LOG).read_text()
    lines = [json.loads(line) for line in text.splitlines() if result.run_id in line]
    assert lines and all(line["run_id"] == result.run_id and line["service"] == "dagster" for line in lines)
    assert any(
        line["event"] == "log" and line["message"] == "working" and line["step"] == "step" for line in lines
    )
    ends = [line for line in lines if line["event"] in ("PIPELINE_START", "PIPELINE_SUCCESS")]
    assert len(ends) == 2 and all(line["trace_ids"] == [trace] for line in ends)
