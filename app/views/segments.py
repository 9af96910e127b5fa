"""Segments: sizes and their growth, members, last calculated and the stale flag."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, fetch_or_none, load, money, num, tiles, user

st.title("Segments")
data_as_of("Segments", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
st.caption(
    f"{user().tenant_name} · from analytics.dash_segment_summary (fct_segment_memberships), "
    "analytics.fct_segment_memberships, analytics.dim_customers"
)

segs = load("segments", empty="No segments defined yet.")
if segs is not None:
    stale = int(segs["is_stale"].fillna(False).sum())
    tiles(
        [
            ("Segments", f"{len(segs):,}", None, "Segments with their current members"),
            (
                "Memberships",
                f"{num(segs['members'].sum()):,.0f}",
                None,
                "A customer may be in several segments",
            ),
            ("Stale", f"{stale:,}", None, "Segments whose last recalculation failed (old members kept)"),
        ],
        per_row=3,
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure(
            go.Bar(
                x=segs["members"],
                y=segs["segment_name"],
                orientation="h",
                marker_color=["#ff7f0e" if s else "#1f77b4" for s in segs["is_stale"].fillna(False)],
            )
        )
        fig.update_yaxes(autorange="reversed")
        chart(fig, "segment_sizes", height=80 + 40 * len(segs), title="Members per segment (orange: stale)")
    with right:
        growth = fetch_or_none("segment_growth")
        if growth is not None:
            fig = go.Figure()
            for name, part in growth.groupby("segment_name"):
                fig.add_scatter(x=part["month"], y=part["added"].cumsum(), name=str(name), mode="lines")
            chart(fig, "segment_growth", height=80 + 40 * len(segs), title="Current members by month joined")
    st.dataframe(
        segs.assign(status=segs["is_stale"].map({True: "stale", False: "fresh"}), mrr=segs["mrr"].map(money)),
        hide_index=True,
        key="segments_table",
        column_order=["segment_name", "members", "mrr", "last_calculated", "status"],
        column_config={
            "segment_name": "Segment",
            "members": "Members",
            "mrr": "MRR",
            "last_calculated": "Last calculated",
            "status": "Status",
        },
    )
    names = dict(zip(segs["segment_name"], segs["segment_id"].astype(str), strict=False))
    pick = st.selectbox("Members of", list(names), key="segment_pick")
    members = load("segment_members", segment_id=names[pick], empty="This segment has no members.")
    if members is not None:
        st.caption(f"{len(members):,} shown (largest MRR first)")
        st.dataframe(
            members.drop(columns=["customer_id"]),
            hide_index=True,
            key="segment_members_table",
            column_config={"health_risk_level": "Health risk", "health_score": "Health"},
        )
