"""Attribution: revenue by channel, campaign and touchpoint type under the chosen model and
period (month won), and all models side by side."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, fetch_or_none, load, money, today, user

MODELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "u_shaped": "U-shaped",
    "w_shaped": "W-shaped",
}

PERIODS = {"All time": None, "Last 12 months": 12, "Last 3 months": 3}


def since(months: int | None, day: date) -> str | None:
    """First day of the month `months - 1` months before `day`'s (the tenant's today, so a
    tenant holding historical data counts back from its clock; None: all time)."""
    if months is None:
        return None
    index = day.year * 12 + day.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1).isoformat()


st.title("Attribution")
now = data_as_of("Attribution", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
st.caption(
    f"{user().tenant_name} · revenue of won deals by month won · from analytics.dash_attribution_monthly "
    "(fct_revenue_attribution summed) and analytics.fct_campaign_performance"
)

period = st.segmented_control("Won", list(PERIODS), default="All time", key="attr_period") or "All time"
start = since(PERIODS[period], today(now))
by_channel = load("attribution_by_channel", since=start, empty="No attributed revenue in this period.")
if by_channel is not None:
    present = [m for m in MODELS if m in set(by_channel["model"])] or sorted(by_channel["model"].unique())
    model = st.segmented_control(
        "Attribution model",
        present,
        format_func=lambda m: MODELS.get(m, m),
        default=("linear" if "linear" in present else present[0]),
        key="attr_model",
    )
    model = model or present[0]
    part = by_channel[by_channel["model"] == model]
    st.metric("Attributed revenue", money(part["revenue"].sum()), help="Sum over channels under this model")
    left, right = st.columns(2)
    with left:
        chart(
            go.Figure(go.Pie(labels=part["channel"], values=part["revenue"], hole=0.45)),
            "attr_channel",
            title=f"Revenue by channel · {MODELS.get(model, model)}",
        )
    with right:
        touch = load("attribution_by_touchpoint", model=model, since=start, empty="No touchpoints.")
        if touch is not None:
            chart(
                go.Figure(go.Bar(x=touch["touchpoint_type"], y=touch["revenue"])),
                "attr_touch",
                title="Revenue by touchpoint type",
            )
    camp = load("attribution_by_campaign", model=model, since=start, empty="No campaign touchpoints.")
    if camp is not None:
        fig = go.Figure(go.Bar(x=camp["revenue"], y=camp["campaign_name"], orientation="h"))
        fig.update_yaxes(autorange="reversed")
        chart(fig, "attr_campaign", height=80 + 22 * len(camp), title="Revenue by campaign (top 25)")
    fig = go.Figure()
    for m in present:
        p = by_channel[by_channel["model"] == m]
        fig.add_bar(x=p["channel"], y=p["revenue"], name=MODELS.get(m, m))
    fig.update_layout(barmode="group")
    chart(fig, "attr_models", height=380, title="Models side by side: revenue by channel")
