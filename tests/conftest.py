"""Shared fixtures: a real Postgres and a real Kafka-protocol broker for the whole session.

DATABASE_URL / KAFKA_BOOTSTRAP, when set, name servers to use (a fresh database is created
on that Postgres server); otherwise the local stack's embedded Postgres and Tansu are started
under a temporary CRM_HOME and stopped at the end. The project's own `.crm/` (a running
`make demo`) is never touched.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_TEST_HOME = Path(tempfile.mkdtemp(prefix="crm-test-home-"))
os.environ["CRM_HOME"] = str(_TEST_HOME)
os.environ.setdefault("TENANT_CONTEXT_KEY", "test-tenant-context-" + uuid.uuid4().hex)
_EXTERNAL_DB = os.environ.get("DATABASE_URL")
_EXTERNAL_KAFKA = os.environ.get("KAFKA_BOOTSTRAP")

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from crm.settings import get_settings  # noqa: E402


@pytest.fixture(scope="session")
def crm_home() -> Iterator[Path]:
    import shutil

    _TEST_HOME.chmod(0o755)  # as root the embedded server runs as `postgres` and must reach it
    yield _TEST_HOME
    shutil.rmtree(_TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url(crm_home: Path) -> Iterator[str]:
    """URL of a Postgres server's maintenance database (create databases through it)."""
    if _EXTERNAL_DB:
        yield make_url(_EXTERNAL_DB).set(drivername="postgresql", database="postgres").render_as_string(False)
        return
    from stack.postgres import EmbeddedPostgres

    pg = EmbeddedPostgres(crm_home)
    rec = pg.start()
    try:
        yield pg.url(rec.port, "postgres")
    finally:
        pg.destroy()


@pytest.fixture(scope="session")
def kafka_bootstrap(crm_home: Path) -> Iterator[str]:
    if _EXTERNAL_KAFKA:
        yield _EXTERNAL_KAFKA
        return
    from stack import kafka

    rec = kafka.start(crm_home)
    os.environ["KAFKA_BOOTSTRAP"] = rec.url
    get_settings.cache_clear()
    try:
        yield rec.url
    finally:
        kafka.stop(crm_home)
        os.environ.pop("KAFKA_BOOTSTRAP", None)
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def redis_url(crm_home: Path) -> Iterator[str]:
    """REDIS_URL, else the local stack's own Redis (stack/redis.py) under the test home;
    exported as REDIS_URL for the API processes the tests start."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    from stack import redis

    rec = redis.start(crm_home)
    assert rec.url is not None
    os.environ["REDIS_URL"] = rec.url
    get_settings.cache_clear()
    try:
        yield rec.url
    finally:
        redis.stop(crm_home)
        os.environ.pop("REDIS_URL", None)
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def create_database(pg_server_url: str) -> Iterator[Callable[..., str]]:
    """Factory: a new empty database on the test server; all are dropped at the end (with the
    session's own server, by destroying it)."""
    made: list[str] = []

    def make(prefix: str = "crm_test", template: str | None = None) -> str:
        """`template`: the URL of a database to copy (nobody may be connected to it)."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            if template is None:
                conn.execute(f'create database "{name}"')
            else:
                source = make_url(template).database
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (source,)
                )
                conn.execute(f'create database "{name}" template "{source}"')
        made.append(name)
        return make_url(pg_server_url).set(database=name).render_as_string(False)

    yield make
    if not _EXTERNAL_DB:
        return  # the session's own server is destroyed whole (each DROP DATABASE checkpoints)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def empty_db(create_database: Callable[[str], str]) -> str:
    """A fresh database with nothing in it (for migration tests)."""
    return create_database("crm_empty")


@pytest.fixture(scope="session")
def pg_url(create_database: Callable[[str], str]) -> Iterator[str]:
    """A migrated database shared by the session; also exported as DATABASE_URL for code
    that reads settings."""
    from crm import migrate

    url = create_database("crm_main")
    migrate.upgrade(url)
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
def migrated_template(create_database: Callable[..., str]) -> str:
    """A migrated database nobody uses, copied by `migrated_db` (a copy takes a fraction of a
    second; running the migrations takes seconds, and dozens of tests want a fresh database)."""
    from crm import migrate

    url = create_database("crm_template")
    migrate.upgrade(url)
    return url


@pytest.fixture
def migrated_db(create_database: Callable[..., str], migrated_template: str) -> str:
    """A fresh migrated database of its own, for tests that change or count everything: a copy
    of the migrated template, holding the tenant context key of the environment now."""
    from crm import migrate

    url = create_database("crm_fresh", template=migrated_template)
    migrate.sync_tenant_context_key(url)
    return url


@pytest.fixture
def pg_env(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`pg_url`, and DATABASE_URL pointing at it for this test: code that reads its database
    from the settings (the process's keyring, the CLI) reads this one, whatever a session
    fixture of another area left DATABASE_URL pointing at."""
    monkeypatch.setenv("DATABASE_URL", pg_url)
    get_settings.cache_clear()
    yield pg_url
    get_settings.cache_clear()
