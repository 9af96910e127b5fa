"""What every page shares: the signed-in tenant, how fresh its data is, loading with kind empty
states, KPI tiles, chart defaults that read on a phone, and number formats."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.auth import SESSION_KEY, SignedIn
from app.data import DataUnavailable, fetch, record_shown
from app.data.evidence import EvidenceUnavailable, evidence
from app.data.people import PeopleUnavailable, Person, people
from app.data.queries import QUERIES
from crm.tenants import tenant_now as clocked_now

FORECAST_METHODS = {
    "seasonal_naive": "Seasonal naive",
    "ets": "Exponential smoothing",
    "theta": "Theta",
    "arima": "ARIMA",
    "customer_base": "Customer base",
    "pipeline_funnel": "Pipeline funnel",
    "prophet": "Prophet",
}
"""The forecast methods (`ml.forecast.METHODS`) as the pages name them."""

PHONE_CSS = """
<style>
/* phones: less padding, tiles two per row, tables scroll sideways instead of squeezing */
@media (max-width: 640px) {
  .block-container { padding: 2.2rem 0.6rem 2rem 0.6rem !important; }
  [data-testid="stMetricValue"] { font-size: 1.35rem !important; }
  [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) { flex-wrap: wrap !important; gap: 0.5rem !important; }
  [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) > [data-testid="stColumn"] {
    min-width: calc(50% - 0.5rem) !important; flex: 1 1 calc(50% - 0.5rem) !important; }
  h1 { font-size: 1.6rem !important; }
}
[data-testid="stMetric"] { background: rgba(127,127,127,0.06); border-radius: 0.5rem; padding: 0.4rem 0.7rem; }
/* a tile's label wraps instead of being cut off with an ellipsis (narrow tiles, phones) */
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
</style>
"""


def user() -> SignedIn:
    """The signed-in user (the entrypoint shows the sign-in form before any page runs)."""
    u = st.session_state.get(SESSION_KEY)
    if u is None:
        st.stop()
    return u


def tenant_id() -> str:
    return user().tenant_id


def span(seconds: float) -> str:
    """`40 s`, `3 min`, `2 h`, `5 d` (whole units, rounded down)."""
    s = max(0, round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"


def ago(seconds: float) -> str:
    """`40 s ago`, `3 min ago`, `2 h ago`, `5 d ago`."""
    return f"{span(seconds)} ago"


def as_of_line(page: str, built: Mapping[str, datetime], now: datetime | None = None) -> tuple[str, str]:
    """The "data as of" line of a page (the oldest build among the marts its queries read: the
    page is at least that fresh) and a tooltip with each mart's time. `page`: the queries'
    page label (app.data.queries)."""
    now = now or datetime.now(UTC)
    relations = sorted({r for q in QUERIES.values() if q.page == page for r in q.relations})
    known = {r: pd.Timestamp(built[r]).to_pydatetime() for r in relations if r in built}
    if not known:
        return "Data as of: not recorded yet (it is, the next time the warehouse builds).", ""
    oldest = min(known.values())
    when = oldest.astimezone(UTC)
    shown = (
        when.strftime("%H:%M:%S UTC") if when.date() == now.date() else when.strftime("%d %b %Y %H:%M UTC")
    )
    line = f"Data as of {shown}, {ago((now - when).total_seconds())}"
    if len(known) < len(relations):
        line += f" ({len(relations) - len(known)} of its marts not recorded yet)"
    detail = "  \n".join(
        f"{r.removeprefix('analytics.')}: {t.astimezone(UTC):%d %b %H:%M:%S} UTC, {ago((now - t).total_seconds())}"
        for r, t in sorted(known.items(), key=lambda kv: kv[1])
    )
    return line, "When each mart this page reads was last built:  \n" + detail


def clock_of(frame: pd.DataFrame | None) -> datetime | None:
    """The tenant's clock from the `tenant_clock` rows (None: a live tenant, or not built yet)."""
    if frame is None or frame.empty or pd.isna(frame.iloc[0]["clock_at"]):
        return None
    return pd.Timestamp(frame.iloc[0]["clock_at"]).to_pydatetime()


def tenant_now(tenant: str, clock: datetime | None, now: datetime | None = None) -> datetime:
    """The tenant's now: a tenant holding historical data lives at its clock (the earlier of the
    clock and the real now, as the warehouse and the ML runs take it: crm.tenants)."""
    now = now or datetime.now(UTC)
    return clocked_now({tenant: clock} if clock is not None else {}, tenant, now)


def clock_line(clock: datetime | None, now: datetime) -> str:
    """What a page says of a tenant's clock ('' for a live tenant): its data ends there, and so
    does every window the page shows."""
    if clock is None or clock > now:
        return ""
    last = today(clock) - timedelta(days=1)
    return (
        f"Historical data: this workspace lives at its clock, {clock:%d %b %Y}, the end of its data; "
        f"every window here (the last 30 days, the last 3 months) ends on {last:%d %b %Y}."
    )


def today(now: datetime) -> date:
    """The UTC day of a tenant's now: the marts' days before it are complete."""
    return now.astimezone(UTC).date()


