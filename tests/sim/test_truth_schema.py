"""The simulator's hidden truth lives outside the production migrations: a migrated database has
no `sim_truth`; the simulator creates it (idempotently), writable by its role alone."""

from __future__ import annotations

import uuid

import psycopg

from crm.schema.testing import scratch_database
from sim.truth import ensure_truth_schema


def test_truth_schema_is_created_by_the_simulator_only() -> None:
    with scratch_database("sim_truth_schema") as url, psycopg.connect(url, autocommit=True) as conn:
        has = "select count(*) from pg_namespace where nspname = 'sim_truth'"
        assert conn.execute(has).fetchone()[0] == 0, "the migrations must not create sim_truth"
        ensure_truth_schema(conn)
        ensure_truth_schema(conn)  # idempotent
        conn.execute(
            "insert into sim_truth.lead_truth (lead_id, tenant_id, propensity, converted) values (%s, %s, 0.3, false)",
            (uuid.uuid4(), uuid.uuid4()),
        )
        run = conn.execute(
            "insert into sim_truth.world_runs (seed, scale, as_of) values (42, 'S', now()) returning id"
        ).fetchone()[0]
        assert isinstance(run, uuid.UUID)
        privilege = "select has_table_privilege(%s, 'sim_truth.lead_truth', %s)"
        assert conn.execute(privilege, ("crm_sim", "INSERT")).fetchone()[0]
        assert not conn.execute(privilege, ("crm_transform", "SELECT")).fetchone()[0]
        assert not conn.execute(privilege, ("crm_ml", "SELECT")).fetchone()[0]
        assert not conn.execute(
            "select has_schema_privilege('crm_transform', 'sim_truth', 'USAGE')"
        ).fetchone()[0]
