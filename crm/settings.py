"""One `Settings` object for every component.

Values come from the environment first, then from `.crm/env` (written by `crm up` for the
local stack), then the defaults below. Production sets `DATABASE_URL` and `KAFKA_BOOTSTRAP`
and nothing is started locally.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The checkout (this file is crm/settings.py)."""


def default_home() -> Path:
    import os

    return Path(os.environ.get("CRM_HOME", PROJECT_ROOT / ".crm")).resolve()


def dagster_home() -> Path:
    """DAGSTER_HOME, else the local stack's instance (`.crm/dagster`, as
    `orchestration.instance.dagster_home` lays it out): where the runs are recorded."""
    import os

    env = os.environ.get("DAGSTER_HOME")
    return Path(env) if env else get_settings().home / "dagster"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    home: Path = Field(default_factory=default_home, alias="CRM_HOME")
    """Local state: embedded Postgres data, PID files, logs, `env`, Dagster home."""

    database_url: str | None = None
    """SQLAlchemy or libpq URL of the Postgres to use; unset means the embedded one."""
    database_replica_url: str | None = None
    """A streaming replica of `database_url` serving the mart reads (the dashboards, the API's
    analytics); unset means they read the primary (`crm replica up` makes a local one)."""
    kafka_bootstrap: str | None = None
    """host:port[,host:port] of a Kafka-protocol broker; unset means the local Tansu."""
    redis_url: str | None = None
    """Rate limits and caches; unset means in-process fallbacks (with a warning)."""
    prometheus_url: str | None = None
    """Prometheus scraping the stack and evaluating its alert rules; unset means the local one."""
    alertmanager_url: str | None = None
    """Where that Prometheus sends its alerts (shown by `crm status`, `crm env`)."""

    jwt_secret: SecretStr | None = None
    """HS256 secret for API tokens (RS256: set `jwt_public_key` instead)."""
    jwt_public_key: SecretStr | None = None
    jwt_private_key: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    tenant_context_key: SecretStr | None = None
    """Signs the tenant a restricted database session works for (crm.security.tenant_mac);
    `crm db upgrade` stores its derived keys where only the owner reads them. The API and the
    dashboards need it; `crm up` generates a local one into `.crm/env`."""

    scale: Literal["S", "M", "L"] = "S"
    seed: int = 42

    kafka_partitions: int = 4
    """Partitions per topic when topics are created by the project."""

    @property
    def env_file(self) -> Path:
        return self.home / "env"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached: call `get_settings.cache_clear()` after changing env).

    `.crm/env` (under CRM_HOME) is read at call time, so tests and tools can point CRM_HOME
    elsewhere before the first call."""
    return Settings(_env_file=default_home() / "env")
