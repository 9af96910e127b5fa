"""Operations (admins): the platform's health at a glance, from Prometheus (scrape targets,
alerts, lag, the outbox, mart freshness, queues) and the Dagster run storage (runs that failed
or run now). Platform-wide aggregates only: no workspace's data is shown (app/data/ops.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.data import ops
from app.ui import ago, chart, empty_state, span, tiles, user

CHART_MARTS = 12  # the chart shows the marts closest to (or past) their target; the table lists all
QUEUES = {
    "webhook_queue": "Webhook deliveries",
    "sync_retry_queue": "External sync retries",
    "campaign_send_queue": "Campaign sends",
}
STATES = ("due", "waiting", "dead")

st.title("Operations")
if user().role != "admin":
    st.info(
        "**The Operations page is for admins.**\n\nIt shows the health of the platform behind every "
        "workspace: its services, alerts, how fresh the warehouse is, the queues and the pipeline "
        "runs. If a page of yours looks stale or wrong, tell an admin of your workspace.",
        icon=":material/lock:",
    )
    st.stop()

if st.button("Refresh now", icon=":material/refresh:", key="ops_refresh"):
    ops.prometheus_health.clear()
    ops.dagster_runs.clear()
prom = ops.prometheus_health(ops.prometheus_url())
runs = ops.dagster_runs(ops.runs_home())
st.caption(
    "Platform-wide: every figure is an aggregate over all workspaces. The metrics carry no tenant "
    "ids, and of each Dagster run only its job, status, times and failing step are shown. "
    f"Read {prom.read_at:%H:%M:%S} UTC (at most every {ops.TTL_SECONDS} s) from Prometheus"
    f" {prom.url or '(not configured)'} and the Dagster instance at {runs.home}."
)


def count(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def when(t: datetime | None) -> str:
    if t is None:
        return "never"
    return f"{t:%d %b %H:%M:%S} UTC, {ago((datetime.now(UTC) - t).total_seconds())}"


if prom.problem:
    st.warning(
        f"**{prom.problem}** Components, alerts, lag, freshness and queues come from Prometheus; "
        "the Dagster runs below are read without it.",
        icon=":material/cloud_off:",
    )
if prom.targets:
    fresh = prom.freshness()
    up = sum(t.up for t in prom.targets)
    oldest = prom.one("outbox_oldest_seconds")
    tiles(
        [
            ("Components up", f"{up}/{len(prom.targets)}", None, "Scrape targets Prometheus reaches"),
            (
                "Alerts firing",
                f"{len(prom.firing)}",
                None,
                f"{len(prom.alerts) - len(prom.firing)} more pending (condition holds, not long enough yet)",
            ),
            (
                "Consumer lag",
                count(prom.one("consumer_lag")),
                None,
                "Events in Kafka the landing workers have not committed, all topics (– : no lander scraped)",
            ),
            ("Outbox backlog", count(prom.one("outbox_backlog")), None, "API changes not yet published"),
            (
                "Outbox oldest",
                "–" if oldest is None else span(oldest),
                None,
                "Age of the oldest unpublished change",
            ),
            (
                "Marts past target",
                f"{int(fresh['late'].sum())} of {len(fresh)}",
                None,
                "Marts whose last build is older than their freshness target",
            ),
        ],
        per_row=3,
    )

    st.subheader("Components")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "job": t.job,
                    "instance": t.instance,
                    "health": "up" if t.up else "down",
                    "last_scrape": when(t.last_scrape),
                    "scrape_ms": None if t.scrape_seconds is None else t.scrape_seconds * 1000,
                    "error": t.error,
                }
                for t in prom.targets
            ]
        ),
        hide_index=True,
        key="ops_targets",
        column_config={
            "scrape_ms": st.column_config.NumberColumn("scrape (ms)", format="%.1f"),
            "last_scrape": "last scrape",
        },
    )

    st.subheader("Alerts")
    if prom.alerts:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "alert": a.name,
                        "state": a.state,
                        "severity": a.severity,
                        "summary": a.summary,
                        "since": when(a.since),
                        "labels": a.labels,
                    }
                    for a in prom.alerts
                ]
            ),
            hide_index=True,
            key="ops_alerts",
        )
        st.caption("Runbooks: docs/operators.md, one section per alert.")
    else:
        st.success("No alert is firing or pending.", icon=":material/check_circle:")

    st.subheader("Mart freshness")
    if fresh.empty:
        empty_state(
            "No mart freshness in Prometheus.",
            "`crm ops metrics` reports each mart's age once the warehouse has been built.",
        )
    else:
        top = fresh.head(CHART_MARTS).iloc[::-1]
        fig = go.Figure()
        fig.add_bar(
            x=top["share_of_target"] * 100,
            y=top["mart"],
            orientation="h",
            marker_color=["#d62728" if late else "#1f77b4" for late in top["late"]],
            hovertext=[
                f"{span(a)} old, target {span(t)}"
                for a, t in zip(top["age_seconds"], top["target_seconds"], strict=True)
            ],
        )
        fig.add_vline(x=100, line_dash="dash", line_color="#888")
        fig.update_layout(xaxis_title="age, % of its target", showlegend=False)
        chart(fig, "ops_freshness", height=80 + 24 * len(top), title="Marts closest to their target")
        st.dataframe(
            fresh.assign(age=fresh["age_seconds"].map(span), target=fresh["target_seconds"].map(span))[
                ["mart", "age", "target", "share_of_target", "late"]
            ],
            hide_index=True,
            key="ops_freshness_table",
            column_config={
                "share_of_target": st.column_config.ProgressColumn(
                    "age / target", format="percent", min_value=0.0, max_value=1.0
                )
            },
        )

    st.subheader("Queues")
    st.dataframe(
        pd.DataFrame(
            [
                {"queue": label, **{s: prom.values.get(name, {}).get(s) for s in STATES}}
                for name, label in QUEUES.items()
            ]
        ),
        hide_index=True,
        key="ops_queues",
        column_config={s: st.column_config.NumberColumn(s, format="%d") for s in STATES},
    )
    per_second = prom.one("dead_letters_per_second")
    tiles(
        [
            (
                "Tickets not enriched",
                count(prom.one("ticket_enrichment_backlog")),
                None,
                "Ticket events of the last 24 h with no enrichment",
            ),
            ("Parked events", count(prom.one("parked_events")), None, "Events waiting for their tenant"),
            (
                "Dead letters / min",
                "–" if per_second is None else f"{per_second * 60:,.1f}",
                None,
                "Messages the landing workers refused, per minute over the last 10 minutes",
            ),
            ("Outbox dead", count(prom.one("outbox_dead")), None, "Changes the broker refused for good"),
        ],
    )
    st.caption(
        "Queue rows: due (to be sent now), waiting (backing off), dead (gave up; replay them). – : not scraped."
    )

elif prom.ok:
    empty_state(
        "Prometheus scrapes nothing.",
        "Its targets: `.crm/prometheus/targets` (crm up), else its own configuration.",
    )

st.subheader("Dagster runs")
if runs.problem:
    empty_state(runs.problem, "Runs show here once Dagster has recorded some in this instance.")
elif not runs.runs:
    st.success("No run failed in the last 24 hours and none is under way.", icon=":material/check_circle:")
else:
    st.caption(
        f"{runs.failed} failed in the last {ops.RUNS_WINDOW.total_seconds() / 3600:.0f} h, "
        f"{len(runs.runs) - runs.failed} under way; details in the Dagster UI by run id."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "job": r.job,
                    "status": r.status,
                    "started": when(r.started),
                    "duration": None if r.duration_seconds is None else span(r.duration_seconds),
                    "failed_steps": r.failed_steps,
                    "run_id": r.run_id[:8],
                }
                for r in runs.runs
            ]
        ),
        hide_index=True,
        key="ops_runs",
        column_config={"failed_steps": "failed step", "run_id": "run"},
    )
