"""Per-principal rate limits: a fixed window counter in Redis (shared by every worker), or
in-process when REDIS_URL is unset (each worker then counts alone: logged as a warning)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from typing import Any

from crm.errors import CRMError, CRMErrorCode

log = logging.getLogger(__name__)


class RateLimited(CRMError):
    def __init__(self, limit: int, window_s: int, retry_after: int) -> None:
        super().__init__(
            CRMErrorCode.RATE_LIMITED,
            f"rate limit of {limit} requests per {window_s}s exceeded",
            {"limit": limit, "window_s": window_s, "retry_after": retry_after},
        )
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, limit: int, window_s: int, redis_url: str | None, prefix: str) -> None:
        self.limit = limit
        self.window_s = window_s
        self.prefix = prefix
        self._redis = None
        self._local: dict[str, tuple[int, int]] = {}
        self._leases: dict[str, tuple[int, int]] = {}
        self.lease = max(1, min(100, limit // 200))
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        else:
            log.warning("REDIS_URL is not set: rate limits are counted per API process, not shared")

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    async def hit(self, key: str) -> None:
        """Count one request of `key`; raise RateLimited past the limit."""
        now = time.time()
        window = int(now // self.window_s)
        retry_after = max(1, int((window + 1) * self.window_s - now + 0.999))
        if self._redis is not None:
            # Leases: a worker takes `lease` requests of the window at once from Redis and
            # spends them locally, so a busy key costs one Redis round trip per lease. The
            # shared count stays exact in total; a worker may hold up to lease-1 unused.
            w, left = self._leases.get(key, (window, 0))
            if w == window and left > 0:
                self._leases[key] = (window, left - 1)
                return
            rkey = f"{self.prefix}{key}:{window}"
            lease = self.lease
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incrby(rkey, lease)
                pipe.expire(
                    rkey, self.window_s + 1
                )  # the key names its window: re-arming is harmless (Redis 6.2 has no NX)
                count, _ = await pipe.execute()
            granted = min(lease, max(0, self.limit - (count - lease)))
            if len(self._leases) > 100_000:
                self._leases.clear()
            self._leases[key] = (window, max(0, granted - 1))
            if granted == 0:
                raise RateLimited(self.limit, self.window_s, retry_after)
            return
        else:
            w, count = self._local.get(key, (window, 0))
            count = count + 1 if w == window else 1
            if len(self._local) > 100_000:
                self._local.clear()
            self._local[key] = (window, count)
        if count > self.limit:
            raise RateLimited(self.limit, self.window_s, retry_after)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


class LoginLimiter:
    """Sign-in throttling: attempts counted per account (tenant slug and e-mail, whether the
    account exists or not, so the answer tells nothing) and per client address, in the same
    store as the request limits; 429 with Retry-After past either."""

    def __init__(self, settings: Any) -> None:
        redis_url, prefix = settings.core.redis_url, settings.api_redis_prefix
        window = settings.api_login_window_s
        self.account = RateLimiter(
            settings.api_login_account_limit, window, redis_url, prefix + "login:acct:"
        )
        self.client = RateLimiter(settings.api_login_client_limit, window, redis_url, prefix + "login:ip:")
        secret = settings.core.tenant_context_key
        self._key = (
            hmac.new(secret.get_secret_value().encode(), b"crm-login-limiter", hashlib.sha256).digest()
            if secret is not None
            else os.urandom(32)  # no shared secret: counts stay this process's own
        )
        """Keys the account's counter: an HMAC, so the store's keys do not let anyone check a
        guessed e-mail, the same in every worker sharing the tenant context key."""

    async def hit(self, tenant: str, email: str, client: str | None) -> None:
        digest = hmac.new(self._key, f"{tenant}\0{email.lower()}".encode(), hashlib.sha256).hexdigest()[:32]
        await self.client.hit(client or "unknown")
        await self.account.hit(digest)

    async def close(self) -> None:
        await self.account.close()
        await self.client.close()
