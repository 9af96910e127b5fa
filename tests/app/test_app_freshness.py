"""Every page says how fresh its data is: under its title, when the oldest of the marts it reads
was built (analytics.mart_freshness, which dbt writes as it builds each mart), with each mart's
time in the tooltip; and a rebuilt mart reaches the page at the next look: its queries are read
again instead of answered from the cache."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from app.data.queries import page_queries
from app.nav import PAGES
from app.ui import ago, as_of_line
from warehouse.dbt import run_dbt

QUERY_PAGE = {"Customer 360": "Customer"}
"""Page titles whose queries carry another label (app.data.queries)."""


def built(url: str, tenant: str) -> dict[str, datetime]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select relation, built_at from analytics.mart_freshness where tenant_id = %s", (tenant,)
        ).fetchall()
    return dict(rows)


def test_every_page_shows_when_its_marts_were_built(run_page, world) -> None:
    tenant = world.managers[0].tenant_id
    times = built(world.url, tenant)
    assert times, "dbt recorded no mart's build"
    for _, title, _ in PAGES:
        if QUERY_PAGE.get(title, title) not in page_queries():
            continue  # reads no mart (Operations: Prometheus and Dagster)
        at = run_page(title)
        assert not at.exception
        lines = [c.value for c in at.caption if "Data as of" in c.value]
        assert len(lines) == 1, (title, [c.value for c in at.caption])
        expected, detail = as_of_line(QUERY_PAGE.get(title, title), times)
        # the same line, but for the seconds elapsed between the two renderings
        assert lines[0].split(", ")[0].endswith(expected.split(", ")[0]), (title, lines[0], expected)
        assert "not recorded" not in lines[0], title
        assert detail.count(" UTC, ") >= 1


def test_the_line_names_the_oldest_mart_and_how_long_ago() -> None:
    now = datetime(2026, 12, 4, 12, 3, 50, tzinfo=UTC)
    times = {
        "analytics.dash_kpis_daily": now - timedelta(seconds=40),
        "analytics.fct_customer_risk": now - timedelta(seconds=5),
    }
    line, detail = as_of_line("Overview", times, now)
    assert line.startswith("Data as of 12:03:10 UTC, 40 s ago")
    assert "not recorded yet" in line  # the Overview also reads dash_customer_health_summary
    assert detail.index("dash_kpis_daily") < detail.index("fct_customer_risk")  # oldest first
    assert as_of_line("Overview", {}, now)[0].startswith("Data as of: not recorded yet")
    assert [ago(s) for s in (0, 59, 60, 3599, 3600, 86400 * 3)] == [
        "0 s ago",
        "59 s ago",
        "1 min ago",
        "59 min ago",
        "1 h ago",
        "3 d ago",
    ]


def test_a_rebuilt_mart_is_read_again_not_served_from_the_cache(world, monkeypatch) -> None:
    import app.data as data

    tenant = world.managers[0].tenant_id
    ran: list[str] = []
    real = data.run_query

    def counted(engine, tenant_id, name, params=None, timings=None):
        ran.append(name)
        return real(engine, tenant_id, name, params, timings)

    monkeypatch.setattr(data, "run_query", counted)
    data._cached.clear()
    data._freshness.clear()
    first = data.fetch("pipeline_funnel", tenant)
    again = data.fetch("pipeline_funnel", tenant)
    assert ran.count("pipeline_funnel") == 1 and first.equals(again)

    before = built(world.url, tenant)["analytics.dash_open_pipeline"]
    target = Path(tempfile.mkdtemp(prefix="crm-app-rebuild-"))
    done = run_dbt(
        ["run", "--quiet", "--select", "dash_open_pipeline"],
        world.url,
        target_path=target / "target",
        log_path=target / "logs",
        check=False,
        capture=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert built(world.url, tenant)["analytics.dash_open_pipeline"] > before

    data.fetch("pipeline_funnel", tenant)  # the build times are looked at every few seconds ...
    data._freshness.clear()  # ... and that moment has come
    rebuilt = data.fetch("pipeline_funnel", tenant)
    assert ran.count("pipeline_funnel") == 2 and rebuilt.equals(first)
    data.fetch("overview_kpis", tenant)
    data.fetch("overview_kpis", tenant)
    assert ran.count("overview_kpis") == 1  # a mart that was not rebuilt is not read again
