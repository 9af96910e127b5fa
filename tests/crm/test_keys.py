"""Envelope encryption: tenant data keys wrapped by the master key, on a real Postgres.

What must hold: a value opens only with its tenant's key and binding; values written before
data keys still open; the dashboards' role cannot read a wrapped key and the API's reads only
its tenant's; the master key is never a built-in default."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from crm import secrets
from crm.db import enter_tenant_pg
from crm.keys import keyring as kr
from crm.keys import sealed
from crm.keys.master import EnvMasterKeyProvider
from crm.settings import get_settings
from integrations.external_sync import secrets as sync_secrets
from integrations.webhooks import crypto

PURPOSE = "webhook-subscription"
# Code under test reads its database from the settings (the process keyring, the CLI).
pytestmark = pytest.mark.usefixtures("pg_env")


def _tenant(url: str) -> uuid.UUID:
    tid = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'k')", (tid, f"k-{tid.hex[:8]}")
        )
    return tid


def _as(url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(make_url(url).set(username=role, password=None).render_as_string(False))


@pytest.fixture
def tenants(pg_url: str) -> Iterator[tuple[uuid.UUID, uuid.UUID]]:
    kr.keyring().forget()
    yield _tenant(pg_url), _tenant(pg_url)


def test_the_master_key_wraps_bound_to_its_context_and_has_no_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    one, two = os.urandom(32), os.urandom(32)
    m = EnvMasterKeyProvider({"m1": one, "m2": two}, "m2")
    wrapped, mid = m.wrap(b"k" * 32, b"t:data:1")
    assert mid == "m2" and b"k" * 32 not in wrapped
    assert m.unwrap(wrapped, "m2", b"t:data:1") == b"k" * 32
    with pytest.raises(secrets.Undecryptable):
        m.unwrap(wrapped, "m2", b"other:data:1")  # another tenant's row
    with pytest.raises(secrets.KeyUnavailable, match="m2"):
        EnvMasterKeyProvider({"m1": one}, "m1").unwrap(wrapped, "m2", b"t:data:1")

    monkeypatch.setenv("CRM_HOME", str(tmp_path))
    monkeypatch.setenv("CRM_MASTER_KEY", base64.b64encode(one).decode())
    monkeypatch.setenv("CRM_MASTER_KEY_ID", "prod-7")
    monkeypatch.setenv("CRM_MASTER_KEY_PREVIOUS", base64.b64encode(two).decode())
    monkeypatch.setenv("CRM_MASTER_KEY_PREVIOUS_ID", "prod-6")
    env = EnvMasterKeyProvider()
    assert env.current_id() == "prod-7"
    old, _ = EnvMasterKeyProvider({"prod-6": two}, "prod-6").wrap(b"x" * 32, b"c")
    assert env.unwrap(old, "prod-6", b"c") == b"x" * 32
    for name in ("CRM_MASTER_KEY", "CRM_MASTER_KEY_PREVIOUS", "TENANT_CONTEXT_KEY"):
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    try:
        with pytest.raises(secrets.KeyUnavailable, match="CRM_MASTER_KEY"):
            EnvMasterKeyProvider().current_id()
    finally:
        get_settings.cache_clear()


def test_a_value_opens_only_in_its_tenant_and_names_its_version(pg_url: str, tenants) -> None:
    a, b = tenants
    crypto.encrypt("b's own", b, PURPOSE)  # b has a key of its own, version 1 too
    stored = crypto.encrypt("whsec_abc", a, PURPOSE)
    assert stored.startswith("v2:dk1:") and "whsec_abc" not in stored
    assert crypto.decrypt(stored, a, PURPOSE) == "whsec_abc"
    # the same value copied into another tenant's row: another key and another binding
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for tid in (a, b):
            conn.execute(
                "INSERT INTO crm.webhook_subscriptions (tenant_id, url, event_types, secret_enc)"
                " VALUES (%s, 'https://example.com/h', ARRAY['*'], %s)",
                (tid, stored),
            )
        rows = conn.execute(
            "SELECT tenant_id, secret_enc FROM crm.webhook_subscriptions WHERE tenant_id IN (%s, %s)", (a, b)
        ).fetchall()
    for tid, value in rows:
        if tid == a:
            assert crypto.decrypt(value, tid, PURPOSE) == "whsec_abc"
        else:
            with pytest.raises(secrets.Undecryptable):
                crypto.decrypt(value, tid, PURPOSE)
    with pytest.raises(secrets.Undecryptable):
        crypto.decrypt(stored, a, "webhook-inbound")  # another column's purpose
    blob, kid = sync_secrets.encrypt({"token": "t"}, a)
    assert kid == "dk1" and sync_secrets.decrypt(blob, kid, a) == {"token": "t"}
    from crm.errors import CRMError

    with pytest.raises(CRMError) as e:
        sync_secrets.decrypt(blob, kid, b)
    assert e.value.code.value == "INTEGRATION_SYNC_FAILED"
    # the wrapped key in the table is not the key, and is bound to its tenant and version
    with psycopg.connect(pg_url) as conn:
        wrapped, mid = conn.execute(
            "SELECT wrapped_key, master_key_id FROM crm.tenant_data_keys WHERE tenant_id = %s AND kind = 'data'",
            (a,),
        ).fetchone()
    key = kr.keyring().key(a, 1)
    assert key not in bytes(wrapped) and mid == secrets.DERIVED_KEY_ID
    with pytest.raises(secrets.Undecryptable):
        kr.keyring().master.unwrap(bytes(wrapped), mid, kr.context(b, "data", 1))


def test_values_written_before_data_keys_still_open(
    pg_url: str, tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = tenants
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = os.urandom(32)
    monkeypatch.setenv("WEBHOOK_SECRET_KEY", base64.b64encode(key).decode())
    monkeypatch.setenv("CRM_SYNC_CREDENTIALS_KEY", base64.b64encode(key).decode())
    nonce = os.urandom(12)
    body = base64.b64encode(nonce + AESGCM(key).encrypt(nonce, b"old", f"{a}:{PURPOSE}".encode())).decode()
    assert crypto.decrypt(f"v1:{body}", a, PURPOSE) == "old"
    assert crypto.decrypt(f"v2:env-1:{body}", a, PURPOSE) == "old"
    blob = nonce + AESGCM(key).encrypt(nonce, b'{"token": "t"}', str(a).encode())
    assert sync_secrets.decrypt(blob, "env-1", a) == {"token": "t"}
    derived = secrets.EnvKeyProvider("UNSET_SETTING_X", "crm-webhook-secrets")
    legacy = (
        "v2:derived-1:"
        + base64.b64encode(secrets.seal(b"older", f"{a}:{PURPOSE}".encode(), derived)[0]).decode()
    )
    assert crypto.decrypt(legacy, a, PURPOSE, derived) == "older"


def test_the_dashboards_read_only_their_tenants_wrapped_data_keys(pg_url: str, tenants) -> None:
    from crm.keys.blind_index import blind_index

    a, b = tenants
    for tid in (a, b):
        crypto.encrypt("s", tid, PURPOSE)  # each tenant gets its first key
        blind_index(tid, "email", "x@y.test", kr.keyring(pg_url))  # and its index key
    with _as(pg_url, "crm_reader") as conn:
        enter_tenant_pg(conn, a)
        seen = conn.execute("SELECT tenant_id, kind FROM crm.tenant_data_keys").fetchall()
        assert seen == [(a, "data")]  # to open the names a page shows; never an index key
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT retired_at FROM crm.tenant_data_keys").fetchall()
    with _as(pg_url, "crm_reader") as conn:
        enter_tenant_pg(conn, a)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO crm.tenant_data_keys (tenant_id, kind, version, wrapped_key, master_key_id)"
                " VALUES (%s, 'data', 9, '\\x00', 'm')",
                (a,),
            )
    with _as(pg_url, "crm_api") as conn:
        enter_tenant_pg(conn, a)
        seen = {r[0] for r in conn.execute("SELECT tenant_id FROM crm.tenant_data_keys").fetchall()}
        assert seen == {a}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE crm.tenant_data_keys SET retired_at = now()")
    with psycopg.connect(pg_url) as conn:  # the lander seals ticket requesters (2010): its tenant's data keys
        conn.execute("SET ROLE crm_lander")  # a NOLOGIN role, granted to the lander's login
        enter_tenant_pg(conn, a)
        assert conn.execute("SELECT tenant_id, kind FROM crm.tenant_data_keys").fetchall() == [(a, "data")]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE crm.tenant_data_keys SET retired_at = now()")
    with psycopg.connect(pg_url) as conn:
        for role in ("crm_reader", "crm_transform", "crm_sim", "crm_ml"):
            got = conn.execute(
                "SELECT has_table_privilege(%s, 'crm.tenant_data_keys', 'SELECT')", (role,)
            ).fetchone()
            assert got == (False,), role


def test_the_api_role_makes_its_tenants_first_key(pg_url: str, tenants) -> None:
    a, _ = tenants
    ring = kr.Keyring(url=make_url(pg_url).set(username="crm_api", password=None).render_as_string(False))
    stored = sealed.seal_text(a, b"via api", b"x", ring)  # makes a's first key as crm_api
    assert sealed.unseal_text(a, stored, b"x", secrets.EnvKeyProvider("UNSET_SETTING_X", "p")) == b"via api"
    with psycopg.connect(pg_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM crm.tenant_data_keys WHERE tenant_id = %s", (a,)
        ).fetchone() == (1,)


def test_a_deterministic_value_is_the_same_text_opens_in_its_binding_and_is_found_across_versions(
    pg_url: str, tenants
) -> None:
    from crm.keys import personal
    from crm.keys.rotate import new_version

    a, b = tenants
    ring = kr.keyring()
    first = personal.seal_equal(a, "email", "ana@example.com")
    assert first.startswith("d2:dk1:") and "ana@example.com" not in first
    assert personal.seal_equal(a, "email", "ana@example.com") == first  # equal values, equal text
    assert personal.seal_equal(a, "email", "bo@example.com") != first
    assert personal.seal_equal(b, "email", "ana@example.com") != first  # another tenant's key
    assert personal.seal_equal(a, "name", "ana@example.com") != first  # another field's binding
    assert personal.open_value(a, "email", first) == "ana@example.com"
    for tenant, field in ((b, "email"), (a, "name")):
        with pytest.raises(secrets.Undecryptable):
            personal.open_value(tenant, field, first)
    with psycopg.connect(pg_url) as conn:
        assert new_version(conn, ring, a) == (1, 2)
    second = personal.seal_equal(a, "email", "ana@example.com")
    assert second.startswith("d2:dk2:") and personal.open_value(a, "email", second) == "ana@example.com"
    assert personal.open_value(a, "email", first) == "ana@example.com"  # the old version still opens
    assert sorted(personal.equal_forms(a, "email", "ana@example.com")) == sorted([first, second])


def test_the_signin_index_key_is_the_deployments_read_by_the_api_and_the_dashboards_only(pg_url: str) -> None:
    from crm.keys.blind_index import deployment_index, deployment_lookup_values

    owner = kr.Keyring(url=pg_url)
    stored = deployment_index("email", " Some.One@Example.test", owner)  # the owner makes the first key
    assert stored.startswith("bi") and "some.one" not in stored
    with psycopg.connect(pg_url) as conn:
        (wrapped, master_id), *more = conn.execute(
            "SELECT wrapped_key, master_key_id FROM crm.deployment_keys WHERE kind = 'signin-index'"
        ).fetchall()
        assert not more and len(bytes(wrapped)) > 32  # wrapped, bound to the deployment, kind and version
        assert owner.master.unwrap(bytes(wrapped), master_id, kr.context(None, kr.SIGNIN_INDEX, 1))
        with pytest.raises(secrets.Undecryptable):
            owner.master.unwrap(bytes(wrapped), master_id, kr.context(uuid.uuid4(), kr.SIGNIN_INDEX, 1))
    for role in ("crm_api", "crm_reader"):  # they compute the lookup: the same value, for any tenant
        ring = kr.Keyring(url=make_url(pg_url).set(username=role, password=None).render_as_string(False))
        assert stored in deployment_lookup_values("email", "some.one@example.TEST", ring)
        with _as(pg_url, role) as conn:
            for sql in (
                "INSERT INTO crm.deployment_keys (kind, version, wrapped_key, master_key_id)"
                " VALUES ('signin-index', 9, '\\x00', 'm')",
                "UPDATE crm.deployment_keys SET retired_at = now()",
                "DELETE FROM crm.deployment_keys",
                "SELECT created_at FROM crm.deployment_keys",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)
                conn.rollback()
    with psycopg.connect(pg_url) as conn:
        for role in ("crm_api", "crm_reader", "crm_transform", "crm_sim", "crm_ml", "crm_lander"):
            got = conn.execute(
                "SELECT has_any_column_privilege(%s, 'crm.deployment_keys', 'SELECT')", (role,)
            ).fetchone()
            # the lander's rows are the deployment's data keys alone (row-level security, 2014)
            assert got == (role in ("crm_api", "crm_reader", "crm_lander"),), role
