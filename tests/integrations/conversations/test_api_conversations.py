"""/conversations over HTTP against the real API and Postgres: analysis, stored signals
(idempotent by message), and deal updates proposed, applied above the threshold through the
audited path, and never over an edit made since the conversation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def _deal(client, h) -> dict:
    r = client.post("/deals", json={"name": f"deal-{uuid.uuid4().hex[:6]}", "value": "1000.00"}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def _say(client, h, conversation: str, deal_id: str, text: str, message_id: str, at: datetime) -> dict:
    body = {
        "text": text,
        "conversation_id": conversation,
        "deal_id": deal_id,
        "message_id": message_id,
        "occurred_at": at.isoformat(),
        "store": True,
    }
    r = client.post("/conversations/analyze", json=body, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def test_analyze_returns_signals_with_evidence(client, as_) -> None:
    r = client.post(
        "/conversations/analyze",
        json={"text": "We're comparing you against Pipedrive, and the price is too high."},
        headers=as_(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] == 0 and body["analyzer_version"]
    objections = {s["value"]: s["evidence"] for s in body["signals"] if s["type"] == "objection"}
    assert objections == {"competitor": "comparing you against Pipedrive", "price": "price is too high"}
    assert body["sentiment_label"] == "negative"


def test_bad_input_is_a_clear_4xx(client, as_) -> None:
    r = client.post("/conversations/analyze", json={"text": ""}, headers=as_())
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"
    r = client.post("/conversations/analyze", json={"text": "hi", "store": True}, headers=as_())
    assert r.status_code == 422 and r.json()["context"]["field"] == "conversation_id"
    r = client.post(f"/conversations/{uuid.uuid4()}/deal-updates", json={}, headers=as_())
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = client.post("/conversations/analyze", json={"text": "hi"}, headers=as_(role="analyst"))
    assert r.status_code == 403


def test_storing_a_message_twice_stores_it_once(client, as_, owner_sql) -> None:
    h, conversation = as_(), str(uuid.uuid4())
    deal = _deal(client, h)
    at = datetime.now(UTC)
    first = _say(client, h, conversation, deal["id"], "Let's schedule a demo next week.", "m-1", at)
    again = _say(client, h, conversation, deal["id"], "Let's schedule a demo next week.", "m-1", at)
    assert first["stored"] > 0 and again["stored"] == 0
    assert first["message_event_id"] == again["message_event_id"]
    rows = owner_sql(
        "SELECT count(*) AS n FROM crm.conversation_signals WHERE conversation_id = %s", conversation
    )
    assert rows[0]["n"] == first["stored"]
    listed = client.get(f"/conversations/{conversation}/signals", headers=h).json()
    assert len(listed) == first["stored"]
    # the evidence is stored sealed and answered readable
    stored = owner_sql(
        "SELECT evidence FROM crm.conversation_signals WHERE conversation_id = %s", conversation
    )
    assert stored and all(r["evidence"].startswith("v2:dk") for r in stored)
    assert {s["evidence"] for s in listed} == {s["evidence"] for s in first["signals"]}
    assert "Let's schedule a demo next week." in {s["evidence"] for s in listed}
    assert client.get(f"/conversations/{conversation}/signals", headers=as_("b")).json() == []


def test_deal_updates_proposed_then_applied_and_audited(client, as_, owner_sql) -> None:
    h, conversation = as_(), str(uuid.uuid4())
    deal = _deal(client, h)
    at = datetime.now(UTC)
    text = "Budget has been approved: we're ready to sign at $48,000 by the end of next month."
    _say(client, h, conversation, deal["id"], text, "m-1", at)
    _say(client, h, conversation, deal["id"], "I'll send the signed order form on Friday.", "m-2", at)

    r = client.post(f"/conversations/{conversation}/deal-updates", json={}, headers=h)
    assert r.status_code == 200, r.text
    proposals = {p["field"]: p for p in r.json()["proposals"]}
    assert proposals["stage"]["proposed"] == "Qualification" and proposals["stage"]["apply"]
    assert proposals["value"]["proposed"] == "48000" and "$48,000" in proposals["value"]["evidence"]
    assert proposals["expected_close_date"]["proposed"] is not None
    assert proposals["next_step"]["evidence"].startswith("I'll send the signed order form")
    assert not any(p["applied"] for p in proposals.values())

    r = client.post(
        f"/conversations/{conversation}/deal-updates", json={"apply": True}, headers=h | {"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    applied = {p["field"] for p in r.json()["proposals"] if p["applied"]}
    skipped = {p["field"]: p["skipped_reason"] for p in r.json()["proposals"] if not p["applied"]}
    assert "stage" in applied and "value" in applied
    assert all(reason for reason in skipped.values())
    after = client.get(f"/deals/{deal['id']}", headers=h).json()
    assert after["stage"] == "Qualification" and after["value"] == "48000.00" and after["version"] == 2
    audit = owner_sql(
        "SELECT request_id FROM crm.audit_log WHERE entity = 'deals' AND entity_id = %s AND action = 'updated'",
        deal["id"],
    )
    assert [a["request_id"] for a in audit] == [f"conversation:{conversation}"]
    acts = owner_sql(
        "SELECT type, metadata FROM crm.deal_activities WHERE deal_id = %s ORDER BY created_at", deal["id"]
    )
    assert {"STAGE_CHANGED", "VALUE_UPDATED"} <= {a["type"] for a in acts}
    # an applied change names the message it rests on, never the words quoted from it
    applied_by = [a["metadata"] for a in acts if a["metadata"].get("source") == "conversation"]
    assert applied_by and all(m["message_event_id"] and "evidence" not in m for m in applied_by)
    assert not any("48,000" in str(m) or "Budget" in str(m) for m in applied_by)

    # a second apply changes nothing: every proposal now matches the deal or moves it on
    r = client.post(
        f"/conversations/{conversation}/deal-updates", json={"apply": True, "version": 1}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "VERSION_CONFLICT"


def test_a_human_edit_since_the_conversation_wins(client, as_) -> None:
    h, conversation = as_(), str(uuid.uuid4())
    deal = _deal(client, h)
    said = datetime.now(UTC) - timedelta(hours=1)
    _say(client, h, conversation, deal["id"], "We're ready to sign at $48,000 this quarter.", "m-1", said)
    r = client.patch(f"/deals/{deal['id']}", json={"value": "52000.00"}, headers=h | {"If-Match": '"1"'})
    assert r.status_code == 200, r.text

    r = client.post(f"/conversations/{conversation}/deal-updates", json={"apply": True}, headers=h)
    assert r.status_code == 200, r.text
    value = next(p for p in r.json()["proposals"] if p["field"] == "value")
    assert not value["applied"] and value["skipped_reason"].startswith("edited since the conversation")
    assert client.get(f"/deals/{deal['id']}", headers=h).json()["value"] == "52000.00"


def test_below_the_threshold_nothing_applies(client, as_) -> None:
    h, conversation = as_(), str(uuid.uuid4())
    deal = _deal(client, h)
    _say(
        client, h, conversation, deal["id"], "Maybe we could talk again next month.", "m-1", datetime.now(UTC)
    )
    r = client.post(f"/conversations/{conversation}/deal-updates", json={"apply": True}, headers=h)
    proposals = r.json()["proposals"]
    close = next(p for p in proposals if p["field"] == "expected_close_date")
    assert not close["applied"] and "below the threshold" in close["skipped_reason"]
    assert client.get(f"/deals/{deal['id']}", headers=h).json()["version"] == 1
