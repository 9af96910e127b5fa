"""Recalculation against a real Postgres and the real customer mart: dbt builds
`analytics.dim_customers` from the customers each test writes to crm.customers (a change is a
write there and a rebuild of the mart, as in production). Memberships, count and
last_calculated are written; a failing recalculation keeps the last memberships and marks the
segment stale; injection attempts stored in criteria do no harm; an event-driven recalculation
re-evaluates only the customers it is given; stale segments are due at once when asked for and a
minute after a failure."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sqlalchemy import text

from crm.db import make_engine
from warehouse.dbt import run_dbt
from warehouse.segments import (
    RETRY_AFTER,
    due_segments,
    recalculate_all,
    recalculate_customers,
    recalculate_segment,
)

STAGES = ["ACTIVE", "ACTIVE", "AT_RISK", "CHURNED", "ONBOARDING", "ACTIVE"]


class Mart:
    """dbt over one database, with its own target folder (tests run beside other dbt runs)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = Path(tempfile.mkdtemp(prefix="crm-segments-dbt-"))

    def build(self, select: str = "dim_customers") -> None:
        done = run_dbt(
            ["run", "--quiet", "--select", select],
            self.url,
            target_path=self.target / "target",
            log_path=self.target / "logs",
            check=False,
            capture=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:]


@pytest.fixture(scope="module")
def mart(create_database: Callable[[str], str]) -> Mart:
    """A migrated database whose customer mart and everything under it dbt has built once."""
    from crm import migrate

    url = create_database("crm_segments")
    migrate.upgrade(url)
    m = Mart(url)
    m.build("+dim_customers")
    return m


@pytest.fixture
def world(mart: Mart) -> Iterator[tuple[str, object, list[str], dict[str, list[str]], Callable[[], None]]]:
    """Two new tenants, six customers each in crm.customers, the mart rebuilt over them, an
    engine, and `rebuild()` for after a change."""
    url = mart.url
    tenants = [str(uuid.uuid4()), str(uuid.uuid4())]
    customers: dict[str, list[str]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for i, t in enumerate(tenants):
            conn.execute(
                "insert into crm.tenants (id, slug, name) values (%s, %s, %s)",
                (t, f"t{i}-{t[:8]}", f"Tenant {i}"),
            )
            customers[t] = []
            for k in range(6):
                cid = str(uuid.uuid4())
                customers[t].append(cid)
                conn.execute(
                    "insert into crm.customers (id, tenant_id, email, company, lifecycle_stage, mrr, tags,"
                    " became_customer_at) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        cid,
                        t,
                        f"c{k}@t{i}.example",
                        f"Company {k}",
                        STAGES[k],
                        100 * k,
                        ["vip"] if k == 5 else [],
                        f"2026-0{k + 1}-15T00:00:00Z",
                    ),
                )
    mart.build()
    engine = make_engine(url)
    yield url, engine, tenants, customers, mart.build
    engine.dispose()


