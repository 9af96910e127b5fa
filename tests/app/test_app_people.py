"""People's e-mail and names are stored encrypted and the marts are pseudonymous: the pages that
must name someone open the names through the dashboards' one guarded path (app.data.people),
as the dashboards' role, in the signed-in tenant only, recording the read."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from app.auth import SignedIn
from crm.db import enter_tenant_pg, role_url
from crm.keys import personal, staff
from crm.keys.keyring import keyring

PEOPLE_COLUMNS = {"email", "first_name", "last_name", "phone", "full_name", "requester_email"}


def _top_lead(url: str, tenant_id: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select lead_id::text from analytics.fct_lead_scores where tenant_id = %s and score is not null"
            " order by score desc, lead_id limit 1",
            (tenant_id,),
        ).fetchone()
    assert row is not None, "no scored lead"
    return row[0]


def _opened(url: str, tenant_id: str, table: str, record: str) -> dict:
    """The record's values as the owner reads them, opened (sealed, or written before encryption)."""
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            f"select id, email, first_name, last_name from crm.{table} where id = %s", (record,)
        )
        names = [d.name for d in cur.description]
        row = dict(zip(names, cur.fetchone(), strict=True))
    return personal.open_row(uuid.UUID(tenant_id), table, row, keyring(url))


def _views(url: str, user_id: str, since) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select entity, entity_id::text, row_count from crm.access_log"
            " where actor_id = %s and occurred_at >= %s order by id",
            (user_id, since),
        ).fetchall()


def _now(url: str):
    with psycopg.connect(url) as conn:
        return conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]


def test_the_lead_page_shows_the_leads_readable_name_and_records_it(run_page, world) -> None:
    manager = world.managers[0]
    lead_id = _top_lead(world.url, manager.tenant_id)
    person = _opened(world.url, manager.tenant_id, "leads", lead_id)
    name = " ".join(p for p in (person["first_name"], person["last_name"]) if p)
    assert name and not personal.is_sealed(name) and "@" in person["email"]
    since = _now(world.url)
    at = run_page("Lead", query={"lead": lead_id})
    assert not at.exception, at.exception
    assert at.subheader[0].value.startswith(f"{name} · ")
    assert any(person["email"] in c.value for c in at.caption)
    assert ("leads", lead_id, 1) in _views(world.url, manager.user_id, since)


def test_the_leads_list_names_its_leads(run_page, world) -> None:
    manager = world.managers[0]
    lead_id = _top_lead(world.url, manager.tenant_id)
    person = _opened(world.url, manager.tenant_id, "leads", lead_id)
    at = run_page("Leads")
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    assert "name" in shown.columns and not shown["name"].astype(str).str.startswith("v2:").any()
    top = shown.loc[shown["lead_id"].astype(str) == lead_id, "name"]
    assert list(top) == [" ".join(p for p in (person["first_name"], person["last_name"]) if p)]


def test_the_marts_hold_no_readable_email_or_name(world) -> None:
    """No mart has a column of a person's e-mail, names or phone, and no text value of the lead
    and customer marts is an e-mail address or one of their names."""
    manager = world.managers[0]
    lead_id = _top_lead(world.url, manager.tenant_id)
    person = _opened(world.url, manager.tenant_id, "leads", lead_id)
    with psycopg.connect(world.url) as conn:
        columns = conn.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            " where table_schema = 'analytics'"
        ).fetchall()
        assert not [(t, c) for t, c, _ in columns if c in PEOPLE_COLUMNS]
        for table in ("dim_leads", "dim_customers"):
            text_columns = [c for t, c, d in columns if t == table and d == "text"]
            assert {"email_key", "email_domain"} <= set(text_columns)
            for column in text_columns:
                found = conn.execute(
                    f"select count(*) from analytics.{table}"
                    f" where {column} like '%%@%%' or {column} like 'v2:%%' or {column} in (%s, %s, %s)",
                    (person["email"], person["first_name"], person["last_name"]),
                ).fetchone()
                assert found == (0,), (table, column)
        domain = conn.execute(
            "select email_domain, email_key from analytics.dim_leads where lead_id = %s", (lead_id,)
        ).fetchone()
    assert domain is not None and domain[0] == person["email"].rpartition("@")[2].lower()


