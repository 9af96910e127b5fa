"""A campaign triggered without a customer goes to every member of its segment: one e-mail
per member to an aiosmtpd server, once per trigger however often the sender runs; without a
customer or a segment the trigger is a 422. Members' e-mails are stored sealed (or as written
before encryption), the deliveries' recipients sealed, and the mail goes to the readable address."""

from __future__ import annotations

import uuid
from typing import Any

from sealed_people import People


def _segment(
    sql: Any, tenant: Any, members: int, people: People | None = None
) -> tuple[uuid.UUID, list[str]]:
    """A segment and its members as the recalculation leaves them; with `people`, every other
    member's e-mail sealed as the write API stores it (the others as written before encryption)."""
    (seg,) = sql(
        "INSERT INTO crm.customer_segments (tenant_id, name, criteria) VALUES (%s, %s, '{}') RETURNING id",
        tenant.id,
        f"Loyal {uuid.uuid4().hex[:6]}",
    )
    emails = []
    for i in range(members):
        email = f"member{i}-{uuid.uuid4().hex[:6]}@{tenant.slug}.test"
        row = {"tenant_id": tenant.id, "email": email, "company": "Acme"}
        if people is not None and i % 2 == 0:
            row = people.sealed("customers", tenant.id, row)
        (c,) = sql(
            f"INSERT INTO crm.customers ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))}) RETURNING id",
            *row.values(),
        )
        sql(
            "INSERT INTO crm.customer_segment_memberships (tenant_id, segment_id, customer_id) VALUES (%s, %s, %s)",
            tenant.id,
            seg["id"],
            c["id"],
        )
        emails.append(email)
    return seg["id"], emails


def test_segment_trigger_sends_once_to_every_member(
    api, as_, tenants, deliver, smtp, sql, pg_url, people
) -> None:
    inbox, port = smtp
    h = as_("a")
    segment, emails = _segment(sql, tenants["a"], 3, people(pg_url))
    c = api.post(
        "/campaigns", json={"name": "Loyalty week", "type": "EMAIL", "segment_id": str(segment)}, headers=h
    )
    assert c.status_code == 201, c.text
    cid = c.json()["id"]
    api.post(f"/campaigns/{cid}/status", json={"status": "ACTIVE"}, headers=h)

    r = api.post(f"/campaigns/{cid}/trigger", json={"metadata": {"wave": 1}}, headers=h)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["customer_id"] is None
    assert body["segment_id"] == str(segment) and body["segment_members"] == 3

    deliver(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    deliver(SMTP_HOST="127.0.0.1", SMTP_PORT=port)  # planning and sending again adds nothing
    mine = [m for m in inbox.messages if b"Loyalty week" in m.content]
    assert sorted(r for m in mine for r in m.rcpt_tos) == sorted(emails)
    rows = sql(
        "SELECT customer_id, status, recipient FROM crm.campaign_deliveries WHERE campaign_id = %s", cid
    )
    assert len(rows) == 3 and {d["status"] for d in rows} == {"sent"}
    for d in rows:
        People.assert_sealed(d, "recipient")
    opened = [people(pg_url).open_value(tenants["a"].id, "email", d["recipient"]) for d in rows]
    assert sorted(opened) == sorted(emails)

    # a second trigger is a second send to each member
    assert api.post(f"/campaigns/{cid}/trigger", json={}, headers=h).status_code == 202
    deliver(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    assert len([m for m in inbox.messages if b"Loyalty week" in m.content]) == 6


def test_trigger_without_customer_or_segment_is_422(api, as_, tenants) -> None:
    h = as_("a")
    cid = api.post("/campaigns", json={"name": "Nobody", "type": "EMAIL"}, headers=h).json()["id"]
    api.post(f"/campaigns/{cid}/status", json={"status": "ACTIVE"}, headers=h)
    r = api.post(f"/campaigns/{cid}/trigger", json={}, headers=h)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["code"] == "VALIDATION_ERROR" and err["context"]["field"] == "customer_id"
    assert "segment" in err["message"]

    # the request and response are typed in the OpenAPI document
    spec = api.get("/openapi.json").json()["components"]["schemas"]
    assert "customer_id" not in spec["CampaignTrigger"].get("required", [])
    assert {"segment_id", "segment_members"} <= set(spec["CampaignTriggered"]["properties"])


def test_a_member_without_an_email_is_skipped_by_its_placeholder(
    api, as_, tenants, deliver, smtp, sql, pg_url, people
) -> None:
    inbox, port = smtp
    h = as_("a")
    segment, emails = _segment(sql, tenants["a"], 1, people(pg_url))
    (nobody,) = sql(
        "INSERT INTO crm.customers (tenant_id, company) VALUES (%s, 'Acme') RETURNING id", tenants["a"].id
    )
    sql(
        "INSERT INTO crm.customer_segment_memberships (tenant_id, segment_id, customer_id) VALUES (%s, %s, %s)",
        tenants["a"].id,
        segment,
        nobody["id"],
    )
    cid = api.post(
        "/campaigns", json={"name": "No address", "type": "EMAIL", "segment_id": str(segment)}, headers=h
    ).json()["id"]
    api.post(f"/campaigns/{cid}/status", json={"status": "ACTIVE"}, headers=h)
    assert api.post(f"/campaigns/{cid}/trigger", json={}, headers=h).status_code == 202
    deliver(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    assert [r for m in inbox.messages if b"No address" in m.content for r in m.rcpt_tos] == emails
    rows = {
        d["customer_id"]: d for d in sql("SELECT * FROM crm.campaign_deliveries WHERE campaign_id = %s", cid)
    }
    skipped = rows.pop(nobody["id"])
    assert (skipped["status"], skipped["recipient"]) == ("skipped", f"customer:{nobody['id']}")
    (sent,) = rows.values()
    People.assert_sealed(sent, "recipient")
    assert sent["status"] == "sent" and emails[0] not in str(sent)
