"""`crm erase --person` with sealed dead letters and parked events: a row whose bytes, opened,
name the person (in any case) is deleted; one stored before sealing is found by its bytes as
before; another person's rows and another tenant's rows naming the same address stay."""

from __future__ import annotations

import uuid

import psycopg

from crm.keys import undelivered
from crm.keys.keyring import keyring
from crm.privacy.erasure import erase_person

TOPIC = "tickets"


def test_erasure_deletes_the_undelivered_events_that_name_the_person(migrated_db: str) -> None:
    email, ring = "Vera.Lind@example.com", keyring(migrated_db)
    mine, other = uuid.uuid4(), uuid.uuid4()
    key = undelivered.current_key(ring)

    def sealed(text: str) -> tuple[bytes, str]:
        return undelivered.seal(text.encode(), TOPIC, key)

    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(
            "insert into crm.tenants (id, slug, name) values (%s, %s, 'Erase')", (mine, f"u-{mine.hex[:8]}")
        )
        dead = [  # (tenant, bytes, key id)
            (mine, *sealed('{"requester_email": "vera.lind@example.com"}')),  # another case: hers
            (mine, *sealed('{"requester_email": "otto@example.com"}')),
            (mine, b'{"requester_email": "Vera.Lind@example.com"}', None),  # stored before sealing
            (other, *sealed('{"requester_email": "vera.lind@example.com"}')),  # another tenant's
        ]
        for offset, (tenant, raw, key_id) in enumerate(dead):
            conn.execute(
                "insert into raw.dead_letters (topic, kafka_partition, kafka_offset, reason_code, reason,"
                " tenant_id, raw_bytes, raw_key_id) values (%s, 0, %s, 'PAYLOAD_INVALID', 'bad', %s, %s, %s)",
                (TOPIC, offset, tenant, raw, key_id),
            )
        for offset, text in enumerate(('{"text": "call VERA.LIND@example.com"}', '{"text": "call otto"}')):
            conn.execute(
                "insert into raw.parked_events (topic, kafka_partition, kafka_offset, event_id, tenant_id,"
                " reason_code, reason, raw_bytes, raw_key_id) values (%s, 0, %s, %s, %s, 'UNKNOWN_TENANT',"
                " 'waiting', %s, %s)",
                (TOPIC, offset, uuid.uuid4(), mine, *sealed(text)),
            )

    report = erase_person(email, f"u-{mine.hex[:8]}", migrated_db)
    assert report.counts()["raw.dead_letters"] == 2 and report.counts()["raw.parked_events"] == 1
    with psycopg.connect(migrated_db) as conn:
        left = conn.execute(
            "select tenant_id, topic, raw_bytes, raw_key_id from raw.dead_letters order by kafka_offset"
        ).fetchall()
        parked = conn.execute("select topic, raw_bytes, raw_key_id from raw.parked_events").fetchall()
    opened = [(t, undelivered.unseal(bytes(b), k, topic, ring)) for t, topic, b, k in left]
    assert opened == [
        (mine, b'{"requester_email": "otto@example.com"}'),
        (other, b'{"requester_email": "vera.lind@example.com"}'),
    ]
    assert [undelivered.unseal(bytes(b), k, topic, ring) for topic, b, k in parked] == [
        b'{"text": "call otto"}'
    ]
