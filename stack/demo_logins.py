"""A demo sign-in for the dashboards: one generated password (kept in `.crm/env` as
CRM_DEMO_PASSWORD, never committed) set on one manager per tenant, so a demo opens at once."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg

from crm.db import libpq_url
from crm.keys import staff
from crm.keys.keyring import keyring
from crm.security import hash_password
from stack import read_env_file, write_env_file

DEMO_PASSWORD_KEY = "CRM_DEMO_PASSWORD"


@dataclass
class DemoLogin:
    tenant: str
    email: str


def demo_password(home: Path) -> str:
    """The demo password from the environment or `.crm/env`, generated there on first use."""
    pw = os.environ.get(DEMO_PASSWORD_KEY) or read_env_file(home / "env").get(DEMO_PASSWORD_KEY)
    if not pw:
        pw = secrets.token_urlsafe(12)
        write_env_file(home / "env", {DEMO_PASSWORD_KEY: pw})
    return pw


def demo_sign_in(database_url: str, password: str) -> list[DemoLogin]:
    """Give the first manager (else admin) of every tenant `password`; return who they are
    (the e-mail opened: stored sealed)."""
    h = hash_password(password)
    out: list[DemoLogin] = []
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        rows = conn.execute(
            """select distinct on (t.id) u.id, t.id, t.name, u.email
               from crm.users u join crm.tenants t on t.id = u.tenant_id
               where u.is_active and u.role in ('manager', 'admin')
               order by t.id, (u.role = 'manager') desc, u.created_at, u.id"""
        ).fetchall()
        ring = keyring(libpq_url(database_url))
        for uid, tenant_id, tenant, email in rows:
            conn.execute("update crm.users set password_hash = %s where id = %s", (h, uid))
            out.append(DemoLogin(tenant, staff.open_value(tenant_id, "email", email, ring)))
    return sorted(out, key=lambda d: d.tenant)
