"""Blind indexes: one value per normalised e-mail, per tenant and field, unchanged by data key
rotation, and findable across index key versions."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from crm.keys import blind_index as bi
from crm.keys import keyring as kr
from crm.keys import rotate
from crm.keys.master import EnvMasterKeyProvider


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ann.Lee@Example.COM", "ann.lee@example.com"),
        ("  ann.lee@example.com\t\n", "ann.lee@example.com"),
        ("ＡＮＮ@example.com", "ann@example.com"),  # full-width letters (NFKC)
        ("straße@example.com", "straße@example.com"),  # not folded to "ss": another mailbox
    ],
)
def test_email_normalisation(raw: str, normal: str) -> None:
    assert bi.normalise_email(raw) == normal


@pytest.fixture
def ring(migrated_db: str) -> kr.Keyring:
    return kr.Keyring(EnvMasterKeyProvider({"m-1": os.urandom(32)}, "m-1"), migrated_db)


def _tenant(url: str) -> uuid.UUID:
    tid = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'b')", (tid, tid.hex[:12]))
    return tid


def test_equal_emails_match_within_a_tenant_and_field_only(ring: kr.Keyring, migrated_db: str) -> None:
    a, b = _tenant(migrated_db), _tenant(migrated_db)
    one = bi.blind_index(a, "email", "Ann@Example.com ", ring)
    assert one == bi.blind_index(a, "email", "ann@example.com", ring)
    assert one.startswith("bi1:") and len(one) == len("bi1:") + 64 and "ann" not in one
    assert one != bi.blind_index(a, "email", "ann2@example.com", ring)
    assert one != bi.blind_index(b, "email", "ann@example.com", ring)  # another tenant's key
    assert one != bi.blind_index(a, "billing_email", "ann@example.com", ring)  # another field


def test_data_key_rotation_leaves_index_values_alone(ring: kr.Keyring, migrated_db: str) -> None:
    a = _tenant(migrated_db)
    before = bi.blind_index(a, "email", "ann@example.com", ring)
    rotate.rotate_data_keys([(a, "a")], ring, migrated_db, settle_s=0)
    rotate.rotate_data_keys([(a, "a")], ring, migrated_db, settle_s=0)
    fresh = kr.Keyring(ring.master, migrated_db)
    assert fresh.current(a)[0] == 2 and bi.blind_index(a, "email", "ann@example.com", fresh) == before


def test_lookups_cover_every_index_version_during_a_reindex(ring: kr.Keyring, migrated_db: str) -> None:
    a = _tenant(migrated_db)
    v1 = bi.blind_index(a, "email", "ann@example.com", ring)
    with psycopg.connect(migrated_db) as conn:
        kr.add_version(conn, ring.master, a, kr.INDEX, 2)
        conn.commit()
    ring.expire(a, kr.INDEX)
    v2 = bi.blind_index(a, "email", "ann@example.com", ring)
    assert v2.startswith("bi2:") and v2 != v1
    assert bi.lookup_values(a, "email", " ANN@example.com", ring) == [v1, v2]
