"""Migrations: up, down to base, up again; each step on its own; concurrent upgrades; grants;
and `crm.schema.tables` agreeing with what the migrations build.

Runs on a fresh database on the DATABASE_URL server (else 127.0.0.1:5432), dropped after.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from alembic.script import ScriptDirectory

from crm import migrate
from crm.schema import tables as t
from crm.schema.testing import scratch_database

ROLES = ("crm_api", "crm_lander", "crm_transform", "crm_ml", "crm_reader", "crm_sim")


@pytest.fixture
def empty_db() -> Iterator[str]:
    with scratch_database("crm_schema_mig", migrate=False) as url:
        yield url


def _scalar(url: str, query: str, *params: object) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def _our_schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(t.SCHEMAS),))
        return {r[0] for r in rows}


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    assert migrate.current(empty_db) is None
    migrate.upgrade(empty_db)
    assert migrate.current(empty_db) == migrate.head()
    assert _our_schemas(empty_db) == set(t.SCHEMAS)
    migrate.upgrade(empty_db)  # idempotent

    migrate.downgrade(empty_db)
    assert migrate.current(empty_db) is None
    assert _our_schemas(empty_db) == set()
    assert _scalar(empty_db, "SELECT count(*) FROM pg_proc WHERE proname = 'set_updated_at'") == 0
    assert _scalar(empty_db, "SELECT count(*) FROM pg_type WHERE typname = 'lead_status'") == 0
    assert _scalar(empty_db, "SELECT count(*) FROM pg_default_acl") == 0
    # roles are cluster-wide and stay
    assert _scalar(empty_db, "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", list(ROLES)) == len(
        ROLES
    )

    migrate.upgrade(empty_db)
    assert migrate.current(empty_db) == migrate.head()
    assert migrate.diff(empty_db) == []


def test_each_revision_up_and_down(empty_db: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[0] == "0001_crm_core" and len(revisions) >= 3
    for rev in revisions:
        migrate.upgrade(empty_db, rev)
        assert migrate.current(empty_db) == rev
    for rev in reversed(revisions[:-1]):
        migrate.downgrade(empty_db, "-1")
        assert migrate.current(empty_db) == rev
    migrate.downgrade(empty_db, "-1")
    assert migrate.current(empty_db) is None


def test_concurrent_upgrades_serialise(empty_db: str) -> None:
    """Services starting together each call upgrade(): the advisory lock makes that safe."""
    code = "import sys; from crm import migrate; migrate.upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, empty_db], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0], results
    assert migrate.current(empty_db) == migrate.head()


def test_metadata_matches_database_and_diff_sees_drift(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    assert migrate.diff(empty_db) == []
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("DROP INDEX crm.ix_leads_tenant_id_score")
        conn.execute("ALTER TABLE crm.deals ALTER COLUMN currency SET DEFAULT 'EUR'")
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in migrate.diff(empty_db)}
    assert "add_index" in kinds
    assert "modify_default" in kinds


def test_grants_follow_the_one_writer_per_schema_rule(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    checks = {
        ("crm_api", "crm.leads", "INSERT"): True,
        ("crm_api", "crm.outbox", "UPDATE"): True,
        ("crm_sim", "crm.leads", "INSERT"): True,
        ("crm_transform", "crm.leads", "SELECT"): True,
        ("crm_transform", "crm.leads", "INSERT"): False,
        ("crm_lander", "raw.tickets", "INSERT"): True,
        ("crm_lander", "raw.tickets", "UPDATE"): False,
        ("crm_lander", "raw.dead_letters", "INSERT"): True,
        ("crm_lander", "crm.tenants", "SELECT"): True,
        ("crm_lander", "crm.leads", "SELECT"): False,
        ("crm_transform", "raw.web_events", "SELECT"): True,
        ("crm_api", "raw.tickets", "INSERT"): False,
        ("crm_reader", "crm.leads", "SELECT"): False,
        # rescore requests: the API asks and reads, the ML jobs move them along
        ("crm_api", "crm.lead_rescore_requests", "INSERT"): True,
        ("crm_api", "crm.lead_rescore_requests", "UPDATE"): False,
        ("crm_api", "crm.lead_rescore_requests", "DELETE"): False,
        ("crm_ml", "crm.lead_rescore_requests", "UPDATE"): True,
        ("crm_ml", "crm.lead_rescore_requests", "INSERT"): False,
        ("crm_ml", "crm.leads", "SELECT"): False,
    }
    with psycopg.connect(empty_db) as conn:
        for (role, table, priv), expected in checks.items():
            got = conn.execute("SELECT has_table_privilege(%s, %s, %s)", (role, table, priv)).fetchone()[0]
            assert got is expected, (role, table, priv)
        for role, schema, priv, expected in [
            ("crm_ml", "ml", "CREATE", True),
            ("crm_transform", "analytics", "CREATE", True),
            ("crm_transform", "staging", "CREATE", True),
            ("crm_reader", "analytics", "USAGE", True),
            ("crm_api", "analytics", "CREATE", False),
        ]:
            got = conn.execute("SELECT has_schema_privilege(%s, %s, %s)", (role, schema, priv)).fetchone()[0]
            assert got is expected, (role, schema, priv)
        # a table a later migration adds to ml is writable by crm_ml at once (default privileges)
        conn.execute("CREATE TABLE ml.probe (id int)")
        assert conn.execute("SELECT has_table_privilege('crm_ml', 'ml.probe', 'INSERT')").fetchone()[0]
        assert conn.execute("SELECT has_table_privilege('crm_reader', 'ml.probe', 'SELECT')").fetchone()[0]
        conn.rollback()


def test_stored_segment_criteria_follow_the_health_risk_level_rename(empty_db: str) -> None:
    """Criteria saved with the field `risk_level` (the health band's old name) still compile
    after the upgrade, nested anywhere; other fields and values are left alone; down restores."""
    import json

    from warehouse.segments import validate_criteria

    migrate.upgrade(empty_db, "1001_churn_risk_level")
    old = {
        "all": [
            {"field": "risk_level", "op": "in", "value": ["high", "critical"]},
            {"not": {"field": "company", "op": "eq", "value": "risk_level"}},
        ]
    }
    with psycopg.connect(empty_db, autocommit=True) as conn:
        tenant = conn.execute(
            "INSERT INTO crm.tenants (slug, name) VALUES ('t', 'T') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO crm.customer_segments (tenant_id, name, criteria) VALUES (%s, 'at risk', %s)",
            (tenant, json.dumps(old)),
        )
    migrate.upgrade(empty_db)
    new = _scalar(empty_db, "SELECT criteria FROM crm.customer_segments")
    assert new == {
        "all": [
            {"field": "health_risk_level", "op": "in", "value": ["high", "critical"]},
            {"not": {"field": "company", "op": "eq", "value": "risk_level"}},
        ]
    }
    validate_criteria(new)
    migrate.downgrade(empty_db, "1001_churn_risk_level")
    assert _scalar(empty_db, "SELECT criteria FROM crm.customer_segments") == old
