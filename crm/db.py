"""Database access: URLs, SQLAlchemy engines and psycopg connections, all from `Settings`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

from crm.settings import get_settings


class DatabaseNotConfigured(RuntimeError):
    """Neither DATABASE_URL nor a running local stack (`crm up`) gives a database."""


def database_url(url: str | None = None) -> str:
    """The configured URL, or raise with a hint on how to get one."""
    url = url or get_settings().database_url
    if not url:
        raise DatabaseNotConfigured("DATABASE_URL is not set and no local stack is running: run `crm up`")
    return url


def sqlalchemy_url(url: str | None = None) -> str:
    """The URL with the psycopg 3 driver, whatever scheme it was given with."""
    u = make_url(database_url(url))
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str | None = None) -> str:
    """The URL as libpq (psycopg, psql) takes it."""
    u = make_url(database_url(url))
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def url_of(conn: psycopg.Connection[Any]) -> str:
    """The libpq URL of the database and role an open connection is on (its password
    included), to open another connection there."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(conn.info.dsn, password=conn.info.password or None)


def role_url(role: str, url: str | None = None, *, password: str | None = None) -> str:
    """libpq URL of the database (`url`, else the configured one) logged in as `role`.

    The API and the dashboards connect as roles that own no table, so row-level security
    applies to them; both derive their URL here from the one configured for the owner.
    `password` None leaves it out (the local stack trusts loopback): never the owner's."""
    u = make_url(database_url(url))
    as_role = URL.create("postgresql", role, password, u.host, u.port, u.database, u.query)
    return as_role.render_as_string(hide_password=False)


def make_engine(url: str | None = None, **kwargs) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(sqlalchemy_url(url), **kwargs)


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """A cached engine per URL (None: the configured one)."""
    return make_engine(url)


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A plain psycopg 3 connection (COPY, bulk work)."""
    return psycopg.connect(libpq_url(url), **kwargs)


def pg_env(url: str | None = None) -> dict[str, str]:
    """PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE for tools that read libpq variables (dbt's profile)."""
    u = make_url(database_url(url))
    env = {
        "PGHOST": u.host or "127.0.0.1",
        "PGPORT": str(u.port or 5432),
        "PGUSER": u.username or "postgres",
        "PGDATABASE": u.database or "postgres",
    }
    if u.password:
        env["PGPASSWORD"] = u.password
    return env


def _mac_or_blank(tenant_id: object, nonce: str) -> str:
    from crm.security import TenantContextNotConfigured, tenant_mac

    try:
        return tenant_mac(tenant_id, nonce)
    except TenantContextNotConfigured:
        return ""  # roles that see every tenant need no signature; restricted ones are refused


def enter_tenant(conn: Any, tenant_id: object) -> None:
    """Name the tenant of the current transaction of a SQLAlchemy connection, signed for its
    session (`crm.security.SET_TENANT`): what row-level security lets a restricted role
    (crm_api, crm_reader) see. The session's nonce is asked once per pooled connection."""
    from sqlalchemy import text

    from crm.security import SESSION_NONCE, TENANT_MAC_SETTING, TENANT_SETTING

    info = conn.connection.info
    nonce = info.get("crm_session_nonce")
    if nonce is None:
        nonce = info["crm_session_nonce"] = conn.execute(text(SESSION_NONCE)).scalar_one()
    conn.execute(
        text(
            f"select set_config('{TENANT_SETTING}', :t, true), set_config('{TENANT_MAC_SETTING}', :m, true)"
        ),
        {"t": str(tenant_id), "m": _mac_or_blank(tenant_id, nonce)},
    )


def enter_tenant_pg(conn: psycopg.Connection[Any], tenant_id: object) -> None:
    """`enter_tenant` for a plain psycopg connection (asks the nonce each time)."""
    from crm.security import SESSION_NONCE, SET_TENANT

    row = conn.execute(SESSION_NONCE).fetchone()
    assert row is not None
    nonce = row[0] if isinstance(row, tuple) else next(iter(row.values()))
    conn.execute(SET_TENANT, (str(tenant_id), _mac_or_blank(tenant_id, nonce)))