def data_as_of(page: str, freshness: pd.DataFrame | None, clock: pd.DataFrame | None = None) -> datetime:
    """Under a page title: how fresh the marts it shows are (`freshness`: the rows of the
    `mart_freshness` query, None when it cannot be read) and, for a tenant holding historical
    data, its clock (`clock`: the `tenant_clock` rows). Returns the tenant's now, which the
    page's windows are taken at."""
    built = {} if freshness is None else {str(r.relation): r.built_at for r in freshness.itertuples()}
    line, detail = as_of_line(page, built)
    st.caption(f":material/update: {line}", help=detail or None)
    real = datetime.now(UTC)
    stopped = clock_of(clock)
    history = clock_line(stopped, real)
    if history:
        st.caption(f":material/history: {history}")
    return tenant_now(tenant_id(), stopped, real)


def empty_state(message: str, hint: str = "") -> None:
    st.info(f"**{message}**" + (f"\n\n{hint}" if hint else ""), icon=":material/hourglass_empty:")


def load(
    name: str, *, empty: str = "Nothing to show yet.", hint: str = "", **params: object
) -> pd.DataFrame | None:
    """The rows of query `name` for the signed-in tenant, or None after showing a kind empty
    state (mart missing, not readable, or no rows)."""
    try:
        frame = fetch(name, tenant_id(), **params)
    except DataUnavailable as exc:
        empty_state(
            f"This view has no data yet: {exc}",
            hint or "It fills in once the warehouse (dbt) and ML jobs have run for your workspace.",
        )
        with st.expander("Details for the data team"):
            st.code(exc.detail or str(exc), language=None)
        return None
    if frame.empty:
        empty_state(empty, hint)
        return None
    _shown(name, params, frame)
    return frame


def fetch_or_none(name: str, **params: object) -> pd.DataFrame | None:
    """The rows, or None when the data is missing (for optional figures: no message shown)."""
    try:
        frame = fetch(name, tenant_id(), **params)
    except DataUnavailable:
        return None
    if frame.empty:
        return None
    _shown(name, params, frame)
    return frame


def _shown(name: str, params: dict[str, object], frame: pd.DataFrame) -> None:
    """Personal data about to be shown is recorded for the signed-in user (crm.access_log)."""
    u = user()
    record_shown(name, u.tenant_id, u.user_id, params, len(frame))


def people_shown(table: str, ids: Iterable[object]) -> dict[str, Person] | None:
    """The readable names and e-mails of the leads or customers (`table`) a page is about to
    show, opened and recorded for the signed-in user (`app.data.people`); None, after a note
    saying so, when they cannot be shown (the page names them by their labels instead)."""
    u = user()
    try:
        return people(u.tenant_id, u.user_id, table, ids)
    except PeopleUnavailable as exc:
        st.caption(f":material/lock: Names are not shown: {exc}.")
        return None


def named(frame: pd.DataFrame, table: str, id_column: str, label_column: str) -> pd.DataFrame:
    """`frame` with a `name` column: each row's person by name (else e-mail) where it can be
    shown (`people_shown`), else its pseudonymous label (`label_column`)."""
    found = people_shown(table, frame[id_column]) or {}
    names = []
    for record, label in zip(frame[id_column], frame[label_column], strict=True):
        person = found.get(str(record))
        names.append(person.label if person is not None and person.label else label)
    return frame.assign(name=names)


def with_evidence(frame: pd.DataFrame) -> pd.DataFrame:
    """Conversation signals (a `signal_id` column) with their quoted evidence in its place,
    opened from the operational store (`app.data.evidence`); left blank, after a note saying
    so, when it cannot be read."""
    try:
        found = evidence(tenant_id(), frame["signal_id"])
    except EvidenceUnavailable as exc:
        st.caption(f":material/lock: The quoted evidence is not shown: {exc}.")
        found = {}
    return frame.assign(evidence=[found.get(str(s)) for s in frame["signal_id"]]).drop(columns=["signal_id"])


def num(v: object) -> float:
    try:
        f = float(v)  # type: ignore[arg-type]  # any value: what float() rejects counts as 0
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(f) else f


def money(v: object) -> str:
    f = num(v)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(f) >= size:
            return f"${f / size:,.1f}{unit}"
    return f"${f:,.0f}"


def pct(v: object, digits: int = 1) -> str:
    return f"{num(v) * 100:.{digits}f}%"


def delta_pct(cur: float, prev: float) -> str | None:
    """Change against the previous period as a signed percentage, None when undefined."""
    if not prev:
        return None
    return f"{(cur - prev) / abs(prev) * 100:+.1f}%"


def tiles(items: Sequence[tuple], per_row: int = 4) -> None:
    """KPI tiles: (label, value, delta, help[, delta_color]). Rows of `per_row`; phones wrap
    them two by two."""
    for start in range(0, len(items), per_row):
        cols = st.columns(per_row)
        for col, item in zip(cols, items[start : start + per_row], strict=False):
            label, value, delta, help_, *rest = item
            col.metric(
                label,
                value,
                delta,
                help=help_ or None,
                delta_color=rest[0] if rest else "normal",
                border=True,
            )


def style(fig: go.Figure, height: int = 340, title: str | None = None) -> go.Figure:
    """Compact margins and a legend under the plot, so charts stay readable at phone width."""
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 40 if title else 10, "b": 8},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
        title={"text": title} if title else None,
    )
    return fig


def chart(fig: go.Figure, key: str, height: int = 340, title: str | None = None) -> None:
    st.plotly_chart(style(fig, height, title), key=key, config={"displayModeBar": False, "responsive": True})
