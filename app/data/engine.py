"""The dashboards' database connection: always the read-only, non-owner role `crm_reader`.

Row-level security on the marts and ML tables applies only to non-owners, so the app never
connects as the database owner. The URL is `CRM_READER_DATABASE_URL` when set, else the
configured `DATABASE_REPLICA_URL` (a read replica), else `DATABASE_URL`, with the user swapped
for `crm_reader` and the password taken from `CRM_READER_DB_PASSWORD` (the embedded Postgres
trusts loopback and needs none). The dashboards only read, so a hot standby serves them whole.
"""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, text

from crm.db import role_url, sqlalchemy_url
from crm.settings import get_settings

READER_ROLE = "crm_reader"


def reader_url(url: str | None = None) -> str:
    """SQLAlchemy URL (psycopg 3) for the reader role."""
    explicit = os.environ.get("CRM_READER_DATABASE_URL")
    if explicit:
        return sqlalchemy_url(explicit)
    password = os.environ.get("CRM_READER_DB_PASSWORD") or None
    if url is None:
        url = get_settings().database_replica_url
    return sqlalchemy_url(role_url(READER_ROLE, url, password=password))


def make_reader_engine(url: str | None = None) -> Engine:
    """A small pool: Streamlit runs each session's script in its own thread."""
    return create_engine(
        reader_url(url),
        pool_size=4,
        max_overflow=4,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"application_name": "crm-dashboards", "connect_timeout": 10},
    )


class UnsafeRole(RuntimeError):
    """The configured reader bypasses row-level security: refusing to show any tenant's data."""


def assert_restricted(engine: Engine) -> None:
    """Refuse a superuser or BYPASSRLS login (e.g. a misconfigured CRM_READER_DATABASE_URL):
    with it one tenant could see another's rows."""
    with engine.connect() as conn:
        row = conn.execute(
            text("select current_user, rolsuper, rolbypassrls from pg_roles where rolname = current_user")
        ).one()
    if row.rolsuper or row.rolbypassrls:
        raise UnsafeRole(f"role {row.current_user} bypasses row-level security; connect as {READER_ROLE}")
