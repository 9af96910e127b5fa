"""The dashboards' database URL: the configured database as `crm_reader`, never with the
owner's password (the API's role URL comes from the same `crm.db.role_url`)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from app.data.engine import READER_ROLE, reader_url

OWNER = "postgresql://owner:owner-secret@db.example:6543/crm?sslmode=require"


@pytest.fixture(autouse=True)
def _no_reader_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_READER_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_READER_DB_PASSWORD", raising=False)


def test_reader_url_swaps_the_login_and_drops_the_owners_password() -> None:
    u = make_url(reader_url(OWNER))
    assert (u.drivername, u.username, u.password) == ("postgresql+psycopg", READER_ROLE, None)
    assert (u.host, u.port, u.database, dict(u.query)) == ("db.example", 6543, "crm", {"sslmode": "require"})


def test_reader_password_comes_from_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_READER_DB_PASSWORD", "r@der/pw")
    u = make_url(reader_url(OWNER))
    assert (u.username, u.password) == (READER_ROLE, "r@der/pw")


def test_an_explicit_reader_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_READER_DATABASE_URL", "postgresql://someone:pw@elsewhere/crm")
    u = make_url(reader_url(OWNER))
    assert (u.drivername, u.username, u.host) == ("postgresql+psycopg", "someone", "elsewhere")


def test_the_api_role_url_is_built_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.core.config import ApiSettings

    monkeypatch.setenv("DATABASE_URL", OWNER)
    monkeypatch.delenv("API_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_API_DB_PASSWORD", raising=False)
    from crm.settings import get_settings

    get_settings.cache_clear()
    try:
        u = make_url(ApiSettings().db_url())
    finally:
        get_settings.cache_clear()
    assert (u.drivername, u.username, u.password, u.host) == ("postgresql", "crm_api", None, "db.example")
