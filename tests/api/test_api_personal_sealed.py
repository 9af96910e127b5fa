"""People's values over HTTP: a lead's and a customer's e-mail, names and phone are stored
sealed (the row, its audit images, its outbox event, an idempotent create's stored answer),
with the e-mail's blind index and domain and the phone's index beside them; every answer is
readable, lookups by e-mail go through the index (any case, one tenant's only), and rows
written before encryption still read and match as they are."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

PERSONAL = ("email", "first_name", "last_name", "phone")


@pytest.fixture
def person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "email": f"Ada.{tag}@Sealed-{tag}.Test",
        "first_name": f"Ada{tag}",
        "last_name": f"Lovelace{tag}",
        "phone": "+44 20 7946 " + str(int(tag, 16) % 10_000).zfill(4),
    }


def _assert_sealed(image: dict[str, Any], plain: dict[str, str]) -> None:
    """Every personal value of a stored row or image sealed, none of the readable ones in it."""
    for col in PERSONAL:
        assert str(image[col]).startswith("v2:dk"), (col, image[col])
    text = json.dumps(image, default=str)
    for value in plain.values():
        assert value not in text and value.lower() not in text


def _lead_row(owner_sql, lead_id: str) -> dict[str, Any]:
    return owner_sql("SELECT * FROM crm.leads WHERE id = %s", lead_id)[0]


def _one_change(owner_sql, entity_id: str, action: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit row and the outbox envelope of one change of the entity."""
    audit = owner_sql("SELECT * FROM crm.audit_log WHERE entity_id = %s AND action = %s", entity_id, action)
    out = owner_sql(
        "SELECT payload FROM crm.outbox WHERE topic = 'crm-changes' AND key = %s AND event_type LIKE %s",
        entity_id,
        f"%.{action}",
    )
    assert len(audit) == 1 and len(out) == 1, (audit, out)
    return audit[0], out[0]["payload"]["payload"]


def _listed(client, headers, path: str, email: str) -> list[str]:
    r = client.get(path, params={"email": email}, headers=headers)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def test_a_lead_is_stored_sealed_and_answered_readable(client, as_, owner_sql, person, readable):
    r = client.post("/leads", json=person | {"source": "sealed", "company": "Initech"}, headers=as_())
    assert r.status_code == 201, r.text
    lead = r.json()
    assert {k: lead[k] for k in PERSONAL} == person and lead["company"] == "Initech"

    row = _lead_row(owner_sql, lead["id"])
    _assert_sealed(row, person)
    assert row["email_bidx"].startswith("bi") and row["phone_bidx"].startswith("bi")
    assert row["email_domain"] == person["email"].split("@")[1].lower()
    assert row["company"] == "Initech"  # not a person's value: readable
    assert {k: readable("leads", row)[k] for k in PERSONAL} == person
    audit, event = _one_change(owner_sql, lead["id"], "created")
    _assert_sealed(audit["after"], person)
    _assert_sealed(event["after"], person)
    assert audit["after"]["email_bidx"] == event["after"]["email_bidx"] == row["email_bidx"]

    got = client.get(f"/leads/{lead['id']}", headers=as_()).json()
    assert {k: got[k] for k in PERSONAL} == person
    for answered in (lead, got):  # the indexes are the server's lookup keys, never answered
        assert "email_bidx" not in answered and "phone_bidx" not in answered
        assert answered["email_domain"] == row["email_domain"]
    listed = client.get("/leads", params={"email": person["email"].upper()}, headers=as_()).json()["items"]
    assert [i["id"] for i in listed] == [lead["id"]]
    assert {k: listed[0][k] for k in PERSONAL} == person
    assert _listed(client, as_("b"), "/leads", person["email"]) == []  # another tenant's index


def test_a_changed_email_moves_its_index(client, as_, owner_sql, person, readable):
    lead = client.post("/leads", json=person | {"source": "sealed"}, headers=as_()).json()
    before = _lead_row(owner_sql, lead["id"])
    new_email = "Grace." + person["email"].replace("Sealed", "Moved")
    r = client.patch(f"/leads/{lead['id']}", json={"email": new_email, "first_name": "Grace"}, headers=as_())
    assert r.status_code == 200, r.text
    assert r.json()["email"] == new_email and r.json()["first_name"] == "Grace"
    assert r.json()["last_name"] == person["last_name"]

    after = _lead_row(owner_sql, lead["id"])
    moved = person | {"email": new_email, "first_name": "Grace"}
    _assert_sealed(after, moved)
    assert after["email_bidx"] != before["email_bidx"]
    assert after["email_domain"] == new_email.split("@")[1].lower() != before["email_domain"]
    assert after["last_name"] == before["last_name"]  # unchanged: its stored text kept
    assert readable("leads", after)["email"] == new_email
    audit, event = _one_change(owner_sql, lead["id"], "updated")
    for image in (audit["before"], audit["after"], event["before"], event["after"]):
        _assert_sealed(image, person | moved)
    assert set(event["changed_fields"]) >= {"email", "email_bidx", "email_domain", "first_name"}
    assert "last_name" not in event["changed_fields"]

    assert _listed(client, as_(), "/leads", person["email"]) == []
    assert _listed(client, as_(), "/leads", new_email.lower()) == [lead["id"]]
    history = client.get(f"/leads/{lead['id']}/history", headers=as_()).json()["items"]
    assert [h["action"] for h in history] == ["created", "updated"]
    assert history[0]["after"]["email"] == person["email"]
    assert (history[1]["before"]["email"], history[1]["after"]["email"]) == (person["email"], new_email)

    # the same address again changes nothing of it: no new ciphertext, not listed as changed
    r = client.patch(f"/leads/{lead['id']}", json={"email": new_email}, headers=as_())
    assert r.status_code == 200 and r.json()["email"] == new_email
    assert _lead_row(owner_sql, lead["id"])["email"] == after["email"]


