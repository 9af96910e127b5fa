"""API settings: the shared `crm.settings` plus the API's own knobs (all from the environment).

The API connects to Postgres as `crm_api`, a role that owns no table, so row-level security
applies to every query it makes. `API_DATABASE_URL` names that connection explicitly;
otherwise it is DATABASE_URL with the user replaced by `crm_api` (password
`CRM_API_DB_PASSWORD`, or none on the trust-auth local stack). With DATABASE_REPLICA_URL the
mart reads (`api.deps.MartDb`) go to that replica as the same role.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm.db import libpq_url, role_url
from crm.settings import Settings, get_settings


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    api_database_url: str | None = None
    crm_api_db_password: SecretStr | None = None
    api_db_role: str = "crm_api"
    api_pool_size: int = 20
    """Connections per worker process."""
    api_rate_limit: int = 1200
    """Requests per principal (user or API key) per window."""
    api_rate_window_s: int = 60
    api_redis_prefix: str = "crm:api:rl:"
    api_key_cache_s: float = 5.0
    """How long a verified API key is trusted without a database look-up. Revocation does not
    wait for it: every process drops a revoked key when the change is announced
    (api.core.auth_events), and trusts no cache while it cannot hear announcements."""
    api_subject_cache_s: float = 5.0
    """How long a verified token is trusted before its user and tenant are checked again
    (deactivations are announced like revocations and take effect at once)."""
    api_key_touch_s: float = 60.0
    """api_keys.last_used_at is written at most this often per key and process."""
    api_batch_max: int = 64
    """Most plain creates committed in one statement (api.core.batcher)."""
    api_batch_inflight: int = 2
    """Batched statements of one tenant running at once per process (1 = strictly serial)."""
    jwt_issuer: str = "crm"
    jwt_audience: str = "crm-api"
    jwt_ttl_s: int = 3600
    api_statement_timeout_ms: int = 10_000
    api_login_account_limit: int = 10
    """Sign-in attempts per account (tenant and e-mail, known or not) per login window (429 past it)."""
    api_login_client_limit: int = 30
    """Sign-in attempts per client address per login window, whatever the account."""
    api_login_window_s: int = 300
    api_max_body_bytes: int = 256 * 1024
    """Largest request body (413 past it): a record, its audit row and its change event (which
    carries the row before and after) stay well under the broker's 1 MiB message limit."""

    @property
    def core(self) -> Settings:
        return get_settings()

    def db_url(self) -> str:
        """libpq URL of the API's (non-owner) database role."""
        if self.api_database_url:
            return libpq_url(self.api_database_url)
        password = self.crm_api_db_password.get_secret_value() if self.crm_api_db_password else None
        return role_url(self.api_db_role, password=password)

    def read_db_url(self) -> str | None:
        """libpq URL of the same role on the read replica (DATABASE_REPLICA_URL), or None."""
        replica = self.core.database_replica_url
        if not replica:
            return None
        password = self.crm_api_db_password.get_secret_value() if self.crm_api_db_password else None
        return role_url(self.api_db_role, replica, password=password)


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()
