"""Webhook fixtures: two tenants in the session database, the API as a real uvicorn process,
a loopback receiver that verifies each request with standardwebhooks' own Webhook.verify, an
aiosmtpd server standing in for the mail relay, and the deliverer run pass by pass."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[3]
# `tests/` is on sys.path (its conftest) and `tests/integrations` is a package: make sure
# `integrations` names the product's package, not the tests' directory
if not str(getattr(sys.modules.get("integrations"), "__file__", "") or "").startswith(
    str(ROOT / "integrations")
):
    sys.modules.pop("integrations", None)
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "api")]

from api_testkit import JWT_SECRET, start_api, stop_api  # noqa: E402
from standardwebhooks import Webhook, WebhookVerificationError  # noqa: E402


@dataclass
class Tenant:
    id: uuid.UUID
    slug: str
    admin: uuid.UUID
    customer: uuid.UUID
    analyst: uuid.UUID


def _seed(conn: psycopg.Connection, slug: str) -> Tenant:
    t = Tenant(uuid.uuid4(), slug, uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, %s)", (t.id, slug, slug))
    for uid, role in ((t.admin, "admin"), (t.analyst, "analyst")):
        conn.execute(
            "INSERT INTO crm.users (id, tenant_id, email, role) VALUES (%s, %s, %s, %s)",
            (uid, t.id, f"{role}@{slug}.test", role),
        )
    conn.execute(
        "INSERT INTO crm.customers (id, tenant_id, email, company) VALUES (%s, %s, %s, 'Acme')",
        (t.customer, t.id, f"buyer@{slug}.test"),
    )
    return t


@pytest.fixture(scope="session")
def tenants(pg_url: str) -> dict[str, Tenant]:
    suffix = uuid.uuid4().hex[:6]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return {k: _seed(conn, f"wh-{k}-{suffix}") for k in ("a", "b")}


@pytest.fixture(scope="session", autouse=True)
def allow_loopback() -> Iterator[None]:
    """The receivers of these tests listen on 127.0.0.1: allowed explicitly, as on the local stack."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def api(pg_url: str, crm_home: Path, tenants: dict[str, Tenant]) -> Iterator[httpx.Client]:
    proc, url = start_api(pg_url, crm_home, {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "1"})
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        stop_api(proc)


@pytest.fixture(scope="session")
def as_(tenants: dict[str, Tenant]) -> Callable[..., dict[str, str]]:
    from api.core.auth import mint_token
    from api.core.config import ApiSettings
    from crm.settings import Settings

    class TestApiSettings(ApiSettings):
        @property
        def core(self) -> Settings:
            return Settings(jwt_secret=JWT_SECRET)

    settings = TestApiSettings()

    def headers(tenant: str = "a", role: str = "admin") -> dict[str, str]:
        t = tenants[tenant]
        user = t.admin if role == "admin" else t.analyst
        return {"Authorization": f"Bearer {mint_token(settings, user, t.id, [role])}"}

    return headers


@pytest.fixture(scope="session")
def sql(pg_url: str) -> Callable[..., list[dict[str, Any]]]:
    """SQL as the owner, for assertions and for moving a clock forward."""

    def run(query: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    return run


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def verifies_with(self, secret: str) -> bool:
        try:
            Webhook(secret).verify(self.body, self.headers)
            return True
        except WebhookVerificationError:
            return False


@dataclass
class Receiver:
    url: str
    status: int = 200
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback HTTP endpoint answering `status` and keeping every request as sent."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def deliver(pg_url: str) -> Callable[..., dict[str, int]]:
    """Run deliverer passes with no wait between retries until nothing is due."""
    from integrations.webhooks.config import WebhookSettings
    from integrations.webhooks.worker import run_once

    def run(max_passes: int = 20, **overrides: Any) -> dict[str, int]:
        s = WebhookSettings(WEBHOOK_RETRY_BASE_S=0, WEBHOOK_TIMEOUT_S=5, **overrides)
        total: dict[str, int] = {}
        for _ in range(max_passes):
            counts = run_once(pg_url, s)
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v
            if not any(v for k, v in counts.items() if "planned" not in k):
                break
        return total

    return run


class Inbox:
    """The mail relay's stand-in: keeps every message aiosmtpd accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """An aiosmtpd server on a free loopback port: (its inbox, its port)."""
    from aiosmtpd.controller import Controller

    from stack.procs import free_port

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
