"""Webhooks in (HubSpot v3 signed with the hubspot-api-client's own Signature, Standard
Webhooks signed with standardwebhooks) and campaign e-mails received by an aiosmtpd server."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiosmtpd.controller import Controller
from hubspot.utils.signature import Signature
from standardwebhooks import Webhook

from stack.procs import free_port

HUBSPOT_SECRET = "hubspot-app-client-secret-" + uuid.uuid4().hex


def _hubspot_post(api, tenant_id, body: bytes, *, secret: str = HUBSPOT_SECRET, age_s: float = 0):
    path = f"/webhooks/in/hubspot?tenant={tenant_id}"
    stamp = str(int((time.time() - age_s) * 1000))
    uri = str(api.base_url).rstrip("/") + path
    sig = Signature.get_signature(secret, body.decode(), "v3", uri, "POST", stamp)
    headers = {
        "content-type": "application/json",
        "X-HubSpot-Signature-v3": sig,
        "X-HubSpot-Request-Timestamp": stamp,
    }
    return api.post(path, content=body, headers=headers)


def _hubspot_events(*ids: int, note: str = "ok") -> bytes:
    return json.dumps(
        [
            {
                "eventId": i,
                "subscriptionId": 12345,
                "portalId": 62515,
                "occurredAt": 1564113600000,
                "subscriptionType": "contact.propertyChange" if i % 2 else "deal.creation",
                "attemptNumber": 0,
                "objectId": 1000 + i,
                "propertyName": "note",
                "propertyValue": note,
                "changeSource": "CRM",
            }
            for i in ids
        ]
    ).encode()


def test_hubspot_v3_verified_stored_once_and_sanitised(api, as_, tenants, sql) -> None:
    r = api.put("/webhooks/inbound/hubspot", json={"secret": HUBSPOT_SECRET}, headers=as_("a"))
    assert r.status_code == 200 and r.json()["secret"] is None
    tid = tenants["a"].id
    base = int(time.time())
    body = _hubspot_events(base, base + 1, note="bad\x00\x07chars\u202ekept\ttab")
    r = _hubspot_post(api, tid, body)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 2, "duplicates": 0}
    again = _hubspot_post(api, tid, body)  # HubSpot retries with the same eventIds
    assert again.status_code == 200 and again.json() == {"received": 0, "duplicates": 2}
    rows = sql(
        "SELECT * FROM crm.webhooks_received WHERE tenant_id = %s AND source = 'hubspot' AND sender_id = ANY(%s)"
        " ORDER BY sender_id",
        tid,
        [str(base), str(base + 1)],
    )
    assert len(rows) == 2
    deal, contact = rows if rows[0]["object_type"] == "deal" else rows[::-1]
    assert contact["event_type"] == "contact.propertyChange" and contact["object_id"] == str(
        1000 + int(contact["sender_id"])
    )
    assert deal["object_type"] == "deal" and deal["processed_at"] is None
    for row in rows:  # the request is stored sealed under the tenant's data key
        assert row["payload"].startswith("v2:dk") and "kept" not in row["payload"]
    listed = api.get("/webhooks/received", params={"source": "hubspot", "limit": 500}, headers=as_("a"))
    answered = {i["sender_id"]: i["payload"] for i in listed.json()["items"]}
    # opened in the answer: control characters stripped
    assert answered[contact["sender_id"]]["propertyValue"] == "badchars\u202ekept\ttab"
    assert answered[deal["sender_id"]]["subscriptionType"] == "deal.creation"
    sql(  # a request stored before encryption is its JSON text, and reads as it is
        "INSERT INTO crm.webhooks_received (tenant_id, source, sender_id, payload) VALUES (%s, 'hubspot', %s, %s)",
        tid,
        f"old-{base}",
        json.dumps({"propertyValue": "stored before"}),
    )
    listed = api.get("/webhooks/received", params={"source": "hubspot", "limit": 500}, headers=as_("a"))
    assert {i["sender_id"]: i["payload"] for i in listed.json()["items"]}[f"old-{base}"] == {
        "propertyValue": "stored before"
    }

    # wrong secret, stale timestamp, no signature: 401 with the reason, nothing stored
    for resp, reason in (
        (_hubspot_post(api, tid, _hubspot_events(base + 2), secret="not-the-secret"), "signature"),
        (_hubspot_post(api, tid, _hubspot_events(base + 3), age_s=600), "timestamp"),
        (api.post(f"/webhooks/in/hubspot?tenant={tid}", content=_hubspot_events(base + 4)), "headers"),
    ):
        assert resp.status_code == 401, resp.text
        err = resp.json()
        assert err["code"] == "UNAUTHENTICATED" and err["context"]["reason"] == reason and err["message"]
    stored = sql(
        "SELECT count(*) AS n FROM crm.webhooks_received WHERE sender_id IN (%s, %s, %s)",
        *(str(base + i) for i in (2, 3, 4)),
    )
    assert stored[0]["n"] == 0
    # another tenant has no HubSpot secret: the same signed request is refused there
    assert _hubspot_post(api, tenants["b"].id, body).status_code == 401


def test_standard_webhooks_in_verified_idempotent_and_capped(api, as_, tenants, sql) -> None:
    r = api.put("/webhooks/inbound/billing", json={}, headers=as_("a"))
    assert r.status_code == 200
    secret = r.json()["secret"]
    assert secret.startswith("whsec_") and r.json()["endpoint"].startswith("/webhooks/in/billing?tenant=")
    tid = tenants["a"].id
    wh = Webhook(secret)

    def post(payload: Any, msg_id: str, at: datetime | None = None, sign_with: Webhook = wh):
        body = json.dumps(payload).encode()
        at = at or datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": sign_with.sign(msg_id, at, body),
        }
        return api.post(f"/webhooks/in/billing?tenant={tid}", content=body, headers=headers)

    msg = f"msg_{uuid.uuid4().hex}"
    assert post({"type": "invoice.paid", "amount": "10.00"}, msg).json() == {"received": 1, "duplicates": 0}
    assert post({"type": "invoice.paid", "amount": "10.00"}, msg).json() == {"received": 0, "duplicates": 1}
    (row,) = sql("SELECT * FROM crm.webhooks_received WHERE sender_id = %s", msg)
    assert row["event_type"] == "invoice.paid" and row["source"] == "billing"

    stale = post({"type": "x"}, f"msg_{uuid.uuid4().hex}", at=datetime.now(UTC) - timedelta(minutes=10))
    assert stale.status_code == 401 and stale.json()["context"]["reason"] == "timestamp"
    forged = post({"type": "x"}, f"msg_{uuid.uuid4().hex}", sign_with=Webhook("whsec_" + "B" * 43))
    assert forged.status_code == 401 and forged.json()["context"]["reason"] == "signature"

    deep: Any = "leaf"
    for _ in range(40):
        deep = {"a": deep}
    too_deep = post(deep, f"msg_{uuid.uuid4().hex}")
    assert too_deep.status_code == 422 and too_deep.json()["code"] == "VALIDATION_ERROR"
    big = post({"blob": "x" * 300_000}, f"msg_{uuid.uuid4().hex}")
    assert big.status_code == 413


def test_campaign_trigger_sends_one_email_per_trigger(api, as_, tenants, deliver, smtp, sql) -> None:
    inbox, port = smtp
    h = as_("a")
    c = api.post(
        "/campaigns", json={"name": "Spring offer", "description": "20% off", "type": "EMAIL"}, headers=h
    )
    assert c.status_code == 201, c.text
    cid = c.json()["id"]
    assert api.post(f"/campaigns/{cid}/status", json={"status": "ACTIVE"}, headers=h).status_code == 200
    for _ in range(2):
        r = api.post(f"/campaigns/{cid}/trigger", json={"customer_id": str(tenants["a"].customer)}, headers=h)
        assert r.status_code == 202, r.text
    deliver(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    deliver(SMTP_HOST="127.0.0.1", SMTP_PORT=port)  # a second run sends nothing again
    mine = [m for m in inbox.messages if b"Spring offer" in m.content]
    assert len(mine) == 2  # two triggers, one e-mail each
    assert all(m.rcpt_tos == [f"buyer@{tenants['a'].slug}.test"] for m in mine)
    stored = sql("SELECT recipient FROM crm.campaign_deliveries WHERE campaign_id = %s", cid)
    assert len(stored) == 2 and all(d["recipient"].startswith("v2:dk") for d in stored)  # sealed
    page = api.get("/webhooks/campaign-deliveries", params={"campaign_id": cid}, headers=h).json()
    assert [d["status"] for d in page["items"]] == ["sent", "sent"]
    assert all(d["channel"] == "email" and d["attempts"] == 1 for d in page["items"])
    assert {d["recipient"] for d in page["items"]} == {f"buyer@{tenants['a'].slug}.test"}  # answered readable
    assert (
        api.get("/webhooks/campaign-deliveries", params={"campaign_id": cid}, headers=as_("b")).json()[
            "items"
        ]
        == []
    )


def test_refused_mail_is_retried_then_dead_lettered(api, as_, tenants, deliver, sql) -> None:
    class Refusing:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            return "550 mailbox unavailable"

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        h = as_("a")
        cid = api.post("/campaigns", json={"name": "Refused", "type": "EMAIL"}, headers=h).json()["id"]
        api.post(f"/campaigns/{cid}/status", json={"status": "ACTIVE"}, headers=h)
        api.post(f"/campaigns/{cid}/trigger", json={"customer_id": str(tenants["a"].customer)}, headers=h)
        deliver(SMTP_HOST="127.0.0.1", SMTP_PORT=port, WEBHOOK_MAX_ATTEMPTS=3)
    finally:
        controller.stop()
    (d,) = sql("SELECT * FROM crm.campaign_deliveries WHERE campaign_id = %s", cid)
    assert d["status"] == "dead" and d["attempts"] == 3 and "550" in d["last_error"]
