"""Leads: the ranked list with score, method, top factor and next best action, filtered by
owner, source, status and score band; open one on the Lead page. Leads and their owners are
named through the guarded path (`app.data.people`), else by their pseudonymous labels."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, empty_state, fetch_or_none, load, named, num, people_shown, tiles, user
from crm.bands import LEAD_SCORE_HOT_MIN, LEAD_SCORE_WARM_MIN

# score band filter: label -> the band fct_lead_scores gives (crm.bands' thresholds)
BANDS: dict[str, str | None] = {
    "All": None,
    f"Hot ({LEAD_SCORE_HOT_MIN}-100)": "hot",
    f"Warm ({LEAD_SCORE_WARM_MIN}-{LEAD_SCORE_HOT_MIN - 1})": "warm",
    f"Cold (0-{LEAD_SCORE_WARM_MIN - 1})": "cold",
}

st.title("Leads")
data_as_of("Leads", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
st.caption(
    f"{user().tenant_name} · ranked by score · from analytics.fct_lead_scores, analytics.dim_leads and "
    "analytics.dash_lead_score_summary (fct_lead_scores); the listed leads' names opened from crm.leads and "
    "their owners' from crm.users, recorded for you"
)


def choices(options: pd.DataFrame, kind: str) -> list[str]:
    """'All' then the values of one filter (`kind`) in the leads_filter_options rows."""
    return ["All", *sorted(options.loc[options["kind"] == kind, "value"].dropna().astype(str))]


def owner_names(ids: pd.Series, labels: pd.Series) -> dict[str, str]:
    """Owner user id -> the name to show: opened where it can be (recorded), else the label."""
    found = people_shown("users", ids.dropna()) or {}
    out: dict[str, str] = {}
    for uid, label in zip(ids, labels, strict=True):
        if uid is None or (isinstance(uid, float) and pd.isna(uid)):
            continue
        person = found.get(str(uid))
        out[str(uid)] = person.name if person is not None and person.name else str(label)
    return out


options = load("leads_filter_options", empty="No leads yet.")
if options is not None:
    owners = options.loc[options["kind"] == "owner"]
    owner_shown = owner_names(owners["value"], owners["label"])
    with st.expander("Filters: owner, source, status, score band", expanded=False):
        c1, c2, c3, c4 = st.columns(4)
        owner = c1.selectbox(
            "Owner",
            ["All", *sorted(owner_shown, key=lambda uid: owner_shown[uid])],
            format_func=lambda uid: owner_shown.get(uid, uid),
            key="f_owner",
        )
        source = c2.selectbox("Source", choices(options, "source"), key="f_source")
        status = c3.selectbox("Status", choices(options, "status"), key="f_status")
        band = c4.selectbox("Score band", list(BANDS), key="f_band")
    params: dict[str, Any] = {  # query parameters, not load()'s own keywords
        "owner": None if owner == "All" else owner,
        "source": None if source == "All" else source,
        "status": None if status == "All" else status,
        "band": BANDS[band],
    }
    summary = load(
        "leads_summary",
        empty="No lead scores yet.",
        hint="The lead scoring job scores leads after the warehouse is built (analytics.fct_lead_scores).",
        **params,
    )
    if summary is not None and num(summary.iloc[0]["leads"]) == 0:
        empty_state(
            "No scored leads match these filters.",
            "Lead scores come from analytics.fct_lead_scores, after the scoring job.",
        )
        summary = None
    if summary is not None:
        s = summary.iloc[0]
        tiles(
            [
                ("Leads", f"{num(s['leads']):,.0f}", None, "Leads matching the filters"),
                ("Average score", f"{num(s['avg_score']):.1f}", None, "0-100"),
                ("Hot leads", f"{num(s['hot']):,.0f}", None, f"Score {LEAD_SCORE_HOT_MIN} or more"),
                ("Scored by model", f"{num(s['by_model']):,.0f}", None, "The rest were scored by rules"),
            ]
        )
        ranked = load("leads_ranked", empty="No leads match these filters.", **params)
        if ranked is not None:
            ranked = named(ranked, "leads", "lead_id", "lead_label")
            ranked = ranked.assign(  # the owners were opened with the filter's options
                owner=[
                    owner_shown.get(str(u), label) if isinstance(label, str) else None
                    for u, label in zip(ranked["assigned_user_id"], ranked["owner_label"], strict=True)
                ]
            )
            decades = fetch_or_none("leads_score_decades", **params)
            if decades is not None:
                fig = go.Figure(go.Bar(x=decades["score_decade"] + 5, y=decades["leads"], width=9))
                fig.update_xaxes(range=[0, 100], title="Score")
                chart(fig, "leads_scores", height=220, title="Leads by score")
            st.dataframe(
                ranked,
                hide_index=True,
                column_order=[
                    "name",
                    "score",
                    "score_method",
                    "next_best_action",
                    "top_factor",
                    "company",
                    "status",
                    "source",
                    "owner",
                ],
                column_config={
                    "name": "Lead",
                    "company": "Company",
                    "status": "Status",
                    "source": "Source",
                    "score": st.column_config.ProgressColumn(
                        "Score", min_value=0, max_value=100, format="%d"
                    ),
                    "score_method": "Method",
                    "top_factor": "Top factor",
                    "next_best_action": "Next best action",
                    "owner": "Owner",
                },
                key="leads_table",
            )
            labels = {
                f"{r.name} · {r.company or ''} · {r.score}": str(r.lead_id) for r in ranked.itertuples()
            }
            pick = st.selectbox("Open a lead", list(labels), key="lead_pick")
            st.page_link(
                "views/lead.py",
                label="Open lead page",
                icon=":material/open_in_new:",
                query_params={"lead": labels[pick]},
            )
