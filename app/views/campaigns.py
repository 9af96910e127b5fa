"""Campaigns: ROI, cost per opportunity, budget against spent."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, fetch_or_none, load, money, num, tiles, user

st.title("Campaigns")
data_as_of("Campaigns", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
st.caption(f"{user().tenant_name} · from analytics.fct_campaign_performance")

camps = load("campaigns", empty="No campaigns yet.")
if camps is not None:
    spent, budget = num(camps["spent"].sum()), num(camps["budget"].sum())
    revenue, opps = num(camps["attributed_revenue_linear"].sum()), num(camps["opportunities"].sum())
    tiles(
        [
            ("Spent", money(spent), None, "Sum of spent"),
            ("Budget", money(budget), None, "Sum of budgets"),
            (
                "ROI",
                f"{(revenue - spent) / spent:.0%}" if spent else "n/a",
                None,
                "(attributed revenue, linear model - spent) / spent",
            ),
            ("Cost per opportunity", money(spent / opps) if opps else "n/a", None, "spent / opportunities"),
        ]
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        fig.add_bar(x=camps["campaign_name"], y=camps["budget"], name="Budget", opacity=0.45)
        fig.add_bar(x=camps["campaign_name"], y=camps["spent"], name="Spent")
        fig.update_layout(barmode="overlay")
        chart(fig, "camp_budget", title="Budget against spent")
    with right:
        fig = go.Figure(
            go.Scatter(
                x=camps["cost_per_opportunity"],
                y=camps["roi"],
                mode="markers",
                text=camps["campaign_name"],
                marker={"size": 11},
            )
        )
        fig.update_layout(xaxis_title="Cost per opportunity", yaxis_title="ROI")
        chart(fig, "camp_roi", title="ROI against cost per opportunity")
    st.dataframe(camps.drop(columns=["campaign_id"]), hide_index=True, key="campaigns_table")
