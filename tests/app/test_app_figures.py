"""The figures each page shows equal the marts' figures for the seeded world (scale S), and a
tenant's pages show only its own rows.

Expected values are computed here with independent SQL on the marts as the owner (filtered by
tenant explicitly), then formatted the way the page formats them.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from app.ui import FORECAST_METHODS, money, pct
from crm.bands import AT_RISK_LEVELS, LEAD_SCORE_HOT_MIN, RISK_LEVELS


@pytest.fixture(scope="module")
def tenant(world) -> str:
    return world.managers[0].tenant_id


def one(url: str, sql: str, *params: object):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()


def rows(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_tiles_equal_the_marts(run_page, world, tenant) -> None:
    at = run_page("Overview")
    assert not at.exception
    shown = metrics(at)
    day, open_value, win_rate, conversion, avg_size = one(
        world.url,
        """select day, open_pipeline_value, win_rate, lead_conversion_rate, avg_deal_size
           from analytics.metrics_crm_daily where tenant_id = %s and is_tenant_total order by day desc limit 1""",
        tenant,
    )
    (weighted,) = one(
        world.url,
        "select coalesce(sum(weighted_value_in_stage), 0) from analytics.fct_pipeline_daily where tenant_id = %s and day = %s",
        tenant,
        day,
    )
    assert shown["Open pipeline"] == money(open_value)
    assert shown["Weighted pipeline"] == money(weighted)
    assert shown["Win rate"] == pct(win_rate)
    assert shown["Lead conversion"] == pct(conversion)
    assert shown["Average deal size"] == money(avg_size)
    (velocity,) = one(
        world.url,
        "select deal_velocity from analytics.dash_kpis_daily where tenant_id = %s order by day desc limit 1",
        tenant,
    )
    assert shown["Velocity / day"] == money(velocity)  # the unit in the label, not the value
    # customers at risk two ways, each tile naming its risk: the churn model's and the health score's
    (scored, churn_at_risk) = one(
        world.url,
        """select count(churn_probability), count(*) filter (where churn_risk_level = any(%s))
           from analytics.fct_customer_risk where tenant_id = %s""",
        list(AT_RISK_LEVELS),
        tenant,
    )
    assert shown["At churn risk"] == (f"{churn_at_risk:,}" if scored else "n/a")
    (health_at_risk,) = one(
        world.url,
        """select count(*) from analytics.fct_customer_health
           where tenant_id = %s and is_active_customer and health_risk_level = any(%s)""",
        tenant,
        list(AT_RISK_LEVELS),
    )
    assert shown["At health risk"] == f"{health_at_risk:,}"
    helps = {m.label: m.help for m in at.metric}
    assert "churn model" in helps["At churn risk"] and "health score" in helps["At health risk"]
    assert at.get("plotly_chart"), "the trends are drawn"


def test_pipeline_figures_equal_the_marts(run_page, world, tenant) -> None:
    at = run_page("Pipeline & forecast")
    assert not at.exception
    # the page opens on the tenant's default pipeline (the largest by open amount when it has
    # no open deal), whatever the names' order
    name, deals, amount, weighted = one(
        world.url,
        """select d.pipeline_name, count(*), sum(d.deal_value), sum(d.weighted_value)
           from analytics.fct_deals d join crm.sales_pipelines p on p.id = d.pipeline_id
           where d.tenant_id = %s and d.is_open group by d.pipeline_name, p.is_default
           order by p.is_default desc, sum(d.deal_value) desc limit 1""",
        tenant,
    )
    shown = metrics(at)
    picks = [s for s in at.selectbox if s.key == "pipeline_pick"]
    assert not picks or picks[0].value == name
    assert shown["Open deals"] == f"{deals:,}"
    assert shown["Open amount"] == money(amount)
    assert shown["Weighted"] == money(weighted)
    # each open deal's value times its win probability (the deal model's, else the stage's)
    (expected,) = one(
        world.url,
        """select sum(d.deal_value * coalesce(p.probability, d.probability / 100.0))
           from analytics.fct_deals d left join ml.deal_probabilities p on p.deal_id = d.deal_id
           where d.tenant_id = %s and d.is_open and d.pipeline_name = %s""",
        tenant,
        name,
    )
    assert shown["Expected"] == money(expected)


def test_leads_figures_equal_the_marts(run_page, world, tenant) -> None:
    at = run_page("Leads")
    assert not at.exception
    n, hot, avg = one(
        world.url,
        "select count(*), count(*) filter (where score >= %s), round(avg(score)::numeric, 1) from ml.lead_scores"
        " where tenant_id = %s",
        LEAD_SCORE_HOT_MIN,
        tenant,
    )
    shown = metrics(at)
    assert shown["Leads"] == f"{n:,}"
    assert shown["Hot leads"] == f"{hot:,}"
    assert shown["Average score"] == f"{float(avg):.1f}"
    table = at.dataframe[0].value
    top = rows(
        world.url,
        "select lead_id::text, score from ml.lead_scores where tenant_id = %s order by score desc, lead_id limit 5",
        tenant,
    )
    assert [(str(i), int(s)) for i, s in zip(table["lead_id"][:5], table["score"][:5], strict=True)] == top


def test_lead_page_equals_the_marts(run_page, world, tenant) -> None:
    lead_id, score, method = one(
        world.url,
        "select lead_id::text, score, method from ml.lead_scores where tenant_id = %s order by score desc, lead_id limit 1",
        tenant,
    )
    (activities,) = one(
        world.url, "select activity_count from analytics.dim_leads where lead_id = %s", lead_id
    )
    at = run_page("Lead", query={"lead": lead_id})
    assert not at.exception
    shown = metrics(at)
    assert shown["Score"] == f"{score}"
    assert shown["Method"] == method
    assert shown["Activities"] == f"{activities:,}"


def test_customers_figures_equal_the_marts(run_page, world, tenant) -> None:
    at = run_page("Customers")
    assert not at.exception
    counts = dict(
        rows(
            world.url,
            """select health_risk_level, count(*) from analytics.fct_customer_health
               where tenant_id = %s and is_active_customer group by health_risk_level""",
            tenant,
        )
    )
    shown = metrics(at)
    for level in RISK_LEVELS:
        assert shown[f"{level.title()} health risk"] == f"{counts.get(level, 0):,}"
    # the list below is churn risk, and says so
    (scored,) = one(
        world.url,
        "select count(churn_probability) from analytics.fct_customer_risk where tenant_id = %s",
        tenant,
    )
    if scored:
        assert "churn_risk_level" in at.dataframe[0].value.columns
        [pick] = [s for s in at.selectbox if s.key == "customer_pick"]
        assert pick.options and all(o.endswith(" churn risk") for o in pick.options)


def test_customer_360_equals_the_marts(run_page, world, tenant) -> None:
    customer_id, mrr, tickets, health_risk = one(
        world.url,
        """select customer_id::text, mrr, tickets_total, health_risk_level from analytics.dim_customers
           where tenant_id = %s order by tickets_total desc, customer_id limit 1""",
        tenant,
    )
    # segments from the operational memberships the recalculation wrote, not from the mart
    (segments,) = one(
        world.url, "select count(*) from crm.customer_segment_memberships where customer_id = %s", customer_id
    )
    at = run_page("Customer 360", query={"customer": customer_id})
    assert not at.exception
    shown = metrics(at)
    assert shown["MRR"] == money(mrr)
    assert shown["Tickets"] == f"{tickets:,}"
    assert shown["Health risk"] == str(health_risk)
    assert shown["Segments"] == f"{segments:,}"
    assert "Risk" not in shown and "Churn risk" not in shown


def test_segments_figures_equal_the_marts(run_page, world, tenant) -> None:
    at = run_page("Segments")
    assert not at.exception
    segments, memberships = one(
        world.url,
        "select count(distinct segment_id), count(*) from analytics.fct_segment_memberships where tenant_id = %s",
        tenant,
    )
    shown = metrics(at)
    assert shown["Segments"] == f"{segments:,}"
    assert shown["Memberships"] == f"{memberships:,}"


def test_attribution_figures_equal_the_marts(run_page, world, tenant) -> None:
    at = run_page("Attribution")
    assert not at.exception
    (linear,) = one(
        world.url,
        "select sum(credit) from analytics.fct_revenue_attribution where tenant_id = %s and attribution_model = 'linear'",
        tenant,
    )
    assert metrics(at)["Attributed revenue"] == money(linear)


def test_attribution_period_narrows_to_the_months_won(run_page, world, tenant) -> None:
    """The period filter reaches the database: the last 12 months' figure equals the fact's
    credits of deals won since the first day of the month 11 months ago."""
    at = run_page("Attribution")
    at.segmented_control(key="attr_period").set_value("Last 12 months").run()
    assert not at.exception
    (linear,) = one(
        world.url,
        """select coalesce(sum(credit), 0) from analytics.fct_revenue_attribution
           where tenant_id = %s and attribution_model = 'linear'
             and won_day >= date_trunc('month', (now() at time zone 'UTC')::date - interval '11 months')""",
        tenant,
    )
    shown = metrics(at)
    if linear:
        assert shown["Attributed revenue"] == money(linear)


def test_customer_360_draws_the_health_history(run_page, world, tenant) -> None:
    customer_id, points = one(
        world.url,
        """select customer_id::text, count(*) from analytics.dash_customer_health_history
           where tenant_id = %s group by customer_id order by count(*) desc, customer_id limit 1""",
        tenant,
    )
    at = run_page("Customer 360", query={"customer": customer_id})
    assert not at.exception
    charts = [c for c in at.get("plotly_chart") if "Health history" in c.proto.spec]
    assert charts, "the health history chart is drawn"
    assert points >= 1


def test_campaigns_figures_equal_the_marts(run_page, world, tenant) -> None:
    at = run_page("Campaigns")
    assert not at.exception
    spent, budget = one(
        world.url,
        "select sum(spent), sum(budget) from analytics.fct_campaign_performance where tenant_id = %s",
        tenant,
    )
    shown = metrics(at)
    assert shown["Spent"] == money(spent)
    assert shown["Budget"] == money(budget)


def test_a_tenant_sees_only_its_own_leads(run_page, world) -> None:
    for manager in world.managers[:2]:
        at = run_page("Leads", who=manager)
        assert not at.exception
        shown = {str(i) for i in at.dataframe[0].value["lead_id"]}
        assert shown
        owners = {
            r[0]
            for r in rows(
                world.url,
                "select distinct tenant_id::text from analytics.dim_leads where lead_id = any(%s::uuid[])",
                list(shown),
            )
        }
        assert owners == {manager.tenant_id}


def chart_titles(at) -> list[str]:
    return [
        json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")
    ]


def test_the_forecast_is_titled_by_the_method_that_made_it(run_page, world, tenant) -> None:
    """The forecast's chart and model tile name the method the backtest chose for the version
    that made it (not always Prophet); the chart shows weekly totals (four-weekly for tenants
    whose backtest scored longer periods) with their interval, and the backtest error."""
    made = one(
        world.url,
        """select m.version, m.metrics ->> 'method', (m.metrics ->> 'period_days')::int,
                  (m.metrics ->> 'backtest_mape')::float8
           from analytics.fct_revenue_forecast f
           join analytics.dim_model_versions m on m.tenant_id = f.tenant_id and m.model_name = 'revenue_prophet'
            and f.model_version = m.model_name || '@' || m.version
           where f.tenant_id = %s and f.kind = 'prophet' limit 1""",
        tenant,
    )
    assert made is not None, "the seeded tenant has a daily forecast"
    at = run_page("Pipeline & forecast")
    assert not at.exception
    version, method, period_days, mape = made
    label = FORECAST_METHODS[method]
    grain = "weekly" if period_days <= 7 else "four-weekly"
    assert f"{label} forecast with interval, {grain} totals" in chart_titles(at)
    assert metrics(at)["Forecast model"] == f"v{version}"
    assert metrics(at)["Backtest MAPE"] == f"{mape:.1%}"
    chart = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if c.proto.spec and "forecast with interval" in c.proto.spec
    )
    bars = {t["name"]: t for t in chart["data"]}
    days = 7 if grain == "weekly" else 28
    assert len(bars["Forecast"]["x"]) == 90 // days  # whole periods of the 90-day forecast
    assert bars["Forecast"]["error_y"]["array"] and bars["Won revenue"]["x"]
    assert any(f"backtest MAPE {mape:.1%}" in c.value for c in at.caption)
