"""Throwaway databases for tests: `scratch_database()` creates one on the configured server,
optionally migrates it, yields its URL and drops it afterwards.

The server is the one of DATABASE_URL (environment first, then `crm.settings`, which also
reads the local stack's `.crm/env`), else the build machines' 127.0.0.1:5432. Tests thus run
against whichever Postgres the developer points at (PG 15 there, embedded PG 18 locally).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """A libpq URL of the server tests should use (its database is only used to connect)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        from crm.settings import get_settings

        url = get_settings().database_url or DEFAULT_SERVER_URL
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@contextmanager
def scratch_database(prefix: str = "crm_test", *, migrate: bool = True) -> Iterator[str]:
    """Create `<prefix>_<random>`, migrate it to head unless `migrate=False`, yield its URL
    (libpq form; `crm.db` turns it into whatever it needs), then drop it (WITH FORCE)."""
    admin = server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin, name)
    try:
        if migrate:
            from crm.migrate import upgrade

            upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
