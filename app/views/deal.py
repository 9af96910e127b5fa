"""Deal page: one deal's header (customer, stage, value, win probability, expected close), the
stages it went through and what its conversations said (buying signals, objections, competitors,
pricing, timeline, next steps) with the quoted evidence."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, fetch_or_none, load, money, num, tiles, user, with_evidence


def present(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and pd.isna(v)) and v is not pd.NaT


def day(v: object) -> str:
    return f"{pd.Timestamp(v):%d %b %Y}" if present(v) else "n/a"


def outcome(d: pd.Series) -> str:
    if d["is_won"]:
        return "won"
    if d["is_lost"]:
        return "lost" + (f" ({d['lost_reason']})" if present(d["lost_reason"]) and d["lost_reason"] else "")
    return "open"


def probability(d: pd.Series) -> tuple[str, str]:
    """The deal model's win probability where it scored the deal, else the stage's."""
    if present(d["win_probability"]):
        how = "the deal model's" if d["probability_method"] == "model" else "the stage's default"
        return f"{num(d['win_probability']):.0%}", f"Win probability: {how} (analytics.fct_deal_forecast)"
    return f"{num(d['probability']):.0f}%", "The stage's probability (analytics.fct_deals.probability)"


def header(d: pd.Series) -> None:
    st.caption(
        f"{user().tenant_name} · from analytics.fct_deals, analytics.dim_customers, "
        "analytics.fct_deal_forecast, analytics.fct_deal_stage_transitions, analytics.fct_conversation_signals"
    )
    st.subheader(f"{d['deal_name']} · {d['customer_label'] or 'no customer'}")
    st.markdown(
        f"**{d['stage_name']}** in {d['pipeline_name']} · {outcome(d)} · created {day(d['created_at'])}"
    )


st.title("Deal")
now = data_as_of("Deal", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
deal_id = st.query_params.get("deal")
if not deal_id:
    top = load("deals_picker", empty="No deals yet.", limit=200)
    if top is not None:
        labels = {
            f"{r.deal_name} · {r.customer or 'no customer'} · {money(r.deal_value)} · "
            f"{r.stage if r.is_open else 'closed: ' + str(r.stage)}": str(r.deal_id)
            for r in top.itertuples()
        }
        deal_id = labels[st.selectbox("Deal (open deals first, by value)", list(labels), key="deal_select")]

if deal_id:
    detail = load("deal_detail", deal_id=deal_id, empty="This deal does not exist in your workspace.")
    if detail is not None:
        d = detail.iloc[0]
        header(d)
        shown, why = probability(d)
        tiles(
            [
                ("Value", money(d["deal_value"]), None, f"analytics.fct_deals.deal_value ({d['currency']})"),
                ("Win probability", shown, None, why),
                (
                    "Expected close" if d["is_open"] else "Closed",
                    day(d["expected_close_date"] if d["is_open"] else d["closed_at"]),
                    None,
                    "analytics.fct_deals.expected_close_date"
                    if d["is_open"]
                    else "analytics.fct_deals.closed_at",
                ),
                ("Days in stage", f"{num(d['days_in_stage']):,.0f}", None, "In the current stage"),
            ],
            per_row=2,  # a date fits a tile only two to a row beside the sidebar
        )
        if present(d["customer_id"]):
            st.page_link(
                "views/customer.py",
                label="Open customer 360",
                icon=":material/open_in_new:",
                query_params={"customer": str(d["customer_id"])},
            )
        st.subheader("Stage history")
        history = load(
            "deal_stage_history", deal_id=deal_id, empty="No stage changes recorded for this deal."
        )
        if history is not None:
            # an open deal is still in its current stage (until the tenant's now); a closed one ended there
            starts = pd.to_datetime(history["entered_at"], utc=True)
            ends = pd.to_datetime(history["exited_at"], utc=True).fillna(
                pd.Timestamp(now) if d["is_open"] else starts.iloc[-1]
            )
            fig = go.Figure(
                go.Bar(
                    base=starts,
                    x=(ends - starts).dt.total_seconds() * 1000,
                    y=history["stage"],
                    orientation="h",
                )
            )
            fig.update_xaxes(type="date")
            fig.update_yaxes(autorange="reversed")
            chart(fig, "deal_stages", height=max(200, 36 * len(history) + 90), title="Time in each stage")
            st.dataframe(history, hide_index=True, key="deal_stage_history_table")
        st.subheader("Conversation signals")
        signals = load(
            "deal_conversation_signals",
            deal_id=deal_id,
            empty="No conversation signals for this deal.",
            hint="Signals appear once conversations naming the deal are analysed.",
        )
        if signals is not None:
            st.dataframe(
                with_evidence(signals),
                hide_index=True,
                column_config={"confidence": st.column_config.NumberColumn(format="%.2f")},
                key="deal_conversation_signals_table",
            )