def test_the_guarded_path_reads_only_its_tenants_people_and_what_it_shows(world) -> None:
    """The dashboards' role reads the sealed e-mail and names of its signed tenant's leads and
    its data keys; not another tenant's, not the phone, not the index keys."""
    from app.data.engine import make_reader_engine
    from app.data.people import read_people

    a, b = world.managers[0], world.managers[1]
    lead_b = _top_lead(world.url, b.tenant_id)
    reader = role_url("crm_reader", world.url)
    with psycopg.connect(reader) as conn:
        enter_tenant_pg(conn, a.tenant_id)
        tenants = {r[0] for r in conn.execute("select distinct tenant_id::text from crm.leads")}
        kinds = {r[0] for r in conn.execute("select kind from crm.tenant_data_keys")}
        assert tenants == {a.tenant_id} and kinds <= {"data"}
        assert {r[0] for r in conn.execute("select tenant_id::text from crm.tenant_data_keys")} <= {
            a.tenant_id
        }
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select phone from crm.leads")
        conn.rollback()
        enter_tenant_pg(conn, a.tenant_id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from crm.customers")
    engine = make_reader_engine(world.url)
    try:
        assert read_people(engine, a.tenant_id, "leads", (lead_b,)) == {}
        mine = read_people(engine, b.tenant_id, "leads", (lead_b,))
        assert mine[lead_b].label and not personal.is_sealed(mine[lead_b].label)
    finally:
        engine.dispose()


def test_a_page_without_names_opens_none(run_page, world) -> None:
    """Pages that only aggregate, or name customers by their company, open no one."""
    manager: SignedIn = world.managers[0]
    since = _now(world.url)
    for page in ("Customers", "Segments"):
        at = run_page(page)
        assert not at.exception, at.exception
    assert [v for v in _views(world.url, manager.user_id, since) if v[0] in ("leads", "customers")] == []


def _owner(url: str, tenant_id: str, lead_id: str) -> tuple[str, str]:
    """A lead's owner: (user id, full name opened from crm.users as the owner reads it)."""
    with psycopg.connect(url) as conn:
        uid, name = conn.execute(
            "select u.id::text, u.full_name from crm.leads l join crm.users u on u.id = l.assigned_user_id"
            " where l.id = %s",
            (lead_id,),
        ).fetchone()
    assert personal.is_sealed(name)
    return uid, staff.open_value(tenant_id, "full_name", name, keyring(url))


def test_the_lead_page_names_its_owner_through_the_guarded_path(run_page, world) -> None:
    """The marts name an owner by role and id; the Lead page opens the owner's name from
    crm.users and records the read."""
    manager = world.managers[0]
    lead_id = _top_lead(world.url, manager.tenant_id)
    owner_id, owner_name = _owner(world.url, manager.tenant_id, lead_id)
    since = _now(world.url)
    at = run_page("Lead", query={"lead": lead_id})
    assert not at.exception, at.exception
    assert any(f"owner {owner_name}" in m.value for m in at.markdown)
    assert ("users", owner_id, 1) in _views(world.url, manager.user_id, since)


def test_the_leads_list_names_its_owners(run_page, world) -> None:
    manager = world.managers[0]
    lead_id = _top_lead(world.url, manager.tenant_id)
    _, owner_name = _owner(world.url, manager.tenant_id, lead_id)
    since = _now(world.url)
    at = run_page("Leads")
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    assert list(shown.loc[shown["lead_id"].astype(str) == lead_id, "owner"]) == [owner_name]
    assert not shown["owner"].dropna().astype(str).str.startswith("v2:").any()
    assert owner_name in at.selectbox(key="f_owner").options
    assert [v for v in _views(world.url, manager.user_id, since) if v[0] == "users"]
