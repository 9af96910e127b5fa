"""The one seam for values kept encrypted: round trips, bindings, key ids, no default key."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from crm import secrets
from crm.settings import get_settings
from integrations.external_sync import secrets as sync_secrets
from integrations.webhooks import crypto

A, B = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def explicit_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = secrets.new_key()
    monkeypatch.setenv("TEST_SEALING_KEY", key)
    monkeypatch.setenv("TEST_SEALING_KEY_ID", "k-7")
    return key


def test_a_sealed_value_opens_only_with_its_key_and_binding(explicit_key: str) -> None:
    keys = secrets.EnvKeyProvider("TEST_SEALING_KEY", "test")
    blob, key_id = secrets.seal(b"hello", b"tenant-a", keys)
    assert key_id == "k-7" and b"hello" not in blob
    assert secrets.unseal(blob, key_id, b"tenant-a", keys) == b"hello"
    with pytest.raises(secrets.Undecryptable):
        secrets.unseal(blob, key_id, b"tenant-b", keys)
    with pytest.raises(secrets.KeyUnavailable, match="k-6"):
        secrets.unseal(blob, "k-6", b"tenant-a", keys)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(secrets.Undecryptable):
        secrets.unseal(tampered, key_id, b"tenant-a", keys)


def test_derived_keys_differ_per_purpose_and_need_the_tenant_context_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.setenv("CRM_HOME", str(tmp_path))
    monkeypatch.delenv("TEST_SEALING_KEY", raising=False)
    monkeypatch.setenv("TENANT_CONTEXT_KEY", "x" * 48)
    get_settings.cache_clear()
    try:
        one = secrets.EnvKeyProvider("TEST_SEALING_KEY", "purpose-one").current()
        two = secrets.EnvKeyProvider("TEST_SEALING_KEY", "purpose-two").current()
        assert one[0] == two[0] == secrets.DERIVED_KEY_ID and one[1] != two[1]
        monkeypatch.delenv("TENANT_CONTEXT_KEY")
        get_settings.cache_clear()
        with pytest.raises(secrets.KeyUnavailable, match="TEST_SEALING_KEY"):
            secrets.EnvKeyProvider("TEST_SEALING_KEY", "purpose-one").current()
    finally:
        get_settings.cache_clear()


def test_values_written_under_the_setting_keys_still_open_bound_to_their_tenant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """New values go under tenant data keys (tests/crm/test_keys.py); these are the older ones."""
    key = os.urandom(32)
    monkeypatch.setenv("WEBHOOK_SECRET_KEY", base64.b64encode(key).decode())
    monkeypatch.setenv("CRM_SYNC_CREDENTIALS_KEY", base64.b64encode(key).decode())
    blob, key_id = secrets.seal(b"whsec_abc", f"{A}:subscription".encode(), crypto.key_provider())
    stored = f"v2:{key_id}:{base64.b64encode(blob).decode()}"
    assert key_id == "env-1" and crypto.decrypt(stored, A, "subscription") == "whsec_abc"
    with pytest.raises(secrets.Undecryptable):
        crypto.decrypt(stored, B, "subscription")
    # written before keys had ids: nonce + ciphertext under the key in use
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    legacy = "v1:" + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, b"old", f"{A}:p".encode())).decode()
    assert crypto.decrypt(legacy, A, "p") == "old"

    blob = nonce + AESGCM(key).encrypt(nonce, b'{"token": "t"}', str(A).encode())
    assert sync_secrets.decrypt(blob, "env-1", A) == {"token": "t"}
    from crm.errors import CRMError

    with pytest.raises(CRMError) as e:
        sync_secrets.decrypt(blob, "env-1", B)
    assert e.value.code.value == "INTEGRATION_SYNC_FAILED"
