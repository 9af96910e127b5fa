"""A ticket's requester lands sealed: the e-mail, phone and name of a v2 ticket event are stored
in the deterministic sealed form under the tenant's data key (none of them readable anywhere in
raw.tickets), open to what was sent, and a redelivery of the same event is a duplicate while one
with another requester e-mail is a conflict. Other events land as they did. The lander's role
reads and adds its tenants' data keys, and nothing more of the key table."""

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


def test_parse_seals_the_requester_and_leaves_other_events_as_they_were(migrated_db: str) -> None:
    from crm.keys import personal
    from crm.keys.keyring import keyring
    from streaming.landing import KeyNeeded, TopicLander

    async def nowhere(_: object) -> None:
        raise AssertionError("nothing is dead-lettered here")

    tenant = _tenant(migrated_db)
    lander = TopicLander("tickets", "tickets", database_url=migrated_db, send_dead_letters=nowhere)
    known, now = {tenant}, datetime.now(UTC)
    event = _with_requester(tenant)

    assert lander._parse(_record(event), known, now) == KeyNeeded(tenant)  # the key is loaded off the loop
    assert lander.requesters is not None
    asyncio.run(lander.requesters.warm([tenant]))
    line = lander._parse(_record(event), known, now)
    assert isinstance(line, bytes)
    assert lander._parse(_record(event), known, now) == line  # deterministic: same event, same line
    for plain in (EMAIL, PHONE, NAME, "ana.silva", "7946"):
        assert plain.encode() not in line
    stored = orjson.loads(line.split(b"\t")[8])
    sent = orjson.loads(event.payload_json())
    ring = keyring(migrated_db)
    for field, column in personal.REQUESTER.items():
        assert stored[field].startswith("d2:dk1:"), stored[field]
        assert personal.open_value(tenant, column, stored[field], ring) == sent[field]
    assert {k: v for k, v in stored.items() if k not in personal.REQUESTER} == {
        k: v for k, v in sent.items() if k not in personal.REQUESTER
    }
    # another e-mail, another text; the same e-mail in another field does not open as that field
    other = lander._parse(_record(_ticket(tenant, requester_email="bo@example.com")), known, now)
    assert isinstance(other, bytes)
    assert orjson.loads(other.split(b"\t")[8])["requester_email"] != stored["requester_email"]
    with pytest.raises(ValueError):
        personal.open_value(tenant, "name", stored["requester_email"], ring)

    # v1, and v2 without a requester: byte for byte the line built before sealing existed
    plain_events = [
        _ticket(tenant, version=1),
        _ticket(tenant),
        _ticket(tenant, requester_company="Acme"),
        build_event(
            "ticket.csat_submitted",
            tenant,
            {"ticket_id": uuid.uuid4(), "channel": "EMAIL", "csat": 4, "comment": "ana.silva@example.com"},
            occurred_at=now,
            source="ticketing",
        ),
    ]
    keys, lander.requesters = lander.requesters, None  # the lander as it was: payload_json as sent
    before = [lander._parse(_record(e, i), known, now) for i, e in enumerate(plain_events)]
    lander.requesters = keys
    after = [lander._parse(_record(e, i), known, now) for i, e in enumerate(plain_events)]
    assert after == before
    assert all(
        isinstance(b, bytes) and e.payload_json() in b for b, e in zip(before, plain_events, strict=True)
    )


def test_a_requester_lands_sealed_a_resend_is_a_duplicate_and_a_changed_one_a_conflict(
    lander: Lander,
) -> None:
    from crm.keys import personal
    from crm.keys.keyring import keyring

    t = lander.tenant
    sealed_one = _with_requester(t)
    v1 = _ticket(t, version=1)
    bare = _ticket(t)
    key = str(sealed_one.event_id).encode()
    lander.produce([("tickets", key, sealed_one.to_bytes())], partition=0)
    lander.produce_events([v1, bare], partition=1)
    worker = lander.worker().wait_ready()
    lander.wait_landed(3)

    everything = " ".join(r[0] for r in lander.query("select t::text from raw.tickets t"))
    for plain in (EMAIL, PHONE, NAME, "ana.silva", "7946"):
        assert plain not in everything, plain
    (payload,) = lander.query("select payload from raw.tickets where event_id = %s", sealed_one.event_id)[0]
    ring = keyring(lander.db_url)
    opened = personal.open_requester(t, payload, ring)
    assert (opened["requester_email"], opened["requester_phone"], opened["requester_name"]) == (
        EMAIL,
        PHONE,
        NAME,
    )
    assert payload["requester_company"] == "Acme" and payload["subject"] == "Printer on fire"
    for event in (v1, bare):
        assert lander.query("select payload from raw.tickets where event_id = %s", event.event_id)[0][0] == (
            orjson.loads(event.payload_json())
        )

    wire = orjson.loads(sealed_one.to_bytes())
    wire["payload"]["requester_email"] = "someone.else@example.com"  # same event id, other requester
    lander.produce(
        [("tickets", key, sealed_one.to_bytes()), ("tickets", key, orjson.dumps(wire))], partition=0
    )
    wait_until(lambda: lander.query("select count(*) from raw.dead_letters")[0][0] == 1, 60, "conflict")
    wait_until(
        lambda: worker.metric_sum("crm_lander_events_duplicate_total", topic="tickets") == 1, 30, "duplicate"
    )
    assert lander.query("select reason_code, kafka_offset from raw.dead_letters") == [("CONFLICT", 2)]
    assert worker.metric_sum("crm_lander_conflicts_total", topic="tickets") == 1
    assert lander.landed() == 3
    assert (
        lander.query("select payload from raw.tickets where event_id = %s", sealed_one.event_id)[0][0]
        == payload
    )


def test_the_lander_role_reads_and_adds_its_tenants_data_keys_only(migrated_db: str) -> None:
    from crm.keys.keyring import DATA, INDEX, Keyring
    from crm.secrets import KeyUnavailable
    from streaming.requesters import RequesterKeys

    tenant, other = _tenant(migrated_db), _tenant(migrated_db)
    Keyring(url=migrated_db).current(other, INDEX)  # the owner makes another tenant's index key
    role = f"lander_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(f"create role {role} login")
        conn.execute(f"grant crm_lander to {role}")
    try:
        url = make_conninfo(migrated_db, user=role)
        keys = RequesterKeys(url, Keyring(url=url))
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
