"""Imports store people's values sealed: the e-mail, names and phone of imported customers and
leads (rows, audit images, events) are `v2:dk...` with the e-mail's index and domain and the
phone's index beside them; a customer another import already holds is found by the index of
its e-mail in any case; a changed phone is sealed again while the values that did not change
keep their stored text; a bad address is reported without the address."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sealed_people import People

from integrations.imports import run as import_run
from integrations.imports.formats import mapping

PEOPLE_COLUMNS = ("email", "first_name", "last_name", "phone")


def _files(d: Path, system: str, accounts: str, people: str = "Ref,Mail,First,Phone,Account\n") -> Path:
    d.mkdir(exist_ok=True)
    (d / "map.yml").write_text(
        textwrap.dedent(f"""
        system: {system}
        files:
          - path: accounts.csv
            record: customer
            object: account
            id: AccountNo
            columns: {{company: Name, email: Mail, first_name: First, last_name: Last, phone: Phone}}
          - path: people.csv
            record: lead
            object: person
            id: Ref
            columns: {{email: Mail, first_name: First, phone: Phone, customer_ref: Account}}
            references: {{customer_ref: account}}
        """).lstrip()
    )
    (d / "accounts.csv").write_text(textwrap.dedent(accounts).lstrip())
    (d / "people.csv").write_text(textwrap.dedent(people).lstrip())
    return d / "map.yml"


def _import(pg_url: str, tenant: str, path: Path, **kw: Any) -> import_run.ImportResult:
    return import_run.run_import(
        "mapping",
        [path],
        tenant,
        read=mapping.read,
        system=mapping.system_of(path),
        create_tenant="People",
        url=pg_url,
        **kw,
    )


def _sql(pg_url: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(pg_url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


ACCOUNTS = """
    AccountNo,Name,Mail,First,Last,Phone
    A1,Acme,Ops@Acme.example,Olga,Petrova,+1 (555) 010-7788
"""
PEOPLE = """
    Ref,Mail,First,Phone,Account
    P1,ann@acme.example,Ann,555 0101 999,A1