def test_a_converted_lead_makes_a_sealed_customer(client, as_, owner_sql, person, readable):
    lead = client.post("/leads", json=person | {"source": "sealed"}, headers=as_()).json()
    r = client.post(f"/leads/{lead['id']}/convert", json={}, headers=as_())
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["customer_created"] is True
    assert {k: out["lead"][k] for k in PERSONAL} == person
    assert {k: out["customer"][k] for k in PERSONAL} == person
    cid = out["customer"]["id"]

    lead_row = _lead_row(owner_sql, lead["id"])
    customer = owner_sql("SELECT * FROM crm.customers WHERE id = %s", cid)[0]
    _assert_sealed(customer, person)
    # the lead's sealed values and indexes copied as they are
    for col in (*PERSONAL, "email_bidx", "email_domain", "phone_bidx"):
        assert customer[col] == lead_row[col], col
    assert {k: readable("customers", customer)[k] for k in PERSONAL} == person
    audit, event = _one_change(owner_sql, cid, "created")
    _assert_sealed(audit["after"], person)
    _assert_sealed(event["after"], person)
    for action in ("converted",):
        audit, event = _one_change(owner_sql, lead["id"], action)
        _assert_sealed(audit["after"], person)
        _assert_sealed(event["before"], person)

    got = client.get(f"/customers/{cid}", headers=as_()).json()
    assert {k: got[k] for k in PERSONAL} == person
    listed = client.get("/customers", params={"email": person["email"].swapcase()}, headers=as_()).json()
    assert [i["id"] for i in listed["items"]] == [cid]
    assert {k: listed["items"][0][k] for k in PERSONAL} == person
    assert _listed(client, as_("b"), "/customers", person["email"]) == []

    staged = client.post(f"/customers/{cid}/stage", json={"stage": "ACTIVE"}, headers=as_())
    assert staged.status_code == 200, staged.text
    assert {k: staged.json()[k] for k in PERSONAL} == person
    audit, event = _one_change(owner_sql, cid, "updated")
    _assert_sealed(audit["before"], person)
    _assert_sealed(event["after"], person)

    # a second lead with the address in another case finds that customer by its index
    again = client.post("/leads", json={"email": person["email"].lower(), "source": "sealed"}, headers=as_())
    out2 = client.post(f"/leads/{again.json()['id']}/convert", json={}, headers=as_()).json()
    assert out2["customer_created"] is False and out2["customer"]["id"] == cid
    assert out2["customer"]["email"] == person["email"]


def test_an_idempotent_create_stores_its_answer_sealed(client, as_, owner_sql, person):
    key = uuid.uuid4().hex
    body = person | {"source": f"idem-{key[:6]}"}
    r1, r2 = (client.post("/leads", json=body, headers=as_() | {"Idempotency-Key": key}) for _ in range(2))
    assert r1.status_code == r2.status_code == 201 and r2.headers.get("idempotent-replayed") == "true"
    for r in (r1, r2):
        assert {k: r.json()[k] for k in PERSONAL} == person
    assert r1.json() == r2.json()
    stored = owner_sql("SELECT response_body FROM crm.idempotency_keys WHERE key = %s", key)[0]
    _assert_sealed(stored["response_body"], person)


def test_rows_written_before_encryption_read_and_match_as_they_are(client, as_, owner_sql, tenants):
    t = tenants["a"]
    email = owner_sql("SELECT email FROM crm.customers WHERE id = %s", t.customer_id)[0]["email"]
    assert not email.startswith("v2:")  # seeded with SQL, in plain text
    assert _listed(client, as_(), "/customers", email.upper()) == [str(t.customer_id)]
    assert client.get(f"/customers/{t.customer_id}", headers=as_()).json()["email"] == email
    tag = uuid.uuid4().hex[:8]
    lead_id = owner_sql(
        "INSERT INTO crm.leads (tenant_id, email, first_name, source) VALUES (%s, %s, 'Old', %s) RETURNING id",
        t.id,
        f"Old.{tag}@plain.test",
        f"plain-{tag}",
    )[0]["id"]
    assert _listed(client, as_(), "/leads", f"old.{tag}@PLAIN.test") == [str(lead_id)]
    r = client.patch(f"/leads/{lead_id}", json={"last_name": "Timer"}, headers=as_())
    assert r.status_code == 200 and (r.json()["first_name"], r.json()["last_name"]) == ("Old", "Timer")
    row = _lead_row(owner_sql, str(lead_id))
    assert row["first_name"] == "Old" and row["last_name"].startswith("v2:dk")
