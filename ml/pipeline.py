"""What the open pipeline says about the coming weeks' won revenue, learnt from the tenant's
own history of point-in-time pipeline snapshots.

A series of past revenue cannot know which large deals are about to close, or which
contracts come up for renewal next month; the CRM can. At a forecast origin `o` the deals
open at `o` (created before it, not closed before it) carry their value, their pipeline, the
stage they were in at `o` (from the stage transitions) and the expected close date. From
weekly origins in the past whose next weeks are fully observed, per pipeline, we learn
(counting deals, not dollars, so that one huge deal does not set a rate):

- P(won within the horizon | stage band at the origin, expected close relative to it);
- P(won in week k | won within the horizon, expected-close band);
- `new_share[k]`: the share of week k's won revenue that came from deals created after the
  origin: about 0 next week, about 1 after two months for new business (the sales cycle),
  still small three months out for renewals (opened 75-120 days before they are due).

So week k's expected revenue = sum(open value x P(win) x P(week k)) + new_share[k] x the
level forecast (ml.forecast). Everything is as of the origin: deals created, closed and stage
changes after it are invisible, and learning origins end a horizon before it, so a backtest
at a past origin sees exactly what the CRM showed then. One approximation: a deal's current
value and expected close date stand for the ones it had then (the simulator never changes
them after creation; a CRM whose reps edit them should snapshot them).

Input frames (`ml.marts.pipeline_frames`):
  deals: deal_id, pipeline_id, created_at, closed_at (null while open), is_won, deal_value,
         expected_close_date, lead_id (optional)
  transitions: deal_id, entered_at, stage_probability (0-100)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from ml.scalars import float_or, min_of

STEP_DAYS = 7
STAGE_BANDS = (25.0, 50.0, 75.0)
"""Stage default probability bands: <25, 25-50, 50-75, >=75 (pipelines differ in stage count)."""
CLOSE_BANDS = (0, 7, 14, 21, 35, 56, 84)
"""Expected close date minus origin, days: overdue, this week, next, ..., 12 weeks and later."""
PRIOR = 10.0
"""Pseudo-deals of the pooled rate a cell's rate is shrunk towards (small tenants, rare cells)."""
MIN_ORIGINS = 8
"""Fewer learning origins than this (about 7 months of history): no pipeline model."""
PIPELINE_DRIVEN = 0.5
"""A pipeline whose deals created after the origin bring less than this share of its revenue
in the horizon's last week is forecast from its open deals (renewals), not from its level."""
NAIVE_TS = pl.Datetime("us")


