"""Production run storage: a DAGSTER_HOME whose dagster.yaml keeps runs, events and schedules in
Postgres (dagster-postgres, with the `scheme: postgresql+psycopg2` the README documents) records
runs and materializations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dagster import DagsterInstance, asset, materialize
from sqlalchemy.engine import make_url


def test_dagster_postgres_run_storage(create_database: Callable[[str], str], tmp_path: Path) -> None:
    u = make_url(create_database("dagster_storage"))
    (tmp_path / "dagster.yaml").write_text(
        f"""telemetry:
  enabled: false
storage:
  postgres:
    postgres_db:
      hostname: {u.host}
      port: {u.port or 5432}
      username: {u.username}
      password: "{u.password or ""}"
      db_name: {u.database}
      scheme: postgresql+psycopg2
"""
    )

    @asset
    def probe() -> int:
        return 1

    with DagsterInstance.from_config(str(tmp_path)) as instance:
        result = materialize([probe], instance=instance)
        assert result.success
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        stored = instance.get_run_by_id(result.run_id)
        assert stored is not None and stored.is_success
        assert instance.get_latest_materialization_event(probe.key) is not None
