"""Notes over HTTP: an activity's description (a lead's or a deal's) is stored sealed in the row,
its audit image, its change event and its own contract event (the note and a document's title
copied from it sealed too), an idempotent create's stored answer; every answer is readable, and
rows written before encryption still read as they are."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from crm.events import parse_event


@pytest.fixture(scope="module")
def note_of(pg_url: str):
    """A stored note opened with the session database's tenant keys: for assertions only."""
    from crm.keys import notes
    from crm.keys.keyring import keyring

    return lambda tenant, value: notes.open_note(tenant, value, keyring(pg_url))


def _text() -> str:
    tag = uuid.uuid4().hex[:8]
    return f"Called Ann {tag} on +44 20 7946 0{tag[:3]}: wants SSO before renewal"


def _sealed(value: Any, text: str) -> None:
    assert isinstance(value, str) and value.startswith("v2:dk"), value
    assert text not in value


def _lead(client, h) -> dict[str, Any]:
    r = client.post(
        "/leads", json={"email": f"n-{uuid.uuid4().hex[:6]}@acme.test", "source": "notes"}, headers=h
    )
    assert r.status_code == 201, r.text
    return r.json()


def _copies(owner_sql, activity_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The activity's audit row, its change event's payload and its own event's payload."""
    (audit,) = owner_sql("SELECT * FROM crm.audit_log WHERE entity_id = %s", activity_id)
    (change,) = owner_sql(
        "SELECT payload FROM crm.outbox WHERE topic = 'crm-changes' AND payload->'payload'->>'entity_id' = %s",
        activity_id,
    )
    (own,) = owner_sql("SELECT topic, payload FROM crm.outbox WHERE event_id = %s", activity_id)
    parse_event(json.dumps(own["payload"]).encode(), topic=own["topic"])  # what the lander takes
    return audit, change["payload"]["payload"], own["payload"]["payload"]


def test_a_note_is_stored_sealed_everywhere_and_answered_readable(client, as_, owner_sql, note_of):
    h = as_()
    lead, text = _lead(client, h), _text()
    body = {"type": "NOTE_ADDED", "description": text}
    key = {"Idempotency-Key": f"note-{uuid.uuid4()}"}
    r = client.post(f"/leads/{lead['id']}/activities", json=body, headers=h | key)
    assert r.status_code == 201, r.text
    act = r.json()
    assert act["description"] == text

    (row,) = owner_sql("SELECT * FROM crm.lead_activities WHERE id = %s", act["id"])
    _sealed(row["description"], text)
    assert note_of(row["tenant_id"], row["description"]) == text
    audit, change, own = _copies(owner_sql, act["id"])
    assert audit["after"]["description"] == change["after"]["description"] == row["description"]
    assert own["description"] == own["note"] == row["description"]  # the lander keeps v2 as it is
    (stored,) = owner_sql(
        "SELECT response_body FROM crm.idempotency_keys WHERE key = %s", key["Idempotency-Key"]
    )
    assert stored["response_body"]["description"] == row["description"]

    replay = client.post(f"/leads/{lead['id']}/activities", json=body, headers=h | key)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json()["description"] == text
    listed = client.get(f"/leads/{lead['id']}/activities", headers=h).json()["items"]
    assert [i["description"] for i in listed if i["id"] == act["id"]] == [text]


def test_notes_the_api_writes_itself_are_sealed_and_listed_readable(client, as_, owner_sql):
    h = as_()
    lead = _lead(client, h)
    assert client.patch(f"/leads/{lead['id']}", json={"status": "CONTACTED"}, headers=h).status_code == 200
    rows = owner_sql("SELECT id, description FROM crm.lead_activities WHERE lead_id = %s", lead["id"])
    assert len(rows) == 1 and rows[0]["description"].startswith("v2:dk")
    listed = client.get(f"/leads/{lead['id']}/activities", headers=h).json()["items"]
    assert [i["description"] for i in listed] == ["status NEW -> CONTACTED"]


def test_a_deal_note_and_a_documents_title_copied_from_it_are_sealed(client, as_, owner_sql, note_of):
    h = as_()
    deal = client.post("/deals", json={"name": f"n-{uuid.uuid4().hex[:6]}", "value": "100"}, headers=h).json()
    text = _text()
    r = client.post(
        f"/deals/{deal['id']}/activities", json={"type": "MEETING_SCHEDULED", "description": text}, headers=h
    )
    assert r.status_code == 201, r.text and r.json()["description"] == text
    (row,) = owner_sql("SELECT * FROM crm.deal_activities WHERE id = %s", r.json()["id"])
    _sealed(row["description"], text)
    assert note_of(row["tenant_id"], row["description"]) == text
    listed = client.get(f"/deals/{deal['id']}/activities", headers=h).json()["items"]
    assert text in [i["description"] for i in listed]

    lead = _lead(client, h)
    long = "é" * 400 + " the rest of a long note"  # 824 bytes: sealed whole, over the 500 a title takes
    for description, title in ((text, text), (long, "é" * 165)):
        r = client.post(
            f"/leads/{lead['id']}/activities",
            json={"type": "DOCUMENT_VIEWED", "description": description},
            headers=h,
        )
        assert r.status_code == 201, r.text
        _, _, own = _copies(owner_sql, r.json()["id"])
        _sealed(own["title"], title)
        assert len(own["title"]) <= 500 and note_of(row["tenant_id"], own["title"]) == title
        assert note_of(row["tenant_id"], own["description"]) == description


def test_notes_written_before_encryption_still_read(client, as_, owner_sql, tenants):
    h = as_()
    lead = _lead(client, h)
    owner_sql(
        "INSERT INTO crm.lead_activities (tenant_id, lead_id, type, description) VALUES"
        " (%s, %s, 'CALL_MADE', 'written before encryption'), (%s, %s, 'CALL_MADE', '')",
        tenants["a"].id,
        lead["id"],
        tenants["a"].id,
        lead["id"],
    )
    listed = client.get(f"/leads/{lead['id']}/activities", headers=h).json()["items"]
    assert sorted(i["description"] for i in listed) == ["", "written before encryption"]


def test_a_note_that_looks_sealed_is_sealed_and_answered_as_typed(client, as_, owner_sql):
    h = as_()
    lead = _lead(client, h)
    for text in ("v2:dk1:AAAA", "d2:dk1:AAAA"):
        r = client.post(
            f"/leads/{lead['id']}/activities", json={"type": "NOTE_ADDED", "description": text}, headers=h
        )
        assert r.status_code == 201, r.text
        (row,) = owner_sql("SELECT description FROM crm.lead_activities WHERE id = %s", r.json()["id"])
        assert row["description"] != text and row["description"].startswith("v2:dk")
    listed = client.get(f"/leads/{lead['id']}/activities", headers=h)
    assert listed.status_code == 200 and sorted(i["description"] for i in listed.json()["items"]) == [
        "d2:dk1:AAAA",
        "v2:dk1:AAAA",
    ]
