"""API fixtures: a seeded two-tenant world in the session database, the API started as a real
uvicorn process (connecting as `crm_api`), token minting, and owner-side SQL for assertions;
and a world whose marts dbt built and whose scores the ML jobs wrote, with its own API, for the
reads of marts and scores."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import scored_world
from api_testkit import JWT_SECRET, Tenant, seed_tenant, start_api, stop_api
from psycopg.rows import dict_row
from scored_world import ScoredWorld


@pytest.fixture(scope="session")
def tenants(pg_url: str) -> dict[str, Tenant]:
    suffix = uuid.uuid4().hex[:6]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return {"a": seed_tenant(conn, f"alpha-{suffix}"), "b": seed_tenant(conn, f"beta-{suffix}")}


@pytest.fixture(scope="session")
def api_url(pg_url: str, crm_home: Path, tenants: dict[str, Tenant], redis_url: str) -> Iterator[str]:
    proc, url = start_api(pg_url, crm_home)
    try:
        yield url
    finally:
        stop_api(proc)


@pytest.fixture(scope="session")
def jwt_settings():
    """API settings signing with the test secret (the process environment stays untouched)."""
    from api.core.config import ApiSettings
    from crm.settings import Settings

    class TestApiSettings(ApiSettings):
        @property
        def core(self) -> Settings:
            return Settings(jwt_secret=JWT_SECRET)

    return TestApiSettings()


@pytest.fixture(scope="session")
def token(jwt_settings) -> Callable[..., str]:
    from api.core.auth import mint_token

    def make(
        tenant: Tenant,
        role: str = "admin",
        ttl_s: int | None = None,
        roles: list[str] | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> str:
        return mint_token(
            jwt_settings, tenant.users[role], tenant_id or tenant.id, roles or [role.rstrip("2")], ttl_s
        )

    return make


@pytest.fixture(scope="session")
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def as_(client: httpx.Client, token, tenants) -> Callable[..., dict[str, str]]:
    """Headers for tenant key ('a'/'b') and role."""

    def headers(tenant: str = "a", role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {token(tenants[tenant], role)}"}

    return headers


@pytest.fixture(scope="session")
def owner_sql(pg_url: str) -> Callable[..., list[dict[str, Any]]]:
    """Run SQL as the owner (sees every tenant): for assertions only."""

    def run(query: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    return run


@pytest.fixture(scope="session")
def readable(pg_url: str) -> Callable[..., dict[str, Any]]:
    """A lead's or customer's row (or audit image) read as the owner, its personal values
    opened with the session database's tenant keys: for assertions only."""
    from crm.keys import personal
    from crm.keys.keyring import keyring

    def run(table: str, row: dict[str, Any]) -> dict[str, Any]:
        return personal.open_row(row["tenant_id"], table, row, keyring(pg_url))

    return run


@pytest.fixture(scope="session")
def world(create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> ScoredWorld:
    """A seeded world whose marts dbt built and whose scores the ML jobs wrote
    (tests/api/scored_world.py): what the reads of the marts and the scores run against."""
    from crm import migrate

    url = create_database("crm_api_world")
    migrate.upgrade(url)
    return scored_world.build(url, tmp_path_factory.mktemp("dbt-target-api"))


@pytest.fixture(scope="session")
def world_url(world: ScoredWorld, crm_home: Path, redis_url: str) -> Iterator[str]:
    """The API, a real uvicorn process, over the scored world (its models under CRM_HOME)."""
    proc, url = start_api(world.url, crm_home)
    try:
        yield url
    finally:
        stop_api(proc)


@pytest.fixture(scope="session")
def world_client(world_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def world_as(world: ScoredWorld, jwt_settings) -> Callable[..., dict[str, str]]:
    """Headers of a user of a world tenant, with the roles asked for (default admin)."""
    from api.core.auth import mint_token

    def headers(tenant: str, *roles: str, user: str | None = None) -> dict[str, str]:
        uid = uuid.UUID(user or world.users[tenant])
        token = mint_token(jwt_settings, uid, uuid.UUID(tenant), list(roles or ("admin",)))
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture(scope="session")
def world_sql(world: ScoredWorld) -> Callable[..., list[dict[str, Any]]]:
    """SQL as the owner of the world's database (every tenant): for expected values only."""

    def run(query: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(world.url, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    return run
