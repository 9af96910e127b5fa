"""Per-tenant retention: each tenant's policy deletes its own old rows only (raw events, the
outbox rows every consumer passed), a dry run deletes nothing, every run leaves one audit row
per tenant, and the daily Dagster job runs the same code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from crm.privacy import policies, retention

NOW = datetime(2026, 11, 1, tzinfo=UTC)
OLD, NEW = NOW - timedelta(days=400), NOW - timedelta(days=5)


def _tenant(conn: psycopg.Connection) -> str:
    tid = str(uuid.uuid4())
    conn.execute("insert into crm.tenants (id, slug, name) values (%s, %s, 'Kept')", (tid, f"ret-{tid[:8]}"))
    for table in ("lead_activities", "tickets", "conversations"):
        for at in (OLD, NEW):
            conn.execute(
                f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at, source, payload)"
                " values (%s, %s, 'x', 1, %s, 'test', '{}')",
                (uuid.uuid4(), tid, at),
            )
    for at, sent, dead in ((OLD, True, False), (OLD, False, False), (OLD, True, True), (NEW, True, False)):
        conn.execute(
            "insert into crm.outbox (event_id, tenant_id, topic, key, event_type, payload, created_at, sent_at, dead_at)"
            " values (%s, %s, 'crm-changes', 'k', 'crm.lead.updated', '{}', %s, %s, %s)",
            (uuid.uuid4(), tid, at, at if sent else None, at if dead else None),
        )
    return tid


def _count(conn: psycopg.Connection, table: str, tid: str) -> int:
    row = conn.execute(f"select count(*) from {table} where tenant_id = %s", (tid,)).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def two_tenants(migrated_db: str) -> tuple[str, str, str]:
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        short, kept = _tenant(conn), _tenant(conn)
        for entity in policies.DEFAULTS:
            policies.set_policy(conn, short, entity, 30)
            policies.set_policy(conn, kept, entity, None)
    return migrated_db, short, kept


def test_a_tenants_policy_deletes_its_old_rows_and_no_other_tenants(
    two_tenants: tuple[str, str, str],
) -> None:
    db, short, kept = two_tenants
    dry = {r.tenant_id: r for r in retention.run(db, dry_run=True, now=NOW)}
    assert dry[short].counts["raw_events"]["raw.lead_activities"] == 1
    assert dry[short].counts["tickets"]["raw.tickets"] == 1
    assert dry[short].counts["conversations"]["raw.conversations"] == 1
    assert dry[short].counts["outbox"]["crm.outbox"] == 1  # sent, not dead, old
    assert dry[kept].counts == {}
    with psycopg.connect(db) as conn:
        assert _count(conn, "raw.lead_activities", short) == 2  # a dry run deletes nothing

    done = {r.tenant_id: r for r in retention.run(db, dry_run=False, now=NOW)}
    assert done[short].counts == dry[short].counts
    with psycopg.connect(db) as conn:
        for table in ("raw.lead_activities", "raw.tickets", "raw.conversations"):
            assert _count(conn, table, short) == 1
            assert _count(conn, table, kept) == 2
        assert _count(conn, "crm.outbox", short) == 3  # the unsent, the dead and the new one stay
        assert _count(conn, "crm.outbox", kept) == 4
        audit = conn.execute(
            "select tenant_id::text, action, actor_type, after -> 'total' from crm.audit_log"
            " where entity = 'retention_policies' order by id"
        ).fetchall()
    assert sorted(audit) == sorted(
        [
            (short, "retention_dry_run", "system", 4),
            (kept, "retention_dry_run", "system", 0),
            (short, "retention_applied", "system", 4),
            (kept, "retention_applied", "system", 0),
        ]
    )


def test_an_outbox_row_waits_for_every_consumer_cursor(two_tenants: tuple[str, str, str]) -> None:
    db, short, _ = two_tenants
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "insert into crm.webhook_cursors (tenant_id, consumer, settled_id) values (%s, 'campaigns', 0)",
            (short,),
        )
        assert retention.run(db, dry_run=False, now=NOW, tenant=short)[0].counts["outbox"]["crm.outbox"] == 0
        conn.execute("update crm.webhook_cursors set settled_id = 1000000 where tenant_id = %s", (short,))
        assert retention.run(db, dry_run=False, now=NOW, tenant=short)[0].counts["outbox"]["crm.outbox"] == 1


def test_defaults_apply_without_a_row_and_keep_raw_forever(migrated_db: str) -> None:
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        tid = _tenant(conn)
        assert policies.effective(conn, tid) == policies.DEFAULTS
        with pytest.raises(ValueError, match="unknown entity"):
            policies.set_policy(conn, tid, "everything", 1)
    (result,) = retention.run(migrated_db, dry_run=False, now=NOW, tenant=tid)
    assert "raw_events" not in result.counts and result.counts["outbox"]["crm.outbox"] == 1


def test_the_daily_job_runs_the_same_code_in_a_dry_run(two_tenants: tuple[str, str, str]) -> None:
    """(That the job and its schedule are in the Definitions: tests/orchestration/test_definitions.py,
    which builds the dbt manifest the Definitions load first.)"""
    from orchestration.resources import PostgresResource
    from orchestration.retention import retention_job, retention_schedule

    assert retention_schedule.cron_schedule == "30 2 * * *" and retention_schedule.job_name == "retention"
    db, short, _ = two_tenants
    result = retention_job.execute_in_process(
        resources={"postgres": PostgresResource(database_url=db)},
        run_config={"ops": {"apply_retention_policies": {"config": {"dry_run": True}}}},
    )
    assert result.success
    out = result.output_for_node("apply_retention_policies")
    assert out["dry_run"] is True
    with psycopg.connect(db) as conn:
        assert _count(conn, "raw.lead_activities", short) == 2
        assert conn.execute(
            "select count(*) from crm.audit_log where tenant_id = %s and action = 'retention_dry_run'",
            (short,),
        ).fetchone() == (1,)
