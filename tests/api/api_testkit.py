"""Helpers shared by the API tests: a tenant with a user per role, starting the API as a real
uvicorn process, row counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg.types.json import Jsonb

from crm.keys import staff
from crm.keys.keyring import keyring
from crm.schema.pipelines import DEFAULT_PIPELINE_NAME, DEFAULT_PIPELINE_STAGES
from crm.security import hash_password
from stack.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "test-secret-" + uuid.uuid4().hex
PASSWORD = "correct horse battery staple"
ROLES = ("admin", "manager", "sales_rep", "analyst")


@dataclass
class Tenant:
    id: uuid.UUID
    slug: str
    users: dict[str, uuid.UUID] = field(default_factory=dict)  # role -> user id (+ "sales_rep2")
    pipeline_id: uuid.UUID | None = None
    product_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


def conn_url(conn: psycopg.Connection) -> str:
    """The URL `conn` was opened with (a keyring of its database)."""
    return psycopg.conninfo.make_conninfo(conn.info.dsn, password=conn.info.password)


def seed_tenant(conn: psycopg.Connection, slug: str) -> Tenant:
    """A tenant (committed: `conn` is autocommit) with a user per role, e-mail and name sealed."""
    t = Tenant(id=uuid.uuid4(), slug=slug)
    conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, %s)", (t.id, slug, slug.title()))
    ring = keyring(conn_url(conn))
    for role in (*ROLES, "sales_rep2"):
        uid = uuid.uuid4()
        user = staff.seal_row(t.id, {"email": f"{role}@{slug}.test", "full_name": role}, ring)
        conn.execute(
            "INSERT INTO crm.users (id, tenant_id, email, full_name, email_bidx, role, password_hash)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (
                uid,
                t.id,
                user["email"],
                user["full_name"],
                user["email_bidx"],
                role.rstrip("2"),
                hash_password(PASSWORD),
            ),
        )
        t.users[role] = uid
    t.pipeline_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO crm.sales_pipelines (id, tenant_id, name, stages, is_default) VALUES (%s,%s,%s,%s,true)",
        (t.pipeline_id, t.id, DEFAULT_PIPELINE_NAME, Jsonb(DEFAULT_PIPELINE_STAGES)),
    )
    t.product_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO crm.products (id, tenant_id, name, sku, price) VALUES (%s,%s,'Seat','SEAT-1',100.00)",
        (t.product_id, t.id),
    )
    t.customer_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO crm.customers (id, tenant_id, email, company) VALUES (%s,%s,%s,'Acme')",
        (t.customer_id, t.id, f"buyer@{slug}.test"),
    )
    return t


def _redis_url() -> str | None:
    """The Redis the `redis_url` fixture started (or REDIS_URL), when it answers."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url
    except Exception:
        return None


def start_api(
    pg_url: str, crm_home: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("API_DATABASE_URL",)}
    env |= {
        "DATABASE_URL": pg_url,
        "JWT_SECRET": JWT_SECRET,
        "CRM_HOME": str(crm_home),
        "API_RATE_LIMIT": "1000000",
        "API_REDIS_PREFIX": f"crm:test:{uuid.uuid4().hex[:8]}:",
        "API_KEY_CACHE_S": "0",
    }
    redis_url = _redis_url()
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    env |= extra_env or {}
    log = open(crm_home / f"api-test-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a loaded machine: the app imports take seconds of CPU
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"API exited: see {log.name}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError("API did not start")


def stop_api(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


WRITE_TABLES = (
    "leads",
    "deals",
    "lead_activities",
    "deal_activities",
    "products",
    "sales_pipelines",
    "customer_segments",
    "marketing_campaigns",
    "customers",
    "deal_products",
    "audit_log",
    "outbox",
    "api_keys",
)


def count_rows(owner_sql) -> dict[str, int]:
    q = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM crm.{t}" for t in WRITE_TABLES)
    return {r["t"]: r["n"] for r in owner_sql(q)}
