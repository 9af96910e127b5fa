"""Events of an unknown tenant: a batch parks them and lands the rest, the releaser lands them
once the tenant exists (once, whatever is redelivered) and dead-letters them after the bound.
First in real Postgres without Kafka, then through a real worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from faust.types import TP
from streaming_harness import Lander, wait_until

from crm.events import DeadLetter, ReasonCode
from crm.keys import undelivered
from crm.keys.keyring import keyring
from crm.schema.landing import LANDING_TABLES
from streaming.landing import TenantCache, TopicLander
from streaming.models import BatchMessage
from streaming.parking import ParkedReleaser
from streaming.sample_events import sample_events


def _batch(values: list[bytes], first_offset: int, partition: int = 0) -> BatchMessage:
    records = [
        SimpleNamespace(
            offset=first_offset + i,
            partition=partition,
            timestamp=1_700_000_000_000,
            timestamp_type=0,
            value=v,
        )
        for i, v in enumerate(values)
    ]
    return BatchMessage([(TP("x.tickets", partition), records)], generation_id=1)


class Setup:
    """One tickets lander and a releaser sharing a tenant cache, as in a worker."""

    def __init__(self, db_url: str, timeout: float = 600.0) -> None:
        self.db_url = db_url
        self.sent: list[DeadLetter] = []
        self.tenants = TenantCache()

        async def send(records) -> None:
            self.sent.extend(records)

        self.lander = TopicLander(
            "x.tickets", "tickets", database_url=db_url, send_dead_letters=send, tenants=self.tenants
        )
        self.releaser = ParkedReleaser(
            [self.lander], database_url=db_url, send_dead_letters=send, tenants=self.tenants, timeout=timeout
        )

    def run(self, *coros) -> list:
        async def go() -> list:
            try:
                return [await c for c in coros]
            finally:
                await self.lander.close()
                await self.releaser.close()

        return asyncio.run(go())

    def query(self, q: str, *args: object) -> list[tuple]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return conn.execute(q, args or None).fetchall()

    def add_tenant(self, tenant: uuid.UUID) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute(
                "insert into crm.tenants (id, slug, name) values (%s, %s, 'T')",
                (tenant, f"t-{tenant.hex[:8]}"),
            )


def test_unknown_tenant_is_parked_and_lands_once_it_exists(migrated_db: str) -> None:
    s = Setup(migrated_db)
    known, late = uuid.uuid4(), uuid.uuid4()
    s.add_tenant(known)
    mine = list(sample_events(4, [known], seed=21, topics=1))
    theirs = list(sample_events(3, [late], seed=22, topics=1))
    values = [theirs[0], mine[0], mine[1], theirs[1], mine[2], theirs[2], mine[3]]
    batch = _batch([e.to_bytes() for e in values], first_offset=10)

    t0 = time.monotonic()
    (result,) = s.run(s.lander.land([batch]))
    assert time.monotonic() - t0 < 5  # no waiting for the unknown tenant inside the batch
    assert (result.landed, len(result.parked), result.dead) == (4, 3, [])
    assert {r[0] for r in s.query("select event_id from raw.tickets")} == {e.event_id for e in mine}
    parked = s.query(
        "select kafka_partition, kafka_offset, event_id, tenant_id, reason_code, reason, first_seen_at"
        " from raw.parked_events order by kafka_offset"
    )
    assert [r[:5] for r in parked] == [
        (0, 10, theirs[0].event_id, late, "UNKNOWN_TENANT"),
        (0, 13, theirs[1].event_id, late, "UNKNOWN_TENANT"),
        (0, 15, theirs[2].event_id, late, "UNKNOWN_TENANT"),
    ]
    assert all(r[5] == "tenant_id: tenant is not known" and r[6] is not None for r in parked)
    # the bytes kept sealed under the deployment's data key, opening to what was sent
    stored = s.query("select raw_bytes, raw_key_id from raw.parked_events order by kafka_offset")
    sent = [theirs[0].to_bytes(), theirs[1].to_bytes(), theirs[2].to_bytes()]
    assert [k for _, k in stored] == ["dk1"] * 3 and not any(
        b in bytes(r) for (r, _), b in zip(stored, sent, strict=True)
    )
    ring = keyring(s.db_url)
    assert [undelivered.unseal(bytes(r), k, "x.tickets", ring) for r, k in stored] == sent

    # redelivered before the tenant exists: parked once, landed once; a re-check changes nothing
    (again,) = s.run(s.lander.land([batch]))
    assert (again.landed, again.duplicates, len(again.parked)) == (0, 4, 3)
    s.run(s.releaser.tick())
    assert s.query("select count(*) from raw.parked_events") == [(3,)]
    assert s.query("select count(*) from raw.tickets") == [(4,)]

    s.add_tenant(late)
    s.run(s.releaser.tick())
    rows = s.query(
        "select event_id, tenant_id, kafka_partition, kafka_offset from raw.tickets where tenant_id = %s",
        late,
    )
    assert sorted(r[3] for r in rows) == [10, 13, 15] and {r[0] for r in rows} == {e.event_id for e in theirs}
    assert s.query("select count(*) from raw.parked_events") == [(0,)]

    # the batch delivered once more after the release (a crash before the offsets' commit)
    (third,) = s.run(s.lander.land([batch]), s.releaser.tick())[:1]
    assert (third.landed, third.duplicates, third.parked) == (0, 7, [])
    assert s.query("select count(*) from raw.tickets") == [(7,)]
    assert s.query("select count(*) from raw.dead_letters") == [(0,)] and s.sent == []


def test_a_tenant_that_never_appears_ends_as_dead_letters(migrated_db: str) -> None:
    s = Setup(migrated_db, timeout=1.0)
    ghost = uuid.uuid4()
    events = list(sample_events(2, [ghost], seed=23, topics=1))
    batch = _batch([e.to_bytes() for e in events], first_offset=0, partition=3)
    s.run(s.lander.land([batch]))
    s.run(s.releaser.tick())  # not yet past the bound
    assert s.query("select count(*) from raw.parked_events") == [(2,)]
    time.sleep(1.2)
    s.run(s.releaser.tick())

    assert s.query("select count(*) from raw.parked_events") == [(0,)]
    dead = s.query(
        "select topic, kafka_partition, kafka_offset, reason_code, reason, event_id, tenant_id, raw_bytes, raw_key_id"
        " from raw.dead_letters order by kafka_offset"
    )
    assert [d[:4] for d in dead] == [
        ("x.tickets", 3, 0, "UNKNOWN_TENANT"),
        ("x.tickets", 3, 1, "UNKNOWN_TENANT"),
    ]
    assert all("not in crm.tenants after" in d[4] and d[6] == ghost for d in dead)
    assert [d[5] for d in dead] == [e.event_id for e in events]
    assert all(d[8] == "dk1" and e.to_bytes() not in bytes(d[7]) for d, e in zip(dead, events, strict=True))
    ring = keyring(s.db_url)
    assert [undelivered.unseal(bytes(d[7]), d[8], d[0], ring) for d in dead] == [e.to_bytes() for e in events]
    assert [(d.offset, d.reason_code) for d in s.sent] == [
        (0, ReasonCode.UNKNOWN_TENANT),
        (1, ReasonCode.UNKNOWN_TENANT),
    ]

    # redelivered: a dead letter stays one, and it is not parked again
    s.run(s.lander.land([batch]))
    assert s.query("select count(*) from raw.parked_events") == [(0,)]
    assert s.query("select count(*) from raw.dead_letters") == [(2,)]
    assert s.query("select count(*) from raw.tickets") == [(0,)]


@pytest.mark.timeout(300)
def test_an_unknown_tenant_holds_up_no_other_event(lander: Lander) -> None:
    """Through a real worker: events of two unknown tenants head partitions 0 and 1; a known
    tenant's events on every partition land at once, the parked ones land when their tenant
    is created, and the tenant that never appears ends as dead letters."""
    lander.extra_env.update(LANDER_PARK_TIMEOUT="20")
    late, ghost = uuid.uuid4(), uuid.uuid4()
    late_events = list(sample_events(2, [late], seed=31, topics=1))
    ghost_events = list(sample_events(2, [ghost], seed=32, topics=1))
    known_events = list(sample_events(8, [lander.tenant], seed=33, topics=1))
    worker = lander.worker().wait_ready()

    t0 = time.monotonic()
    lander.produce_events(ghost_events, partition=0)
    lander.produce_events(late_events, partition=1)
    for p in range(4):
        lander.produce_events(known_events[2 * p : 2 * p + 2], partition=p)
    lander.wait_landed(len(known_events), timeout=60)
    took = time.monotonic() - t0
    assert took < 10, f"the known tenant's events took {took:.1f} s"
    wait_until(lambda: lander.query("select count(*) from raw.parked_events")[0][0] == 4, 30, "4 parked")
    assert set(lander.landed_ids()) == {e.event_id for e in known_events}
    assert lander.query("select count(*) from raw.dead_letters")[0][0] == 0
    assert '"event":"events_parked"' in worker.log()

    lander.query("insert into crm.tenants (id, slug, name) values (%s, 'late', 'Late') returning id", late)
    lander.wait_landed(len(known_events) + len(late_events), timeout=30)
    assert set(lander.landed_ids()) == {e.event_id for e in known_events + late_events}
    assert '"event":"parked_released"' in worker.log()

    wait_until(lambda: lander.query("select count(*) from raw.dead_letters")[0][0] == 2, 90, "2 dead letters")
    dead = lander.query("select reason_code, event_id, tenant_id, kafka_partition from raw.dead_letters")
    assert sorted(dead) == sorted(("UNKNOWN_TENANT", e.event_id, ghost, 0) for e in ghost_events)
    assert lander.query("select count(*) from raw.parked_events")[0][0] == 0
    assert '"event":"parked_dead_lettered"' in worker.log()
    assert {DeadLetter.from_bytes(r.value).event_id for r in lander.consume_all("dead-letters")} == {
        e.event_id for e in ghost_events
    }
    time.sleep(1.5)  # nothing more arrives: each event is in raw.* or dead-lettered, once
    assert sorted(lander.landed_ids()) == sorted(e.event_id for e in known_events + late_events)
    assert worker.metric_sum("crm_lander_events_parked_total") == 4
    assert worker.metric_sum("crm_lander_parked_released_total") == 2
    assert worker.metric_sum("crm_lander_dead_letters_total", reason="UNKNOWN_TENANT") == 2
    assert worker.metric_sum("crm_lander_parked_waiting") == 0


def test_only_the_lander_writes_the_parking_table(migrated_db: str) -> None:
    s = Setup(migrated_db)
    privileges = {
        (role, priv): s.query("select has_table_privilege(%s, 'raw.parked_events', %s)", role, priv)[0][0]
        for role in ("crm_lander", "crm_api", "crm_transform")
        for priv in ("SELECT", "INSERT", "DELETE", "UPDATE")
    }
    assert {k for k, v in privileges.items() if v} == {
        ("crm_lander", "SELECT"),
        ("crm_lander", "INSERT"),
        ("crm_lander", "DELETE"),
        ("crm_transform", "SELECT"),
    }


@pytest.mark.timeout(600)
def test_a_seed_racing_its_tenants_commit_lands_every_event(
    migrated_db: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """What `make demo` does: the seed sends a world's events while the transaction creating its
    tenants is still open. Every event lands once that commits; none is dead-lettered."""
    from sim import seed_world

    setup = Lander(migrated_db, kafka_bootstrap, "", f"lander-{uuid.uuid4().hex[:8]}", uuid.uuid4(), tmp_path)
    worker = setup.worker().wait_ready()
    try:
        summary = seed_world(
            scale="S",
            seed=1215,
            database_url=migrated_db,
            bootstrap=kafka_bootstrap,
            sink="kafka",
            progress=False,
        )
        tenants = list(summary.tenant_ids)
        # the topics carry no prefix (the seed's own): count only this world's tenants
        count = " + ".join(
            f"(select count(*) from raw.{LANDING_TABLES[t]} where tenant_id = any(%s::uuid[]))"
            for t in summary.topics
        )
        expected = sum(summary.topics.values())
        landed = lambda: setup.query(f"select {count}", *[tenants] * len(summary.topics))[0][0]  # noqa: E731
        wait_until(lambda: landed() >= expected, 300, f"{expected} seeded events landed")
        time.sleep(1.5)
        assert landed() == expected
        for table in ("parked_events", "dead_letters"):
            assert setup.query(
                f"select count(*) from raw.{table} where tenant_id = any(%s::uuid[])", tenants
            ) == [(0,)]
    finally:
        worker.stop()
