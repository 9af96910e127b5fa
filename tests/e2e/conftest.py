"""End-to-end fixtures: a scale-S world in its own database, the API as a real uvicorn process on
it, and a lander worker: writes go API -> outbox -> relay -> Kafka -> lander -> raw.* -> dbt,
the way they do on the stack. The API's and the lander's test kits are reused as they are."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / kit) for kit in ("api", "streaming")]

from api_testkit import JWT_SECRET, start_api, stop_api  # noqa: E402
from streaming_harness import Lander  # noqa: E402


@dataclass
class Stack:
    url: str
    api: httpx.Client
    headers: dict[str, str]
    tenant: uuid.UUID
    lander: Lander

    def sql(self, query: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def world(create_database: Callable[[str], str]) -> str:
    from crm import migrate
    from sim import seed_world

    url = create_database("crm_e2e")
    migrate.upgrade(url)
    seed_world(scale="S", seed=42, database_url=url, sink="raw", progress=False)
    return url


@pytest.fixture(scope="module")
def stack(
    world: str, kafka_bootstrap: str, crm_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    from api.core.auth import mint_token
    from api.core.config import ApiSettings
    from crm.events import TOPICS, ensure_topics
    from crm.settings import Settings

    class TestApiSettings(ApiSettings):
        @property
        def core(self) -> Settings:
            return Settings(jwt_secret=JWT_SECRET)

    with psycopg.connect(world) as conn:
        tenant, admin = conn.execute(
            "select tenant_id, id from crm.users where role = 'admin' order by tenant_id, id limit 1"
        ).fetchone()
    tag = uuid.uuid4().hex[:8]
    lander = Lander(
        world, kafka_bootstrap, f"e2e{tag}.", f"e2e-lander-{tag}", tenant, tmp_path_factory.mktemp("lander")
    )
    asyncio.run(ensure_topics(kafka_bootstrap, topics=[lander.topic(t) for t in TOPICS]))
    lander.worker().wait_ready()
    proc, api_url = start_api(world, crm_home)
    token = mint_token(TestApiSettings(), admin, tenant, ["admin"])
    try:
        with httpx.Client(base_url=api_url, timeout=30) as client:
            yield Stack(world, client, {"Authorization": f"Bearer {token}"}, tenant, lander)
    finally:
        stop_api(proc)
        for w in lander.workers:
            w.stop()
