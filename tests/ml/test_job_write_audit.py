"""Jobs' bulk writes are audited: one `job.write` row per tenant with its row count, in the
write's transaction, naming the job (the connection's application_name) and its run; the ML
role may append those rows and nothing else, and cannot read the log."""

from __future__ import annotations

import uuid
from datetime import date

import polars as pl
import psycopg
import pytest

from crm.audit import RUN_ID_ENV
from ml import store

TABLE = "ml.revenue_forecasts"


def _tenants(url: str, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    with psycopg.connect(url, autocommit=True) as conn:
        for t in ids:
            conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'j')", (t, f"j-{t[:8]}"))
    return ids


def _forecasts(rows: dict[str, int]) -> pl.DataFrame:
    run = str(uuid.uuid4())
    return pl.DataFrame(
        [
            {
                "tenant_id": tenant,
                "run_id": run,
                "kind": "pipeline",
                "period_start": date(2026, 1 + i, 1),
                "period": "month",
                "yhat": 100.0 * (i + 1),
                "model_version": "test",
            }
            for tenant, n in rows.items()
            for i in range(n)
        ]
    )


def _audit(url: str, tenants: list[str]) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT tenant_id::text, actor_type, entity, after, request_id FROM crm.audit_log"
            " WHERE action = 'job.write' AND tenant_id = ANY(%s::uuid[]) ORDER BY tenant_id",
            (tenants,),
        ).fetchall()


def test_a_jobs_write_records_its_rows_per_tenant_as_the_ml_role(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = _tenants(migrated_db, 3)
    monkeypatch.setenv("PGAPPNAME", "dagster weekly_retrain")
    monkeypatch.setenv(RUN_ID_ENV, "run-42")
    as_ml = f"{migrated_db}?options=-crole%3Dcrm_ml"  # the role cannot log in: the owner becomes it
    # as the ML role, row-level security applies: the rows go through a temporary table
    assert store.append(as_ml, TABLE, _forecasts({a: 3, b: 2})) == 5
    assert store.replace_tenants(as_ml, TABLE, _forecasts({a: 3})) == 3
    with psycopg.connect(migrated_db) as conn:
        stored = dict(
            conn.execute(
                f"SELECT tenant_id::text, count(*) FROM {TABLE} WHERE tenant_id = ANY(%s::uuid[]) GROUP BY 1",
                ([a, b],),
            ).fetchall()
        )
    assert stored == {a: 3, b: 2}  # a's three replaced, b's two kept

    got = [(t, actor, entity, after, run) for t, actor, entity, after, run in _audit(migrated_db, [a, b, c])]
    expected = [
        (tenant, "system", TABLE, {"job": "dagster weekly_retrain", "rows": n, "mode": mode}, "run-42")
        for tenant, n, mode in ((a, 3, "append"), (a, 3, "replace"), (b, 2, "append"))
    ]
    assert sorted(got, key=str) == sorted(expected, key=str)  # c had no rows written

    # the role appends its job rows and nothing else, and reads none
    with psycopg.connect(as_ml) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM crm.audit_log").fetchone()
    # row-level security: not a job row
    with psycopg.connect(as_ml) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO crm.audit_log (tenant_id, actor_type, action, entity)"
            " VALUES (%s, 'user', 'lead_deleted', 'leads')",
            (a,),
        )


def test_a_failed_write_leaves_no_audit_row_and_a_command_is_named_by_its_program(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (a,) = _tenants(migrated_db, 1)
    monkeypatch.delenv("PGAPPNAME", raising=False)
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    bad = _forecasts({a: 2}).with_columns(pl.lit("weekly").alias("period"))  # refused by a check
    with pytest.raises(psycopg.errors.CheckViolation):
        store.append(migrated_db, TABLE, bad)
    assert _audit(migrated_db, [a]) == []

    store.append(migrated_db, TABLE, _forecasts({a: 1}))
    [(_, _, _, after, run)] = _audit(migrated_db, [a])
    assert after["rows"] == 1 and after["mode"] == "append" and run is None
    assert after["job"] and not after["job"].startswith("dagster")  # the program that ran it
