"""Webhooks out, end to end: subscriptions over the API, events from API writes, the
deliverer's signed requests verified by standardwebhooks, retries, dead letters, replay,
rotation and tenant isolation."""

from __future__ import annotations

import uuid

from conftest import Receiver


def _subscribe(api, headers, url: str, types: list[str]) -> dict:
    r = api.post("/webhooks/subscriptions", json={"url": url, "event_types": types}, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["secret"].startswith("whsec_")
    return body


def _lead(api, headers) -> str:
    r = api.post(
        "/leads",
        json={"email": f"l-{uuid.uuid4().hex[:8]}@example.com", "source": "website"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_signed_delivery_verifies_and_matches_wildcards(api, as_, receiver: Receiver, deliver, sql) -> None:
    sub = _subscribe(api, as_("a"), receiver.url, ["crm.lead.*"])
    lead = _lead(api, as_("a"))
    deliver()
    mine = [r for r in receiver.requests if r.json["payload"]["entity_id"] == lead]
    assert len(mine) == 1
    req = mine[0]
    assert req.verifies_with(sub["secret"])
    assert req.json["event_type"] == "crm.lead.created"
    assert req.headers["webhook-id"].startswith("msg_")
    assert not req.verifies_with("whsec_" + "A" * 43)
    # stored encrypted, never in clear
    row = sql("SELECT secret_enc FROM crm.webhook_subscriptions WHERE id = %s", sub["id"])[0]
    assert sub["secret"] not in row["secret_enc"] and row["secret_enc"].startswith("v2:")
    got = api.get(f"/webhooks/subscriptions/{sub['id']}", headers=as_("a")).json()
    assert "secret" not in got and "secret_enc" not in got


def test_subscribers_receive_people_readable(api, as_, receiver: Receiver, deliver, sql) -> None:
    """A lead's events carry its values sealed (outbox, deliveries); the request opens them,
    before and after alike, and leaves the blind indexes out."""
    sub = _subscribe(api, as_("a"), receiver.url, ["crm.lead.*"])
    email = f"Rita-{uuid.uuid4().hex[:6]}@example.com"
    made = {"email": email, "first_name": "Rita", "last_name": "Levi", "phone": "+39 06 1234 5678"}
    r = api.post("/leads", json=made | {"source": "website"}, headers=as_("a"))
    assert r.status_code == 201, r.text
    lead = r.json()["id"]
    r = api.patch(f"/leads/{lead}", json={"first_name": "Rita M."}, headers=as_("a"))
    assert r.status_code == 200, r.text
    deliver()
    mine = {q.json["event_type"]: q for q in receiver.requests if q.json["payload"]["entity_id"] == lead}
    assert set(mine) == {"crm.lead.created", "crm.lead.updated"}
    assert all(q.verifies_with(sub["secret"]) for q in mine.values())
    created = mine["crm.lead.created"].json["payload"]["after"]
    assert {k: created[k] for k in made} == made
    assert not {"email_bidx", "phone_bidx"} & set(created) and created["email_domain"] == "example.com"
    updated = mine["crm.lead.updated"].json["payload"]
    assert (updated["before"]["first_name"], updated["after"]["first_name"]) == ("Rita", "Rita M.")
    assert updated["after"]["email"] == email and updated["changed_fields"] == ["first_name"]
    # what the CRM keeps is sealed: the outbox and the delivery's copy of it
    for table in ("outbox", "webhook_deliveries"):
        rows = sql(f"SELECT payload FROM crm.{table} WHERE payload->'payload'->>'entity_id' = %s", lead)
        assert rows and all(email not in str(x["payload"]) for x in rows), table
        assert all(x["payload"]["payload"]["after"]["email"].startswith("v2:dk") for x in rows), table


def test_subscribers_receive_notes_readable(api, as_, receiver: Receiver, deliver, sql) -> None:
    """A logged activity's change event and its own event carry the note sealed (outbox,
    deliveries); the request opens it, with the note the event copies from it."""
    sub = _subscribe(api, as_("a"), receiver.url, ["crm.lead_activity.*", "lead.note_added"])
    lead = _lead(api, as_("a"))
    text = f"Rita {uuid.uuid4().hex[:6]} asked for a call back on +39 06 1234 5678"
    r = api.post(
        f"/leads/{lead}/activities", json={"type": "NOTE_ADDED", "description": text}, headers=as_("a")
    )
    assert r.status_code == 201, r.text
    act = r.json()["id"]
    deliver()
    mine = {
        q.json["event_type"]: q
        for q in receiver.requests
        if act in (q.json["event_id"], q.json["payload"].get("entity_id"))
    }
    assert set(mine) == {"crm.lead_activity.created", "lead.note_added"}
    assert all(q.verifies_with(sub["secret"]) for q in mine.values())
    assert mine["crm.lead_activity.created"].json["payload"]["after"]["description"] == text
    own = mine["lead.note_added"].json["payload"]
    assert own["description"] == own["note"] == text and own["activity_id"] == act
    for table in ("outbox", "webhook_deliveries"):  # what the CRM keeps is sealed
        rows = sql(
            f"SELECT payload FROM crm.{table} WHERE event_id IN (SELECT event_id FROM crm.outbox"
            " WHERE event_id = %s OR payload->'payload'->>'entity_id' = %s)",
            act,
            act,
        )
        assert len(rows) == 2 and all(text not in str(x["payload"]) for x in rows), table


def test_receiver_down_retries_then_dead_letter_then_replay(api, as_, receiver: Receiver, deliver) -> None:
    sub = _subscribe(api, as_("a"), receiver.url, ["crm.lead.created"])
    lead = _lead(api, as_("a"))
    receiver.status = 500
    counts = deliver(WEBHOOK_MAX_ATTEMPTS=4)
    assert counts["dead"] >= 1
    mine = [r for r in receiver.requests if r.json["payload"]["entity_id"] == lead]
    assert len(mine) == 4  # every attempt reached the receiver
    assert len({r.headers["webhook-id"] for r in mine}) == 1  # the same id on each retry
    page = api.get("/webhooks/deliveries", params={"subscription_id": sub["id"]}, headers=as_("a")).json()
    (d,) = page["items"]
    assert d["status"] == "dead" and d["attempts"] == 4 and d["last_status_code"] == 500
    detail = api.get(f"/webhooks/deliveries/{d['id']}", headers=as_("a")).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500] * 4
    assert detail["payload"] == mine[0].json  # the event as it was sent: the lead's values readable
    assert "@" in detail["payload"]["payload"]["after"]["email"]
    assert all(a["error"] == "HTTP 500" and a["latency_ms"] >= 0 for a in detail["attempt_log"])

    receiver.status = 200
    r = api.post(f"/webhooks/deliveries/{d['id']}/replay", headers=as_("a"))
    assert r.status_code == 202 and r.json()["status"] == "pending"
    deliver()
    again = api.get(f"/webhooks/deliveries/{d['id']}", headers=as_("a")).json()
    assert again["status"] == "delivered" and again["replays"] == 1
    assert len([r for r in receiver.requests if r.json["payload"]["entity_id"] == lead]) == 5

    # a time range: every finished delivery whose event occurred in it is sent again
    r = api.post(
        f"/webhooks/subscriptions/{sub['id']}/replay",
        json={"occurred_from": "2000-01-01T00:00:00Z", "occurred_to": "2100-01-01T00:00:00Z"},
        headers=as_("a"),
    )
    assert r.status_code == 202 and r.json() == {"replayed": 1}
    deliver()
    assert len([r for r in receiver.requests if r.json["payload"]["entity_id"] == lead]) == 6


def test_rotation_signs_with_both_secrets_during_overlap_then_new_only(
    api, as_, receiver: Receiver, deliver, sql
) -> None:
    sub = _subscribe(api, as_("a"), receiver.url, ["crm.lead.created"])
    old = sub["secret"]
    r = api.post(
        f"/webhooks/subscriptions/{sub['id']}/rotate-secret", json={"overlap_seconds": 3600}, headers=as_("a")
    )
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and r.json()["previous_secret_expires_at"] is not None
    lead = _lead(api, as_("a"))
    deliver()
    (req,) = [r for r in receiver.requests if r.json["payload"]["entity_id"] == lead]
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    assert req.verifies_with(old) and req.verifies_with(new)

    # the overlap ends (moved to the past rather than waited for)
    sql(
        "UPDATE crm.webhook_subscriptions SET previous_secret_expires_at = now() - interval '1 second' WHERE id = %s",
        sub["id"],
    )
    lead2 = _lead(api, as_("a"))
    deliver()
    (req2,) = [r for r in receiver.requests if r.json["payload"]["entity_id"] == lead2]
    assert req2.verifies_with(new) and not req2.verifies_with(old)


def test_tenants_never_see_each_others_events_or_deliveries(api, as_, receiver: Receiver, deliver) -> None:
    sub_b = _subscribe(api, as_("b"), receiver.url, ["*"])
    lead_a = _lead(api, as_("a"))
    lead_b = _lead(api, as_("b"))
    deliver()
    tenants_seen = {r.json["tenant_id"] for r in receiver.requests}
    entity_ids = {r.json["payload"].get("entity_id") for r in receiver.requests}
    assert lead_b in entity_ids and lead_a not in entity_ids
    assert len(tenants_seen) == 1
    # tenant a cannot see, read or replay b's subscription and deliveries
    d_b = api.get("/webhooks/deliveries", params={"subscription_id": sub_b["id"]}, headers=as_("b")).json()[
        "items"
    ][0]
    assert (
        api.get("/webhooks/deliveries", params={"subscription_id": sub_b["id"]}, headers=as_("a")).json()[
            "items"
        ]
        == []
    )
    assert api.get(f"/webhooks/subscriptions/{sub_b['id']}", headers=as_("a")).status_code == 404
    assert api.get(f"/webhooks/deliveries/{d_b['id']}", headers=as_("a")).status_code == 404
    r = api.post(f"/webhooks/deliveries/{d_b['id']}/replay", headers=as_("a"))
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"


def test_subscriptions_are_admin_only_and_validated(api, as_, monkeypatch) -> None:
    body = {"url": "http://127.0.0.1:9/x", "event_types": ["crm.deal.won"]}
    r = api.post("/webhooks/subscriptions", json=body, headers=as_("a", "analyst"))
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = api.post("/webhooks/subscriptions", json=body | {"url": "ftp://example.com/x"}, headers=as_("a"))
    assert r.status_code == 422 and r.json()["context"]["field"] == "url"
    r = api.post("/webhooks/subscriptions", json=body | {"event_types": ["crm.deal.**"]}, headers=as_("a"))
    assert r.status_code == 422
    # list, update, delete
    sub = _subscribe(api, as_("a"), "http://127.0.0.1:9/x", ["crm.deal.won"])
    r = api.patch(
        f"/webhooks/subscriptions/{sub['id']}",
        json={"is_active": False, "version": sub["version"]},
        headers=as_("a"),
    )
    assert (
        r.status_code == 200 and r.json()["is_active"] is False and r.json()["version"] == sub["version"] + 1
    )
    stale = api.patch(
        f"/webhooks/subscriptions/{sub['id']}", json={"version": sub["version"]}, headers=as_("a")
    )
    assert stale.status_code == 409
    ids = [s["id"] for s in api.get("/webhooks/subscriptions", headers=as_("a")).json()["items"]]
    assert sub["id"] in ids
    assert api.delete(f"/webhooks/subscriptions/{sub['id']}", headers=as_("a")).status_code == 204
    assert api.get(f"/webhooks/subscriptions/{sub['id']}", headers=as_("a")).status_code == 404


def test_private_targets_are_refused_unless_allowed(monkeypatch) -> None:
    import pytest

    from integrations.webhooks.targets import TargetRefused, check_url

    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", raising=False)
    for url in (
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
        "file:///etc/passwd",
    ):
        with pytest.raises(TargetRefused):
            check_url(url)
    check_url("https://93.184.216.34/hook")
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1")
    check_url("http://127.0.0.1/x")


def test_deliverers_planning_the_same_subscription_at_once_neither_fail_nor_plan_twice(
    api, as_, receiver: Receiver, pg_url: str, sql
) -> None:
    """Several deliverers share one cursor per subscription: while one holds or has just
    moved it, the others pass it by for that round instead of failing theirs (a serialization
    failure used to end the whole pass, sends included); every event is planned once."""
    import threading

    from integrations.webhooks import outbound

    sub = _subscribe(api, as_("a"), receiver.url, ["crm.lead.created"])
    leads = {_lead(api, as_("a")) for _ in range(30)}
    start, errors = threading.Barrier(4), []

    def planner() -> None:
        start.wait()
        try:
            for _ in range(5):
                outbound.plan(pg_url, 7)  # small pages: several rounds each
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=planner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    while outbound.plan(pg_url):  # whatever the rounds left
        pass
    assert errors == []
    rows = sql(
        "SELECT payload->'payload'->>'entity_id' AS lead FROM crm.webhook_deliveries WHERE subscription_id = %s",
        sub["id"],
    )
    assert sorted(r["lead"] for r in rows) == sorted(leads)  # each once


def test_a_name_that_rebinds_to_a_private_address_never_reaches_it(
    api, as_, receiver: Receiver, pg_url: str, sql, monkeypatch
) -> None:
    """DNS rebinding: a name answering a public address to the check and a loopback one to
    the connection. The deliverer looks the name up once, in its resolver, and connects to the
    addresses it checked, so the loopback receiver behind the name never gets a request."""
    import socket

    from integrations.webhooks import outbound
    from integrations.webhooks.config import WebhookSettings
    from integrations.webhooks.worker import run_once

    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    sub = _subscribe(api, as_("a"), f"http://rebind.invalid:{port}/hook", ["crm.lead.created"])
    _lead(api, as_("a"))
    outbound.plan(pg_url)
    real, answers = socket.getaddrinfo, iter(["192.0.43.10"])  # then 127.0.0.1 for ever

    def lookup(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "rebind.invalid":
            return real(host, port, *args, **kwargs)
        ip = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_TARGETS")
    for _ in range(2):  # the first pass gets the public answer, the second the loopback one
        run_once(pg_url, WebhookSettings(WEBHOOK_RETRY_BASE_S=0, WEBHOOK_TIMEOUT_S=1))
    assert receiver.requests == []
    errors = [
        r["error"]
        for r in sql(
            "SELECT a.error FROM crm.webhook_delivery_attempts a JOIN crm.webhook_deliveries d"
            " ON d.id = a.delivery_id WHERE d.subscription_id = %s ORDER BY a.attempt",
            sub["id"],
        )
    ]
    assert len(errors) == 2 and "non-public address (127.0.0.1)" in errors[1], errors


def test_keys_are_read_from_the_database_the_rows_come_from(
    api, as_, receiver: Receiver, pg_url: str, migrated_db: str, monkeypatch, deliver
) -> None:
    """A worker handling one database's rows while the process is configured for another (a
    deliverer given its database, tests, tools): the secret's tenant key is read where the
    subscription is stored, not from the configured database, where that tenant has no key."""
    from crm.settings import get_settings

    sub = _subscribe(api, as_("a"), receiver.url, ["crm.lead.created"])
    lead = _lead(api, as_("a"))
    monkeypatch.setenv("DATABASE_URL", migrated_db)
    get_settings.cache_clear()
    try:
        deliver()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    mine = [r for r in receiver.requests if r.json["payload"]["entity_id"] == lead]
    assert len(mine) == 1 and mine[0].verifies_with(sub["secret"])


def test_cursors_move_past_what_their_consumer_does_not_want(
    api, as_, receiver: Receiver, deliver, sql, tenants, pg_url: str
) -> None:
    """A cursor settles past the rows its consumer leaves out (the campaign sender wants
    triggers only; a subscription its event types), and a pass reads only the cursors with rows
    past them: a quiet tenant or subscription costs it nothing."""
    import psycopg

    from integrations.webhooks.campaigns import CONSUMER
    from integrations.webhooks.cursor import behind

    tenant = tenants["a"].id
    sub = _subscribe(api, as_("a"), receiver.url, ["crm.deal.won"])
    for _ in range(3):
        _lead(api, as_("a"))  # crm.lead.created: neither a campaign trigger nor the subscription's type
    (newest,) = sql("SELECT max(id) AS id FROM crm.outbox WHERE tenant_id = %s", tenant)
    with psycopg.connect(pg_url) as conn:
        assert {(tenant, CONSUMER), (tenant, sub["id"])} <= behind(conn, [CONSUMER, sub["id"]])
    deliver()  # the newest row read becomes pending
    deliver()  # no older transaction can still commit below it: settled
    settled = sql(
        "SELECT consumer, settled_id FROM crm.webhook_cursors WHERE tenant_id = %s AND consumer = ANY(%s)",
        tenant,
        [CONSUMER, sub["id"]],
    )
    assert {r["consumer"]: r["settled_id"] for r in settled} == {
        CONSUMER: newest["id"],
        sub["id"]: newest["id"],
    }
    with psycopg.connect(pg_url) as conn:
        assert not behind(conn, [CONSUMER, sub["id"]]) & {(tenant, CONSUMER), (tenant, sub["id"])}
    assert receiver.requests == []
