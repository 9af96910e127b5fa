"""A tenant holding historical data on the dashboards: real CDNOW orders (the customers who
first bought in January 1997, to June 1998) imported as an order history with its clock at
1 July 1998, built by dbt and scored, in a database of its own. Its Overview shows the trailing
30 days to its clock, against the 30 before, and its nameless customers are named by their
label, never "None"."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import streamlit as st
from signed_in import open_page
from streamlit.testing.v1 import AppTest

from app.auth import SignedIn
from app.ui import clock_line, money, tenant_now

CLOCK = datetime(1998, 7, 1, tzinfo=UTC)
LAST_DAY = date(1998, 6, 30)
CUSTOMERS = 600
"""CDNOW customers 1..600: about 2,000 orders over the whole 18 months."""


@dataclass
class Clocked:
    url: str
    manager: SignedIn
    orders: list[tuple[date, float]]


def _cdnow_slice(folder: Path) -> tuple[Path, list[tuple[date, float]]]:
    """The first CUSTOMERS customers' orders as the CSV a shop exports, and (day, amount) of each."""
    from integrations.imports.samples import cdnow_source

    lines = [line.split() for line in cdnow_source().read_text().splitlines() if line.strip()]
    header, body = lines[0], [row for row in lines[1:] if int(row[0]) <= CUSTOMERS]
    out = folder / "orders.csv"
    with out.open("w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    return out, [(datetime.strptime(r[1], "%Y%m%d").date(), float(r[3])) for r in body]


def _reset_app_caches() -> None:
    """The app's engine and query caches belong to the process: start from the database set now."""
    from app import data

    data.engine.clear()
    st.cache_data.clear()


@pytest.fixture(scope="module")
def clocked(create_database: Callable[[str], str]) -> Iterator[Clocked]:
    from crm import migrate
    from crm.settings import get_settings
    from integrations.imports.run import import_files
    from integrations.imports.samples import CDNOW_COLUMNS
    from ml import scoring
    from ml.specs import CHURN
    from warehouse.dbt import run_dbt

    url = create_database("crm_app_clock")
    migrate.upgrade(url)
    folder = Path(tempfile.mkdtemp(prefix="crm-app-clock-"))
    path, orders = _cdnow_slice(folder)
    result = import_files(
        "transactions",
        [path],
        "cdnow-slice",
        columns=CDNOW_COLUMNS,
        create_tenant="CDNOW slice",
        clock=CLOCK.isoformat(),
        url=url,
    )
    tenant = str(result.tenant_id)
    dbt = {"target_path": folder / "target", "log_path": folder / "logs", "capture": True}
    run_dbt(["build", "--exclude", "resource_type:test"], url, **dbt)  # type: ignore[arg-type]
    scoring.score_model(url, CHURN, force_rules=True)  # the churn rules, at the tenant's clock
    run_dbt(["build", "--select", "source:ml+", "--exclude", "resource_type:test"], url, **dbt)  # type: ignore[arg-type]
    manager = SignedIn(
        "00000000-0000-0000-0000-000000000001", tenant, "cdnow-slice", "CDNOW slice", "m@x", "M", "manager"
    )
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    _reset_app_caches()
    try:
        yield Clocked(url, manager, orders)
    finally:
        if old is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = old
        get_settings.cache_clear()
        _reset_app_caches()


def _run(clocked: Clocked, page: str, query: dict | None = None) -> AppTest:
    at = open_page(page, clocked.manager, query)
    assert not at.exception, at.exception
    return at


def _window(orders: list[tuple[date, float]], last: date) -> tuple[int, float]:
    """Orders and revenue of the 30 days ending `last`, counted from the file itself."""
    inside = [a for d, a in orders if last - timedelta(days=29) <= d <= last]
    return len(inside), sum(inside)


def test_a_tenants_now_is_the_earlier_of_its_clock_and_now() -> None:
    now = datetime(2026, 12, 5, 9, tzinfo=UTC)
    assert tenant_now("t", CLOCK, now) == CLOCK
    assert tenant_now("t", None, now) == now  # a live tenant
    assert tenant_now("t", now + timedelta(days=1), now) == now  # a clock ahead of now waits for it
    assert "ends on 30 Jun 1998" in clock_line(CLOCK, now)
    assert clock_line(None, now) == ""


def test_overview_shows_the_trailing_window_at_the_tenants_clock(clocked: Clocked) -> None:
    at = _run(clocked, "Overview")
    assert not [i.value for i in at.info], "the Overview shows the tenant's KPIs, not an empty state"
    captions = " ".join(c.value for c in at.caption)
    assert "The 30 days to 30 Jun 1998 against the 30 before" in captions
    assert "this workspace lives at its clock, 01 Jul 1998" in captions
    shown = {m.label: m for m in at.metric}
    n, revenue = _window(clocked.orders, LAST_DAY)
    n_before, revenue_before = _window(clocked.orders, LAST_DAY - timedelta(days=30))
    assert n and n_before, "the slice has orders in both windows"
    size, size_before = round(revenue / n, 2), round(revenue_before / n_before, 2)
    assert shown["Average deal size"].value == money(size)
    assert shown["Average deal size"].delta == f"{(size - size_before) / abs(size_before) * 100:+.1f}%"
    assert shown["Win rate"].value == "100.0%"  # every order is a won deal


def test_nameless_customers_show_their_label(clocked: Clocked) -> None:
    with psycopg.connect(clocked.url) as conn:
        nameless = conn.execute(
            "select count(*) from crm.customers where tenant_id = %s"
            " and coalesce(company, first_name, last_name, email) is null",
            (clocked.manager.tenant_id,),
        ).fetchone()
    assert nameless and nameless[0] > 0, "an order history's customers have no name"
    at = _run(clocked, "Customers")
    table = at.dataframe[0].value
    assert len(table) > 0
    assert table["customer"].str.fullmatch(r"Customer [0-9a-f]{8}").all(), table["customer"].head()
    assert [(str(c)[:8]) for c in table["customer_id"]] == [
        c.removeprefix("Customer ") for c in table["customer"]
    ]
    pick = next(s for s in at.selectbox if s.key == "customer_pick")
    assert pick.options and not any("None" in o for o in pick.options)
    assert str(pick.value).startswith("Customer ")
    customer = str(table["customer_id"].iloc[0])
    at = _run(clocked, "Customer 360", {"customer": customer})
    assert next(h.value for h in at.subheader) == f"Customer {customer[:8]}"
