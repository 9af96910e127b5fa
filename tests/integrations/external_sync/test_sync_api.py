"""The integrations API over HTTP (a real uvicorn API process): a connection with write-only
credentials, a run queued with 202 and carried out by the due-run pass, the log and the queue."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from standins.hubspot import TOKEN, Running

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "api"))
from api_testkit import JWT_SECRET, start_api, stop_api

from integrations.external_sync.engine import run_due


@pytest.fixture
def admin_and_analyst(pg_url: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    tenant, admin, analyst = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'Sync API')",
            (tenant, f"s-{tenant.hex[:8]}"),
        )
        for uid, role in ((admin, "admin"), (analyst, "analyst")):
            conn.execute(
                "INSERT INTO crm.users (id, tenant_id, email, role) VALUES (%s, %s, %s, %s)",
                (uid, tenant, f"{role}@{tenant.hex[:8]}.test", role),
            )
    return tenant, admin, analyst


@pytest.fixture
def api(pg_url: str, crm_home: Path) -> Iterator[httpx.Client]:
    proc, url = start_api(
        pg_url, crm_home, {"CRM_SYNC_CREDENTIALS_KEY": os.environ["CRM_SYNC_CREDENTIALS_KEY"]}
    )
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        stop_api(proc)


def _headers(tenant: uuid.UUID, user: uuid.UUID, role: str) -> dict[str, str]:
    from api.core.auth import mint_token
    from api.core.config import ApiSettings
    from crm.settings import Settings

    class TestApiSettings(ApiSettings):
        @property
        def core(self) -> Settings:
            return Settings(jwt_secret=JWT_SECRET)

    return {"Authorization": f"Bearer {mint_token(TestApiSettings(), user, tenant, [role])}"}


def test_connections_runs_and_the_queue_over_http(
    pg_url: str,
    api: httpx.Client,
    hubspot: Running,
    admin_and_analyst: tuple[uuid.UUID, uuid.UUID, uuid.UUID],
) -> None:
    tenant, admin, analyst = admin_and_analyst
    h = _headers(tenant, admin, "admin")
    body = {"provider": "hubspot", "credentials": {"access_token": TOKEN}, "base_url": hubspot.url}
    made = api.post("/integrations/connections", json=body, headers=h)
    assert made.status_code == 201, made.text
    assert TOKEN not in made.text and "credentials" not in made.json()
    assert (
        api.post(
            "/integrations/connections", json=body, headers=_headers(tenant, analyst, "analyst")
        ).status_code
        == 403
    )
    bad = api.post("/integrations/connections", json=body | {"provider": "pipedrive"}, headers=h)
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_ERROR"

    cid = made.json()["id"]
    queued = api.post(f"/integrations/connections/{cid}/runs", json={}, headers=h)
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    run_id = queued.json()["id"]
    assert api.post(f"/integrations/connections/{uuid.uuid4()}/runs", json={}, headers=h).status_code == 404

    run_due(pg_url)
    run = api.get(f"/integrations/runs/{run_id}", headers=h).json()
    assert run["status"] == "completed" and run["counts"]["inbound"]["customer"]["created"] == 2
    assert api.get("/integrations/runs", headers=h).json()[0]["id"] == run_id
    assert api.get("/integrations/retry-queue", headers=h).json() == []
