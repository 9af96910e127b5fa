"""Integrations (admins and managers): ticket enrichments, outbound webhook deliveries with their
failures and dead letters, external CRM sync runs and the retry queue, conversation signals."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import chart, data_as_of, fetch_or_none, load, num, tiles, user

ROLES = ("admin", "manager")  # who sees the integrations' operations (integrations:manage is admins')

st.title("Integrations")
if user().role not in ROLES:
    st.warning("The integrations page is for admins and managers.")
    st.stop()
data_as_of("Integrations", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
st.caption(
    f"{user().tenant_name} · from analytics.dash_integrations_daily, fct_ticket_enrichments, "
    "fct_webhook_deliveries, fct_sync_runs, fct_sync_run_objects, fct_sync_retry_queue, fct_conversation_signals"
)


def total(frame: pd.DataFrame, column: str) -> float:
    return num(frame[column].sum())


def ms(label: str) -> Any:
    return st.column_config.NumberColumn(label, format="%.0f")


def show(frame: pd.DataFrame | None, key: str, **columns: Any) -> pd.DataFrame | None:
    """A table of `frame` (None: the loader already said why there is none), its columns
    labelled by `columns` (None hides one)."""
    if frame is not None:
        st.dataframe(frame, hide_index=True, key=key, column_config=columns or None)
    return frame


daily = load(
    "integrations_daily",
    empty="No integration activity yet.",
    hint="Enrichments, webhook deliveries and sync runs show here once they happen and the warehouse is built.",
)
if daily is not None:
    st.caption(f"The last {len(daily)} days with activity, up to {daily['day'].max()}")
    tiles(
        [
            ("Tickets enriched", f"{total(daily, 'tickets_enriched'):,.0f}", None, "Ticket events enriched"),
            (
                "Deliveries delivered",
                f"{total(daily, 'deliveries_delivered'):,.0f}",
                None,
                "Outbound webhook deliveries that got a 2xx",
            ),
            ("Dead letters", f"{total(daily, 'deliveries_dead'):,.0f}", None, "Deliveries that gave up"),
            (
                "Sync runs failed",
                f"{total(daily, 'sync_runs_failed'):,.0f}",
                None,
                f"of {total(daily, 'sync_runs_failed') + total(daily, 'sync_runs_completed'):,.0f} runs",
            ),
            ("Records synced", f"{total(daily, 'records_synced'):,.0f}", None, "Created, updated or deleted"),
            (
                "Retry queue",
                f"{num(daily['retry_queue_pending'].iloc[-1]):,.0f}",
                None,
                "Sync records pending a retry at the end of the latest day",
            ),
        ],
        per_row=3,
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        fig.add_bar(x=daily["day"], y=daily["deliveries_delivered"], name="Delivered")
        fig.add_bar(x=daily["day"], y=daily["delivery_attempts_failed"], name="Failed attempts")
        fig.add_bar(x=daily["day"], y=daily["deliveries_dead"], name="Dead")
        chart(fig, "integrations_deliveries", title="Webhook deliveries per day")
    with right:
        fig = go.Figure()
        fig.add_bar(x=daily["day"], y=daily["sync_runs_completed"], name="Completed")
        fig.add_bar(x=daily["day"], y=daily["sync_runs_failed"], name="Failed")
        fig.add_scatter(x=daily["day"], y=daily["retry_queue_pending"], name="Retry queue", yaxis="y2")
        fig.update_layout(barmode="stack", yaxis2={"overlaying": "y", "side": "right", "showgrid": False})
        chart(fig, "integrations_sync", title="Sync runs per day and the retry queue")

st.subheader("Ticket enrichments")
show(
    load("integrations_enrichments", empty="No tickets enriched yet."),
    "integrations_enrichments_table",
    requester_kind="Requester",
    enrichments="Enrichments",
    p50_latency_ms=ms("p50 latency (ms)"),
    p95_latency_ms=ms("p95 latency (ms)"),
    turned_into_leads="Turned into leads",
)

st.subheader("Webhook deliveries")
status = show(
    load("integrations_delivery_status", empty="No webhook deliveries yet."),
    "integrations_delivery_status_table",
    delivery_status="Status",
    p95_delivered_ms=ms("p95 planned to delivered (ms)"),
)
if status is not None:
    st.caption("Dead letters first, then deliveries that needed retries (replay them through the API)")
    show(
        load("integrations_failed_deliveries", empty="No delivery has failed."),
        "integrations_failed_deliveries_table",
    )

st.subheader("External CRM sync")
runs = show(
    load("integrations_sync_runs", empty="No sync runs yet."),
    "integrations_sync_runs_table",
    sync_run_id=None,
)
if runs is not None:
    st.caption("Records per object, all runs")
    show(fetch_or_none("integrations_sync_objects"), "integrations_sync_objects_table")
queue = fetch_or_none("integrations_retry_queue")
if queue is not None:
    counts = dict(zip(queue["retry_status"], queue["items"], strict=False))
    tiles(
        [
            (s.title(), f"{num(counts.get(s, 0)):,.0f}", None, f"Retry queue items {s}")
            for s in ("pending", "dead", "done")
        ],
        per_row=3,
    )
    show(
        load("integrations_retry_items", empty="Nothing waits in the retry queue."),
        "integrations_retry_items_table",
    )

st.subheader("Conversation signals")
show(
    load("integrations_signals", empty="No conversation signals yet."),
    "integrations_signals_table",
    avg_confidence=st.column_config.NumberColumn("Mean confidence", format="%.2f"),
)
