"""Fixtures: a sync key in the environment, a HubSpot stand-in with an account's data, a
tenant with a connection to it."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from standins.account import seed
from standins.hubspot import Running, Store

from crm.settings import get_settings
from integrations.imports.run import resolve_tenant


@pytest.fixture(autouse=True)
def sync_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_SYNC_CREDENTIALS_KEY", base64.b64encode(os.urandom(32)).decode())
    get_settings.cache_clear()


@pytest.fixture
def hubspot() -> Iterator[Running]:
    s = Store()
    seed(s)
    with Running(s) as running:
        yield running


@pytest.fixture
def tenant(pg_url: str) -> uuid.UUID:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return resolve_tenant(conn, f"sync-{uuid.uuid4().hex[:8]}", "Sync tenant")
