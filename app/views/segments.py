"""Segments: sizes and their trend, members, last calculated and the stale flag."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, load, num, user

st.title("Segments")
st.caption(f"{user().tenant_name} · from analytics.fct_segment_memberships, analytics.dim_customers")

segs = load("segments", empty="No segments defined yet.")
if segs is not None:
    fig = go.Figure(
        go.Bar(
            x=segs["members"],
            y=segs["segment_name"],
            orientation="h",
            marker_color=["#ff7f0e" if s else "#1f77b4" for s in segs["is_stale"]],
        )
    )
    fig.update_yaxes(autorange="reversed")
    chart(fig, "segment_sizes", height=60 + 40 * len(segs), title="Members per segment (orange: stale)")
    st.dataframe(
        segs.assign(status=segs["is_stale"].map({True: "stale", False: "fresh"})),
        hide_index=True,
        key="segments_table",
        column_order=["segment_name", "members", "last_calculated", "status"],
        column_config={
            "segment_name": "Segment",
            "members": "Members",
            "last_calculated": "Last calculated",
            "status": "Status",
        },
    )
    names = dict(zip(segs["segment_name"], segs["segment_id"].astype(str), strict=False))
    pick = st.selectbox("Members of", list(names), key="segment_pick")
    members = load("segment_members", segment_id=names[pick], empty="This segment has no members.")
    if members is not None:
        st.caption(f"{len(members):,} shown · MRR {num(members['mrr'].sum()):,.0f}")
        st.dataframe(members.drop(columns=["customer_id"]), hide_index=True, key="segment_members_table")