"""


def test_imported_people_are_stored_sealed(pg_url: str, tmp_path: Path) -> None:
    tenant = f"imp-people-{uuid.uuid4().hex[:8]}"
    result = _import(pg_url, tenant, _files(tmp_path / "crm", "crm-a", ACCOUNTS, PEOPLE))
    assert result.status == "completed", result.bad
    tid, people = result.tenant_id, People(pg_url)
    (customer,) = _sql(pg_url, "SELECT * FROM crm.customers WHERE tenant_id = %s", tid)
    (lead,) = _sql(pg_url, "SELECT * FROM crm.leads WHERE tenant_id = %s", tid)
    for row in (customer, lead):
        people.assert_sealed(row, "email", "first_name", "phone")
        assert row["email_bidx"].startswith("bi") and row["phone_bidx"].startswith("bi")
        assert row["email_domain"] == "acme.example"
    people.assert_sealed(customer, "last_name")
    assert {k: people.get("customers", customer["id"])[k] for k in PEOPLE_COLUMNS} == {
        "email": "ops@acme.example",
        "first_name": "Olga",
        "last_name": "Petrova",
        "phone": "+1 (555) 010-7788",
    }
    assert people.rows("leads", tid, "ANN@acme.example")[0]["customer_id"] == customer["id"]
    # the audit images and the events carry the sealed values, never the readable ones
    audit = _sql(
        pg_url,
        "SELECT after::text AS t FROM crm.audit_log WHERE tenant_id = %s AND entity IN ('customers', 'leads')",
        tid,
    )
    events = _sql(
        pg_url,
        "SELECT payload::text AS t FROM crm.outbox WHERE tenant_id = %s"
        " AND event_type IN ('crm.customer.created', 'crm.lead.created')",
        tid,
    )
    assert len(audit) == 2 and len(events) == 2
    for text in [r["t"] for r in audit + events]:
        assert "v2:dk" in text
        assert not any(
            v in text for v in ("ops@acme.example", "ann@acme.example", "Olga", "Petrova", "010-7788")
        )


def test_a_second_import_finds_the_customer_by_its_sealed_email(pg_url: str, tmp_path: Path) -> None:
    tenant = f"imp-people-{uuid.uuid4().hex[:8]}"
    first = _import(pg_url, tenant, _files(tmp_path / "a", "crm-a", ACCOUNTS))
    assert first.counts["customer"]["created"] == 1
    # another system, the same address in another case: linked, its empty fields filled
    again = """
        AccountNo,Name,Mail,First,Last,Phone
        X9,Acme Inc,OPS@acme.EXAMPLE,Someone,Else,
        X10,Globex,ops@globex.example,,,
    """
    second = _import(pg_url, tenant, _files(tmp_path / "b", "crm-b", again))
    assert second.counts["customer"] == {"created": 1, "updated": 0, "unchanged": 1}
    people = People(pg_url)
    (acme,) = people.rows("customers", first.tenant_id, "ops@acme.example")
    assert (acme["company"], acme["first_name"], acme["last_name"]) == ("Acme", "Olga", "Petrova")
    links = _sql(
        pg_url,
        "SELECT system, external_id FROM crm.external_ids WHERE tenant_id = %s AND entity_id = %s ORDER BY 1",
        first.tenant_id,
        acme["id"],
    )
    assert [(r["system"], r["external_id"]) for r in links] == [("crm-a", "A1"), ("crm-b", "X9")]
    assert len(_sql(pg_url, "SELECT id FROM crm.customers WHERE tenant_id = %s", first.tenant_id)) == 2


def test_a_changed_record_seals_what_it_sets_and_keeps_the_rest(pg_url: str, tmp_path: Path) -> None:
    tenant = f"imp-people-{uuid.uuid4().hex[:8]}"
    first = _import(pg_url, tenant, _files(tmp_path / "a", "crm-a", ACCOUNTS))
    people = People(pg_url)
    (before,) = _sql(pg_url, "SELECT * FROM crm.customers WHERE tenant_id = %s", first.tenant_id)
    same = _import(pg_url, tenant, _files(tmp_path / "a", "crm-a", ACCOUNTS))
    assert same.counts["customer"] == {"created": 0, "updated": 0, "unchanged": 1}
    moved = ACCOUNTS.replace("+1 (555) 010-7788", "+1 555 010 9900")
    changed = _import(pg_url, tenant, _files(tmp_path / "a", "crm-a", moved))
    assert changed.counts["customer"] == {"created": 0, "updated": 1, "unchanged": 0}
    after = people.stored("customers", before["id"])
    assert {c for c in PEOPLE_COLUMNS if after[c] != before[c]} == {"phone"}
    assert after["phone_bidx"] != before["phone_bidx"] and after["email_bidx"] == before["email_bidx"]
    people.assert_sealed(after, "phone")
    assert people.opened("customers", after)["phone"] == "+1 555 010 9900"
    (event,) = _sql(
        pg_url,
        "SELECT payload FROM crm.outbox WHERE tenant_id = %s AND event_type = 'crm.customer.updated'",
        first.tenant_id,
    )
    assert set(event["payload"]["payload"]["changed_fields"]) == {"phone", "phone_bidx"}


def test_a_bad_address_is_reported_without_it(pg_url: str, tmp_path: Path) -> None:
    bad = """
        AccountNo,Name,Mail,First,Last,Phone
        A1,Acme,olga petrova@acme,Olga,,
    """
    result = _import(pg_url, f"imp-people-{uuid.uuid4().hex[:8]}", _files(tmp_path / "a", "crm-a", bad))
    assert result.status == "rejected"
    (reason,) = [b.reason for b in result.bad]
    assert reason.startswith("email:") and "petrova" not in reason
