"""Tickets over HTTP against real Postgres (the API as a uvicorn process, connecting as
crm_api): enrichment by id, e-mail and phone, the unknown requester, a landed ticket and the
404, leads made from tickets (deduplicated by e-mail and company domain, never by free-mail,
audited, idempotent), and another tenant's tickets and records never seen."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb


def land(pg_url: str, tenant_id: uuid.UUID, payload: dict, event_type: str = "ticket.created") -> None:
    """A ticket event in raw.tickets, as the lander writes it: its requester and text sealed."""
    from crm.keys import event_text
    from crm.keys.keyring import keyring

    version, key = keyring(pg_url).current(tenant_id)
    payload = event_text.sealer("tickets", tenant_id, version, key)(payload) or payload
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO raw.tickets (event_id, tenant_id, event_type, schema_version, occurred_at, source,"
            " payload) VALUES (%s, %s, %s, 2, %s, 'ticketing', %s)",
            (uuid.uuid4(), tenant_id, event_type, datetime.now(UTC), Jsonb(payload)),
        )


def ticket(**fields) -> dict:
    return {"ticket_id": str(uuid.uuid4()), "subject": "Cannot log in"} | fields


def test_enrich_by_customer_id_email_and_phone(client, as_, tenants, owner_sql) -> None:
    a = tenants["a"]
    owner_sql(
        "UPDATE crm.customers SET phone = '+1 (555) 010-2030', first_name = 'Bo' WHERE id = %s", a.customer_id
    )
    for body, how in (
        (ticket(customer_id=str(a.customer_id)), "CUSTOMER_ID"),
        (ticket(requester_email=f"BUYER@{a.slug}.test"), "EMAIL"),
        (ticket(requester_phone="15550102030"), "PHONE"),
    ):
        r = client.post("/tickets/enrich", json=body, headers=as_("a"))
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["requester"], out["matched_by"], out["customer_id"]) == (
            "CUSTOMER",
            how,
            str(a.customer_id),
        )
        assert out["company"] == "Acme" and out["name"] == "Bo" and out["ticket_id"] == body["ticket_id"]


def test_lead_with_deal_and_activities(client, as_, tenants) -> None:
    h = as_("a")
    lead = client.post(
        "/leads",
        json={
            "email": f"eve-{uuid.uuid4().hex[:6]}@orbit.example",
            "source": "web",
            "company": "Orbit",
            "assigned_user_id": str(tenants["a"].users["sales_rep"]),
        },
        headers=h,
    ).json()
    deal = client.post(
        "/deals",
        json={
            "name": "Orbit pilot",
            "value": "1200.00",
            "lead_id": lead["id"],
            "stage": "Proposal",
            "pipeline_id": str(tenants["a"].pipeline_id),
            "expected_close_date": "2027-01-15T00:00:00Z",
        },
        headers=h,
    )
    assert deal.status_code == 201, deal.text
    r = client.post("/tickets/enrich", json=ticket(requester_email=lead["email"]), headers=h)
    out = r.json()
    assert (out["requester"], out["lead_id"], out["lead_status"]) == ("LEAD", lead["id"], "NEW")
    assert out["owner_id"] == str(tenants["a"].users["sales_rep"]) and out["owner_name"] == "sales_rep"
    assert [(d["name"], d["stage"], d["value"], d["expected_close_date"]) for d in out["open_deals"]] == [
        ("Orbit pilot", "Proposal", "1200.00", "2027-01-15")
    ]
    assert {a["entity"] for a in out["recent_activities"]} == {"deal"}
    r = client.post("/tickets/enrich?activities=0", json=ticket(lead_id=lead["id"]), headers=h)
    assert r.json()["recent_activities"] == [] and r.json()["matched_by"] == "LEAD_ID"


def test_unknown_requester_is_an_answer(client, as_) -> None:
    body = ticket(
        requester_email="nobody@nowhere.example", requester_name="No Body", customer_id=str(uuid.uuid4())
    )
    r = client.post("/tickets/enrich", json=body, headers=as_("a"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["requester"] == "UNKNOWN" and out["matched_by"] is None and out["customer_id"] is None
    assert out["email"] == "nobody@nowhere.example" and out["open_deals"] == [] and out["segments"] == []


def test_bad_ticket_body_is_422(client, as_) -> None:
    r = client.post("/tickets/enrich", json={"ticket_id": "nope"}, headers=as_("a"))
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"


def test_landed_ticket_enrichment_and_404(client, as_, tenants, pg_url) -> None:
    a = tenants["a"]
    body = ticket(customer_id=str(a.customer_id), channel="EMAIL")
    land(pg_url, a.id, body)
    r = client.get(f"/tickets/{body['ticket_id']}/enrichment", headers=as_("a", "analyst"))
    assert r.status_code == 200, r.text
    assert r.json()["customer_id"] == str(a.customer_id)
    # another tenant: the ticket does not exist for it
    r = client.get(f"/tickets/{body['ticket_id']}/enrichment", headers=as_("b"))
    assert r.status_code == 404 and r.json()["code"] == "TICKET_NOT_FOUND"
    assert r.json()["context"]["id"] == body["ticket_id"]


def test_landed_ticket_sealed_requester_is_matched_by_email_and_phone(
    client, as_, tenants, pg_url, owner_sql
) -> None:
    a = tenants["a"]
    owner_sql("UPDATE crm.customers SET phone = '+1 (555) 010-2099' WHERE id = %s", a.customer_id)
    by_email = ticket(channel="EMAIL", requester_email=f"buyer@{a.slug}.test", requester_name="Bo Buyer")
    by_phone = ticket(channel="PHONE", requester_phone="1 555 010 2099")
    for body, how in ((by_email, "EMAIL"), (by_phone, "PHONE")):
        land(pg_url, a.id, body)
        stored = owner_sql(
            "SELECT payload::text AS p FROM raw.tickets WHERE payload ->> 'ticket_id' = %s", body["ticket_id"]
        )[0]["p"]
        assert "d2:dk" in stored and f"{a.slug}.test" not in stored and "010 2099" not in stored
        r = client.get(f"/tickets/{body['ticket_id']}/enrichment", headers=as_("a", "analyst"))
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["requester"], out["matched_by"], out["customer_id"]) == (
            "CUSTOMER",
            how,
            str(a.customer_id),
        )
    unknown = ticket(channel="EMAIL", requester_email="nobody@nowhere.example", requester_name="No Body")
    land(pg_url, a.id, unknown)
    out = client.get(f"/tickets/{unknown['ticket_id']}/enrichment", headers=as_("a", "analyst")).json()
    assert (out["requester"], out["email"], out["name"]) == ("UNKNOWN", "nobody@nowhere.example", "No Body")
    owner_sql("UPDATE crm.customers SET phone = '+1 (555) 010-2030' WHERE id = %s", a.customer_id)


def test_another_tenants_customer_is_unknown(client, as_, tenants) -> None:
    a = tenants["a"]
    body = ticket(customer_id=str(a.customer_id), requester_email=f"buyer@{a.slug}.test")
    out = client.post("/tickets/enrich", json=body, headers=as_("b")).json()
    assert out["requester"] == "UNKNOWN" and out["customer_id"] is None


def test_lead_from_ticket_created_once_audited(client, as_, tenants, pg_url, owner_sql, people) -> None:
    a = tenants["a"]
    email = f"dana@{uuid.uuid4().hex[:8]}.example"
    body = ticket(
        requester_email=email,
        requester_name="Dana Scully",
        requester_company="FBI",
        requester_phone="+1 555 0100",
    )
    land(pg_url, a.id, body)
    url = f"/tickets/{body['ticket_id']}/lead"
    r = client.post(url, headers=as_("a"))
    assert r.status_code == 201, r.text
    first = r.json()
    lead = first["lead"]
    assert (first["link"], first["created"]) == ("CREATED", True)
    assert (lead["email"], lead["source"], lead["first_name"], lead["last_name"], lead["company"]) == (
        email,
        "ticket",
        "Dana",
        "Scully",
        "FBI",
    )
    again = client.post(url, headers=as_("a"))
    assert again.status_code == 200 and again.json()["lead"]["id"] == lead["id"]
    assert again.json()["created"] is False
    found = people(pg_url).rows("leads", a.id, email.upper())
    assert [r["id"] for r in found] == [uuid.UUID(lead["id"])]
    assert (found[0]["phone"], found[0]["first_name"]) == ("+1 555 0100", "Dana")
    # stored sealed, beside the e-mail's index and domain and the phone's index
    stored = people(pg_url).stored("leads", lead["id"])
    people(pg_url).assert_sealed(stored, "email", "first_name", "last_name", "phone")
    assert stored["email_domain"] == email.split("@")[1] and stored["phone_bidx"] is not None
    link = owner_sql("SELECT * FROM crm.ticket_leads WHERE ticket_id = %s", uuid.UUID(body["ticket_id"]))
    assert [(r["lead_id"], r["link"]) for r in link] == [(uuid.UUID(lead["id"]), "CREATED")]
    people(pg_url).assert_sealed(link[0], "requester_email")
    assert people(pg_url).open_value(a.id, "email", link[0]["requester_email"]) == email
    audit = owner_sql(
        "SELECT action, after FROM crm.audit_log WHERE entity = 'leads' AND entity_id = %s",
        uuid.UUID(lead["id"]),
    )
    assert [x["action"] for x in audit] == ["created"]
    people(pg_url).assert_sealed(audit[0]["after"], "email", "first_name", "last_name", "phone")
    outbox = owner_sql("SELECT event_type, payload FROM crm.outbox WHERE key = %s", lead["id"])
    assert [x["event_type"] for x in outbox] == ["crm.lead.created"]
    people(pg_url).assert_sealed(outbox[0]["payload"]["payload"]["after"], "email", "first_name", "phone")
    linked = owner_sql(
        "SELECT after FROM crm.audit_log WHERE entity = 'ticket_leads' AND after->>'ticket_id' = %s",
        body["ticket_id"],
    )
    assert all(x["after"]["requester_email"].startswith("v2:dk") for x in linked)
    # the other tenant: no such ticket
    r = client.post(url, headers=as_("b"))
    assert r.status_code == 404 and r.json()["code"] == "TICKET_NOT_FOUND"


def test_lead_from_ticket_matches_email_and_company_domain(client, as_, tenants, owner_sql) -> None:
    domain = f"{uuid.uuid4().hex[:8]}.example"
    h = as_("a")
    first = client.post(
        f"/tickets/{(t1 := ticket(requester_email=f'ann@{domain}'))['ticket_id']}/lead", json=t1, headers=h
    )
    assert first.status_code == 201, first.text
    lead_id = first.json()["lead"]["id"]
    t2 = ticket(requester_email=f"bob@{domain}")
    r = client.post(f"/tickets/{t2['ticket_id']}/lead", json=t2, headers=h)
    assert r.status_code == 200 and (r.json()["link"], r.json()["lead"]["id"]) == ("DOMAIN", lead_id)
    notes = owner_sql("SELECT metadata FROM crm.lead_activities WHERE lead_id = %s", uuid.UUID(lead_id))
    assert [n["metadata"]["kind"] for n in notes] == ["ticket_linked"]
    t3 = ticket(requester_email=f"ANN@{domain}")
    assert client.post(f"/tickets/{t3['ticket_id']}/lead", json=t3, headers=h).json()["link"] == "EMAIL"
    a = tenants["a"]
    t4 = ticket(requester_email=f"buyer@{a.slug}.test")
    r = client.post(f"/tickets/{t4['ticket_id']}/lead", json=t4, headers=h)
    assert r.status_code == 200 and r.json()["customer_id"] == str(a.customer_id) and r.json()["lead"] is None
    # the same domain in the other tenant is nobody's
    t5 = ticket(requester_email=f"cy@{domain}")
    assert client.post(f"/tickets/{t5['ticket_id']}/lead", json=t5, headers=as_("b")).status_code == 201


def test_requester_matched_by_sealed_email_phone_and_domain(client, as_, tenants, pg_url, people) -> None:
    """A lead the API stored (its values sealed) is found by e-mail in any case, by phone in
    any format, and its company by the e-mail's domain; its note names no address."""
    h = as_("a")
    domain = f"{uuid.uuid4().hex[:8]}.example"
    lead = client.post(
        "/leads",
        json={"email": f"Zoe@{domain}", "phone": "+44 20 7946 0958", "first_name": "Zoe", "source": "web"},
        headers=h,
    ).json()
    people(pg_url).assert_sealed(people(pg_url).stored("leads", lead["id"]), "email", "phone", "first_name")
    for body, how in (
        (ticket(requester_email=f"zoe@{domain.upper()}"), "EMAIL"),
        (ticket(requester_phone="44 (20) 7946-0958"), "PHONE"),
    ):
        out = client.post("/tickets/enrich", json=body, headers=h).json()
        assert (out["requester"], out["matched_by"], out["lead_id"]) == ("LEAD", how, lead["id"])
        assert (out["email"], out["name"]) == (f"Zoe@{domain}", "Zoe")
    assert client.post("/tickets/enrich", json=ticket(requester_phone="0958"), headers=h).json()[
        "requester"
    ] == ("UNKNOWN")
    t = ticket(requester_email=f"max@{domain}")
    r = client.post(f"/tickets/{t['ticket_id']}/lead", json=t, headers=h)
    assert r.status_code == 200 and (r.json()["link"], r.json()["lead"]["id"]) == ("DOMAIN", lead["id"])
    assert r.json()["lead"]["email"] == f"Zoe@{domain}"
    with psycopg.connect(pg_url) as conn:
        notes = conn.execute("SELECT description FROM crm.lead_activities WHERE lead_id = %s", (lead["id"],))
        stored = [n for (n,) in notes.fetchall()]
    assert stored and all(n.startswith("v2:dk") for n in stored)  # a note is stored sealed
    from crm.keys import notes
    from crm.keys.keyring import keyring

    assert [n for n in stored if "@" in notes.open_note(lead["tenant_id"], n, keyring(pg_url))] == []


def test_free_mail_domains_never_match(client, as_) -> None:
    h = as_("a")
    ids = []
    for who in ("x", "y"):
        t = ticket(requester_email=f"{who}-{uuid.uuid4().hex[:6]}@gmail.com")
        r = client.post(f"/tickets/{t['ticket_id']}/lead", json=t, headers=h)
        assert r.status_code == 201, r.text
        ids.append(r.json()["lead"]["id"])
    assert ids[0] != ids[1]


def test_lead_needs_an_email_and_matching_ids(client, as_) -> None:
    t = ticket(requester_phone="+15550000000")
    r = client.post(f"/tickets/{t['ticket_id']}/lead", json=t, headers=as_("a"))
    assert r.status_code == 422 and r.json()["context"]["field"] == "requester_email"
    r = client.post(f"/tickets/{uuid.uuid4()}/lead", json=t, headers=as_("a"))
    assert r.status_code == 422 and r.json()["context"]["field"] == "ticket_id"
    r = client.post(f"/tickets/{t['ticket_id']}/lead", json=t, headers=as_("a", "analyst"))
    assert r.status_code == 403
