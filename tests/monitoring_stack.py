"""The local monitoring as `crm up` runs it, for the tests that read it: Prometheus, Alertmanager
and the exporters against a database of the test's own, with the API (`crm api`, two workers)
and any other service a scrape target, and Prometheus's HTTP API read back."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from crm.keys import staff
from crm.keys.keyring import keyring
from stack import down, prometheus, services

JWT_SECRET = "monitoring-test-" + uuid.uuid4().hex
MISSING = prometheus.missing()
"""Programs not installed: the tests using the stack skip (make monitoring)."""


@dataclass
class Running:
    prometheus: str
    alertmanager: str
    api: str
    headers: dict[str, str]
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    database_url: str
    home: Path


def wait_for(what: str, check: Callable[[], object], timeout: float = 60.0) -> object:
    """`check()` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen after {timeout:.0f}s")
        time.sleep(0.5)


def query(base: str, promql: str) -> list[dict]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=10)
    r.raise_for_status()
    return r.json()["data"]["result"]


def scalar(base: str, promql: str) -> float | None:
    found = query(base, promql)
    return float(found[0]["value"][1]) if found else None


def targets(base: str) -> dict[str, str]:
    """Each active target's job -> its health (up, down, unknown before its first scrape)."""
    r = httpx.get(f"{base}/api/v1/targets", params={"state": "active"}, timeout=10).json()
    return {t["labels"]["job"]: t["health"] for t in r["data"]["activeTargets"]}


def alerts(base: str) -> list[dict]:
    return httpx.get(f"{base}/api/v1/alerts", timeout=10).json()["data"]["alerts"]


def seed_admin(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    tenant, user = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'Monitored')",
            (tenant, f"mon-{tenant.hex[:8]}"),
        )
        sealed = staff.seal_row(
            tenant, {"email": f"admin@{tenant.hex[:8]}.test", "full_name": "Admin"}, keyring(url)
        )
        conn.execute(
            "INSERT INTO crm.users (id, tenant_id, email, full_name, email_bidx, role) VALUES (%s, %s, %s, %s, %s, 'admin')",
            (user, tenant, sealed["email"], sealed["full_name"], sealed["email_bidx"]),
        )
    return tenant, user


@contextmanager
def monitored(create_database: Callable[[str], str], home: Path, *more: str) -> Iterator[Running]:
    """Prometheus, Alertmanager, the exporters and the API under `home` (and the services named
    in `more`, e.g. "ops-metrics"), over a migrated database with one tenant and its admin;
    all stopped on leaving."""
    from api.core.auth import mint_token
    from api.core.config import ApiSettings
    from crm import migrate
    from crm.settings import Settings

    url = create_database("crm_monitoring")
    saved = {k: os.environ.get(k) for k in ("JWT_SECRET", "PROMETHEUS_MULTIPROC_DIR")}
    os.environ["JWT_SECRET"] = JWT_SECRET
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # `crm api` sets its own under `home`
    try:
        with ThreadPoolExecutor(1) as pool:  # Prometheus starts while the database is made
            starting = pool.submit(prometheus.start, home, url)
            migrate.upgrade(url)
            tenant, user = seed_admin(url)
            api = services.start(home, "api", url)
            for name in more:
                services.start(home, name, url)
            mon = starting.result()

        class Signing(ApiSettings):
            @property
            def core(self) -> Settings:
                return Settings(jwt_secret=JWT_SECRET)

        token = mint_token(Signing(), user, tenant, ["admin"])
        assert api.url is not None
        yield Running(
            mon.prometheus_url,
            mon.alertmanager_url,
            api.url,
            {"Authorization": f"Bearer {token}"},
            tenant,
            user,
            url,
            home,
        )
    finally:
        down(home)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
