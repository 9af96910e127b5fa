"""The deployment's data key, which seals the bytes of dead letters and parked events: the
lander's role makes its first version and reads it, and sees no other deployment key; no other
restricted role reads it; sealed bytes open only for their topic."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from crm import secrets
from crm.keys import keyring as kr
from crm.keys import undelivered
from crm.keys.blind_index import deployment_index


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
