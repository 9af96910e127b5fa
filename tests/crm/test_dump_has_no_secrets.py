"""What is encrypted or hashed at rest stays so in a database dump: `pg_dump` of a database
holding webhook secrets (outbound and inbound), sync credentials, an API key and a password
shows none of them, nor the tenant's data key or the master key, in any common encoding,
while the rows themselves are there."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from crm.keys import keyring as kr
from crm.security import hash_password
from crm.settings import get_settings
from integrations.external_sync import secrets as sync_secrets
from integrations.webhooks import crypto
from stack.postgres import EmbeddedPostgres


def _forms(secret: bytes) -> list[str]:
    return [
        secret.hex(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
    ]


def _dump(url: str, home: Path) -> str:
    pg_dump = EmbeddedPostgres(home).bin_dir() / "pg_dump"  # newer than or as new as the server
    out = subprocess.run(
        [str(pg_dump), "--no-owner", "--dbname", url], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout


def test_a_dump_shows_no_secret_no_key_and_no_password(
    migrated_db: str, crm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = os.urandom(32)
    monkeypatch.setenv("CRM_MASTER_KEY", base64.b64encode(master).decode())
    monkeypatch.setenv("CRM_MASTER_KEY_ID", "dump-test")
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    get_settings.cache_clear()
    try:
        tenant, slug = uuid.uuid4(), f"dump-{uuid.uuid4().hex[:8]}"
        outbound, inbound = f"whsec_{uuid.uuid4().hex}", f"in_{uuid.uuid4().hex}"
        token, password = f"pat-na1-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"
        with psycopg.connect(migrated_db, autocommit=True) as conn:
            conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'Dump')", (tenant, slug))
            conn.execute(
                "INSERT INTO crm.webhook_subscriptions (tenant_id, url, event_types, secret_enc)"
                " VALUES (%s, 'https://example.com/h', ARRAY['*'], %s)",
                (tenant, crypto.encrypt(outbound, tenant, "webhook-subscription", url=migrated_db)),
            )
            conn.execute(
                "INSERT INTO crm.webhook_inbound_secrets (tenant_id, source, secret_enc) VALUES (%s, 'hubspot', %s)",
                (tenant, crypto.encrypt(inbound, tenant, "webhook-inbound", url=migrated_db)),
            )
            conn.execute(
                "INSERT INTO crm.sync_connections (tenant_id, provider, name, credentials_enc, key_id)"
                " VALUES (%s, 'hubspot', 'main', %s, %s)",
                (tenant, *sync_secrets.encrypt({"access_token": token}, tenant, url=migrated_db)),
            )
            conn.execute(
                "INSERT INTO crm.users (tenant_id, email, role, password_hash)"
                " VALUES (%s, 'owner@dump.test', 'admin', %s)",
                (tenant, hash_password(password)),
            )
        from api.admin import create_api_key

        api_key = create_api_key(slug, "dump", ["leads:read"])["key"]
        data_key = kr.keyring(migrated_db).key(tenant, 1)
        index_key = kr.keyring(migrated_db).current(tenant, kr.INDEX)[1]

        dump = _dump(migrated_db, crm_home)
    finally:
        get_settings.cache_clear()

    assert (
        slug in dump and "owner@dump.test" in dump and "https://example.com/h" in dump
    )  # the rows are there
    for secret in (outbound, inbound, token, password, api_key):
        assert secret not in dump
    for key in (data_key, index_key, master):
        for form in _forms(key):
            assert form not in dump
