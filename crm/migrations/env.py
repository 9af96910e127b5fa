"""Alembic environment: URL from the caller or from `crm.settings`, one advisory lock per run.

The URL is, in order: `config.attributes["connection"]` (an open SQLAlchemy connection),
`config.attributes["sqlalchemy.url"]`, the `sqlalchemy.url` main option, then
`crm.db.sqlalchemy_url()` (DATABASE_URL or the local stack). A session advisory lock makes
concurrent `upgrade()` calls (API and lander starting together) run one after the other.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from crm.db import sqlalchemy_url
from crm.migrate import MIGRATION_LOCK_KEY, include_name
from crm.schema.tables import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("sqlalchemy.url") or config.get_main_option("sqlalchemy.url")
    return sqlalchemy_url(url or None)


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=metadata,
        include_schemas=True,
        include_name=include_name,
        compare_server_default=True,
        transaction_per_migration=True,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
    connection.commit()
    try:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()
    except BaseException:
        if connection.in_transaction():
            connection.rollback()
        raise
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
        connection.commit()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
