"""Resources, configured from the environment (`EnvVar`): the same code runs against the local
stack (`eval "$(crm env)"` or `make dagster`, which exports it) and production."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource, EnvVar
from dagster_dbt import DbtCliResource
from sqlalchemy import Engine

from crm import db
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


def build_resources() -> dict[str, object]:
    postgres = PostgresResource(database_url=EnvVar("DATABASE_URL"))
    resources: dict[str, object] = {"postgres": postgres}
    if dbt_project is not None:
        resources["dbt"] = DbtCliResource(project_dir=dbt_project, dbt_executable=warehouse.dbt_executable())
    return resources
