"""Small synthetic feature frames shaped like the ML marts, with a known signal, for tests
that must not depend on the simulator or dbt (the scale-S end-to-end test uses those)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import polars as pl

AS_OF = datetime(2026, 11, 23, tzinfo=UTC)
BIG = "00000000-0000-4000-8000-0000000000a1"
"""A tenant with enough data for every model."""
SMALL = "00000000-0000-4000-8000-0000000000b2"
"""A tenant too small for a model: the rules answer."""


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]


def lead_frame(tenant_id: str, n: int = 3000, seed: int = 0, base: float = -1.6) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    z = base + 1.3 * rng.standard_normal(n)
    p = 1 / (1 + np.exp(-z))
    y = (rng.random(n) < p).astype(np.int8)
    age = rng.uniform(0, 700, n)
    created = [AS_OF - timedelta(days=float(a)) for a in age]
    lam = np.exp(0.6 * (z - base))
    label = np.where(age >= 90, y, np.where(y == 1, 1, -1)).astype(np.int8)
    industries = np.array(["Software", "Retail", "Healthcare", "Finance"])
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "lead_id": _ids(rng, n),
            "created_at": pl.Series(created, dtype=pl.Datetime("us", "UTC")),
            "converted_90d": pl.Series(label).replace(-1, None),
            "industry": industries[rng.integers(0, 4, n)],
            "lead_source": np.where(rng.random(n) < 0.5 + 0.1 * np.tanh(z - base), "website", "referral"),
            "email_opens": rng.poisson(2 * lam),
            "email_clicks": rng.poisson(0.8 * lam),
            "website_visits": rng.poisson(1.5 * lam),
            "meetings_completed": rng.poisson(0.2 * lam),
            "calls_answered": rng.poisson(0.3 * lam),
            "response_time_minutes": np.where(
                rng.random(n) < 0.2, np.nan, rng.exponential(200 * np.exp(-0.4 * (z - base)))
            ),
            "employee_count": np.round(np.exp(3.5 + rng.standard_normal(n))).astype(np.int64),
        }
    ).with_columns(pl.col("response_time_minutes").fill_nan(None))


def customer_frame(tenant_id: str, n: int = 2000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed + 7)
    h = rng.standard_normal(n)
    p = 1 / (1 + np.exp(-(-3.0 - 1.5 * h)))
    y = (rng.random(n) < p).astype(np.int8)
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "customer_id": _ids(rng, n),
            "churned_90d": y,
            "sessions_90d": rng.poisson(np.exp(2 + 0.5 * h)),
            "tickets_90d": rng.poisson(np.exp(0.5 - 0.4 * h)),
            "avg_csat_90d": np.clip(3.5 + 0.5 * h + rng.normal(0, 0.5, n), 1, 5),
            "conversations_90d": rng.poisson(np.exp(1 + 0.3 * h)),
            "billing_tickets_90d": rng.poisson(0.3, n),
            "industry": np.array(["Software", "Retail"])[rng.integers(0, 2, n)],
        }
    )


def revenue_series(tenant_id: str, days: int = 730, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    mean = (
        2000
        * (1 + 0.4 * t / 365)
        * (1 + 0.25 * np.cos(2 * np.pi * t / 365.25))
        * np.where(t % 7 >= 5, 0.3, 1.0)
    )
    y = rng.gamma(4.0, mean / 4.0)
    start = AS_OF.date() - timedelta(days=days)
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "day": [start + timedelta(days=int(i)) for i in t],
            "won_revenue": y,
            "won_deals": rng.poisson(3, days),
        }
    )


NONLINEAR = "00000000-0000-4000-8000-0000000000c3"
"""A tenant whose outcomes follow bands and thresholds of its features (not a straight line in
log-odds): the tree family fits it, the linear one cannot."""


def nonlinear_lead_frame(tenant_id: str, n: int = 3000, seed: int = 0) -> pl.DataFrame:
    """Leads that convert when their e-mail opens are in a middle band (4-8: engaged, not a
    bot) and, more so, when a meeting was held after three or more visits."""
    rng = np.random.default_rng(seed)
    opens = rng.poisson(5.5, n)
    visits = rng.poisson(3, n)
    meetings = rng.poisson(0.7, n)
    z = -2.6 + 2.8 * ((opens >= 4) & (opens <= 8)) + 1.5 * ((meetings >= 1) & (visits >= 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int8)
    age = rng.uniform(0, 700, n)
    label = np.where(age >= 90, y, np.where(y == 1, 1, -1)).astype(np.int8)
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "lead_id": _ids(rng, n),
            "created_at": pl.Series(
                [AS_OF - timedelta(days=float(a)) for a in age], dtype=pl.Datetime("us", "UTC")
            ),
            "converted_90d": pl.Series(label).replace(-1, None),
            "industry": np.array(["Software", "Retail", "Healthcare"])[rng.integers(0, 3, n)],
            "lead_source": np.array(["website", "referral"])[rng.integers(0, 2, n)],
            "email_opens": opens,
            "website_visits": visits,
            "meetings_completed": meetings,
            "employee_count": np.round(np.exp(3.5 + rng.standard_normal(n))).astype(np.int64),
            "custom_properties": custom_properties(rng, y),
        }
    )


def custom_properties(rng: np.random.Generator, y: np.ndarray) -> list[str]:
    """Custom fields as an import keeps them: `plan` (text) and `seats` (a number) on most
    rows and telling a little, `referrer` on a few (too few to be an input), and `closed_reason`
    on most, set from the outcome (a leak the model must leave out)."""
    n = y.size
    plan = np.where(rng.random(n) < 0.35 + 0.3 * y, "Pro", "Basic")
    seats = rng.poisson(3 + 4 * y)
    out = []
    for i in range(n):
        props: dict[str, object] = {}
        if rng.random() < 0.9:
            props["plan"] = str(plan[i])
        if rng.random() < 0.8:
            props["seats"] = int(seats[i])
        if rng.random() < 0.05:
            props["referrer"] = "partner"
        if rng.random() < 0.7:
            props["closed_reason"] = "won" if y[i] else "no budget"
        out.append(orjson.dumps(props).decode())
    return out


def nonlinear_customer_frame(tenant_id: str, n: int = 2500, seed: int = 0) -> pl.DataFrame:
    """Customers who churn after a fourth support ticket, and when their usage is in the
    trough of a cycle (neither light nor heavy users are safe)."""
    rng = np.random.default_rng(seed + 7)
    tickets = rng.integers(0, 8, n)
    usage = rng.uniform(0, 10, n)
    z = -3.0 + 3.0 * (tickets >= 4) + 2.0 * np.sin(usage)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int8)
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "customer_id": _ids(rng, n),
            "churned_90d": y,
            "tickets_90d": tickets,
            "usage_hours_90d": usage,
            "conversations_90d": rng.poisson(3, n),
            "industry": np.array(["Software", "Retail"])[rng.integers(0, 2, n)],
            "custom_properties": custom_properties(rng, y),
        }
    )
