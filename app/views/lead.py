"""Lead page: the score with its explanation (factors with signed contributions,
recommendations, next best actions) and the activity timeline."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, empty_state, load, num, tiles, user


def as_list(v: object) -> list:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return []
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return [v]
    return list(v) if isinstance(v, list | tuple) else [v]


st.title("Lead")
lead_id = st.query_params.get("lead")
if not lead_id:
    top = load("leads_ranked", empty="No leads yet.", limit=50)
    if top is not None:
        labels = {f"{r.full_name} · {r.company or ''} · {r.score}": str(r.lead_id) for r in top.itertuples()}
        lead_id = labels[st.selectbox("Lead (top 50 by score)", list(labels), key="lead_select")]

if lead_id:
    detail = load("lead_detail", lead_id=lead_id, empty="This lead does not exist in your workspace.")
    if detail is not None:
        d = detail.iloc[0]
        st.caption(
            f"{user().tenant_name} · {d['email']} · from analytics.dim_leads, ml.lead_scores, "
            "analytics.fct_lead_activities"
        )
        st.subheader(f"{d['full_name']} · {d['company'] or ''}")
        tiles(
            [
                ("Score", f"{num(d['score']):.0f}", None, "0-100"),
                (
                    "Confidence",
                    f"{num(d['confidence']):.0%}" if pd.notna(d["confidence"]) else "n/a",
                    None,
                    "",
                ),
                (
                    "Method",
                    str(d["method"] or "n/a"),
                    None,
                    "model: trained model; rules: rule-based fallback",
                ),
                (
                    "Status",
                    str(d["status"]),
                    None,
                    f"Source: {d['source']} · owner: {d['owner_name'] or 'unassigned'}",
                ),
            ]
        )
        factors = pd.DataFrame(as_list(d["factors"]))
        if not factors.empty and "contribution" in factors:
            factors = factors.sort_values("contribution")
            label = factors["label"] if "label" in factors else factors["feature"]
            fig = go.Figure(
                go.Bar(
                    x=factors["contribution"],
                    y=label,
                    orientation="h",
                    marker_color=["#d62728" if c < 0 else "#2ca02c" for c in factors["contribution"]],
                )
            )
            chart(fig, "lead_factors", height=300, title="Why this score (signed contributions)")
        else:
            empty_state("No score explanation yet.", "Explanations appear once the lead scoring job has run.")
        left, right = st.columns(2)
        with left:
            st.markdown("**Next best actions**")
            actions = as_list(d["next_best_actions"])
            for a in actions:
                if isinstance(a, dict):
                    st.markdown(f"- **{a.get('action')}** ({a.get('priority', '')}): {a.get('reason', '')}")
                else:
                    st.markdown(f"- {a}")
            if not actions:
                st.caption("None yet.")
        with right:
            st.markdown("**Recommendations**")
            recs = as_list(d["recommendations"])
            for r in recs:
                st.markdown(f"- {r}")
            if not recs:
                st.caption("None yet.")
        st.subheader("Activity timeline")
        timeline = load("lead_timeline", lead_id=lead_id, empty="No activities recorded for this lead.")
        if timeline is not None:
            counts = timeline.groupby("activity_type").size().reset_index(name="n")
            fig = go.Figure(
                go.Scatter(
                    x=timeline["occurred_at"],
                    y=timeline["activity_type"],
                    mode="markers",
                    marker={"size": 10},
                )
            )
            chart(fig, "lead_timeline", height=max(220, 28 * len(counts) + 80), title="Activities over time")
            st.dataframe(timeline, hide_index=True, key="lead_timeline_table")
