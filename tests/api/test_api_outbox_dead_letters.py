"""A row the broker refuses for good does not hold up anyone else's: with the real Tansu broker
of the tests and a change event larger than the 1 MiB the broker takes (as the probe's 10 MB
lead made before request bodies were limited), the relay dead-letters that row with its reason
and publishes every other tenant's events in the same run."""

from __future__ import annotations

import asyncio
import uuid

from psycopg.types.json import Jsonb

from crm.events.topics import Topic


async def _event_ids(bootstrap: str, topic: str, want: set[str], timeout_s: float = 30) -> set[str]:
    import orjson
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen: set[str] = set()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not want <= seen and loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                seen |= {orjson.loads(r.value)["event_id"] for r in records}
    finally:
        await consumer.stop()
    return seen


def test_a_refused_row_is_dead_lettered_and_the_others_are_sent(
    client, as_, owner_sql, pg_url, kafka_bootstrap, tenants
):
    from api.outbox import OutboxRelay

    a = tenants["a"].id
    big = uuid.uuid4()
    owner_sql(
        "INSERT INTO crm.outbox (event_id, tenant_id, topic, key, event_type, payload)"
        " VALUES (%s, %s, %s, %s, 'crm.lead.created', %s)",
        big,
        a,
        Topic.CRM_CHANGES,
        str(uuid.uuid4()),
        Jsonb(
            {
                "event_id": str(big),
                "tenant_id": str(a),
                "payload": {"custom_fields": {"blob": "x" * 2_000_000}},
            }
        ),
    )
    leads = [
        client.post("/leads", json={"email": f"after-{i}@dl.test", "source": "web"}, headers=as_(t)).json()[
            "id"
        ]
        for i, t in enumerate(("b", "a", "b"))
    ]
    later = owner_sql(
        "SELECT event_id::text AS id FROM crm.outbox WHERE topic = %s AND key = ANY(%s)",
        Topic.CRM_CHANGES,
        leads,
    )
    assert len(later) == 3
    prefix = f"dl-{uuid.uuid4().hex[:8]}-"

    async def relay() -> tuple[int, int]:
        async with OutboxRelay(pg_url, kafka_bootstrap, batch=50, topic_prefix=prefix) as r:
            await r.drain()
            return r.sent, r.dead

    sent, dead = asyncio.run(relay())
    try:
        assert dead == 1 and sent >= 3
        row = owner_sql(
            "SELECT sent_at, dead_at, dead_reason, attempts FROM crm.outbox WHERE event_id = %s", big
        )[0]
        assert row["sent_at"] is None and row["dead_at"] is not None and row["attempts"] == 1
        assert "MessageSizeTooLargeError" in row["dead_reason"]
        assert (
            owner_sql("SELECT count(*) AS n FROM crm.outbox WHERE sent_at IS NULL AND dead_at IS NULL")[0][
                "n"
            ]
            == 0
        )  # nothing left waiting behind it
        want = {r["id"] for r in later}
        assert want <= asyncio.run(_event_ids(kafka_bootstrap, prefix + Topic.CRM_CHANGES, want))
    finally:
        owner_sql("DELETE FROM crm.outbox WHERE event_id = %s", big)
