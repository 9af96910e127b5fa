"""Fixtures for the ML tests: a migrated database holding mart-shaped tables built from
small synthetic frames (two tenants: one big enough for models, one that is not)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from datetime import timedelta

import numpy as np
import polars as pl
import psycopg
import pytest
from ml_synthetic import (
    AS_OF,
    BIG,
    NONLINEAR,
    SMALL,
    customer_frame,
    lead_frame,
    nonlinear_customer_frame,
    nonlinear_lead_frame,
    revenue_series,
)

PG_TYPES = {
    pl.Utf8: "text",
    pl.Int8: "boolean",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.Float64: "float8",
    pl.Boolean: "boolean",
    pl.Date: "date",
}


def write_table(
    conn: psycopg.Connection, name: str, df: pl.DataFrame, uuid_cols: tuple[str, ...] = ()
) -> None:
    cols = []
    for c, t in df.schema.items():
        if c in uuid_cols:
            typ = "uuid"
        elif isinstance(t, pl.Datetime):
            typ = "timestamptz"
        else:
            typ = PG_TYPES.get(t, "text")
        cols.append(f'"{c}" {typ}')
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} ({', '.join(cols)})")
    out = df.with_columns([pl.col(c).cast(pl.Boolean) for c, t in df.schema.items() if t == pl.Int8])
    buf = io.BytesIO()
    out.write_csv(buf, include_header=False, null_value="\\N", datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
    with conn.cursor().copy(f"COPY {name} FROM STDIN (FORMAT csv, NULL '\\N')") as cp:
        cp.write(buf.getvalue())


def deal_table(tenant: str, n: int, seed: int, nonlinear: bool = False) -> pl.DataFrame:
    """Deals won by a hidden quality that shows in the stages reached; `nonlinear`: won when
    their age is in a band (neither rushed nor stalled) instead."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(n)
    stages = np.clip(np.round(2 + q + rng.normal(0, 1, n)), 0, 6)
    band = np.random.default_rng(seed + 1).uniform(1, 200, n)  # its own stream: the others stay as they were
    z = -1.2 + 2.6 * (np.abs(band - 100) < 40) if nonlinear else q * 1.5
    status = np.where(
        rng.random(n) < 0.15, "open", np.where(rng.random(n) < 1 / (1 + np.exp(-z)), "won", "lost")
    )
    created = [AS_OF - timedelta(days=float(d)) for d in rng.uniform(5, 600, n)]
    import uuid as _uuid

    return pl.DataFrame(
        {
            "tenant_id": tenant,
            "deal_id": [str(_uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
            "status": status,
            "stage_name": np.where(
                status == "open", "Proposal", np.where(status == "won", "Closed Won", "Closed Lost")
            ),
            "stage_probability": np.where(status == "open", 40.0, np.where(status == "won", 100.0, 0.0)),
            "deal_value": np.round(rng.lognormal(9, 1, n), 2),
            "stages_reached": stages,
            "age_days": band if nonlinear else rng.uniform(1, 200, n),
            "pipeline_name": "Default",
            "lead_source": np.array(["website", "referral"])[rng.integers(0, 2, n)],
            "created_at": pl.Series(created, dtype=pl.Datetime("us", "UTC")),
            "closed_at": pl.Series(
                [
                    None if s == "open" else c + timedelta(days=30)
                    for s, c in zip(status, created, strict=True)
                ],
                dtype=pl.Datetime("us", "UTC"),
            ),
            "expected_close_date": pl.Series(
                [AS_OF + timedelta(days=int(d)) for d in rng.integers(1, 150, n)],
                dtype=pl.Datetime("us", "UTC"),
            ),
        }
    )


def write_marts(
    url: str,
    tenants: dict[str, str],
    leads: pl.DataFrame,
    customers: pl.DataFrame,
    revenue: pl.DataFrame,
    deals: pl.DataFrame,
) -> None:
    """The tenants (id -> slug) and mart-shaped tables of these frames, into a migrated database."""
    with psycopg.connect(url) as conn:
        for t, slug in tenants.items():
            conn.execute(
                "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, %s)", (t, slug, slug.title())
            )
        write_table(conn, "analytics.ml_features__leads", leads, ("tenant_id", "lead_id"))
        c = customers.with_columns(is_active_at_snapshot=pl.lit(True))
        write_table(conn, "analytics.ml_features__customers", c, ("tenant_id", "customer_id"))
        write_table(
            conn,
            "analytics.ml_features__customers_current",
            c.drop("churned_90d"),
            ("tenant_id", "customer_id"),
        )
        write_table(conn, "analytics.ml_series__revenue_daily", revenue, ("tenant_id",))
        write_table(conn, "analytics.ml_features__deals", deals, ("tenant_id", "deal_id"))


@pytest.fixture(scope="module")
def ml_db(create_database: Callable[[str], str], crm_home) -> Iterator[str]:
    """A migrated database with two tenants and synthetic ML marts; DATABASE_URL points at it."""
    from crm import migrate

    url = create_database("crm_ml")
    migrate.upgrade(url)
    write_marts(
        url,
        {BIG: "big", SMALL: "small"},
        pl.concat([lead_frame(BIG, 3000, seed=11), lead_frame(SMALL, 400, seed=12)]),
        pl.concat([customer_frame(BIG, 2500, seed=13), customer_frame(SMALL, 200, seed=14)]),
        pl.concat([revenue_series(BIG, 730, 1), revenue_series(SMALL, 200, 2)]),
        pl.concat([deal_table(BIG, 1200, 3), deal_table(SMALL, 80, 4)]),
    )
    yield from _pointed_at(url)


@pytest.fixture(scope="module")
def nonlinear_db(create_database: Callable[[str], str], crm_home) -> Iterator[str]:
    """A migrated database with one tenant whose leads, deals and customers follow bands and
    thresholds (`ml_synthetic.NONLINEAR`); DATABASE_URL points at it."""
    from crm import migrate

    url = create_database("crm_ml_trees")
    migrate.upgrade(url)
    write_marts(
        url,
        {NONLINEAR: "bands"},
        nonlinear_lead_frame(NONLINEAR, 3000, seed=21),
        nonlinear_customer_frame(NONLINEAR, 2500, seed=22),
        revenue_series(NONLINEAR, 200, 23),
        deal_table(NONLINEAR, 2000, 24, nonlinear=True),
    )
    yield from _pointed_at(url)


def _pointed_at(url: str) -> Iterator[str]:
    """`url` as DATABASE_URL while the fixture lasts."""
    from crm.settings import get_settings

    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url
    if old is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = old
    get_settings.cache_clear()