def prepare(deals: pl.DataFrame, transitions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed, naive-UTC copies of the two input frames (a deal's `deal_value` as `value`)."""
    d = deals.select(
        pl.col("deal_id").cast(pl.Utf8),
        (pl.col("pipeline_id").cast(pl.Utf8) if "pipeline_id" in deals.columns else pl.lit(None, pl.Utf8))
        .fill_null("-")
        .alias("pipeline"),
        pl.col("created_at").cast(NAIVE_TS),
        pl.col("closed_at").cast(NAIVE_TS),
        pl.col("is_won").cast(pl.Boolean).fill_null(False),
        pl.col("deal_value").cast(pl.Float64).fill_null(0.0).alias("value"),
        pl.col("expected_close_date").cast(pl.Date).cast(NAIVE_TS),
        (pl.col("lead_id").cast(pl.Utf8) if "lead_id" in deals.columns else pl.lit(None, pl.Utf8)).alias(
            "lead_id"
        ),
    )
    t = transitions.select(
        pl.col("deal_id").cast(pl.Utf8),
        pl.col("entered_at").cast(NAIVE_TS),
        pl.col("stage_probability").cast(pl.Float64),
    ).sort("entered_at")
    return d, t


def as_of(
    deals: pl.DataFrame, transitions: pl.DataFrame, origin: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The two frames as the CRM showed them at `origin` (prepared frames in, prepared out)."""
    later = pl.col("closed_at").is_null() | (pl.col("closed_at") >= origin)
    d = deals.filter(pl.col("created_at") < origin).with_columns(
        closed_at=pl.when(later).then(None).otherwise(pl.col("closed_at")),
        is_won=pl.when(later).then(False).otherwise(pl.col("is_won")),
    )
    return d, transitions.filter(pl.col("entered_at") < origin)


def snapshots(deals: pl.DataFrame, transitions: pl.DataFrame, origins: list[datetime]) -> pl.DataFrame:
    """One row per (origin, deal open at the origin): pipeline, value, stage band, expected-close
    band, and (for learning) the week after the origin in which it was won, if it was."""
    o = pl.DataFrame({"origin": pl.Series(origins, dtype=NAIVE_TS)})
    snap = (
        o.join(deals, how="cross")
        .filter(
            (pl.col("created_at") < pl.col("origin"))
            & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= pl.col("origin")))
        )
        .sort("origin")
    )
    snap = snap.join_asof(
        transitions,
        left_on="origin",
        right_on="entered_at",
        by="deal_id",
        strategy="backward",
        check_sortedness=False,
    )
    days = (pl.col("expected_close_date") - pl.col("origin")).dt.total_days()
    return snap.with_columns(
        stage_band=pl.col("stage_probability").fill_null(10.0).cut(list(STAGE_BANDS), left_closed=True),
        close_band=days.fill_null(0).cut(list(CLOSE_BANDS), left_closed=True),
        won_week=pl.when(pl.col("is_won"))
        .then((pl.col("closed_at") - pl.col("origin")).dt.total_days() // STEP_DAYS)
        .otherwise(None),
    ).select("origin", "deal_id", "pipeline", "value", "stage_band", "close_band", "won_week")


@dataclass
class PipelineModel:
    """Learnt rates of one tenant; `expected` turns a snapshot into weekly revenue."""

    weeks: int
    win: pl.DataFrame  # pipeline, stage_band, close_band, p_win
    timing: pl.DataFrame  # pipeline, close_band, week, p_week
    new_share: dict[str, np.ndarray]  # pipeline -> share per week
    origins: int

    def driven(self, pipeline: str) -> bool:
        """Forecast from its open deals only (renewal-like): see PIPELINE_DRIVEN."""
        share = self.new_share.get(pipeline)
        return share is not None and float(share[-1]) < PIPELINE_DRIVEN

    def expected(self, snap: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Expected revenue per week from the open deals of `snap`, and its variance (the
        deals' outcomes as independent Bernoulli draws)."""
        mean, var = np.zeros(self.weeks), np.zeros(self.weeks)
        if snap.height == 0:
            return mean, var
        s = snap.join(self.win, on=["pipeline", "stage_band", "close_band"], how="left").with_columns(
            pl.col("p_win").fill_null(float_or(self.win["p_win"].mean(), 0.0))
        )
        w = s.join(self.timing, on=["pipeline", "close_band"], how="inner").with_columns(
            q=pl.col("p_win") * pl.col("p_week")
        )
        g = w.group_by("week").agg(
            m=(pl.col("value") * pl.col("q")).sum(),
            v=(pl.col("value") ** 2 * pl.col("q") * (1 - pl.col("q"))).sum(),
        )
        for wk, m, v in g.iter_rows():
            mean[wk], var[wk] = m, v
        return mean, var


def learning_origins(first: datetime, origin: datetime, weeks: int) -> list[datetime]:
    """Weekly origins, the newest exactly `weeks` weeks before `origin` (so their outcomes are
    known at `origin`), back to 4 weeks after `first`."""
    out, o = [], origin - timedelta(days=weeks * STEP_DAYS)
    while o >= first + timedelta(days=28):
        out.append(o)
        o -= timedelta(days=STEP_DAYS)
    return out[::-1]


def fit(deals: pl.DataFrame, transitions: pl.DataFrame, origin: datetime, weeks: int) -> PipelineModel | None:
    """Learn the rates from prepared frames as of `origin`; None when there are fewer than
    MIN_ORIGINS learning origins (not enough history for the pipeline to be trusted)."""
    if deals.height == 0:
        return None
    origins = learning_origins(min_of(deals["created_at"], datetime), origin, weeks)
    if len(origins) < MIN_ORIGINS:
        return None
    snap = snapshots(deals, transitions, origins).with_columns(
        hit=pl.col("won_week").is_not_null() & (pl.col("won_week") < weeks)
    )
    base = float_or(snap["hit"].mean(), 0.0)
    by_close = snap.group_by("pipeline", "close_band").agg(h=pl.col("hit").sum(), n=pl.len())
    by_close = by_close.with_columns(p_close=(pl.col("h") + PRIOR * base) / (pl.col("n") + PRIOR))
    win = (
        snap.group_by("pipeline", "stage_band", "close_band")
        .agg(h=pl.col("hit").sum(), n=pl.len())
        .join(by_close.select("pipeline", "close_band", "p_close"), on=["pipeline", "close_band"])
        .with_columns(p_win=(pl.col("h") + PRIOR * pl.col("p_close")) / (pl.col("n") + PRIOR))
        .select("pipeline", "stage_band", "close_band", "p_win")
    )
    won = snap.filter(pl.col("hit"))
    pooled = _week_counts(won, weeks)
    pooled = pooled / max(pooled.sum(), 1.0)
    rows = []
    for pipe, band in (
        snap.select("pipeline", "close_band").unique().sort("pipeline", "close_band").iter_rows()
    ):
        counts = _week_counts(
            won.filter((pl.col("pipeline") == pipe) & (pl.col("close_band") == band)), weeks
        )
        p = (counts + PRIOR * pooled) / (counts.sum() + PRIOR)
        rows += [
            {"pipeline": pipe, "close_band": band, "week": k, "p_week": float(p[k])} for k in range(weeks)
        ]
    timing = pl.DataFrame(rows).with_columns(pl.col("close_band").cast(snap["close_band"].dtype))
    shares = {
        p: new_share(deals.filter(pl.col("pipeline") == p), origins, weeks)
        for p in sorted(deals["pipeline"].unique().to_list())
    }
    return PipelineModel(weeks, win, timing, shares, len(origins))


def _week_counts(df: pl.DataFrame, weeks: int) -> np.ndarray:
    counts = np.zeros(weeks)
    for wk, n in df.group_by("won_week").len().iter_rows():
        counts[int(wk)] = n
    return counts


def new_share(deals: pl.DataFrame, origins: list[datetime], weeks: int) -> np.ndarray:
    """Share of won revenue in week k after an origin that came from deals created after it
    (1 where nothing was won: no evidence that open deals matter)."""
    won = deals.filter(pl.col("is_won")).select("created_at", "closed_at", "value")
    o = pl.DataFrame({"origin": pl.Series(origins, dtype=NAIVE_TS)})
    x = (
        o.join(won, how="cross")
        .with_columns(week=(pl.col("closed_at") - pl.col("origin")).dt.total_days() // STEP_DAYS)
        .filter((pl.col("closed_at") >= pl.col("origin")) & (pl.col("week") < weeks))
        .group_by("week")
        .agg(
            total=pl.col("value").sum(),
            new=pl.col("value").filter(pl.col("created_at") >= pl.col("origin")).sum(),
        )
    )
    share = np.ones(weeks)
    for wk, total, new in x.iter_rows():
        if total > 0:
            share[int(wk)] = new / total
    return share
