"""Fixtures for the Dagster tests: the dbt manifest (prepared once, as `make dbt-manifest` does),
the Definitions loaded after it, one world of scale S landed straight into raw.*, one run of
the whole graph over it (shared by the tests of the graph and of the event-driven refresh), and
the API over that world (the requests the sensors act on)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from crm.settings import get_settings


def _stale(manifest: Path, project_dir: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        p.stat().st_mtime > built
        for p in project_dir.rglob("*")
        if p.suffix in {".sql", ".yml", ".yaml", ".csv"} and "target" not in p.parts and "logs" not in p.parts
    )


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    from orchestration import instance
    from orchestration.project import DBT_DIR

    manifest = DBT_DIR / "target" / "manifest.json"
    if _stale(manifest, DBT_DIR):
        env = dict(os.environ)
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        instance.prepare_manifest(env)
    return manifest


@pytest.fixture(scope="session")
def defs(dbt_manifest: Path):
    from orchestration.definitions import defs as definitions

    return definitions


@pytest.fixture(scope="session")
def seeded_db(create_database: Callable[[str], str]) -> Iterator[str]:
    """A migrated database with the scale-S world (events COPYed into raw.*), exported as
    DATABASE_URL for the resources' EnvVar."""
    from crm import migrate
    from sim import seed_world

    url = create_database("crm_orch")
    migrate.upgrade(url)
    seed_world(scale="S", seed=42, database_url=url, sink="raw")
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url
    if old is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = old
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def dagster_instance(tmp_path_factory: pytest.TempPathFactory):
    from dagster import DagsterInstance

    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.local_temp(str(home)) as instance:
        yield instance


@pytest.fixture(scope="session")
def full_run(defs, seeded_db: str, dagster_instance):
    """Observe the landing tables, then materialize the whole graph once (as `make demo` does)."""
    observed = defs.resolve_job_def("observe_landing").execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    built = defs.resolve_job_def("materialize_everything").execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    return observed, built


@pytest.fixture(scope="session")
def api(full_run, seeded_db: str, crm_home: Path) -> Iterator[tuple[httpx.Client, str]]:
    """The API as a real uvicorn process on the built world, with an admin's token, and the
    admin's tenant."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
    from api_testkit import JWT_SECRET, start_api, stop_api

    from api.core.auth import mint_token
    from api.core.config import ApiSettings
    from crm.settings import Settings

    class TestApiSettings(ApiSettings):
        @property
        def core(self) -> Settings:
            return Settings(jwt_secret=JWT_SECRET)

    with psycopg.connect(seeded_db) as conn:
        tenant, admin = conn.execute(
            "select tenant_id::text, id from crm.users where role = 'admin' order by tenant_id, id limit 1"
        ).fetchone()
    proc, url = start_api(seeded_db, crm_home)
    token = mint_token(TestApiSettings(), admin, tenant, ["admin"])
    try:
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as c:
            yield c, tenant
    finally:
        stop_api(proc)
