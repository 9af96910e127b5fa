"""Faults against real workers: SIGKILL and SIGTERM mid-stream, the database connection killed
under the lander, two workers sharing one consumer group. Each ends with exactly the distinct
valid events in raw.* (none lost, none twice). In three of them a fifth of the events belong
to a tenant created only partway through: they are parked, then released once, through the same
faults."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest
from streaming_harness import Lander, wait_until

from streaming.sample_events import sample_events

pytestmark = pytest.mark.timeout(400)


def _assert_exactly(lander: Lander, events: list) -> None:
    ids = lander.landed_ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == {e.event_id for e in events}
    assert lander.query("select count(*) from raw.parked_events")[0][0] == 0
    assert lander.query("select count(*) from raw.dead_letters")[0][0] == 0


def _with_late_tenant(lander: Lander) -> tuple[list[uuid.UUID], uuid.UUID]:
    """The tenants to spread events over: the known one four times, one not created yet."""
    late = uuid.uuid4()
    return [lander.tenant] * 4 + [late], late


def _create(lander: Lander, tenant: uuid.UUID) -> None:
    lander.query(
        "insert into crm.tenants (id, slug, name) values (%s, %s, 'Late') returning id", tenant, str(tenant)
    )


def test_sigkill_mid_batch_then_restart_lands_each_event_once(lander: Lander) -> None:
    # small fetches so the stream is many transactions long and the kill lands mid-way
    lander.extra_env.update(LANDER_MAX_POLL_RECORDS="500", LANDER_TAKE_BATCHES="2")
    tenants, late = _with_late_tenant(lander)
    events = list(sample_events(16_000, tenants, seed=11))
    lander.produce_events(events[:8_000])
    first = lander.worker().wait_ready()
    wait_until(lambda: lander.landed() >= 3_000, 120, "first landings")
    first.signal(signal.SIGKILL)
    first.wait_exit(30)
    partial = lander.landed()
    assert lander.query("select count(*) from raw.parked_events")[0][0] > 0
    _create(lander, late)
    lander.produce_events(events[8_000:])
    lander.produce_events(events[:1_000])  # some duplicates on the wire as well

    second = lander.worker().wait_ready()
    lander.wait_landed(len(events), timeout=180)
    time.sleep(2)  # anything more would be a duplicate row: the primary key forbids it anyway
    _assert_exactly(lander, events)
    # what the first worker landed but had not committed came again and merged as a no-op
    assert second.metric_sum("crm_lander_events_landed_total") == len(events) - partial


def test_sigterm_finishes_the_batch_in_flight_and_commits_it(lander: Lander) -> None:
    lander.extra_env.update(LANDER_MAX_POLL_RECORDS="500", LANDER_TAKE_BATCHES="2")
    events = list(sample_events(12_000, [lander.tenant], seed=12))
    lander.produce_events(events[:6_000])
    first = lander.worker().wait_ready()
    wait_until(lambda: lander.landed() >= 2_000, 120, "first landings")
    first.signal(signal.SIGTERM)
    assert first.wait_exit(60) == 0
    assert "batch_abandoned_on_stop" not in first.log()
    partial = lander.landed()
    lander.produce_events(events[6_000:])

    second = lander.worker().wait_ready()
    lander.wait_landed(len(events), timeout=180)
    _assert_exactly(lander, events)
    # everything the first worker landed was committed: nothing came back as a duplicate
    assert second.metric_sum("crm_lander_events_duplicate_total") == 0
    assert second.metric_sum("crm_lander_events_landed_total") == len(events) - partial


def test_terminated_database_connections_are_retried_and_nothing_is_lost(lander: Lander) -> None:
    lander.extra_env.update(LANDER_MAX_POLL_RECORDS="500", LANDER_TAKE_BATCHES="2", LANDER_RETRY_BASE="0.05")
    tenants, late = _with_late_tenant(lander)
    events = list(sample_events(12_000, tenants, seed=13))
    worker = lander.worker().wait_ready()

    def produce_slowly() -> None:
        for i in range(0, len(events), 2_000):
            lander.produce_events(events[i : i + 2_000])
            if i == 6_000:
                _create(lander, late)
            time.sleep(0.5)

    producer = threading.Thread(target=produce_slowly)
    producer.start()
    killed = 0
    deadline = time.monotonic() + 90
    while (
        (producer.is_alive() or lander.landed() < len(events)) and time.monotonic() < deadline and killed < 40
    ):
        rows = lander.query(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and application_name like 'crm-lander:%%' and pid <> pg_backend_pid()"
        )
        killed += sum(1 for r in rows if r[0])
        time.sleep(0.3)
    producer.join(60)
    assert killed > 0
    lander.wait_landed(len(events), timeout=180)
    _assert_exactly(lander, events)
    assert worker.metric_sum("crm_lander_retries_total") > 0
    assert worker.alive()


def test_two_workers_in_one_group_land_the_stream_once(lander: Lander) -> None:
    tenants, late = _with_late_tenant(lander)
    events = list(sample_events(14_000, tenants, seed=14))
    a = lander.worker()
    b = lander.worker()
    a.wait_ready()
    b.wait_ready()
    lander.produce_events(events)
    parked = len([e for e in events if e.tenant_id == late])
    lander.wait_landed(len(events) - parked, timeout=180)
    wait_until(lambda: lander.query("select count(*) from raw.parked_events")[0][0] == parked, 60, "parked")
    _create(lander, late)  # both workers' re-checks now race for the parked rows
    lander.wait_landed(len(events), timeout=180)
    _assert_exactly(lander, events)
    landed_a = a.metric_sum("crm_lander_events_landed_total")
    landed_b = b.metric_sum("crm_lander_events_landed_total")
    assert landed_a + landed_b == len(events)
    assert landed_a > 0 and landed_b > 0, (landed_a, landed_b)


def test_postgres_restart_mid_stream_loses_nothing(lander: Lander, crm_home) -> None:
    from stack import procs
    from stack.postgres import NAME, EmbeddedPostgres

    rec = procs.read_record(crm_home, NAME)
    if rec is None or f":{rec.port}/" not in lander.db_url:
        pytest.skip("needs the embedded Postgres of the test session (not an external DATABASE_URL)")
    lander.extra_env.update(LANDER_MAX_POLL_RECORDS="500", LANDER_TAKE_BATCHES="2", LANDER_RETRY_BASE="0.1")
    events = list(sample_events(14_000, [lander.tenant], seed=15))
    worker = lander.worker().wait_ready()
    lander.produce_events(events[:7_000])
    wait_until(lambda: lander.landed() >= 1_000, 120, "first landings")
    pg = EmbeddedPostgres(crm_home)
    pg.stop()
    lander.produce_events(events[7_000:])  # arrives while the database is down
    time.sleep(2)
    pg.start()
    lander.wait_landed(len(events), timeout=180)
    _assert_exactly(lander, events)
    assert worker.metric_sum("crm_lander_retries_total") > 0
