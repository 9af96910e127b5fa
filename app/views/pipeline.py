"""Pipeline & forecast: funnel, stage conversion, weighted pipeline by close month (the tenant's
default pipeline first), the revenue forecast of the method its backtest chose in weekly (or,
for tenants that win few deals, four-weekly) totals with its interval and backtest error, and
the forecast categories."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import FORECAST_METHODS, chart, data_as_of, fetch_or_none, load, money, num, tiles, today, user


def period_totals(
    frame: pd.DataFrame, day: str, columns: list[str], start: pd.Timestamp, days: int
) -> pd.DataFrame:
    """`columns` summed over whole periods of `days` days aligned to `start` (the forecast's first
    day: the periods its backtest scored), before and after it; a partial period is left out."""
    d = pd.to_datetime(frame[day])
    k = (d - start).dt.days // days
    g = frame.assign(_k=k).groupby("_k")
    out = g[columns].sum()
    out = out[g.size() == days]
    out.index = [start + pd.Timedelta(days=int(i) * days) for i in out.index]
    return out


st.title("Pipeline & forecast")
now = data_as_of("Pipeline & forecast", fetch_or_none("mart_freshness"), fetch_or_none("tenant_clock"))
st.caption(
    f"{user().tenant_name} · from analytics.dash_open_pipeline (open fct_deals), "
    "analytics.dash_stage_conversion (fct_deal_stage_transitions), analytics.fct_deal_forecast, "
    "analytics.fct_revenue_forecast, analytics.dim_model_versions"
)

funnel = load("pipeline_funnel", empty="No open deals.")
if funnel is not None:
    # the tenant's default pipeline first (what the CRM opens on), then the others by open amount
    by_pipeline = funnel.groupby("pipeline_name").agg(amount=("amount", "sum"), default=("is_default", "max"))
    pipelines = list(by_pipeline.sort_values(["default", "amount"], ascending=[False, False]).index)
    chosen = st.selectbox("Pipeline", pipelines, key="pipeline_pick") if len(pipelines) > 1 else pipelines[0]
    f = funnel[funnel["pipeline_name"] == chosen].sort_values("stage_order")
    pipeline_ids = set(f["pipeline_id"].astype(str))
    expected = fetch_or_none("pipeline_expected")
    if expected is not None:
        expected = expected[expected["pipeline_id"].astype(str).isin(pipeline_ids)]
    tiles(
        [
            ("Open deals", f"{num(f['deals'].sum()):,.0f}", None, f"Open deals in {chosen}"),
            ("Open amount", money(f["amount"].sum()), None, "Sum of open deal values"),
            ("Weighted", money(f["weighted_amount"].sum()), None, "Open values times stage probability"),
            (
                "Expected",
                money(expected["expected_value"].sum()) if expected is not None else "n/a",
                None,
                "Open values times each deal's win probability: the deal model's for the "
                f"{num(expected['scored_by_model'].sum()) if expected is not None else 0:,.0f} deals it "
                "scored, else the stage's (analytics.fct_deal_forecast)",
            ),
        ]
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure(
            go.Funnel(
                y=f["stage_name"],
                x=f["amount"],
                textinfo="value+percent initial",
                texttemplate="%{value:$,.0f}",
            )
        )
        chart(fig, "pipeline_funnel", title=f"Open pipeline by stage · {chosen}")
    with right:
        conv = load("pipeline_stage_conversion", empty="No stage transitions yet.")
        if conv is not None:
            c = conv[conv["pipeline_id"].astype(str).isin(pipeline_ids)].sort_values("stage_order").copy()
            c["rate"] = c["advanced"] / c["entered"].where(c["entered"] > 0)
            fig = go.Figure(go.Bar(x=c["stage_name"], y=c["rate"], text=[f"{num(r):.0%}" for r in c["rate"]]))
            fig.update_yaxes(tickformat=".0%", range=[0, 1])
            chart(fig, "pipeline_conversion", title="Stage conversion (advanced / entered)")

months = load("pipeline_weighted_by_month", empty="No open deals with an expected close date.")
if months is not None:
    fig = go.Figure()
    months = months.assign(close_month=months["close_month"].map(lambda d: d.strftime("%b %Y")))
    fig.add_bar(x=months["close_month"], y=months["amount"], name="Open amount", opacity=0.45)
    fig.add_bar(x=months["close_month"], y=months["weighted_amount"], name="Weighted")
    fig.update_layout(barmode="overlay")
    chart(fig, "pipeline_by_month", title="Weighted pipeline by expected close month")

st.subheader("Revenue forecast")
status = fetch_or_none("forecast_model_status")
why = ""
if status is not None and status.iloc[0]["status"] != "active":
    why = f"The latest forecast model (v{status.iloc[0]['version']}) was {status.iloc[0]['status']}: {status.iloc[0]['reason']}."
forecast = load(
    "forecast_daily",
    empty="No revenue forecast yet.",
    hint=why
    or "The forecasting job forecasts revenue after the warehouse is built (analytics.fct_revenue_forecast).",
)
if forecast is not None:
    history = load("forecast_history", days=182, today=today(now).isoformat(), empty="No won revenue yet.")
    mape = (
        num(forecast["backtest_mape"].dropna().iloc[0]) if forecast["backtest_mape"].notna().any() else None
    )
    first = forecast.iloc[0]
    raw = first["method"] if isinstance(first["method"], str) else ""
    method = FORECAST_METHODS.get(raw, raw.replace("_", " ").capitalize())
    version = f"v{int(first['version'])}" if pd.notna(first["version"]) else str(first["model_version"])
    naive = num(first["naive_mape"]) if pd.notna(first["naive_mape"]) else None
    # the periods the backtest scored: weeks, or four weeks for tenants winning few deals a week
    days = 7 if pd.isna(first["period_days"]) or int(first["period_days"]) <= 7 else 28
    grain = "weekly" if days == 7 else "four-weekly"
    start = pd.Timestamp(forecast["period_start"].min())
    ahead = period_totals(forecast, "period_start", ["yhat", "yhat_lower", "yhat_upper"], start, days)
    tiles(
        [
            (
                "Forecast revenue",
                money(num(ahead["yhat"].sum())),
                None,
                f"Sum of the forecast over the next {len(ahead)} whole {'weeks' if days == 7 else 'four-week periods'}",
            ),
            (
                "Backtest MAPE",
                f"{mape:.1%}" if mape is not None else "n/a",
                None,
                "Backtest error: the mean absolute percentage error of the method on held-out "
                f"{'weeks' if days == 7 else 'periods'}"
                + (f"; the seasonal naive baseline's on the same: {naive:.1%}" if naive is not None else ""),
            ),
            (
                "Forecast model",
                version,
                None,
                f"The forecast model {first['model_version']}: its method ({method or 'unknown'}) "
                + (
                    "is the seasonal naive baseline: no other method beat it on the backtest"
                    if raw == "seasonal_naive"
                    else "won the backtest against the others and the seasonal naive baseline"
                ),
            ),
        ],
        per_row=3,
    )
    fig = go.Figure()
    if history is not None:
        past = period_totals(history, "day", ["won_revenue"], start, days)
        past = past[past.index < start]
        fig.add_bar(x=past.index, y=past["won_revenue"], name="Won revenue", marker_color="#999")
    fig.add_bar(
        x=ahead.index,
        y=ahead["yhat"],
        name="Forecast",
        marker_color="#1f77b4",
        error_y={
            "type": "data",
            "symmetric": False,
            "array": (ahead["yhat_upper"] - ahead["yhat"]).to_numpy(),
            "arrayminus": (ahead["yhat"] - ahead["yhat_lower"]).to_numpy(),
            "color": "#555",
        },
    )
    fig.update_layout(bargap=0.15)
    chart(fig, "forecast", height=380, title=f"{method or 'Revenue'} forecast with interval, {grain} totals")
    err = f"backtest MAPE {mape:.1%}" if mape is not None else "no backtest error recorded"
    vs = f" (seasonal naive {naive:.1%})" if naive is not None else ""
    st.caption(
        f"{grain.capitalize()} totals from {start:%d %b %Y}; whiskers: the 80% interval (the days' bounds "
        f"added up); {err}{vs}."
        + (
            " No method beat repeating the last week on the backtest, so that is the forecast."
            if raw == "seasonal_naive"
            else ""
        )
    )

cats = load("forecast_categories", empty="No pipeline forecast categories yet.")
if cats is not None:
    fig = go.Figure()
    for cat in ("commit", "best_case", "pipeline"):
        part = cats[cats["category"] == cat]
        if not part.empty:
            fig.add_bar(
                x=part["period_start"].map(lambda d: d.strftime("%b %Y")),
                y=part["yhat"],
                name=cat.replace("_", " ").title(),
            )
    fig.update_layout(barmode="group")
    chart(fig, "forecast_categories", title="Forecast categories: commit, best case, pipeline")
