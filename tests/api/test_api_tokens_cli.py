"""RS256 tokens, and the CLI: `crm api-token`, `crm api-keys create|list|revoke` against the API."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from api_testkit import JWT_SECRET, ROOT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.core.auth import mint_token, principal_from_token
from api.core.config import ApiSettings
from crm.errors import CRMError
from crm.settings import Settings


def _settings(**core) -> ApiSettings:
    class S(ApiSettings):
        @property
        def core(self) -> Settings:
            return Settings(**core)

    return S()


def test_rs256_tokens():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    signer = _settings(jwt_private_key=private, jwt_public_key=public, jwt_algorithm="RS256")
    verifier = _settings(jwt_public_key=public, jwt_algorithm="RS256")
    uid, tid = uuid.uuid4(), uuid.uuid4()
    tok = mint_token(signer, uid, tid, ["manager"])
    p = principal_from_token(verifier, tok)
    assert (p.user_id, p.tenant_id, p.roles) == (uid, tid, ("manager",)) and "leads:write" in p.permissions
    # an HS256 token made with the public key as secret (algorithm confusion) is refused
    import jwt

    forged = jwt.encode(
        {
            "sub": str(uid),
            "tenant": str(tid),
            "roles": ["admin"],
            "exp": 2_000_000_000,
            "iss": "crm",
            "aud": "crm-api",
        },
        "x" * 64,
        algorithm="HS256",
    )
    with pytest.raises(CRMError):
        principal_from_token(verifier, forged)


def _crm(pg_url: str, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"DATABASE_URL": pg_url, "JWT_SECRET": JWT_SECRET, "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_token_and_keys(pg_url, client, tenants, owner_sql):
    t = tenants["a"]
    r = _crm(pg_url, "api-token", "--tenant", t.slug, "--role", "analyst")
    assert r.returncode == 0, r.stderr
    tok = r.stdout.strip().splitlines()[-1]
    h = {"Authorization": f"Bearer {tok}"}
    assert client.get("/leads", headers=h).status_code == 200
    assert client.post("/leads", json={"email": "a@b.c", "source": "cli"}, headers=h).status_code == 403
    assert _crm(pg_url, "api-token", "--email", "nobody@nowhere.test").returncode == 1
    r = _crm(pg_url, "api-token", "--email", f"Manager@{t.slug.upper()}.test")  # sealed: by its sign-in index
    assert r.returncode == 0, r.stderr
    assert f"manager@{t.slug}.test" in r.stderr and "v2:" not in r.stderr  # named opened

    r = _crm(pg_url, "api-keys", "create", "--tenant", t.slug, "--name", "cli", "--scope", "leads:write")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert (
        client.post(
            "/leads", json={"email": "k@cli.test", "source": "cli"}, headers={"X-API-Key": key}
        ).status_code
        == 201
    )
    key_id = owner_sql("SELECT id FROM crm.api_keys WHERE key_prefix = %s", key.split("_")[1])[0]["id"]
    listed = _crm(pg_url, "api-keys", "list", "--tenant", t.slug)
    assert listed.returncode == 0 and "cli" in listed.stdout
    assert _crm(pg_url, "api-keys", "revoke", str(key_id)).returncode == 0
    r = client.post("/leads", json={"email": "k2@cli.test", "source": "cli"}, headers={"X-API-Key": key})
    assert r.status_code == 401  # API_KEY_CACHE_S=0 in the test server
    bad = _crm(pg_url, "api-keys", "create", "--tenant", t.slug, "--name", "x", "--scope", "root")
    assert bad.returncode == 1


def test_cli_keys_expire_and_rotate_with_an_overlap(pg_url, client, tenants, owner_sql):
    t = tenants["b"]
    r = _crm(
        pg_url,
        "api-keys",
        "create",
        "--tenant",
        t.slug,
        "--name",
        "rot",
        "--scope",
        "leads:read",
        "--expires-in-days",
        "30",
    )
    assert r.returncode == 0, r.stderr
    old = r.stdout.strip().splitlines()[-1]
    old_id = owner_sql("SELECT id FROM crm.api_keys WHERE key_prefix = %s", old.split("_")[1])[0]["id"]
    r = _crm(pg_url, "api-keys", "rotate", str(old_id), "--overlap", "600")
    assert r.returncode == 0, r.stderr
    new = r.stdout.strip().splitlines()[-1]
    for key in (old, new):  # the overlap: both work
        assert client.get("/leads", params={"limit": 1}, headers={"X-API-Key": key}).status_code == 200
    rows = {
        r["key_prefix"]: r
        for r in owner_sql(
            "SELECT key_prefix, expires_at - created_at AS life, replaced_by, id, expires_at FROM crm.api_keys"
            " WHERE name = 'rot' AND tenant_id = %s",
            t.id,
        )
    }
    old_row, new_row = rows[old.split("_")[1]], rows[new.split("_")[1]]
    assert old_row["replaced_by"] == new_row["id"] and new_row["life"].days == 30  # the same lifetime
    assert _crm(pg_url, "api-keys", "rotate", str(old_id)).returncode == 1  # rotated once only
    listed = _crm(pg_url, "api-keys", "list", "--tenant", t.slug)
    assert str(new_row["id"]) in listed.stdout
