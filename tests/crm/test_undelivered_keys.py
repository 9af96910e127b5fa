"""The deployment's data key, which seals the bytes of dead letters and parked events: the
lander's role makes its first version and reads it, and sees no other deployment key; no other
restricted role reads it; sealed bytes open only for their topic; a rotation re-seals every row
online and a master rotation re-wraps every deployment key."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from crm import secrets
from crm.keys import deployment_rotation, undelivered
from crm.keys import keyring as kr
from crm.keys.blind_index import deployment_index
from crm.keys.master import EnvMasterKeyProvider
from crm.keys.status import status


def _as_role(url: str, role: str) -> str:
    """`url` connecting as `role` (the lander's is NOLOGIN: the owner's login, then SET ROLE)."""
    return make_url(url).set(query={"options": f"-crole={role}"}).render_as_string(False)


def test_the_landers_role_makes_and_reads_the_deployments_data_key_and_nothing_else(pg_url: str) -> None:
    deployment_index("email", "someone@example.test", kr.Keyring(url=pg_url))  # a sign-in key exists
    lander = kr.Keyring(url=_as_role(pg_url, "crm_lander"))
    key = undelivered.current_key(lander)  # the first version, made by the lander's role
    blob, key_id = undelivered.seal(b'{"email": "ana@example.test"}', "tickets", key)
    assert key_id == f"dk{key[0]}" and b"ana@example.test" not in blob
    assert (
        undelivered.unseal(blob, key_id, "tickets", kr.Keyring(url=pg_url))
        == b'{"email": "ana@example.test"}'
    )
    with pytest.raises(secrets.Undecryptable):  # bound to its topic
        undelivered.unseal(blob, key_id, "conversations", lander)
    assert undelivered.unseal(b"sent before", None, "tickets", lander) == b"sent before"

    with psycopg.connect(_as_role(pg_url, "crm_lander")) as conn:
        kinds = {r[0] for r in conn.execute("SELECT kind FROM crm.deployment_keys").fetchall()}
        assert kinds == {"data"}  # never the sign-in index keys
        for sql in (
            "UPDATE crm.deployment_keys SET retired_at = now()",
            "DELETE FROM crm.deployment_keys",
            "INSERT INTO crm.deployment_keys (kind, version, wrapped_key, master_key_id)"
            " VALUES ('signin-index', 99, '\\x00', 'm')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
            conn.rollback()
    for role in ("crm_api", "crm_reader"):  # they read the sign-in index keys, not the data key
        with psycopg.connect(_as_role(pg_url, role)) as conn:
            kinds = {r[0] for r in conn.execute("SELECT kind FROM crm.deployment_keys").fetchall()}
            assert kinds == {"signin-index"}, role


def _dead(
    conn: psycopg.Connection, offset: int, raw: bytes, key_id: str | None, table: str = "dead_letters"
) -> None:
    if table == "dead_letters":
        conn.execute(
            "INSERT INTO raw.dead_letters (topic, kafka_partition, kafka_offset, reason_code, reason, raw_bytes,"
            " raw_key_id) VALUES ('tickets', 0, %s, 'NOT_JSON', 'bad', %s, %s)",
            (offset, raw, key_id),
        )
    else:
        tenant = uuid.uuid4()
        conn.execute(
            "INSERT INTO raw.parked_events (topic, kafka_partition, kafka_offset, event_id, tenant_id, reason_code,"
            " reason, raw_bytes, raw_key_id) VALUES ('tickets', 0, %s, %s, %s, 'UNKNOWN_TENANT', 'waiting', %s, %s)",
            (offset, uuid.uuid4(), tenant, raw, key_id),
        )


def test_rotation_reseals_every_undelivered_event_and_a_master_rotation_rewraps_the_deployments_keys(
    migrated_db: str,
) -> None:
    one, two = os.urandom(32), os.urandom(32)
    ring = kr.Keyring(EnvMasterKeyProvider({"m-1": one}, "m-1"), migrated_db)
    deployment_index("email", "someone@example.test", ring)
    first = undelivered.current_key(ring)
    sent = {0: b'{"subject": "first"}', 1: b'{"subject": "second"}', 2: b"sent before sealing"}
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        _dead(conn, 0, *undelivered.seal(sent[0], "tickets", first))
        _dead(conn, 2, sent[2], None)
        _dead(conn, 1, *undelivered.seal(sent[1], "tickets", first), table="parked_events")
        before = {
            r["kind"]: r for r in status(conn) if r["tenant"] == kr.DEPLOYMENT and r["kind"] != "signin-index"
        }
    assert before["data"]["values"] == 2 and before["legacy"]["values"] == 1

    r = deployment_rotation.rotate_data_key(ring, migrated_db, batch=1, settle_s=0)
    assert (r.from_version, r.to_version, r.remaining, r.unreadable) == (1, 2, 0, {})
    assert r.reencrypted == {"raw.dead_letters": 2, "raw.parked_events": 1}
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "SELECT kafka_offset, topic, raw_bytes, raw_key_id FROM raw.dead_letters"
            " UNION ALL SELECT kafka_offset, topic, raw_bytes, raw_key_id FROM raw.parked_events"
        ).fetchall()
        after = [r for r in status(conn) if r["tenant"] == kr.DEPLOYMENT and r["kind"] in ("data", "legacy")]
    assert {k for *_, k in rows} == {"dk2"}
    assert {o: undelivered.unseal(bytes(b), k, t, ring) for o, t, b, k in rows} == sent
    assert [(a["kind"], a["version"], a["values"], a["retired_at"] is not None) for a in after] == [
        ("data", 1, 0, True),
        ("data", 2, 3, False),
    ]

    both = kr.Keyring(EnvMasterKeyProvider({"m-1": one, "m-2": two}, "m-2"), migrated_db)
    assert deployment_rotation.rewrap(both, migrated_db) == 3  # two data versions, one sign-in index key
    new_only = kr.Keyring(EnvMasterKeyProvider({"m-2": two}, "m-2"), migrated_db)
    assert {o: undelivered.unseal(bytes(b), k, t, new_only) for o, t, b, k in rows} == sent
    assert deployment_index("email", "SOMEONE@example.test", new_only) == deployment_index(
        "email", "someone@example.test", ring
    )
    assert deployment_rotation.rewrap(new_only, migrated_db) == 0


def test_rotating_every_tenant_rotates_the_deployments_data_key_too(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from crm.settings import get_settings
    from stack.cli import app

    monkeypatch.setenv("DATABASE_URL", migrated_db)
    get_settings.cache_clear()
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        _dead(
            conn,
            0,
            *undelivered.seal(b"bad bytes", "tickets", undelivered.current_key(kr.keyring(migrated_db))),
        )
    runner = CliRunner()
    out = runner.invoke(app, ["keys", "rotate", "--settle", "0"])
    assert out.exit_code == 0, out.output
    assert "deployment: data key v1 -> v2: 1 undelivered events re-sealed, 0 left" in out.output
    out = runner.invoke(app, ["keys", "status"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    deployment = [
        line for line in out.output.splitlines() if "│" in line and line.split("│")[1].strip() == "deployment"
    ]
    assert len(deployment) == 2, out.output
    with psycopg.connect(migrated_db) as conn:
        mine = [(r["kind"], r["version"], r["values"]) for r in status(conn) if r["tenant"] == kr.DEPLOYMENT]
    assert mine == [("data", 1, 0), ("data", 2, 1)]
    get_settings.cache_clear()
