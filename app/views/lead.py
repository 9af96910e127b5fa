"""Lead page: the score with its explanation (factors with signed contributions,
recommendations, next best actions) and the activity timeline. The lead's name and e-mail are
opened from the operational store (`app.data.people`: recorded for the user), and so is its
owner's name; the marts name no one."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import (
    chart,
    data_as_of,
    empty_state,
    fetch_or_none,
    load,
    money,
    named,
    num,
    people_shown,
    tiles,
    user,
)


def as_list(v: object) -> list:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return []
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return [v]
    return list(v) if isinstance(v, list | tuple) else [v]


def present(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and pd.isna(v))


st.title("Lead")
data_as_of("Lead", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
lead_id = st.query_params.get("lead")
if not lead_id:
    top = load("leads_ranked", empty="No scored leads yet.", limit=50)
    if top is not None:
        top = named(top, "leads", "lead_id", "lead_label")
        labels = {f"{r.name} · {r.company or ''} · {r.score}": str(r.lead_id) for r in top.itertuples()}
        lead_id = labels[st.selectbox("Lead (top 50 by score)", list(labels), key="lead_select")]

if lead_id:
    detail = load("lead_detail", lead_id=lead_id, empty="This lead does not exist in your workspace.")
    if detail is not None:
        d = detail.iloc[0]
        person = (people_shown("leads", [d["lead_id"]]) or {}).get(str(d["lead_id"]))
        domain = f"@{d['email_domain']}" if present(d["email_domain"]) and d["email_domain"] else None
        email = person.email if person is not None and person.email else domain
        st.caption(
            " · ".join(p for p in (user().tenant_name, email) if p)
            + " · from analytics.dim_leads, analytics.fct_lead_scores, analytics.fct_lead_activities;"
            " name and e-mail opened from crm.leads, recorded for you"
        )
        name = person.label if person is not None and person.label else d["lead_label"]
        owner = d["owner_label"] if present(d["assigned_user_id"]) else None
        if owner is not None:
            shown = (people_shown("users", [d["assigned_user_id"]]) or {}).get(str(d["assigned_user_id"]))
            owner = shown.name if shown is not None and shown.name else owner
        st.subheader(f"{name} · {d['company'] or ''}")
        st.markdown(
            " · ".join(str(d[k]) for k in ("job_title", "industry", "country") if present(d[k]) and d[k])
            + f"  \n**{d['status']}** · source {d['source']} · owner {owner or 'unassigned'}"
        )
        tiles(
            [
                (
                    "Score",
                    f"{num(d['score']):.0f}" if present(d["score"]) else "n/a",
                    None,
                    f"0-100: a {d['score_band']} lead (analytics.fct_lead_scores)"
                    if present(d["score"])
                    else "Not scored yet (analytics.fct_lead_scores)",
                ),
                (
                    "Confidence",
                    f"{num(d['confidence']):.0%}" if present(d["confidence"]) else "n/a",
                    None,
                    "",
                ),
                (
                    "Method",
                    str(d["method"]) if present(d["score"]) else "not scored",
                    None,
                    "model: the trained model; rules: the rule-based fallback",
                ),
                (
                    "Activities",
                    f"{num(d['activity_count']):,.0f}",
                    None,
                    "analytics.dim_leads.activity_count",
                ),
                ("Deals", f"{num(d['deal_count']):,.0f}", None, "Deals from this lead"),
                ("Won value", money(d["won_value"]), None, "Value of the won deals from this lead"),
            ]
        )
        factors = pd.DataFrame(as_list(d["factors"]))
        if not factors.empty and "contribution" in factors:
            factors = factors.sort_values("contribution")
            label = factors["label"] if "label" in factors else factors["feature"]
            colors = ["#d62728" if c < 0 else "#2ca02c" for c in factors["contribution"]]
            fig = go.Figure(go.Bar(x=factors["contribution"], y=label, orientation="h", marker_color=colors))
            chart(
                fig,
                "lead_factors",
                height=60 + 28 * len(factors),
                title="Why this score (signed contributions)",
            )
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
            timeline = timeline.assign(
                direction=timeline["is_inbound"].map({True: "inbound", False: "outbound"})
            )
            fig = go.Figure()
            for direction, part in timeline.groupby("direction"):
                fig.add_scatter(
                    x=part["occurred_at"],
                    y=part["activity_type"],
                    mode="markers",
                    name=str(direction),
                    marker={"size": 10},
                )
            rows = timeline["activity_type"].nunique()
            chart(fig, "lead_timeline", height=max(240, 28 * rows + 100), title="Activities over time")
            st.dataframe(timeline.drop(columns=["is_inbound"]), hide_index=True, key="lead_timeline_table")
