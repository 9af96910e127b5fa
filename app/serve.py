"""Start the dashboards as a background service, and give the demo a way to sign in.

`start()` runs `streamlit run` headless on 127.0.0.1 and a free port through
`crm.stack.procs.spawn` (name "app", so `crm down` stops it). `demo_sign_in()` sets one
generated password (kept in `.crm/env` as CRM_DEMO_PASSWORD, never committed) on one manager
per tenant, so a demo can be opened at once.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.nav import ENTRYPOINT
from crm.db import libpq_url
from crm.security import hash_password
from crm.stack import procs, read_env_file, write_env_file

NAME = "app"
DEMO_PASSWORD_KEY = "CRM_DEMO_PASSWORD"


@dataclass
class DemoLogin:
    tenant: str
    email: str


def streamlit_argv(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ENTRYPOINT),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]


def start(home: Path, database_url: str, port: int | None = None) -> procs.PidRecord:
    """The running app's record (reused when it still runs), else a newly started one."""
    rec = procs.read_record(home, NAME)
    if rec is not None and procs.record_alive(rec) and rec.port and procs.port_open(rec.port):
        return rec
    procs.forget(home, NAME)
    port = port or procs.free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    url = f"http://127.0.0.1:{port}"
    rec = procs.spawn(
        home, NAME, streamlit_argv(port), env=env, cwd=ENTRYPOINT.parents[1], port=port, url=url
    )
    wait_healthy(url, timeout=60)
    return rec


def wait_healthy(base: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Until `base`/_stcore/health answers 200 (or the process exits, or `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{base} not healthy after {timeout:.0f}s")


def demo_password(home: Path) -> str:
    """The demo password from the environment or `.crm/env`, generated there on first use."""
    pw = os.environ.get(DEMO_PASSWORD_KEY) or read_env_file(home / "env").get(DEMO_PASSWORD_KEY)
    if not pw:
        pw = secrets.token_urlsafe(12)
        write_env_file(home / "env", {DEMO_PASSWORD_KEY: pw})
    return pw


def demo_sign_in(database_url: str, password: str) -> list[DemoLogin]:
    """Give the first manager (else admin) of every tenant `password`; return who they are."""
    h = hash_password(password)
    out: list[DemoLogin] = []
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        rows = conn.execute(
            """select distinct on (t.id) u.id, t.name, u.email
               from crm.users u join crm.tenants t on t.id = u.tenant_id
               where u.is_active and u.role in ('manager', 'admin')
               order by t.id, (u.role = 'manager') desc, u.created_at, u.email"""
        ).fetchall()
        for uid, tenant, email in rows:
            conn.execute("update crm.users set password_hash = %s where id = %s", (h, uid))
            out.append(DemoLogin(tenant, email))
    return sorted(out, key=lambda d: d.tenant)
