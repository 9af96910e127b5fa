"""`crm keys rotate` and `status` on notes (activities' descriptions) and inbound webhook
requests: values written before they were encrypted are counted as plaintext and sealed by the
sweep, sealed ones move to the new version, nothing is lost, an empty note stays empty, and a
sealed value does not open for another tenant."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from crm.keys import keyring as kr
from crm.keys import notes, received, rotate
from crm.keys.status import values_by_key
from crm.secrets import Undecryptable

pytestmark = pytest.mark.usefixtures("pg_env")
REQUEST = {"eventId": 7, "subscriptionType": "contact.creation", "properties": {"email": "ann@acme.test"}}


@pytest.fixture
def short_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kr.TTL_SETTING, "0.5")


def _tenant(conn: psycopg.Connection) -> tuple[uuid.UUID, str]:
    tid = uuid.uuid4()
    slug = f"notes-{tid.hex[:8]}"
    conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'n')", (tid, slug))
    return tid, slug


def _activities(conn: psycopg.Connection, tenant: uuid.UUID, texts: list[str]) -> dict[uuid.UUID, str]:
    """A lead and a deal with an activity of each text, stored as given: {activity id: text}."""
    lead = conn.execute(
        "INSERT INTO crm.leads (tenant_id, email, source) VALUES (%s, %s, 'sql') RETURNING id",
        (tenant, f"n-{uuid.uuid4().hex[:6]}@acme.test"),
    ).fetchone()[0]
    pipeline = conn.execute(
        "INSERT INTO crm.sales_pipelines (tenant_id, name, stages) VALUES (%s, %s, '[]') RETURNING id",
        (tenant, uuid.uuid4().hex),
    ).fetchone()[0]
    deal = conn.execute(
        "INSERT INTO crm.deals (tenant_id, name, value, pipeline_id, stage) VALUES (%s, 'd', 1, %s, 'A')"
        " RETURNING id",
        (tenant, pipeline),
    ).fetchone()[0]
    out = {}
    for i, text in enumerate(texts):
        parent, pid = ("lead", lead) if i % 2 == 0 else ("deal", deal)
        aid = conn.execute(
            f"INSERT INTO crm.{parent}_activities (tenant_id, {parent}_id, type, description)"
            " VALUES (%s, %s, 'NOTE_ADDED', %s) RETURNING id",
            (tenant, pid, text),
        ).fetchone()[0]
        out[aid] = text
    return out


def _stored(conn: psycopg.Connection, tenant: uuid.UUID) -> dict[uuid.UUID, str]:
    rows = conn.execute(
        "SELECT id, description FROM crm.lead_activities WHERE tenant_id = %(t)s UNION ALL"
        " SELECT id, description FROM crm.deal_activities WHERE tenant_id = %(t)s",
        {"t": tenant},
    ).fetchall()
    return dict(rows)


def test_rotation_seals_notes_and_requests_written_before_and_loses_nothing(
    pg_url: str, short_ttl: None
) -> None:
    ring = kr.Keyring(url=pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tenant, slug = _tenant(conn)
        legacy = _activities(conn, tenant, ["Called Ann, wants SSO", "Sent the v2 proposal", "", "ünïcode ✓"])
        seal = notes.sealer(tenant, ring)
        fresh = _activities(conn, tenant, [seal("Sealed at write"), seal("Also sealed")])
        conn.execute(
            "INSERT INTO crm.webhooks_received (tenant_id, source, sender_id, payload) VALUES"
            " (%s, 'hubspot', 'old', %s), (%s, 'hubspot', 'new', %s)",
            (tenant, json.dumps(REQUEST), tenant, received.sealer(tenant, ring)(REQUEST | {"eventId": 8})),
        )
        counts = values_by_key(conn)[str(tenant)]
    # status: 3 notes and 1 request from before encryption, the empty note not counted (and the
    # two leads' e-mails, written here as text too)
    assert counts["plaintext"] == 4 + 2 and counts["dk1"] == 3

    (result,) = rotate.rotate_data_keys([(tenant, slug)], kr.Keyring(), settle_s=0)
    assert result.reencrypted["lead_activities.description"] == 2  # one plain, one sealed (the empty left)
    assert result.reencrypted["deal_activities.description"] == 3
    assert result.reencrypted["webhooks_received.payload"] == 2 and result.remaining == 0
    with psycopg.connect(pg_url) as conn:
        stored = _stored(conn, tenant)
        requests = dict(
            conn.execute(
                "SELECT sender_id, payload FROM crm.webhooks_received WHERE tenant_id = %s", (tenant,)
            ).fetchall()
        )
        counts = values_by_key(conn)[str(tenant)]
    assert counts == {"dk2": 7 + 2}
    assert stored[next(a for a, t in legacy.items() if t == "")] == ""
    assert all(v.startswith("v2:dk2:") for v in stored.values() if v)
    want = legacy | {a: notes.open_note(tenant, t, ring) for a, t in fresh.items()}
    assert {a: notes.open_note(tenant, v, ring) for a, v in stored.items()} == want
    assert all(v.startswith("v2:dk2:") for v in requests.values())
    assert received.open_payload(tenant, requests["old"], ring) == REQUEST
    assert received.open_payload(tenant, requests["new"], ring) == REQUEST | {"eventId": 8}


def test_a_sealed_note_or_request_does_not_open_for_another_tenant(pg_url: str) -> None:
    ring = kr.Keyring(url=pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        (a, _), (b, _) = _tenant(conn), _tenant(conn)
    note = notes.sealer(a, ring)("Ann's direct line is 555 0102")
    request = received.sealer(a, ring)(REQUEST)
    notes.sealer(b, ring)  # b holds a data key of the same version
    assert notes.open_note(a, note, ring) == "Ann's direct line is 555 0102"
    with pytest.raises(Undecryptable):
        notes.open_note(b, note, ring)
    with pytest.raises(Undecryptable):
        received.open_payload(b, request, ring)
    # nor as another kind of value of the same tenant
    with pytest.raises(Undecryptable):
        received.open_payload(a, note, ring)
