"""A tenant's clock (crm.tenants.settings as_of) in the ML runs, against a real Postgres: a
tenant holding historical data is trained and scored at its own now, a live tenant at the run's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from ml_synthetic import AS_OF, BIG, SMALL

from crm.tenants import TENANT_CLOCK_SETTING, parse_clock, tenant_clocks, tenant_now
from ml import lead, scoring, training
from ml.specs import LEAD

CLOCK = datetime(2026, 5, 7, 12, 0, tzinfo=UTC)
"""BIG's clock: 200 days before the runs' as_of (ml_synthetic.AS_OF, 2026-11-23)."""


def _set_clock(url: str, tenant: str, value: str | None) -> None:
    key = TENANT_CLOCK_SETTING
    with psycopg.connect(url) as conn:
        if value is None:
            conn.execute("UPDATE crm.tenants SET settings = settings - %s::text WHERE id = %s", (key, tenant))
        else:
            conn.execute(
                "UPDATE crm.tenants SET settings = settings || jsonb_build_object(%s::text, %s::text)"
                " WHERE id = %s",
                (key, value, tenant),
            )


@pytest.fixture(scope="module")
def clocked(ml_db: str) -> Iterator[str]:
    """BIG holds historical data (its clock written without an offset: UTC); SMALL is live."""
    _set_clock(ml_db, BIG, "2026-05-07T12:00:00")
    yield ml_db
    _set_clock(ml_db, BIG, None)


def test_clocks_are_read_from_the_tenant_settings(clocked: str) -> None:
    with psycopg.connect(clocked) as conn:
        clocks = tenant_clocks(conn)
    assert clocks == {BIG: CLOCK}  # the live tenant has none
    assert tenant_now(clocks, BIG, AS_OF) == CLOCK
    assert tenant_now(clocks, SMALL, AS_OF) == AS_OF
    earlier = CLOCK - timedelta(days=3)  # a run pinned before the clock stays there
    assert tenant_now(clocks, BIG, earlier) == earlier
    assert parse_clock("1998-06-30") == datetime(1998, 6, 30, tzinfo=UTC)
    assert parse_clock("1998-06-30T02:00:00+02:00") == datetime(1998, 6, 30, tzinfo=UTC)


def test_a_malformed_clock_names_its_tenant(clocked: str) -> None:
    _set_clock(clocked, SMALL, "end of 1998")
    try:
        with psycopg.connect(clocked) as conn, pytest.raises(ValueError, match=SMALL):
            tenant_clocks(conn)
    finally:
        _set_clock(clocked, SMALL, None)


def test_lead_labels_are_cut_at_the_tenants_clock(clocked: str) -> None:
    """The training window ends LABEL_DAYS before the tenant's clock, not before the run's as_of."""
    run = training.train_candidates(clocked, LEAD, seed=42, as_of=AS_OF, tenants=[BIG])
    assert [r.tenant_id for r in run.registered] == [BIG], run.skipped
    with psycopg.connect(clocked) as conn:
        row = conn.execute(
            "SELECT data_window_end FROM ml.model_versions WHERE tenant_id = %s AND name = %s"
            " AND version = %s",
            (BIG, lead.MODEL_NAME, run.registered[0].version),
        ).fetchone()
    assert row is not None
    window_end = row[0]
    cutoff = CLOCK - timedelta(days=lead.LABEL_DAYS)
    assert cutoff - timedelta(days=5) < window_end <= cutoff


def test_scores_are_taken_at_each_tenants_now(clocked: str) -> None:
    run = scoring.score_model(clocked, LEAD, as_of=AS_OF, force_rules=True)
    assert run.tenants == 2
    with psycopg.connect(clocked) as conn:
        rows = conn.execute(
            "SELECT tenant_id::text, max(scored_at) FROM ml.lead_scores GROUP BY 1"
        ).fetchall()
    scored: dict[str, datetime] = dict(rows)
    assert scored == {BIG: CLOCK, SMALL: AS_OF}
