"""Mart reads on a streaming read replica: a second Postgres from the same embedded binaries,
cloned from the primary (`stack.replica`), serves the API's analytics and the dashboards'
connection, while writes stay on the primary. Pausing the replica's replay shows where a read
was answered: a mart row changed on the primary reads old until replay resumes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from api_testkit import Tenant, seed_tenant, start_api, stop_api


@dataclass
class Cluster:
    primary: str
    replica: str
    home: Path


def _wait(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def _replayed(cluster: Cluster) -> bool:
    with psycopg.connect(cluster.primary, autocommit=True) as p:
        lsn = p.execute("select pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    with psycopg.connect(cluster.replica, autocommit=True) as r:
        return bool(r.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0])  # type: ignore[index]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from crm import migrate
    from stack.postgres import EmbeddedPostgres
    from stack.replica import EmbeddedReplica, lag_bytes

    home = tmp_path_factory.mktemp("replica-home")
    primary = EmbeddedPostgres(home)
    replica = EmbeddedReplica(home)
    try:
        rec = primary.start()
        url = primary.url(rec.port)
        migrate.upgrade(url)
        rrec = replica.start_from(rec.port)
        assert rrec.url is not None and rrec.port != rec.port
        assert lag_bytes(rrec.url) is not None, "the replica is not a standby"
        yield Cluster(url, rrec.url, home)
    finally:
        replica.destroy()
        primary.destroy()


@pytest.fixture(scope="module")
def tenant(cluster: Cluster) -> Tenant:
    with psycopg.connect(cluster.primary, autocommit=True) as conn:
        return seed_tenant(conn, "replica-co")


@pytest.fixture(scope="module")
def api(cluster: Cluster, tenant: Tenant) -> Iterator[str]:
    proc, url = start_api(cluster.primary, cluster.home, {"DATABASE_REPLICA_URL": cluster.replica})
    try:
        yield url
    finally:
        stop_api(proc)


def _dashboard(api: str, headers: dict[str, str]) -> dict[int, int]:
    today = datetime.now(UTC).date()
    r = httpx.get(
        f"{api}/analytics/dashboard",
        params={"date_from": str(today - timedelta(days=7)), "date_to": str(today)},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {i: d["leads_created"] for i, d in enumerate(r.json()["days"])}


def test_writes_go_to_the_primary_and_mart_reads_to_the_replica(
    cluster: Cluster, tenant: Tenant, api: str, token, tmp_path: Path
) -> None:
    from warehouse.dbt import run_dbt

    headers = {"Authorization": f"Bearer {token(tenant, 'admin')}"}
    # three leads from earlier days (a mart's days end yesterday), and one written now
    with psycopg.connect(cluster.primary, autocommit=True) as conn:
        for i in range(3):
            conn.execute(
                "insert into crm.leads (tenant_id, email, source, created_at, updated_at)"
                " values (%s, %s, 'website', now() - interval '3 days', now() - interval '3 days')",
                (tenant.id, f"earlier{i}@replica-co.test"),
            )
    r = httpx.post(
        f"{api}/leads",
        json={"email": "now@replica-co.test", "source": "website"},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    with psycopg.connect(cluster.primary) as conn:
        count = conn.execute("select count(*) from crm.leads where tenant_id = %s", (tenant.id,)).fetchone()
    assert count is not None and count[0] == 4

    run_dbt(
        ["build", "--select", "+metrics_crm_daily", "--exclude", "resource_type:test"],
        cluster.primary,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        capture=True,
    )
    _wait(lambda: _replayed(cluster), "the replica did not replay the build")
    before = _dashboard(api, headers)
    assert sum(before.values()) == 3, before

    # Replay paused: a change to the mart on the primary is not seen by the API's read.
    with psycopg.connect(cluster.replica, autocommit=True) as r:
        r.execute("select pg_wal_replay_pause()")
    try:
        with psycopg.connect(cluster.primary, autocommit=True) as conn:
            conn.execute(
                "update analytics.metrics_crm_daily set leads_created = leads_created + 100"
                " where tenant_id = %s and is_tenant_total",
                (tenant.id,),
            )
        assert _dashboard(api, headers) == before
    finally:
        with psycopg.connect(cluster.replica, autocommit=True) as r:
            r.execute("select pg_wal_replay_resume()")
    # Once replay resumes the change reaches the API's reads (a new snapshot on the standby can
    # trail the replayed LSN by a moment, so the read is retried, bounded).
    _wait(lambda: _replayed(cluster), "the replica did not resume")
    _wait(lambda: _dashboard(api, headers) != before, "the API never read the replayed change", 30)
    after = _dashboard(api, headers)
    assert {k: v - 100 for k, v in after.items()} == before


def test_the_dashboards_connect_to_the_replica_as_the_reader(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from app.data.engine import assert_restricted, make_reader_engine
    from crm.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", cluster.primary)
    monkeypatch.setenv("DATABASE_REPLICA_URL", cluster.replica)
    monkeypatch.delenv("CRM_READER_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        engine = make_reader_engine()
        assert_restricted(engine)
        with engine.connect() as conn:
            who, standby = conn.execute(text("select current_user, pg_is_in_recovery()")).one()
        assert (who, standby) == ("crm_reader", True)
        engine.dispose()
    finally:
        get_settings.cache_clear()
