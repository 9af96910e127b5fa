"""Resources, configured from the environment (`EnvVar`): the same code runs against the local
stack (`eval "$(crm env)"` or `make dagster`, which exports it) and production."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
from typing import Any

import psycopg
from dagster import ConfigurableResource, EnvVar
from dagster_dbt import DbtCliResource
from packaging.version import Version
from sqlalchemy import Engine

from crm import audit, db
from warehouse import dbt as warehouse

from .project import dbt_project


class PostgresResource(ConfigurableResource):
    """The CRM Postgres (any driver prefix; crm.db normalizes it)."""

    database_url: str

    @property
    def url(self) -> str:
        """libpq form (what `ml` and psycopg take)."""
        return db.libpq_url(self.database_url)

    def engine(self) -> Engine:
        return db.get_engine(db.sqlalchemy_url(self.database_url))

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with db.connect(self.database_url) as conn:
            yield conn

    def scalar(self, sql: str, params: dict | None = None):
        with self.connect() as conn:
            row = conn.execute(sql, params or {}).fetchone()
            return row[0] if row else None

    def fetchall(self, sql: str, params: dict | None = None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params or {}).fetchall()

    def relation_exists(self, qualified: str) -> bool:
        return bool(self.scalar("select to_regclass(%(r)s) is not null", {"r": qualified}))

    def export_env(self) -> None:
        """DATABASE_URL and the libpq variables dbt's profile reads, for child processes (dbt)."""
        os.environ["DATABASE_URL"] = self.database_url
        os.environ.update(db.pg_env(self.database_url))
        os.environ.update(warehouse.DBT_SESSION_ENV)


@contextmanager
def named_run(context: Any) -> Iterator[None]:
    """While a step writes: the process's connections carry the run's job as their
    `application_name` (PGAPPNAME: what `pg_stat_activity` shows and the job-write audit rows
    name, `crm.audit.record_job_write`) and the run id (`crm.audit.RUN_ID_ENV`)."""
    named = {"PGAPPNAME": f"dagster {context.job_name}"[:63], audit.RUN_ID_ENV: context.run_id}
    saved = {k: os.environ.get(k) for k in named}
    os.environ.update(named)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class DbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without two things it does before every dbt command that
    this project never uses, each costing seconds (more on a busy machine) on every
    event-driven refresh: `dbt --version` in a subprocess (the version is the installed
    package's, the one the `dbt` next to this interpreter runs) and a dbt adapter built in this
    process (only for row counts and column metadata, which the assets do not fetch).
    tests/orchestration/test_dbt_resource.py holds the overridden members to the installed
    dagster-dbt."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None


def build_resources() -> dict[str, object]:
    from .event_window import EventWindow

    postgres = PostgresResource(database_url=EnvVar("DATABASE_URL"))
    # a run-level setting, not a connection: the new-events sensor sets it per run
    resources: dict[str, object] = {"postgres": postgres, "event_window": EventWindow()}
    if dbt_project is not None:
        resources["dbt"] = DbtCli(
            project_dir=os.fspath(dbt_project.project_dir),
            profiles_dir=os.fspath(dbt_project.profiles_dir),
            dbt_executable=warehouse.dbt_executable(),
        )
    return resources
