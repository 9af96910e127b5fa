"""What people wrote lands sealed: a ticket's subject, body, requester (e-mail, phone, name,
company) and CSAT comment, a conversation's subject, text and author, an activity's description,
note and e-mail subject are stored in the deterministic sealed form under the tenant's data key
(none of it readable anywhere in raw.*), open to what was sent, in their tenant and field only;
a redelivery of the same event is a duplicate while one with another subject is a conflict.
Events with nothing written (or already sealed by the write API) land as they did. The lander's
role reads and adds its tenants' data keys, and nothing more of the key table."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from streaming_harness import Lander, wait_until

from crm.events import build_event
from crm.events.envelope import Event

pytestmark = pytest.mark.timeout(300)

EMAIL, PHONE, NAME = "ana.silva@example.com", "+44 20 7946 0000", "Ana Silva"


def _ticket(tenant: uuid.UUID, version: int = 2, **fields: object) -> Event:
    payload = {"ticket_id": uuid.uuid4(), "channel": "EMAIL", "subject": "Printer on fire"} | fields
    return build_event(
        "ticket.created",
        tenant,
        payload,
        occurred_at=datetime.now(UTC) - timedelta(minutes=5),
        source="ticketing",
        schema_version=version,
    )


def _with_requester(tenant: uuid.UUID) -> Event:
    return _ticket(
        tenant, requester_email=EMAIL, requester_phone=PHONE, requester_name=NAME, requester_company="Acme"
    )


def _record(event: Event, offset: int = 0) -> SimpleNamespace:
    return SimpleNamespace(value=event.to_bytes(), partition=0, offset=offset, headers=None)


def _tenant(url: str) -> uuid.UUID:
    tenant = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into crm.tenants (id, slug, name) values (%s, %s, 'Requesters')",
            (tenant, f"r-{tenant.hex[:8]}"),
        )
    return tenant


def _event(tenant: uuid.UUID, event_type: str, payload: dict, version: int = 1) -> Event:
    return build_event(
        event_type,
        tenant,
        payload,
        occurred_at=datetime.now(UTC) - timedelta(minutes=5),
        source="ticketing",
        schema_version=version,
    )


def _written(tenant: uuid.UUID) -> dict[str, list[Event]]:
    """Per topic, events carrying what people wrote (each text also a marker to look for)."""
    conversation, lead, deal = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return {
        "tickets": [
            _ticket(
                tenant,
                body="My printer at 12 Elm Street is on fire",
                requester_email=EMAIL,
                requester_phone=PHONE,
                requester_name=NAME,
                requester_company="Acme Widgets",
            ),
            _event(
                tenant,
                "ticket.csat_submitted",
                {
                    "ticket_id": uuid.uuid4(),
                    "channel": "EMAIL",
                    "csat": 2,
                    "comment": "Rude agent called Bruno",
                },
            ),
        ],
        "conversations": [
            _event(
                tenant,
                "conversation.started",
                {
                    "conversation_id": conversation,
                    "channel": "CHAT",
                    "subject": "Renewal of the Zorblax plan",
                },
            ),
            _event(
                tenant,
                "conversation.message",
                {
                    "conversation_id": conversation,
                    "channel": "CHAT",
                    "direction": "inbound",
                    "author": "Quentin Marsh",
                    "text": "Budget is approved, we are ready to sign by Friday",
                },
            ),
        ],
        "lead-activities": [
            _event(
                tenant,
                "lead.email_sent",
                {
                    "activity_id": uuid.uuid4(),
                    "lead_id": lead,
                    "email_id": "e-1",
                    "subject": "Pricing for Wexford Mills",
                    "description": "Sent the quote to Wexford",
                },
            ),
            _event(
                tenant,
                "lead.note_added",
                {"activity_id": uuid.uuid4(), "lead_id": lead, "note": "Spouse works at Globex"},
            ),
        ],
        "deal-activities": [
            _event(
                tenant,
                "deal.email_sent",
                {"activity_id": uuid.uuid4(), "deal_id": deal, "subject": "Contract for Hollow Pine"},
            ),
            _event(
                tenant,
                "deal.note_added",
                {
                    "activity_id": uuid.uuid4(),
                    "deal_id": deal,
                    "description": "Champion is Yusuf Oyelaran",
                    "note": "Champion is Yusuf Oyelaran",
                },
            ),
        ],
    }


PLAIN = (
    EMAIL,
    PHONE,
    NAME,
    "ana.silva",
    "7946",
    "Printer on fire",
    "Elm Street",
    "Acme Widgets",
    "Bruno",
    "Zorblax",
    "Quentin",
    "Budget is approved",
    "Wexford",
    "Globex",
    "Hollow Pine",
    "Oyelaran",
)
"""Every text `_written` sends: none of it may be readable where it lands."""


def _lander(topic: str, url: str):
    from streaming.landing import TopicLander

    async def nowhere(_: object) -> None:
        raise AssertionError("nothing is dead-lettered here")

    return TopicLander(topic, topic, database_url=url, send_dead_letters=nowhere)


def _stored(line: bytes) -> dict:
    return orjson.loads(line.split(b"\t")[8].replace(b"\\\\", b"\\"))


def test_parse_seals_what_people_wrote_and_leaves_other_events_as_they_were(migrated_db: str) -> None:
    from crm.keys import event_text
    from crm.keys.keyring import keyring
    from crm.secrets import Undecryptable
    from streaming.landing import KeyNeeded

    tenant, other = _tenant(migrated_db), _tenant(migrated_db)
    known, now = {tenant, other}, datetime.now(UTC)
    ring = keyring(migrated_db)
    ring.current(other)  # the other tenant has a data key of its own, version 1 too
    for topic, events in _written(tenant).items():
        lander = _lander(topic, migrated_db)
        assert lander._parse(_record(events[0]), known, now) == KeyNeeded(tenant)  # loaded off the loop
        assert lander.text_keys is not None
        asyncio.run(lander.text_keys.warm([tenant]))
        for event in events:
            line = lander._parse(_record(event), known, now)
            assert isinstance(line, bytes)
            assert lander._parse(_record(event), known, now) == line  # deterministic: same event, same line
            for plain in PLAIN:
                assert plain.encode() not in line, (topic, plain)
            stored, sent = _stored(line), orjson.loads(event.payload_json())
            sealed = {f for f in event_text.FIELDS[topic] if sent.get(f)}
            assert sealed, event.event_type
            for f in sealed:
                assert stored[f].startswith("d2:dk1:"), (f, stored[f])
                assert event_text.open_field(tenant, topic, f, stored[f], ring) == sent[f]
            assert {k: v for k, v in stored.items() if k not in sealed} == {
                k: v for k, v in sent.items() if k not in sealed
            }
            assert event_text.open_payload(tenant, topic, stored, ring) == sent
            # another tenant's key, another field: it does not open
            f = sorted(sealed)[0]
            with pytest.raises(Undecryptable):
                event_text.open_field(other, topic, f, stored[f], ring)
            moved = next(
                (
                    g
                    for g in event_text.FIELDS[topic]
                    if event_text.FIELDS[topic][g] != event_text.FIELDS[topic][f]
                ),
                None,
            )
            if moved is not None:
                with pytest.raises(Undecryptable):
                    event_text.open_field(tenant, topic, moved, stored[f], ring)

    # the requester keeps the people's associated data: it opens as a person's value
    from crm.keys import personal

    tickets = _lander("tickets", migrated_db)
    assert tickets.text_keys is not None
    asyncio.run(tickets.text_keys.warm([tenant]))
    line = tickets._parse(_record(_with_requester(tenant)), known, now)
    assert isinstance(line, bytes)
    stored = _stored(line)
    for field, column in personal.REQUESTER.items():
        assert (
            personal.open_value(tenant, column, stored[field], ring)
            == _with_requester(tenant).payload.__dict__[field]
        )
    other_line = tickets._parse(_record(_ticket(tenant, requester_email="bo@example.com")), known, now)
    assert isinstance(other_line, bytes)
    assert _stored(other_line)["requester_email"] != stored["requester_email"]

    # nothing written (no text field, an empty one, one sealed by the write API already): the
    # line built before sealing existed, byte for byte, and no key asked for
    api_sealed = "v2:dk1:" + "A" * 40
    plain_events = {
        "conversations": _event(
            tenant,
            "conversation.closed",
            {"conversation_id": uuid.uuid4(), "channel": "CHAT", "message_count": 3},
        ),
        "lead-activities": _event(
            tenant,
            "lead.website_visit",
            {"activity_id": uuid.uuid4(), "lead_id": uuid.uuid4(), "url": "https://example.com/pricing"},
        ),
        "deal-activities": _event(
            tenant,
            "deal.stage_changed",
            {
                "activity_id": uuid.uuid4(),
                "deal_id": uuid.uuid4(),
                "to_stage": "Proposal",
                "probability": 40,
                "description": api_sealed,
            },
        ),
    }
    for topic, event in plain_events.items():
        lander = _lander(topic, migrated_db)
        line = lander._parse(_record(event), known, now)  # no key loaded: none needed
        lander.text_keys = None  # the lander as it was: payload_json as sent
        assert isinstance(line, bytes) and line == lander._parse(_record(event), known, now)
        assert event.payload_json() in line


def test_free_text_lands_sealed_a_resend_is_a_duplicate_and_a_changed_one_a_conflict(
    lander: Lander,
) -> None:
    from crm.keys import event_text
    from crm.keys.keyring import keyring

    t = lander.tenant
    written = _written(t)
    sealed_one = _with_requester(t)
    v1 = _ticket(t, version=1)
    key = str(sealed_one.event_id).encode()
    lander.produce([("tickets", key, sealed_one.to_bytes())], partition=0)
    lander.produce_events([v1, *(e for events in written.values() for e in events)], partition=1)
    worker = lander.worker().wait_ready()
    total = 2 + sum(len(e) for e in written.values())
    lander.wait_landed(total)

    ring = keyring(lander.db_url)
    for topic, events in {**written, "tickets": [sealed_one, v1, *written["tickets"]]}.items():
        table = topic.replace("-", "_")
        everything = " ".join(r[0] for r in lander.query(f"select t::text from raw.{table} t"))
        for plain in PLAIN:
            assert plain not in everything, (table, plain)
        for event in events:
            (payload,) = lander.query(f"select payload from raw.{table} where event_id = %s", event.event_id)[
                0
            ]
            assert event_text.open_payload(t, topic, payload, ring) == orjson.loads(event.payload_json())
    (payload,) = lander.query("select payload from raw.tickets where event_id = %s", sealed_one.event_id)[0]
    opened = event_text.open_payload(t, "tickets", payload, ring)
    assert (opened["requester_email"], opened["requester_phone"], opened["requester_name"]) == (
        EMAIL,
        PHONE,
        NAME,
    )
    assert (opened["requester_company"], opened["subject"]) == ("Acme", "Printer on fire")

    wire = orjson.loads(sealed_one.to_bytes())
    wire["payload"]["subject"] = "Printer fixed"  # same event id, another subject
    lander.produce(
        [("tickets", key, sealed_one.to_bytes()), ("tickets", key, orjson.dumps(wire))], partition=0
    )
    wait_until(lambda: lander.query("select count(*) from raw.dead_letters")[0][0] == 1, 60, "conflict")
    wait_until(
        lambda: worker.metric_sum("crm_lander_events_duplicate_total", topic="tickets") == 1, 30, "duplicate"
    )
    assert lander.query("select reason_code, kafka_offset from raw.dead_letters") == [("CONFLICT", 2)]
    assert worker.metric_sum("crm_lander_conflicts_total", topic="tickets") == 1
    assert lander.landed() == total
    assert (
        lander.query("select payload from raw.tickets where event_id = %s", sealed_one.event_id)[0][0]
        == payload
    )


def test_the_lander_role_reads_and_adds_its_tenants_data_keys_only(migrated_db: str) -> None:
    from crm.keys.keyring import DATA, INDEX, Keyring
    from crm.secrets import KeyUnavailable
    from streaming.requesters import TextKeys

    tenant, other = _tenant(migrated_db), _tenant(migrated_db)
    Keyring(url=migrated_db).current(other, INDEX)  # the owner makes another tenant's index key
    role = f"lander_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(f"create role {role} login")
        conn.execute(f"grant crm_lander to {role}")
    try:
        url = make_conninfo(migrated_db, user=role)
        keys = TextKeys("tickets", url, Keyring(url=url))
        keys.load([tenant])  # no key yet: the lander's keyring makes it
        assert keys.sealer(tenant) is not None
        with psycopg.connect(migrated_db) as conn:
            rows = conn.execute(
                "select kind, version from crm.tenant_data_keys where tenant_id = %s", (tenant,)
            ).fetchall()
        assert rows == [(DATA, 1)]
        ring = Keyring(url=url)
        assert ring.current(tenant, DATA)[0] == 1
        with pytest.raises(KeyUnavailable):  # an index key, even of a tenant it signs for
            ring.key(other, 1, INDEX)
        with psycopg.connect(url) as conn:  # unsigned: no row of the table at all
            assert conn.execute("select count(*) from crm.tenant_data_keys").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("delete from crm.tenant_data_keys")
    finally:
        with psycopg.connect(migrated_db, autocommit=True) as conn:
            conn.execute(f"drop owned by {role}")
            conn.execute(f"drop role {role}")