def change(url: str, sql: str, *params: object) -> None:
    """A write to the operational store (the mart sees it once rebuilt)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, params)


def customer_count(engine, tenants: list[str]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("select count(*) from crm.customers where tenant_id = ANY(CAST(:t AS uuid[]))"),
            {"t": tenants},
        ).scalar_one()


def add_segment(url: str, tenant: str, name: str, criteria) -> str:
    sid = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into crm.customer_segments (id, tenant_id, name, criteria) values (%s, %s, %s, %s)",
            (sid, tenant, name, Jsonb(criteria)),
        )
    return sid


def members(url: str, sid: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select customer_id from crm.customer_segment_memberships where segment_id = %s", (sid,)
        )
        return {str(r[0]) for r in rows}


def segment_row(url: str, sid: str) -> dict:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "select customer_count, last_calculated, is_stale, last_error from crm.customer_segments where id = %s",
            (sid,),
        )
        names = [d.name for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def test_recalculation_writes_members_count_and_time(world) -> None:
    url, engine, tenants, customers, rebuild = world
    t = tenants[0]
    sid = add_segment(
        url,
        t,
        "active paying",
        {
            "all": [
                {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"},
                {"field": "mrr", "op": "gte", "value": 100},
            ]
        },
    )
    result = recalculate_segment(engine, sid)
    assert result.ok and result.customer_count == 2 and result.added == 2
    assert members(url, sid) == {customers[t][1], customers[t][5]}
    row = segment_row(url, sid)
    assert row["customer_count"] == 2 and row["last_calculated"] is not None and not row["is_stale"]

    # customers change: one leaves, one joins; continuing members keep their row
    change(url, "update crm.customers set mrr = 0 where id = %s", customers[t][1])
    change(url, "update crm.customers set lifecycle_stage = 'ACTIVE' where id = %s", customers[t][4])
    rebuild()
    result = recalculate_segment(engine, sid)
    assert (result.customer_count, result.added, result.removed) == (2, 1, 1)
    assert members(url, sid) == {customers[t][4], customers[t][5]}
    # each recalculation that changed memberships is audited for its tenant, with the counts
    with psycopg.connect(url) as conn:
        audited = conn.execute(
            "select after - 'job' from crm.audit_log where action = 'job.write'"
            " and entity = 'crm.customer_segment_memberships' and tenant_id = %s order by id",
            (t,),
        ).fetchall()
    assert [a for (a,) in audited][-2:] == [
        {"rows": 2, "added": 2, "removed": 0, "segments": 1},
        {"rows": 2, "added": 1, "removed": 1, "segments": 1},
    ]


def test_segments_never_cross_tenants(world) -> None:
    url, engine, tenants, customers, _rebuild = world
    sid = add_segment(url, tenants[1], "everyone", {"field": "mrr", "op": "gte", "value": 0})
    recalculate_segment(engine, sid)
    assert members(url, sid) == set(customers[tenants[1]])


def test_operators_against_postgres(world) -> None:
    url, engine, tenants, customers, _rebuild = world
    t, c = tenants[0], customers[tenants[0]]
    cases = [
        ({"field": "lifecycle_stage", "op": "neq", "value": "CHURNED"}, {c[0], c[1], c[2], c[4], c[5]}),
        ({"field": "mrr", "op": "between", "value": [100, 300]}, {c[1], c[2], c[3]}),
        ({"field": "company", "op": "contains", "value": "pany 4"}, {c[4]}),
        ({"field": "tags", "op": "contains", "value": "vip"}, {c[5]}),
        ({"field": "lifecycle_stage", "op": "in", "value": ["AT_RISK", "ONBOARDING"]}, {c[2], c[4]}),
        ({"not": {"field": "mrr", "op": "lt", "value": 400}}, {c[4], c[5]}),
        ({"field": "churned_at", "op": "is_null", "value": True}, set(c)),
        (
            {"field": "became_customer_at", "op": "within_last_days", "value": 45},
            {c[4]},
        ),  # 2026-05-15, now 2026-06-01
    ]
    for i, (criteria, expected) in enumerate(cases):
        sid = add_segment(url, t, f"case {i}", criteria)
        result = recalculate_segment(engine, sid, now=date(2026, 6, 1))
        assert result.ok, result.error
        assert members(url, sid) == expected, criteria


def test_failure_keeps_members_and_marks_stale(world) -> None:
    url, engine, tenants, customers, _rebuild = world
    t = tenants[0]
    sid = add_segment(url, t, "at risk", {"field": "lifecycle_stage", "op": "eq", "value": "AT_RISK"})
    assert recalculate_segment(engine, sid).ok
    before = members(url, sid)
    assert before == {customers[t][2]}

    # the mart is gone (a dbt run in progress, a broken deploy): recalculation fails
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table analytics.dim_customers rename to dim_customers_away")
    result = recalculate_segment(engine, sid)
    assert not result.ok and result.code == "SEGMENT_CALCULATION_FAILED"
    assert result.customer_count == 1
    assert members(url, sid) == before
    row = segment_row(url, sid)
    assert row["is_stale"] and "dim_customers" in row["last_error"] and row["customer_count"] == 1

    # back: the next recalculation clears the flag
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table analytics.dim_customers_away rename to dim_customers")
    assert recalculate_segment(engine, sid).ok
    assert not segment_row(url, sid)["is_stale"]


def test_invalid_stored_criteria_marks_stale_without_sql(world) -> None:
    url, engine, tenants, _, _rebuild = world
    t = tenants[0]
    sid = add_segment(url, t, "active", {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"})
    assert recalculate_segment(engine, sid).ok
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update crm.customer_segments set criteria = %s where id = %s",
            (Jsonb({"field": "1=1; drop table crm.customers; --", "op": "eq", "value": 1}), sid),
        )
    result = recalculate_segment(engine, sid)
    assert not result.ok and "unknown field" in result.error
    assert len(members(url, sid)) == 3
    assert customer_count(engine, tenants) == 12


def test_email_domain_segments_match_sealed_and_older_rows(world) -> None:
    """People's e-mail is stored encrypted, its domain beside it: a segment on the domain matches
    a sealed row by that column and a row written before encryption by its readable address,
    and the mart it runs over holds no address and no name."""
    from uuid import UUID

    from crm.keys import personal
    from crm.keys.keyring import keyring

    url, engine, tenants, customers, rebuild = world
    t, c = tenants[0], customers[tenants[0]]
    sealed = personal.seal_row(
        UUID(t),
        "customers",
        {
            "email": "Ada@Acme.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+44 20 7946 0018",
        },
        keyring(url),
    )
    assert personal.is_sealed(sealed["email"]) and sealed["email_domain"] == "acme.example"
    change(
        url,
        "update crm.customers set email = %s, first_name = %s, last_name = %s, phone = %s, email_bidx = %s,"
        " email_domain = %s, phone_bidx = %s where id = %s",
        *(sealed[k] for k in ("email", "first_name", "last_name", "phone", "email_bidx", "email_domain")),
        sealed["phone_bidx"],
        c[0],
    )
    rebuild()
    acme = add_segment(url, t, "acme", {"field": "email_domain", "op": "eq", "value": "acme.example"})
    older = add_segment(url, t, "older rows", {"field": "email_domain", "op": "in", "value": ["t0.example"]})
    results = {r.segment_id: r for r in recalculate_all(engine, tenant_id=t)}
    assert results[acme].ok and results[older].ok, (results[acme].error, results[older].error)
    assert members(url, acme) == {c[0]}
    assert members(url, older) == set(c[1:])
    with psycopg.connect(url) as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'analytics' and table_name = 'dim_customers'"
            )
        }
        shown = conn.execute(
            "select count(*) from analytics.dim_customers where tenant_id = %s"
            " and (email_domain like '%%@%%' or customer_label ilike '%%lovelace%%'"
            " or customer_label like '%%@%%' or email_key like 'v2:%%')",
            (t,),
        ).fetchone()
    assert {"email_key", "email_domain"} <= columns
    assert columns.isdisjoint({"email", "full_name", "first_name", "last_name", "phone"})
    assert shown == (0,)


def test_a_segment_saved_on_a_removed_field_is_refused_with_the_reason(world) -> None:
    """A segment saved when it could filter on the e-mail or the name fails alone, with a
    sentence saying why, keeps its last members and turns stale; the others are recalculated."""
    url, engine, tenants, customers, _rebuild = world
    t, c = tenants[0], customers[tenants[0]]
    sid = add_segment(url, t, "by address", {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"})
    assert recalculate_segment(engine, sid).ok
    change(
        url,
        "update crm.customer_segments set criteria = %s where id = %s",
        Jsonb({"any": [{"field": "email", "op": "contains", "value": "@t0"}]}),
        sid,
    )
    named = add_segment(url, t, "by name", {"field": "full_name", "op": "eq", "value": "Ada Lovelace"})
    fine = add_segment(url, t, "fine", {"field": "mrr", "op": "gte", "value": 100})
    results = {r.segment_id: r for r in recalculate_all(engine, tenant_id=t)}
    assert not results[sid].ok and "field 'email' is no longer offered" in (results[sid].error or "")
    assert "email_domain" in (results[sid].error or "")
    assert not results[named].ok and "names are stored encrypted" in (results[named].error or "")
    assert results[fine].ok and members(url, fine) == set(c[1:])
    assert members(url, sid) == {c[0], c[1], c[5]}
    row = segment_row(url, sid)
    assert row["is_stale"] and "no longer offered" in row["last_error"]


def test_injection_values_match_nothing_and_harm_nothing(world) -> None:
    url, engine, tenants, _, _rebuild = world
    sid = add_segment(
        url,
        tenants[0],
        "evil",
        {
            "any": [
                {"field": "company", "op": "eq", "value": "x' or '1'='1"},
                {"field": "company", "op": "contains", "value": "'; drop table crm.customers; --"},
                {"field": "industry", "op": "in", "value": ["a') or true --"]},
            ]
        },
    )
    result = recalculate_segment(engine, sid)
    assert result.ok and result.customer_count == 0
    assert customer_count(engine, tenants) == 12


def test_recalculate_all_only_active_dynamic(world) -> None:
    url, engine, tenants, _, _rebuild = world
    a = add_segment(url, tenants[0], "a", {"field": "mrr", "op": "gt", "value": 0})
    b = add_segment(url, tenants[0], "b", {"field": "mrr", "op": "gt", "value": 0})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update crm.customer_segments set is_dynamic = false where id = %s", (b,))
    results = recalculate_all(engine, tenant_id=tenants[0])
    assert [r.segment_id for r in results] == [a]


def test_customer_deleted_since_the_mart_was_built_is_not_a_member(world) -> None:
    """The mart can be older than a deletion: a customer gone from crm.customers is neither
    inserted nor counted, and the memberships it had went with it (the delete trigger)."""
    url, engine, tenants, customers, rebuild = world
    t = tenants[0]
    sid = add_segment(
        url, t, "onboarding", {"field": "lifecycle_stage", "op": "in", "value": ["ONBOARDING", "AT_RISK"]}
    )
    assert recalculate_segment(engine, sid).ok
    assert members(url, sid) == {customers[t][2], customers[t][4]}
    gone = customers[t][0]  # ONBOARDING in the mart, then deleted from crm before the next build
    change(url, "update crm.customers set lifecycle_stage = 'ONBOARDING' where id = %s", gone)
    rebuild()
    change(url, "delete from crm.customers where id = %s", gone)
    change(url, "delete from crm.customers where id = %s", customers[t][2])  # a member, deleted
    assert members(url, sid) == {customers[t][4]}
    result = recalculate_segment(engine, sid)
    assert result.ok and (result.customer_count, result.added, result.removed) == (1, 0, 0)
    assert members(url, sid) == {customers[t][4]}
    assert segment_row(url, sid)["customer_count"] == 1 and not segment_row(url, sid)["is_stale"]


def test_deleting_a_segment_deletes_its_memberships(world) -> None:
    url, engine, tenants, _, _rebuild = world
    keep = add_segment(url, tenants[0], "keep", {"field": "mrr", "op": "gt", "value": 0})
    drop = add_segment(url, tenants[0], "drop", {"field": "mrr", "op": "gt", "value": 0})
    recalculate_all(engine, tenant_id=tenants[0])
    assert len(members(url, drop)) == 5
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from crm.customer_segments where id = %s", (drop,))
    assert members(url, drop) == set() and len(members(url, keep)) == 5


def test_recalculate_all_isolates_the_failing_segment(world) -> None:
    """All of a tenant's segments are evaluated in one statement; when it fails, they are retried
    one by one, so only the failing segments keep their old members and turn stale."""
    url, engine, tenants, customers, _rebuild = world
    t, c = tenants[0], customers[tenants[0]]
    onboarding = add_segment(
        url, t, "onboarding", {"field": "lifecycle_stage", "op": "eq", "value": "ONBOARDING"}
    )
    active = add_segment(url, t, "active", {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"})
    broken = add_segment(url, t, "broken", {"field": "no_such_column", "op": "eq", "value": 1})
    first = {r.segment_id: r for r in recalculate_all(engine, tenant_id=t)}
    assert first[onboarding].ok and first[active].ok and not first[broken].ok
    assert members(url, active) == {c[0], c[1], c[5]}
    with psycopg.connect(url, autocommit=True) as conn:
        # the mart loses a column one segment reads: that segment fails at run time, not at compile time
        conn.execute("alter table analytics.dim_customers drop column lifecycle_stage")
        conn.execute("alter table analytics.dim_customers add column lifecycle_stage integer")
        conn.execute("update analytics.dim_customers set lifecycle_stage = 1")
    big = add_segment(url, t, "big", {"field": "mrr", "op": "gte", "value": 100})
    second = {r.segment_id: r for r in recalculate_all(engine, tenant_id=t)}
    assert not second[onboarding].ok and segment_row(url, onboarding)["is_stale"]
    assert not second[active].ok and segment_row(url, active)["is_stale"]
    assert members(url, onboarding) == {c[4]} and members(url, active) == {c[0], c[1], c[5]}
    assert second[big].ok and (second[big].added, second[big].removed) == (5, 0)
    assert members(url, big) == set(c[1:])
    assert not segment_row(url, big)["is_stale"] and segment_row(url, big)["customer_count"] == 5


def test_recalculating_some_customers_changes_only_their_memberships(world) -> None:
    """The event-driven path: the segments are re-evaluated for the customers new events
    touched; everyone else's membership stays as it was, even where the mart changed too."""
    url, engine, tenants, customers, rebuild = world
    t, c = tenants[0], customers[tenants[0]]
    active = add_segment(url, t, "active", {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"})
    assert recalculate_segment(engine, active).ok
    assert members(url, active) == {c[0], c[1], c[5]}
    before = segment_row(url, active)

    change(url, "update crm.customers set lifecycle_stage = 'CHURNED' where id = %s", c[0])  # leaves
    change(url, "update crm.customers set lifecycle_stage = 'ACTIVE' where id = %s", c[4])  # joins
    change(url, "update crm.customers set lifecycle_stage = 'ACTIVE' where id = %s", c[2])  # untouched
    rebuild()
    (result,) = recalculate_customers(engine, {t: [c[0], c[4]], tenants[1]: []})
    assert result.ok and (result.added, result.removed, result.customer_count) == (1, 1, 3)
    assert members(url, active) == {c[1], c[4], c[5]}  # c[2] waits for its own event
    row = segment_row(url, active)
    assert row["customer_count"] == 3 and not row["is_stale"]
    assert row["last_calculated"] == before["last_calculated"]  # not every customer was evaluated

    # a stale segment is left to its full recalculation
    change(url, "update crm.customer_segments set is_stale = true where id = %s", active)
    assert recalculate_customers(engine, {t: [c[2]]}) == []
    assert members(url, active) == {c[1], c[4], c[5]}
    assert {r.segment_id for r in recalculate_all(engine, segment_ids=[active])} == {active}
    assert members(url, active) == {c[1], c[2], c[4], c[5]}


def test_stale_segments_are_due_when_asked_for_and_a_minute_after_a_failure(world) -> None:
    url, engine, tenants, _, _ = world
    t = tenants[0]
    asked = add_segment(url, t, "asked", {"field": "mrr", "op": "gte", "value": 100})
    failed = add_segment(url, t, "failed", {"field": "mrr", "op": "gte", "value": 100})
    fresh = add_segment(url, t, "fresh", {"field": "mrr", "op": "gte", "value": 100})
    inactive = add_segment(url, t, "inactive", {"field": "mrr", "op": "gte", "value": 100})
    change(
        url, "update crm.customer_segments set is_stale = true where id = any(%s::uuid[])", [asked, inactive]
    )
    change(url, "update crm.customer_segments set is_active = false where id = %s", inactive)
    change(url, "update crm.customer_segments set is_stale = true, last_error = 'boom' where id = %s", failed)
    due = set(due_segments(engine))
    assert asked in due and {failed, fresh, inactive}.isdisjoint(due)
    change(
        url,
        "update crm.customer_segments set updated_at = now() - %s where id = %s",
        RETRY_AFTER + timedelta(seconds=1),
        failed,
    )
    assert {asked, failed} <= set(due_segments(engine))
