"""The Dagster import job: the same import as `crm import`, launched with the op's config; a file
with a bad row fails the run with the rows named, and writes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg

from orchestration.imports import import_job
from orchestration.resources import PostgresResource


def _run(pg_url: str, f: Path, tenant: str):
    return import_job.execute_in_process(
        run_config={
            "ops": {
                "import_files": {
                    "config": {
                        "format": "transactions",
                        "paths": [str(f.parent)],
                        "tenant": tenant,
                        "create_tenant": "Shop",
                        "columns": {"customer": "who"},
                    }
                }
            }
        },
        resources={"postgres": PostgresResource(database_url=pg_url)},
        raise_on_error=False,
    )


def test_the_import_job_imports_and_a_bad_file_fails_it(pg_url: str, tmp_path: Path) -> None:
    tenant = f"job-{uuid.uuid4().hex[:8]}"
    f = tmp_path / "orders.csv"
    f.write_text("who,timestamp,amount\nc1,2022-05-01,12.5\nc2,2022-05-02,3\n")
    assert _run(pg_url, f, tenant).success
    with psycopg.connect(pg_url) as conn:
        n = conn.execute(
            "SELECT count(*) FROM crm.deals d JOIN crm.tenants t ON t.id = d.tenant_id WHERE t.slug = %s",
            (tenant,),
        ).fetchone()
    assert n == (2,)
    f.write_text("who,timestamp,amount\nc1,2022-05-01,12.5\nc3,someday,3\n")
    failed = _run(pg_url, f, tenant)
    assert not failed.success
    failure = failed.failure_data_for_node("import_files")
    assert failure is not None
    assert failure.error is not None and "1 bad rows, nothing written" in failure.error.message
    with psycopg.connect(pg_url) as conn:
        status = conn.execute(
            "SELECT r.status, r.bad_rows->0->>'line' FROM crm.import_runs r JOIN crm.tenants t ON t.id = r.tenant_id"
            " WHERE t.slug = %s ORDER BY r.started_at DESC LIMIT 1",
            (tenant,),
        ).fetchone()
    assert status == ("rejected", "3")
