"""Overview: KPI tiles (trailing 30 days) with their change against the 30 days before, and
the pipeline and revenue trends."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, delta_pct, fetch_or_none, load, money, num, pct, tiles, user
from crm.bands import AT_RISK_LEVELS

PERIOD_DAYS = 30

st.title("Overview")
st.caption(
    f"{user().tenant_name} · trailing {PERIOD_DAYS} days against the {PERIOD_DAYS} before · "
    "from analytics.dash_kpis_daily (metrics_crm_daily with fct_pipeline_daily), analytics.fct_customer_risk "
    "(churn risk; health risk from analytics.dash_customer_health_summary until churn is scored)"
)
AT_RISK = " or ".join(AT_RISK_LEVELS)


def pts(a: float, b: float) -> str | None:
    return f"{(a - b) * 100:+.1f} pts" if a or b else None


frame = load("overview_kpis", days=PERIOD_DAYS, empty="No CRM activity recorded yet.")
if frame is not None:
    by = {r["period"]: r for r in frame.to_dict("records")}
    cur, prev = by.get("current", {}), by.get("previous", {})

    def k(row: dict, col: str) -> float:
        return num(row.get(col))

    # churn risk (the churn model's) when the tenant's customers are scored, else health risk
    # (the health score's): two different risks, so the tile says which one it counts
    risk = fetch_or_none("overview_churn_risk")
    if risk is not None and num(risk.iloc[0]["scored"]) > 0:
        risk_label = "Churn risk"
        risk_help = f"Customers at {AT_RISK} churn risk (churn model; analytics.fct_customer_risk)"
    else:
        risk = fetch_or_none("overview_health_risk")
        risk_label = "Health risk"
        risk_help = (
            f"Active customers at {AT_RISK} health risk (health score; no churn predictions yet; "
            "analytics.dash_customer_health_summary)"
        )
    at_risk = f"{num(risk.iloc[0]['at_risk']):,.0f}" if risk is not None else "n/a"

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
                "Deal velocity",
                f"{money(k(cur, 'deal_velocity'))}/day",
                delta_pct(k(cur, "deal_velocity"), k(prev, "deal_velocity")),
                "Open deals x win rate x average deal size / sales cycle days",
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
            (risk_label, at_risk, None, risk_help),
        ]
    )

    trend = load("overview_trend", days=180, empty="No daily metrics yet.")
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
