"""The audit log's one exception: `crm.erase_audit_pii` replaces personal values in before/after
with the marker and records itself; a plain UPDATE stays refused, and even under the erasure
flag nothing but a personal value becoming the marker gets through."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

BEFORE = {
    "email": "ann@example.com",
    "first_name": "Ann",
    "stage": "won",
    "value": 10,
    "tags": [{"phone": "555"}],
}


def _audited(conn: psycopg.Connection) -> tuple[str, int]:
    tenant = str(uuid.uuid4())
    conn.execute(
        "insert into crm.tenants (id, slug, name) values (%s, %s, 'E')", (tenant, f"erase-{tenant[:8]}")
    )
    row = conn.execute(
        "insert into crm.audit_log (tenant_id, actor_type, action, entity, before, after)"
        " values (%s, 'user', 'update', 'leads', %s, %s) returning id",
        (tenant, json.dumps(BEFORE), json.dumps(BEFORE | {"stage": "lost"})),
    ).fetchone()
    assert row is not None
    return tenant, int(row[0])


FORGED = [
    "update crm.audit_log set action = 'forged' where id = %(id)s",
    "update crm.audit_log set before = jsonb_set(before, '{stage}', '\"[erased]\"') where id = %(id)s",
    "update crm.audit_log set before = jsonb_set(before, '{email}', '\"someone-else\"') where id = %(id)s",
    "update crm.audit_log set before = before - 'email' where id = %(id)s",
    "update crm.audit_log set after = crm.redact_pii(after), entity = 'deals' where id = %(id)s",
    "delete from crm.audit_log where id = %(id)s",
]
REDACTION = "update crm.audit_log set before = crm.redact_pii(before) where id = %(id)s"


def _refused(db: str, change: str, flag: bool) -> None:
    """`change` fails with 42501 (with the erasure flag set by hand when `flag`), and the row
    is as it was."""
    with psycopg.connect(db) as conn:
        _, audit_id = _audited(conn)
        conn.commit()
        if flag:
            conn.execute("select set_config('crm.audit_erasure', 'on', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(change, {"id": audit_id})
        conn.rollback()
        row = conn.execute("select before from crm.audit_log where id = %s", (audit_id,)).fetchone()
    assert row == (BEFORE,)


@pytest.mark.parametrize("change", FORGED)
@pytest.mark.parametrize("flag", [False, True])
def test_nothing_but_personal_values_becoming_the_marker_passes_even_under_the_flag(
    migrated_db: str, change: str, flag: bool
) -> None:
    _refused(migrated_db, change, flag)


def test_a_redaction_outside_the_function_is_refused(migrated_db: str) -> None:
    _refused(migrated_db, REDACTION, flag=False)


def test_only_the_owner_may_call_the_erasure_function(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        tenant, audit_id = _audited(conn)
        conn.commit()
        for role in ("crm_api", "crm_reader", "crm_transform", "crm_ml"):
            conn.execute(f"set local role {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select crm.erase_audit_pii(%s, %s, '{}')", (tenant, [audit_id]))
            conn.rollback()
        row = conn.execute("select before from crm.audit_log where id = %s", (audit_id,)).fetchone()
    assert row == (BEFORE,)


def test_the_function_replaces_personal_values_only_and_records_itself(migrated_db: str) -> None:
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        tenant, audit_id = _audited(conn)
        _, other_id = _audited(conn)
        done = conn.execute(
            "select crm.erase_audit_pii(%s, %s, %s)",
            (tenant, [audit_id, other_id], json.dumps({"crm.leads": 1})),
        ).fetchone()
        assert done == (1,)  # the other tenant's row is not this tenant's to erase
        before, after, action = conn.execute(
            "select before, after, action from crm.audit_log where id = %s", (audit_id,)
        ).fetchone()  # type: ignore[misc]
        assert before == {
            "email": "[erased]",
            "first_name": "[erased]",
            "stage": "won",
            "value": 10,
            "tags": [{"phone": "[erased]"}],
        }
        assert after["stage"] == "lost" and after["email"] == "[erased]" and action == "update"
        assert conn.execute("select before from crm.audit_log where id = %s", (other_id,)).fetchone() == (
            BEFORE,
        )
        erased = conn.execute(
            "select actor_type, after from crm.audit_log where tenant_id = %s and action = 'person_erased'",
            (tenant,),
        ).fetchall()
        assert erased == [("system", {"crm.leads": 1, "crm.audit_log": 1})]
        assert conn.execute("select crm.erase_audit_pii(%s, %s, '{}')", (tenant, [audit_id])).fetchone() == (
            0,
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update crm.audit_log set action = 'x' where id = %s", (audit_id,))
