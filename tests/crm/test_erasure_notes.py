"""`crm erase --person` with sealed notes and inbound webhook requests: the person's leads'
notes become the marker in their rows and in their events' copies (found as the sealed text
they are), a received request naming the person is opened, redacted and stored sealed again,
and everyone else's notes and requests stay as they were."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from crm.changes import activity_rows
from crm.keys import notes, personal, received
from crm.keys.keyring import keyring
from crm.privacy.erasure import MARKER, erase_person


@dataclass(frozen=True)
class Rows:
    conn: psycopg.Connection

    def insert(self, table: str, row: dict[str, Any]) -> None:
        values = [Jsonb(v) if isinstance(v, dict) else v for v in row.values()]
        cols = ", ".join(row)
        self.conn.execute(f"insert into crm.{table} ({cols}) values ({', '.join(['%s'] * len(row))})", values)


def test_erasure_clears_a_persons_sealed_notes_and_received_requests(migrated_db: str) -> None:
    email, ring, tenant = "nora.quist@example.com", keyring(migrated_db), uuid.uuid4()
    slug = f"n-{tenant.hex[:8]}"
    acts: dict[str, uuid.UUID] = {}
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute("insert into crm.tenants (id, slug, name) values (%s, %s, 'Erase')", (tenant, slug))
        rows = Rows(conn)
        for who, address in (("hers", email), ("his", "otto@example.com")):
            person = personal.seal_row(tenant, "leads", {"email": address}, ring)
            lead = conn.execute(
                "insert into crm.leads (tenant_id, email, email_bidx, email_domain, source)"
                " values (%s, %s, %s, %s, 'web') returning id",
                (tenant, person["email"], person["email_bidx"], person["email_domain"]),
            ).fetchone()[0]
            acts[who] = uuid.uuid4()
            act = {
                "id": acts[who],
                "tenant_id": tenant,
                "lead_id": lead,
                "user_id": None,
                "type": "NOTE_ADDED",
                "description": "Prefers a call after five, at home",
                "metadata": {},
                "created_at": "2026-12-01T10:00:00Z",
            }
            for table, row in activity_rows("lead", act, ring=ring):
                rows.insert(table, row)
        seal = received.sealer(tenant, ring)
        requests = {
            "hers": seal({"objectId": 1, "properties": {"email": email, "firstname": "Nora"}}),
            "his": seal({"objectId": 2, "properties": {"email": "otto@example.com"}}),
            "hers before": json.dumps({"objectId": 3, "properties": {"email": email}}),
        }
        for sender, payload in requests.items():
            conn.execute(
                "insert into crm.webhooks_received (tenant_id, source, sender_id, payload)"
                " values (%s, 'hubspot', %s, %s)",
                (tenant, sender, payload),
            )

    report = erase_person(email, slug, migrated_db)
    assert report.counts()["crm.webhooks_received"] == 2 and report.counts()["crm.lead_activities"] == 1
    with psycopg.connect(migrated_db) as conn:
        stored = dict(
            conn.execute(
                "select sender_id, payload from crm.webhooks_received where tenant_id = %s", (tenant,)
            ).fetchall()
        )
        notes_now = dict(
            conn.execute("select id, description from crm.lead_activities where tenant_id = %s", (tenant,))
        )
        events = dict(
            conn.execute(
                "select event_id, payload->'payload' from crm.outbox where event_id = any(%s)",
                (list(acts.values()),),
            )
        )
    assert notes_now[acts["hers"]] == MARKER
    assert (events[acts["hers"]]["description"], events[acts["hers"]]["note"]) == (MARKER, MARKER)
    for name in ("hers", "hers before"):  # opened, redacted, sealed again
        assert stored[name].startswith("v2:dk") and email not in stored[name]
        assert received.open_payload(tenant, stored[name], ring)["properties"]["email"] == MARKER
    assert stored["his"] == requests["his"]
    assert notes.open_note(tenant, notes_now[acts["his"]], ring) == "Prefers a call after five, at home"
    assert events[acts["his"]]["description"] == notes_now[acts["his"]]

    again = erase_person(email, slug, migrated_db).counts()
    assert again.get("crm.webhooks_received", 0) == 0 and again.get("crm.outbox", 0) == 0
