"""Customer 360: profile, deals, tickets, conversations, usage and health history."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, load, money, num, tiles, user

# dim_customers columns shown as tiles when present: (column, label, formatter)
TILE_COLUMNS = (
    ("mrr", "MRR", money),
    ("lifetime_value", "Lifetime value", money),
    ("deals_won", "Deals won", lambda v: f"{num(v):,.0f}"),
    ("open_deals", "Open deals", lambda v: f"{num(v):,.0f}"),
    ("tickets_total", "Tickets", lambda v: f"{num(v):,.0f}"),
    ("tickets_open", "Open tickets", lambda v: f"{num(v):,.0f}"),
    ("avg_csat", "Average CSAT", lambda v: f"{num(v):.1f}"),
    ("conversations_total", "Conversations", lambda v: f"{num(v):,.0f}"),
    ("usage_events_30d", "Usage events (30 d)", lambda v: f"{num(v):,.0f}"),
    ("health_score", "Health", lambda v: f"{num(v):.0f}"),
)

st.title("Customer 360")
customer_id = st.query_params.get("customer")
if not customer_id:
    top = load("churn_risk_list", empty="No customers scored yet.", limit=50)
    if top is not None:
        labels = {f"{r.company} · {r.risk_level}": str(r.customer_id) for r in top.itertuples()}
        customer_id = labels[
            st.selectbox("Customer (top 50 by churn risk)", list(labels), key="customer_select")
        ]

if customer_id:
    detail = load(
        "customer_detail", customer_id=customer_id, empty="This customer does not exist in your workspace."
    )
    if detail is not None:
        c = detail.iloc[0]
        st.caption(
            f"{user().tenant_name} · from analytics.dim_customers, analytics.fct_deals, "
            "analytics.fct_customer_health"
        )
        st.subheader(f"{c.get('company') or c.get('email') or customer_id}")
        st.markdown(" · ".join(str(c[k]) for k in ("lifecycle_stage", "industry", "country") if c.get(k)))
        tiles(
            [
                (label, fmt(c[col]), None, f"analytics.dim_customers.{col}")
                for col, label, fmt in TILE_COLUMNS
                if col in c.index
            ]
        )
        history = load("customer_health_history", customer_id=customer_id, empty="No health history yet.")
        if history is not None:
            fig = go.Figure(
                go.Scatter(x=history["snapshot_date"], y=history["health_score"], mode="lines+markers")
            )
            fig.update_yaxes(range=[0, 100])
            chart(fig, "customer_health", height=260, title="Health history")
        st.markdown("**Deals**")
        deals = load("customer_deals", customer_id=customer_id, empty="No deals with this customer.")
        if deals is not None:
            st.dataframe(deals.drop(columns=["deal_id"]), hide_index=True, key="customer_deals_table")
