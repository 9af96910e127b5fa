"""Customers: health distribution and trend (health risk, from the health score), and the
churn-risk list with its factors (churn risk, from the churn model)."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, fetch_or_none, load, num, tiles, user
from crm.bands import AT_RISK_LEVELS, RISK_LEVELS

RISK_COLORS = {"low": "#2ca02c", "medium": "#ffbf00", "high": "#ff7f0e", "critical": "#d62728"}
TREND_COLORS = {"improving": "#2ca02c", "stable": "#7f7f7f", "declining": "#d62728"}
AT_RISK = " or ".join(AT_RISK_LEVELS)

st.title("Customers")
data_as_of("Customers", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
st.caption(
    f"{user().tenant_name} · active customers · from analytics.dash_customer_health_summary "
    "(fct_customer_health), analytics.fct_customer_risk (churn predictions), analytics.dim_customers"
)


def top_factor(v: object) -> str:
    """The label of the factor with the largest absolute contribution ('' when none): `v` is
    the factors JSON array, as text or decoded."""
    items = json.loads(v) if isinstance(v, str) else v
    if not isinstance(items, list) or not items:
        return ""
    best = max(items, key=lambda f: abs(num(f.get("contribution", f.get("weight", 0)))))
    return str(best.get("factor", best.get("label", "")))


dist = load("health_distribution", empty="No health scores yet.")
if dist is not None:
    by_risk = dist.groupby("health_risk_level")["customers"].sum()
    tiles(
        [
            (
                f"{lvl.title()} health risk",
                f"{num(by_risk.get(lvl, 0)):,.0f}",
                None,
                f"Active customers with {lvl} health risk",
            )
            for lvl in RISK_LEVELS
        ]
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        for lvl, color in RISK_COLORS.items():
            part = dist[dist["health_risk_level"] == lvl]
            if not part.empty:
                fig.add_bar(x=part["bucket"] * 10 + 5, y=part["customers"], name=lvl, marker_color=color)
        fig.update_layout(barmode="stack", xaxis_title="Health score")
        fig.update_layout(legend_title_text="Health risk")
        chart(fig, "health_distribution", title="Health distribution")
    with right:
        trend = load("health_trend", empty="No health trend yet.")
        if trend is not None:
            trend = trend.set_index("trend").reindex([t for t in TREND_COLORS if t in set(trend["trend"])])
            fig = go.Figure(
                go.Bar(
                    x=trend.index,
                    y=trend["customers"],
                    marker_color=[TREND_COLORS[t] for t in trend.index],
                    text=[
                        f"avg {num(a):.0f} (was {num(b):.0f})"
                        for a, b in zip(trend["avg_health"], trend["avg_health_previous"], strict=False)
                    ],
                )
            )
            chart(fig, "health_trend", title="Health trend: customers by direction")

st.subheader("Churn risk")
risk = fetch_or_none("churn_risk_list")
if risk is not None:
    risk = risk.assign(top_factor=risk["factors"].map(top_factor))
    st.dataframe(
        risk,
        hide_index=True,
        key="churn_table",
        column_order=[
            "customer",
            "churn_risk_level",
            "churn_probability",
            "top_factor",
            "mrr",
            "health_score",
            "lifecycle_stage",
        ],
        column_config={
            "customer": "Customer",
            "churn_risk_level": "Churn risk",
            "churn_probability": st.column_config.ProgressColumn(
                "Churn probability", min_value=0, max_value=1, format="percent"
            ),
            "top_factor": "Main factor",
            "mrr": st.column_config.NumberColumn("MRR", format="dollar"),
            "health_score": "Health",
            "lifecycle_stage": "Stage",
        },
    )
else:
    st.caption(
        f"No churn predictions yet (analytics.fct_customer_risk): customers at {AT_RISK} health risk instead."
    )
    risk = load("health_risk_list", empty=f"No customers at {AT_RISK} health risk.")
    if risk is not None:
        risk = risk.assign(top_factor=risk["factors"].map(top_factor))
        st.dataframe(
            risk,
            hide_index=True,
            key="health_risk_table",
            column_order=[
                "customer",
                "health_risk_level",
                "health_score",
                "trend",
                "top_factor",
                "mrr",
                "lifecycle_stage",
            ],
            column_config={
                "customer": "Customer",
                "health_risk_level": "Health risk",
                "health_score": "Health",
            },
        )
if risk is not None:
    kind = "churn_risk_level" if "churn_risk_level" in risk else "health_risk_level"
    what = "churn risk" if kind == "churn_risk_level" else "health risk"
    labels = {f"{r.customer} · {getattr(r, kind)} {what}": str(r.customer_id) for r in risk.itertuples()}
    pick = st.selectbox("Open a customer", list(labels), key="customer_pick")
    st.page_link(
        "views/customer.py",
        label="Open customer 360",
        icon=":material/open_in_new:",
        query_params={"customer": labels[pick]},
    )
