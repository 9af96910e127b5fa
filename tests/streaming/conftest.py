"""Fixture `lander`: an isolated landing setup per test (see streaming_harness)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from streaming_harness import Lander

from crm.events import TOPICS


@pytest.fixture
def lander(migrated_db: str, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Lander]:
    from crm.events import ensure_topics

    tag = uuid.uuid4().hex[:8]
    tenant = uuid.uuid4()
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(
            "insert into crm.tenants (id, slug, name) values (%s, %s, 'Test tenant')", (tenant, f"t-{tag}")
        )
    setup = Lander(migrated_db, kafka_bootstrap, f"t{tag}.", f"lander-{tag}", tenant, tmp_path)
    asyncio.run(ensure_topics(kafka_bootstrap, topics=[setup.topic(t) for t in TOPICS]))
    yield setup
    for w in setup.workers:
        w.stop()
