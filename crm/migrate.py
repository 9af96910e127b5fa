"""Run the Alembic migrations from code: `upgrade()`, `downgrade()`, `current()`, `diff()`.

No alembic.ini is needed: the script location is the package folder `crm/migrations`, and the
URL is the one given, else `crm.settings` (DATABASE_URL or the local stack's `.crm/env`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from alembic.script import ScriptDirectory

from crm.db import make_engine, sqlalchemy_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

MIGRATION_LOCK_KEY = 7_311_042_001
"""pg_advisory_lock key held while migrations run (one migrator per database at a time)."""

MANAGED_SCHEMAS = frozenset({"crm", "raw", "ml", "staging", "intermediate", "analytics"})
"""Schemas the migrations create (kept here, not imported from crm.schema: env.py uses it)."""

TRIGGER_FUNCTIONS = ("crm.set_updated_at",)
"""Objects the migrations create that SQLAlchemy metadata does not describe."""


def include_name(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """Autogenerate filter: look only at our schemas (not public, where alembic_version is,
    nor anything else sharing the database)."""
    if type_ == "schema":
        return name in MANAGED_SCHEMAS
    if type_ == "table" and name and parent_names.get("schema_name") == "raw":
        from crm.schema.landing import is_partition

        return not is_partition(name)  # the months of a partitioned landing table
    return True


def alembic_config(url: str | None = None) -> Config:
    """A `Config` for `alembic.command.*`; `url` None means the configured database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.attributes["sqlalchemy.url"] = sqlalchemy_url(url)
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database up to `revision` (idempotent; concurrent callers wait their turn),
    then store the tenant context key of the environment (`sync_tenant_context_key`)."""
    command.upgrade(alembic_config(url), revision)
    sync_tenant_context_key(url)


def sync_tenant_context_key(url: str | None = None) -> bool:
    """Store TENANT_CONTEXT_KEY's derived keys in `crm_secret.tenant_context_keys` (migration
    1401), replacing what was there: restricted sessions are then signed with this key only.
    False (nothing done) without a key or before that migration."""
    from sqlalchemy import text

    from crm.security import context_keys
    from crm.settings import get_settings

    secret = get_settings().tenant_context_key
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.execute(text("SELECT to_regclass('crm_secret.tenant_context_keys')")).scalar() is None:
                return False
            if secret is None:
                log.warning("TENANT_CONTEXT_KEY is not set: the API and the dashboards cannot sign a tenant")
                return False
            ikey, okey = context_keys(secret.get_secret_value())
            conn.execute(text("DELETE FROM crm_secret.tenant_context_keys"))
            conn.execute(
                text("INSERT INTO crm_secret.tenant_context_keys (id, ikey, okey) VALUES (1, :i, :o)"),
                {"i": ikey, "o": okey},
            )
        return True
    finally:
        engine.dispose()


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Go down to `revision`. "base" drops every schema, table, type and function the upgrades
    created; the cluster-wide roles stay (other databases on the server may use them)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str | None = None) -> str | None:
    """The database's revision, or None when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision in `crm/migrations/versions`."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def diff(url: str | None = None) -> list[Any]:
    """Differences between `crm.schema.tables.metadata` and the database (alembic's
    autogenerate comparison, server defaults included); empty when they agree."""
    from alembic.autogenerate import compare_metadata

    from crm.schema.tables import metadata

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_name": include_name,
                    "compare_server_default": True,
                    "compare_type": True,
                    "target_metadata": metadata,
                },
            )
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()
