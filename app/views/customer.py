"""Customer 360: profile, segments, deals, tickets, conversations, usage and health history.
The risk shown here is the health score's (health risk); the churn model's churn risk only
orders the customer picker. The customer is named by its company (the mart's label); its
contact's name and e-mail are opened from the operational store for this one customer
(`app.data.people`: recorded for the user)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import (
    chart,
    data_as_of,
    fetch_or_none,
    load,
    money,
    num,
    people_shown,
    tiles,
    user,
    with_evidence,
)


def count(v: object) -> str:
    return f"{num(v):,.0f}"


def one(v: object) -> str:
    return f"{num(v):.1f}"


# analytics.dim_customers columns shown as tiles when present: (column, label, formatter)
PROFILE = (
    ("mrr", "MRR", money),
    ("total_revenue", "Total revenue", money),
    ("health_score", "Health", count),
    ("health_risk_level", "Health risk", str),
    ("tickets_total", "Tickets", count),
    ("open_tickets", "Open tickets", count),
    ("conversations_total", "Conversations", count),
)

# analytics.ml_features__customers_current, by the seed's health categories
ACTIVITY = {
    "Usage": (
        ("logins_30d", "Logins (30 d)", count),
        ("sessions_90d", "Sessions (90 d)", count),
        ("usage_trend_ratio", "Usage trend", lambda v: f"{num(v):.2f}x"),
        ("days_since_last_usage", "Days since last use", count),
    ),
    "Support": (
        ("tickets_90d", "Tickets (90 d)", count),
        ("urgent_tickets_90d", "Urgent (90 d)", count),
        ("avg_csat_90d", "CSAT (90 d)", one),
        ("avg_resolution_minutes_90d", "Resolution (h)", lambda v: f"{num(v) / 60:.1f}"),
    ),
    "Conversations": (
        ("conversations_90d", "Conversations (90 d)", count),
        ("messages_90d", "Messages (90 d)", count),
        ("avg_conversation_sentiment_90d", "Sentiment", lambda v: f"{num(v):+.2f}"),
        ("days_since_last_conversation", "Days since last", count),
    ),
    "Deals": (
        ("won_deals_total", "Deals won", count),
        ("won_revenue_total", "Won revenue", money),
        ("open_deals", "Open deals", count),
        ("open_pipeline_value", "Open pipeline", money),
    ),
}


def shown(v: object, fmt) -> str:
    return "n/a" if v is None or (isinstance(v, float) and pd.isna(v)) else fmt(v)


st.title("Customer 360")
data_as_of("Customer", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
customer_id = st.query_params.get("customer")
if not customer_id:
    top = load("churn_risk_list", empty="No customers scored yet.", limit=50)
    if top is not None:
        labels = {
            f"{r.customer} · {r.churn_risk_level} churn risk": str(r.customer_id) for r in top.itertuples()
        }
        customer_id = labels[
            st.selectbox("Customer (top 50 by churn probability)", list(labels), key="customer_select")
        ]

if customer_id:
    detail = load(
        "customer_detail", customer_id=customer_id, empty="This customer does not exist in your workspace."
    )
    if detail is not None:
        c = detail.iloc[0]
        st.caption(
            f"{user().tenant_name} · from analytics.dim_customers, analytics.fct_segment_memberships, "
            "analytics.ml_features__customers_current, analytics.fct_deals, analytics.fct_customer_health, "
            "analytics.dash_customer_health_history, analytics.fct_conversation_signals · risk here is health"
            " risk (from the health score)"
        )
        st.subheader(f"{c.get('customer_label') or customer_id}")
        contact = (people_shown("customers", [c["customer_id"]]) or {}).get(str(c["customer_id"]))
        if contact is not None and contact.shown:
            st.markdown(
                "Contact: "
                + " · ".join(p for p in (contact.name, contact.email) if p)
                + "  \n:material/lock: opened from crm.customers, recorded for you"
            )
        st.markdown(" · ".join(str(c[k]) for k in ("lifecycle_stage", "industry", "country") if c.get(k)))
        segments = fetch_or_none("customer_segments", customer_id=customer_id)
        names = [] if segments is None else list(segments["segment_name"])
        profile = [
            (label, shown(c[col], fmt), None, f"analytics.dim_customers.{col}")
            for col, label, fmt in PROFILE
            if col in c.index
        ]
        profile.append(("Segments", count(len(names)), None, "analytics.fct_segment_memberships"))
        tiles(profile)
        if names:
            st.caption("Segments: " + ", ".join(names))
        health = load("customer_health", customer_id=customer_id, empty="No health score yet.")
        if health is not None:
            h = health.iloc[0]
            left, right = st.columns(2)
            with left:
                fig = go.Figure(
                    go.Indicator(
                        mode="gauge+number+delta",
                        value=num(h["health_score"]),
                        delta={"reference": num(h["health_score_previous"])},
                        gauge={"axis": {"range": [0, 100]}, "bar": {"color": "#1f77b4"}},
                    )
                )
                # the chart's title, not the gauge's: that one sits above the plot and is cut off
                title = f"Health · {h['trend']} · {h['health_risk_level']} health risk"
                chart(fig, "customer_health", height=260, title=title)
            with right:
                cats = ["usage", "support", "engagement", "financial"]
                vals = [num(h[f"{c}_factor"]) for c in cats]
                fig = go.Figure(go.Bar(x=vals, y=[c.title() for c in cats], orientation="h"))
                fig.update_xaxes(range=[0, 1])
                chart(fig, "customer_factors", height=260, title="Health factors (0-1)")
            history = fetch_or_none("customer_health_history", customer_id=customer_id)
            if history is not None:
                fig = go.Figure(
                    go.Scatter(
                        x=history["day"],
                        y=history["health_score"].map(num),
                        mode="lines+markers",
                        text=history["health_risk_level"],
                        hovertemplate="%{x|%d %b %Y}: %{y:.1f} (%{text} health risk)<extra></extra>",
                    )
                )
                fig.update_yaxes(range=[0, 100])
                chart(fig, "customer_health_history", height=240, title="Health history")
            recs = list(h["recommendations"] or [])
            if recs:
                st.markdown("**Recommendations**\n" + "\n".join(f"- {r}" for r in recs))
        activity = load("customer_activity", customer_id=customer_id, empty="No activity recorded yet.")
        if activity is not None:
            a = activity.iloc[0]
            for group, cols in ACTIVITY.items():
                st.markdown(f"**{group}**")
                tiles(
                    [
                        (label, shown(a[col], fmt), None, f"analytics.ml_features__customers_current.{col}")
                        for col, label, fmt in cols
                    ]
                )
        st.markdown("**Deals**")
        deals = load("customer_deals", customer_id=customer_id, empty="No deals with this customer.")
        if deals is not None:
            st.dataframe(deals.drop(columns=["deal_id"]), hide_index=True, key="customer_deals_table")
            picks = {
                f"{r.deal_name} · {r.stage} · {money(r.deal_value)}": str(r.deal_id)
                for r in deals.itertuples()
            }
            pick = st.selectbox("Open a deal", list(picks), key="customer_deal_pick")
            st.page_link(
                "views/deal.py",
                label="Open deal page (stage history, conversation signals)",
                icon=":material/open_in_new:",
                query_params={"deal": picks[pick]},
            )
        st.markdown("**Conversation signals**")
        signals = load(
            "customer_conversation_signals", customer_id=customer_id, empty="No conversation signals yet."
        )
        if signals is not None:
            st.dataframe(with_evidence(signals), hide_index=True, key="customer_conversation_signals_table")
