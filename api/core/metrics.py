"""The API's Prometheus metrics: rate, errors and duration of every answer, and the outbox.

RED metrics per method, route template (`/leads/{lead_id}`, never the path itself; `unmatched`
for a path no route serves) and tenant class, counted by `RequestMetrics`, the outermost
middleware (so the request guard's 413s and the fast lane's creates count too):

- `crm_api_requests_total{method, route, status_class, tenant_class}` (status_class 2xx..5xx)
- `crm_api_request_errors_total{method, route, tenant_class}`: 5xx answers and failures before
  any answer
- `crm_api_request_duration_seconds{method, route, tenant_class}`: histogram

`tenant_class` keeps the label set small whatever the number of tenants (a tenant id is never a
label): `small` (under 1,000 customers), `medium` (under 50,000), `large`, or `none` for a
request without an authenticated tenant (sign-in, /health, a 401). Each process learns a
tenant's class with a capped count in that tenant's own transaction, after the first answer to
it (whose observation waits for the class), and asks again after `CLASS_TTL_S`; `unknown` if
the count failed.

With several worker processes (`crm api --workers 2`) each writes its values to files under
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode; `crm api` sets and empties it)
and any worker's `/metrics` answers for all. Without it (one process) they live in memory.

The outbox gauges are read when scraped (`crm.outbox_backlog()`, the totals over every tenant).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.db import Database, fetchone

log = logging.getLogger(__name__)

disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's metrics when not in multiprocess mode."""

_RED = ["method", "route", "tenant_class"]
REQUESTS = Counter(
    "crm_api_requests",
    "Answers given, by status class.",
    [*_RED[:2], "status_class", _RED[2]],
    registry=REGISTRY,
)
ERRORS = Counter(
    "crm_api_request_errors",
    "5xx answers and requests that failed before answering.",
    _RED,
    registry=REGISTRY,
)
DURATION = Histogram(
    "crm_api_request_duration_seconds",
    "From the request's arrival to its answer's last byte.",
    _RED,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
"""Any other method is labelled `other` (a client chooses it: it must not add label values)."""
UNMATCHED = "unmatched"
NO_TENANT = "none"
UNKNOWN = "unknown"
SIZE_CLASSES = ((1_000, "small"), (50_000, "medium"))
LARGE = "large"
CLASS_TTL_S = 900.0
_COUNT_CAP = SIZE_CLASSES[-1][0]
SIZE_SQL = f"SELECT count(*) AS n FROM (SELECT 1 FROM crm.customers LIMIT {_COUNT_CAP}) s"
"""Row-level security limits it to the transaction's tenant; the cap bounds its cost."""
OUTBOX_SQL = "SELECT unsent, oldest_unsent_age_s, dead FROM crm.outbox_backlog()"


def size_class(customers: int) -> str:
    return next((name for limit, name in SIZE_CLASSES if customers < limit), LARGE)


class TenantClasses:
    """tenant id -> size class, learnt per process (see the module's docstring)."""

    def __init__(self, ttl_s: float = CLASS_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._known: dict[UUID, tuple[str, float]] = {}
        self._pending: dict[UUID, asyncio.Task[str]] = {}

    def get(self, tenant_id: UUID) -> str | None:
        hit = self._known.get(tenant_id)
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def when_known(self, db: Database, tenant_id: UUID, then: Callable[[str], None]) -> None:
        """Call `then(class)` once the tenant's class is known (one look-up per tenant at a time)."""
        task = self._pending.get(tenant_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._lookup(db, tenant_id))
            self._pending[tenant_id] = task
            task.add_done_callback(lambda _: self._pending.pop(tenant_id, None))
        task.add_done_callback(lambda t: then(UNKNOWN if t.cancelled() else t.result()))

    async def _lookup(self, db: Database, tenant_id: UUID) -> str:
        try:
            async with db.tx(tenant_id) as conn:
                row = await fetchone(conn, SIZE_SQL)
            found, ttl = size_class(int(row["n"]) if row else 0), self.ttl_s
        except (psycopg.Error, OSError) as exc:
            log.warning("tenant class of %s not read: %s", tenant_id, exc)
            found, ttl = UNKNOWN, 60.0
        self._known[tenant_id] = (found, time.monotonic() + ttl)
        return found


class RequestMetrics:
    """ASGI middleware counting every HTTP answer (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.classes = TenantClasses()
        self._routes: dict[tuple[str, str], str] = {}
        """Route templates of requests the router did not mark (the fast lane, 404s)."""
        self._children: dict[tuple[str, str, int, str], tuple[Any, Any, Any]] = {}
        """The labelled metrics of each label set seen (bounded: every label is)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException:
            status = status or 500
            raise
        finally:
            if status:  # 0: the client left before any answer
                self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = self._route(scope)
        principal = scope.get("state", {}).get("principal")

        def observe(tenant_class: str) -> None:
            key = (method, route, status // 100, tenant_class)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    REQUESTS.labels(method, route, f"{status // 100}xx", tenant_class),
                    DURATION.labels(method, route, tenant_class),
                    ERRORS.labels(method, route, tenant_class) if status >= 500 else None,
                )
            children[0].inc()
            children[1].observe(seconds)
            if children[2] is not None:
                children[2].inc()

        if principal is None:
            observe(NO_TENANT)
            return
        known = self.classes.get(principal.tenant_id)
        if known is not None:
            observe(known)
        else:
            self.classes.when_known(scope["app"].state.db, principal.tenant_id, observe)

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            return str(route.path)
        key = (scope["method"], scope["path"])
        found = self._routes.get(key)
        if found is None:
            found = UNMATCHED
            for candidate in scope["app"].router.routes:
                if candidate.matches(scope)[0] != Match.NONE and hasattr(candidate, "path"):
                    found = str(candidate.path)
                    break
            if len(self._routes) >= 1024:  # bounded whatever paths clients make up
                self._routes.clear()
            self._routes[key] = found
        return found


def install(app: Any) -> None:
    """Add last: the outermost middleware times everything inside it."""
    app.add_middleware(RequestMetrics)


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


async def outbox_families(db: Database) -> list[Metric]:
    """The outbox gauges, read now (none when the database does not answer)."""
    try:
        async with db.raw() as conn:
            row = await fetchone(conn, OUTBOX_SQL)
    except (psycopg.Error, OSError) as exc:
        log.warning("outbox backlog not read: %s", exc)
        return []
    if row is None:
        return []
    return [
        GaugeMetricFamily("crm_outbox_backlog", "Outbox rows not yet published.", value=row["unsent"]),
        GaugeMetricFamily(
            "crm_outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox row not yet published (0: none waits).",
            value=row["oldest_unsent_age_s"],
        ),
        GaugeMetricFamily("crm_outbox_dead", "Outbox rows the broker refused for good.", value=row["dead"]),
    ]


async def render(db: Database) -> bytes:
    """The scrape: every worker's request metrics (or this process's) and the outbox gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(_Families(await outbox_families(db)))
    return generate_latest(registry)
