"""Overview: the KPI tiles with their change against the previous 30 days, and the trends."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, delta_pct, load, money, num, pct, tiles, user

PERIOD_DAYS = 30

st.title("Overview")
st.caption(
    f"{user().tenant_name} · last {PERIOD_DAYS} days against the {PERIOD_DAYS} before · "
    "from analytics.metrics_crm_daily and ml.churn_predictions"
)


def kpis(row) -> dict[str, float]:
    won, lost = num(row.get("deals_won")), num(row.get("deals_lost"))
    created, converted = num(row.get("leads_created")), num(row.get("leads_converted"))
    return {
        "open": num(row.get("open_pipeline_value")),
        "weighted": num(row.get("weighted_pipeline_value")),
        "win_rate": won / (won + lost) if won + lost else 0.0,
        "conversion": converted / created if created else 0.0,
        "velocity": num(row.get("won_days_to_close_total")) / won if won else 0.0,
        "avg_deal": num(row.get("won_revenue")) / won if won else 0.0,
        "at_risk": num(row.get("at_risk_customers")),
    }


frame = load("overview_kpis", days=PERIOD_DAYS, empty="No CRM activity recorded yet.")
if frame is not None:
    by = {r["period"]: r for r in frame.to_dict("records")}
    cur, prev = kpis(by.get("current", {})), kpis(by.get("previous", {}))
    churn = load("overview_churn_risk", empty="No churn predictions yet.")
    at_risk = num(churn.iloc[0]["at_risk"]) if churn is not None else cur["at_risk"]

    def pts(a: float, b: float) -> str | None:
        return f"{(a - b) * 100:+.1f} pts" if b or a else None

    tiles(
        [
            (
                "Open pipeline",
                money(cur["open"]),
                delta_pct(cur["open"], prev["open"]),
                "Sum of open deal amounts",
            ),
            (
                "Weighted pipeline",
                money(cur["weighted"]),
                delta_pct(cur["weighted"], prev["weighted"]),
                "Open amounts times win probability",
            ),
            (
                "Win rate",
                pct(cur["win_rate"]),
                pts(cur["win_rate"], prev["win_rate"]),
                "Won / (won + lost) closed in the period",
            ),
            (
                "Lead conversion",
                pct(cur["conversion"]),
                pts(cur["conversion"], prev["conversion"]),
                "Leads converted / leads created in the period",
            ),
            (
                "Deal velocity",
                f"{cur['velocity']:.0f} days",
                delta_pct(cur["velocity"], prev["velocity"]),
                "Average days from creation to win, deals won in the period",
                "inverse",
            ),
            (
                "Average deal size",
                money(cur["avg_deal"]),
                delta_pct(cur["avg_deal"], prev["avg_deal"]),
                "Won revenue / deals won in the period",
            ),
            (
                "Churn risk",
                f"{at_risk:,.0f}",
                delta_pct(cur["at_risk"], prev["at_risk"]) if churn is None else None,
                "Customers at high or critical churn risk",
                "inverse",
            ),
        ]
    )

    trend = load("overview_trend", days=180, empty="No daily metrics yet.")
    if trend is not None:
        left, right = st.columns(2)
        with left:
            fig = go.Figure()
            fig.add_scatter(x=trend["metric_date"], y=trend["open_pipeline_value"], name="Open pipeline")
            fig.add_scatter(x=trend["metric_date"], y=trend["weighted_pipeline_value"], name="Weighted")
            chart(fig, "overview_pipeline", title="Pipeline value")
        with right:
            fig = go.Figure()
            fig.add_bar(x=trend["metric_date"], y=trend["won_revenue"], name="Won revenue")
            chart(fig, "overview_revenue", title="Won revenue per day")
