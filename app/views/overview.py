"""Overview: KPI tiles (trailing 30 days) with their change against the 30 days before, and
the pipeline and revenue trends."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, delta_pct, fetch_or_none, load, money, num, pct, tiles, today, user
from crm.bands import AT_RISK_LEVELS

PERIOD_DAYS = 30

st.title("Overview")
now = data_as_of("Overview", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
day = today(now)
st.caption(
    f"{user().tenant_name} · trailing {PERIOD_DAYS} days against the {PERIOD_DAYS} before · "
    "from analytics.dash_kpis_daily (metrics_crm_daily with fct_pipeline_daily); customers at risk "
    "two ways: churn risk (the churn model, analytics.fct_customer_risk) and health risk (the "
    "health score, analytics.dash_customer_health_summary)"
)
AT_RISK = " or ".join(AT_RISK_LEVELS)


def pts(a: float, b: float) -> str | None:
    return f"{(a - b) * 100:+.1f} pts" if a or b else None


def at_risk_tiles() -> list[tuple]:
    """Customers at high or critical risk, by the churn model and by the health score: two
    different measures (Customer 360 and Customers show both), each tile says which."""
    churn = fetch_or_none("overview_churn_risk")
    churn_scored = churn is not None and bool(churn.iloc[0]["scored"])
    health = fetch_or_none("overview_health_risk")
    health_scored = health is not None and num(health.iloc[0]["scored"]) > 0
    return [
        (
            "At churn risk",
            f"{num(churn.iloc[0]['at_risk']):,.0f}" if churn is not None and churn_scored else "n/a",
            None,
            f"Customers whose churn risk (the churn model's probability) is {AT_RISK} "
            "(analytics.fct_customer_risk)" + ("" if churn_scored else "; no churn predictions yet"),
        ),
        (
            "At health risk",
            f"{num(health.iloc[0]['at_risk']):,.0f}" if health is not None and health_scored else "n/a",
            None,
            f"Active customers whose health risk (the health score) is {AT_RISK}: the risk "
            "Customer 360 shows (analytics.dash_customer_health_summary)",
        ),
    ]


frame = load(
    "overview_kpis",
    days=PERIOD_DAYS,
    today=day.isoformat(),
    empty=f"No CRM activity recorded before {day:%d %b %Y}.",
)
if frame is not None:
    by = {r["period"]: r for r in frame.to_dict("records")}
    cur, prev = by.get("current", {}), by.get("previous", {})

    def k(row: dict, col: str) -> float:
        return num(row.get(col))

    st.caption(f"The {PERIOD_DAYS} days to {cur['day']:%d %b %Y} against the {PERIOD_DAYS} before")

    tiles(
        [
            (
                "Open pipeline",
                money(k(cur, "open_pipeline_value")),
                delta_pct(k(cur, "open_pipeline_value"), k(prev, "open_pipeline_value")),
                "Value of open deals at the end of the last day",
            ),
            (
                "Weighted pipeline",
                money(k(cur, "weighted_pipeline_value")),
                delta_pct(k(cur, "weighted_pipeline_value"), k(prev, "weighted_pipeline_value")),
                "Open deal values times their stage probability",
            ),
            (
                "Win rate",
                pct(k(cur, "win_rate")),
                pts(k(cur, "win_rate"), k(prev, "win_rate")),
                "Deals won / deals closed, trailing 30 days",
            ),
            (
                "Lead conversion",
                pct(k(cur, "lead_conversion_rate")),
                pts(k(cur, "lead_conversion_rate"), k(prev, "lead_conversion_rate")),
                "Leads converted / leads created, trailing 30 days",
            ),
            (
                "Velocity / day",
                money(k(cur, "deal_velocity")),
                delta_pct(k(cur, "deal_velocity"), k(prev, "deal_velocity")),
                "Deal velocity, the revenue the pipeline moves per day: open deals x win rate x average deal size / "
                "sales cycle days",
            ),
            (
                "Average deal size",
                money(k(cur, "avg_deal_size")),
                delta_pct(k(cur, "avg_deal_size"), k(prev, "avg_deal_size")),
                "Won revenue / deals won, trailing 30 days",
            ),
            (
                "Sales cycle",
                f"{k(cur, 'sales_cycle_days'):.0f} days",
                delta_pct(k(cur, "sales_cycle_days"), k(prev, "sales_cycle_days")),
                "Mean days from creation to win",
                "inverse",
            ),
            *at_risk_tiles(),
        ],
        per_row=3,
    )

    trend = load("overview_trend", days=180, today=day.isoformat(), empty="No daily metrics yet.")
    if trend is not None:
        left, right = st.columns(2)
        with left:
            fig = go.Figure()
            fig.add_scatter(x=trend["day"], y=trend["open_pipeline_value"], name="Open pipeline")
            fig.add_scatter(x=trend["day"], y=trend["weighted_pipeline_value"], name="Weighted")
            chart(fig, "overview_pipeline", title="Pipeline value")
        with right:
            fig = go.Figure()
            fig.add_bar(x=trend["day"], y=trend["won_revenue"], name="Won revenue")
            chart(fig, "overview_revenue", title="Won revenue per day")
