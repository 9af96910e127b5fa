"""`crm erase --person` on a seeded, dbt-built world: the person's personal values are gone from
crm.*, raw.* and the marts, their records stay (counts and revenue reconcile, a dbt build after
it is green), another tenant's person with the same e-mail is untouched, a second run touches
nothing, and the erasure is audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pytest

AS_OF = date(2026, 11, 1)
TOTALS = """select (select count(*) from analytics.dim_leads where tenant_id = %(t)s),
  (select count(*) from analytics.dim_customers where tenant_id = %(t)s),
  (select coalesce(sum(deal_value), 0) from analytics.fct_deals where tenant_id = %(t)s and is_won)"""


def _dbt(url: str, target: Path) -> None:
    from warehouse.dbt import run_dbt

    done = run_dbt(
        ["build", "--vars", json.dumps({"as_of": AS_OF.isoformat()})],
        url,
        target_path=target,
        log_path=target / "logs",
        check=False,
        capture=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-4000:]


@pytest.fixture(scope="module")
def world(create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> str:
    from crm import migrate
    from sim import seed_world

    url = create_database("crm_erase")
    migrate.upgrade(url)
    seed_world(scale="S", seed=42, as_of=AS_OF, database_url=url, sink="raw", progress=False)
    _dbt(url, tmp_path_factory.mktemp("dbt-erase"))
    return url


def test_erasure_keeps_the_marts_reconciled_and_other_tenants_untouched(
    world: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from crm.keys import personal
    from crm.keys.keyring import keyring
    from crm.privacy.erasure import MARKER, erase_person

    with psycopg.connect(world, autocommit=True) as conn:
        slug, tenant, sealed_email, lead = conn.execute(
            """select t.slug, t.id, l.email, l.id from crm.leads l join crm.tenants t on t.id = l.tenant_id
               join crm.customers c on c.tenant_id = l.tenant_id and c.email_bidx = l.email_bidx
               where exists (select 1 from crm.deals d where d.lead_id = l.id) order by l.id limit 1"""
        ).fetchone()  # type: ignore[misc]
        email = personal.open_value(tenant, "email", sealed_email, keyring(world))
        assert personal.is_sealed(sealed_email) and "@" in email
        other = conn.execute("select id from crm.tenants where id <> %s limit 1", (tenant,)).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "insert into crm.leads (tenant_id, email, first_name, source) values (%s, %s, 'Same', 'web')",
            (other, email),
        )
        conn.execute(
            "insert into crm.audit_log (tenant_id, actor_type, action, entity, entity_id, after)"
            " values (%s, 'user', 'create', 'leads', %s, %s)",
            (tenant, lead, json.dumps({"email": email, "stage": "NEW"})),
        )
        before = conn.execute(TOTALS, {"t": tenant}).fetchone()

    report = erase_person(email, slug, world)
    counts = report.counts()
    assert counts["crm.leads"] >= 1 and counts["crm.customers"] == 1
    assert counts["analytics.dim_leads"] >= 1 and counts["crm.audit_log"] == 1
    assert counts.get("raw.lead_activities", 0) + counts.get("raw.tickets", 0) > 0

    with psycopg.connect(world) as conn:
        found = personal.email_params(tenant, email, keyring(world)) | {"t": tenant, "e": email}
        hits = conn.execute(
            f"""select (select count(*) from crm.leads where tenant_id = %(t)s and {personal.email_match()})
                    + (select count(*) from crm.customers where tenant_id = %(t)s and {personal.email_match()})
                    + (select count(*) from analytics.dim_leads where tenant_id = %(t)s and email_key = any(%(email_bidx)s))
                    + (select count(*) from crm.audit_log where tenant_id = %(t)s and after::text ilike '%%' || %(e)s || '%%')""",
            found,
        ).fetchone()
        assert hits == (0,)
        assert conn.execute(
            "select email, first_name, email_bidx, email_domain from crm.leads where id = %s", (lead,)
        ).fetchone() == (MARKER, MARKER, None, None)
        assert conn.execute(
            "select first_name from crm.leads where tenant_id = %s and email = %s", (other, email)
        ).fetchone() == ("Same",)
        assert conn.execute(TOTALS, {"t": tenant}).fetchone() == before
        assert conn.execute(
            "select count(*) from crm.audit_log where tenant_id = %s and action = 'person_erased'", (tenant,)
        ).fetchone() == (1,)

    again = erase_person(email, slug, world)
    assert again.total == 0 and "nothing to erase" in again.summary()

    _dbt(world, tmp_path_factory.mktemp("dbt-after-erase"))
    with psycopg.connect(world) as conn:
        assert conn.execute(TOTALS, {"t": tenant}).fetchone() == before


def test_erasure_redacts_a_landed_ticket_whose_requester_is_sealed(migrated_db: str) -> None:
    import uuid
    from datetime import UTC, datetime

    from psycopg.types.json import Jsonb

    from crm.keys import event_text, personal
    from crm.keys.keyring import keyring
    from crm.privacy.erasure import MARKER, erase_person

    email, ring = "ana.silva@example.com", keyring(migrated_db)
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    tickets: dict[str, uuid.UUID] = {}
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        for tenant in (mine, theirs):
            conn.execute(
                "insert into crm.tenants (id, slug, name) values (%s, %s, 'Erase')",
                (tenant, f"e-{tenant.hex[:8]}"),
            )
        for name, tenant, requester in (
            ("hers", mine, email),
            ("someone else's", mine, "bo@example.com"),
            ("hers elsewhere", theirs, email),
        ):
            version, key = ring.current(tenant)
            payload = event_text.sealer("tickets", tenant, version, key)(
                {
                    "ticket_id": str(uuid.uuid4()),
                    "subject": "Printer on fire",
                    "requester_email": requester,
                    "requester_phone": "+44 20 7946 0000",
                    "requester_name": "Ana Silva",
                    "requester_company": "Acme",
                }
            )
            assert payload is not None and email not in str(payload)
            tickets[name] = uuid.uuid4()
            conn.execute(
                "insert into raw.tickets (event_id, tenant_id, event_type, schema_version, occurred_at, source,"
                " payload) values (%s, %s, 'ticket.created', 2, %s, 'ticketing', %s)",
                (tickets[name], tenant, datetime.now(UTC), Jsonb(payload)),
            )

    def payload(name: str) -> dict:
        with psycopg.connect(migrated_db) as conn:
            row = conn.execute(
                "select payload from raw.tickets where event_id = %s", (tickets[name],)
            ).fetchone()
        assert row is not None
        return row[0]

    untouched = {name: payload(name) for name in ("someone else's", "hers elsewhere")}
    report = erase_person(" Ana.Silva@Example.COM", f"e-{mine.hex[:8]}", migrated_db)  # as she spelled it
    assert report.counts().get("raw.tickets") == 1, report.counts()
    hers = payload("hers")
    assert [hers[f] for f in personal.REQUESTER] == [MARKER] * 3
    assert hers["requester_company"] == MARKER and hers["subject"] == MARKER  # sealed free text
    assert {name: payload(name) for name in untouched} == untouched
    assert (
        personal.open_value(mine, "email", untouched["someone else's"]["requester_email"], ring)
        == "bo@example.com"
    )
    assert erase_person(email, f"e-{mine.hex[:8]}", migrated_db).counts().get("raw.tickets", 0) == 0


def test_erasure_redacts_a_persons_landed_messages_and_activities_whose_text_is_sealed(
    migrated_db: str,
) -> None:
    """The lander seals what people wrote: a landed message or activity naming the person's lead
    is found by the lead's id and each sealed text of it becomes the marker; another lead's
    events stay as they landed."""
    import uuid
    from datetime import UTC, datetime

    from psycopg.types.json import Jsonb

    from crm.keys import event_text, personal
    from crm.keys.keyring import keyring
    from crm.privacy.erasure import MARKER, erase_person

    email, ring, tenant = "quentin.marsh@example.com", keyring(migrated_db), uuid.uuid4()
    landed: dict[str, tuple[str, uuid.UUID]] = {}
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(
            "insert into crm.tenants (id, slug, name) values (%s, %s, 'Erase')",
            (tenant, f"m-{tenant.hex[:8]}"),
        )
        leads = {}
        for who, address in (("his", email), ("hers", "ana@example.com")):
            row = personal.seal_row(tenant, "leads", {"email": address, "first_name": "Q"}, ring)
            leads[who] = conn.execute(
                "insert into crm.leads (tenant_id, email, first_name, email_bidx, email_domain, source)"
                " values (%s, %s, %s, %s, %s, 'web') returning id",
                (tenant, row["email"], row["first_name"], row["email_bidx"], row["email_domain"]),
            ).fetchone()[0]
        version, key = ring.current(tenant)
        for who, lead in leads.items():
            for topic, event_type, payload in (
                (
                    "conversations",
                    "conversation.message",
                    {
                        "conversation_id": str(uuid.uuid4()),
                        "lead_id": str(lead),
                        "channel": "CHAT",
                        "direction": "inbound",
                        "author": "Quentin Marsh",
                        "text": "Call me on my mobile, it is 07700 900123",
                    },
                ),
                (
                    "lead-activities",
                    "lead.email_sent",
                    {
                        "activity_id": str(uuid.uuid4()),
                        "lead_id": str(lead),
                        "email_id": "e-1",
                        "subject": "Your quote, Quentin",
                        "description": "Quote sent to Quentin's home address",
                        "metadata": {},
                    },
                ),
            ):
                sealed = event_text.sealer(topic, tenant, version, key)(payload)
                assert sealed is not None and "Quentin" not in str(sealed)
                table = topic.replace("-", "_")
                landed[f"{who} {topic}"] = (table, uuid.uuid4())
                conn.execute(
                    f"insert into raw.{table} (event_id, tenant_id, event_type, schema_version, occurred_at,"
                    " source, payload) values (%s, %s, %s, 1, %s, 'ticketing', %s)",
                    (landed[f"{who} {topic}"][1], tenant, event_type, datetime.now(UTC), Jsonb(sealed)),
                )

    def payload(name: str) -> dict:
        table, event_id = landed[name]
        with psycopg.connect(migrated_db) as conn:
            row = conn.execute(f"select payload from raw.{table} where event_id = %s", (event_id,)).fetchone()
        assert row is not None
        return row[0]

    untouched = {name: payload(name) for name in landed if name.startswith("hers")}
    report = erase_person(email, f"m-{tenant.hex[:8]}", migrated_db)
    assert report.counts().get("raw.conversations") == 1 and report.counts().get("raw.lead_activities") == 1
    message, activity = payload("his conversations"), payload("his lead-activities")
    assert (message["text"], message["author"]) == (MARKER, MARKER)
    assert (activity["subject"], activity["description"]) == (MARKER, MARKER)
    assert {name: payload(name) for name in untouched} == untouched
    assert (
        event_text.open_field(
            tenant, "conversations", "author", untouched["hers conversations"]["author"], ring
        )
        == "Quentin Marsh"
    )
