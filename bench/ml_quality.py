"""`make bench-ml`: train and evaluate every model on a seeded world and measure it against
the world's hidden truth (sim_truth), which no model ever sees.

    python -m bench.ml_quality --scale M --seed 42 [--database-url URL] [--keep]

Seeds the world (sink raw) into a scratch database, builds the dbt marts, trains per tenant
with the same code as production (`ml.lead`, `ml.churn`, `ml.forecast`) and writes
bench/results/ml.json. Pooled over tenants: each tenant's model scores its own holdout (leads:
the newest fifth; churn: every customer at the latest snapshot, out of fold, 5 models per
tenant: ~1,500 churners instead of ~350, so the figure is not a draw of one holdout).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # thread pools spin badly on a shared 2-core machine

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

CAUSE_CATEGORY = {
    "low_usage": "usage",
    "poor_support": "support",
    "disengagement": "engagement",
    "financial": "financial",
}
"""The simulator's churn causes -> the HealthFactor category their traces show up in
(sim/customers.py CAUSE_CATEGORY)."""
RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {
    "lead_auc_vs_oracle": 0.95,
    "lead_auc_over_nb": 0.05,
    "lead_ece_max": 0.03,
    "churn_auc_vs_oracle": 0.95,
    "churn_cause_top3_min": 0.70,
    "forecast_gain_over_naive": 0.30,
}


def _truth(url: str, table: str, cols: str) -> pl.DataFrame:
    from ml import store

    return store.read_query(url, f"SELECT {cols} FROM sim_truth.{table}")


def _ceiling(model, train: pl.DataFrame, target: np.ndarray, hold: pl.DataFrame, seed: int) -> np.ndarray:
    """Diagnostic only: the best ranking the *features* allow, estimated by regressing the
    hidden truth on them (boosted trees on the model's inputs, encoded as the linear family
    does). Never used by a model; it shows how much of the oracle's AUC is observable at all."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from ml.linear import Encoder

    train, hold = model.frame(train), model.frame(hold)  # custom properties as the model reads them
    enc = Encoder(list(model.numeric), list(model.categorical)).fit(train)
    reg = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=seed)
    reg.fit(enc.transform(train), target)
    return reg.predict(enc.transform(hold))


def evaluate(
    url: str, as_of: datetime, seed: int, min_conversions: int = 120, min_churners: int = 50
) -> dict:
    from crm.errors import CRMError
    from ml import churn, lead, marts, store
    from ml.metrics import auc, ece
    from ml.schemas import customer_category

    out: dict = {"per_tenant": {}}
    tenants = store.tenants(url)
    leads = marts.lead_frame(url)
    lt = _truth(url, "lead_truth", "lead_id::text, propensity")
    ys, ps, nbs, zs, cs = [], [], [], [], []
    t0 = time.perf_counter()
    for t in tenants:
        frame = leads.filter(pl.col("tenant_id") == t)
        try:
            r = lead.train(frame, as_of, seed, min_conversions=min_conversions)
        except CRMError as exc:
            out["per_tenant"].setdefault(t, {})["lead"] = exc.message
            continue
        h = r.holdout.join(lt, on="lead_id", how="left")
        train_rows = lead.labeled(frame, as_of).head(lead.labeled(frame, as_of).height - r.holdout.height)
        train_rows = train_rows.join(lt, on="lead_id", how="left")
        cs.append(_ceiling(r.model, train_rows, train_rows["propensity"].to_numpy(), r.holdout, seed))
        ys.append(h["converted_90d"].to_numpy())
        ps.append(r.holdout_pred)
        nbs.append(r.model.baseline.predict(r.holdout))
        zs.append(h["propensity"].to_numpy())
        out["per_tenant"].setdefault(t, {})["lead"] = {
            **r.metrics,
            "family": r.params["family"],
            "oracle_auc": auc(ys[-1], zs[-1]),
        }
    print(f"lead models: {time.perf_counter() - t0:.0f}s", flush=True)
    y, p, nb, z, cz = (np.concatenate(a) for a in (ys, ps, nbs, zs, cs))
    out.update(
        lead_auc=auc(y, p),
        lead_oracle_auc=auc(y, z),
        nb_baseline_auc=auc(y, nb),
        lead_ece=ece(y, p),
        lead_feature_ceiling_auc=auc(y, cz),
        lead_holdout_rows=int(y.size),
        lead_seconds=time.perf_counter() - t0,
    )

    t0 = time.perf_counter()
    cust = marts.customer_frame(url, current=False)
    ct = _truth(url, "customer_truth", "customer_id::text, latent_health, churn_cause")
    ys, ps, hs, chs, hits, hits1, n_churners = [], [], [], [], 0, 0, 0
    for t in tenants:
        cf = cust.filter(pl.col("tenant_id") == t)
        tenant_y, tenant_p, tenant_h = [], [], []
        # cross-validated: each fold of the customers at the latest snapshot is scored by a
        # model trained without any of their rows, so every churner counts, not a fifth
        for fold in range(churn.HOLDOUT_FOLDS):
            try:
                r = churn.train(cf, seed, min_churners=min_churners, fold=fold)
            except CRMError as exc:
                out["per_tenant"].setdefault(t, {})["churn"] = exc.message
                break
            h = r.holdout.join(ct, on="customer_id", how="left")
            rest = cf.filter(
                pl.col("churned_90d").is_not_null()
                & ~pl.col("customer_id").is_in(r.holdout["customer_id"].implode())
            ).join(ct, on="customer_id", how="left")
            chs.append(-_ceiling(r.model, rest, rest["latent_health"].to_numpy(), r.holdout, seed))
            yy = h["churned_90d"].to_numpy()
            tenant_y.append(yy)
            tenant_p.append(r.holdout_pred)
            tenant_h.append(-h["latent_health"].to_numpy())
            _, contrib = r.model.model.contributions(r.holdout)
            ranking = churn.category_ranking(contrib, r.model.model.inputs)
            causes = h["churn_cause"].to_list()
            for i in np.flatnonzero(yy == 1):
                cause = causes[i]
                if cause is None:
                    continue
                cat = CAUSE_CATEGORY.get(cause, cause)
                n_churners += 1
                # top-3 factors: the three strongest churn-raising inputs, by category
                order = np.argsort(-contrib[i])[:3]
                cats3 = {customer_category(r.model.model.inputs[j]) for j in order if contrib[i, j] > 0}
                hits += cat in cats3
                hits1 += ranking[i][0] == cat
            if fold == churn.HOLDOUT_FOLDS - 1:  # the holdout the registry sees
                out["per_tenant"].setdefault(t, {})["churn"] = {
                    **r.metrics,
                    "family": r.params["family"],
                    "oracle_auc": auc(yy, tenant_h[-1]),
                }
        if len(tenant_y) == churn.HOLDOUT_FOLDS:
            ty, tp, th = (np.concatenate(a) for a in (tenant_y, tenant_p, tenant_h))
            out["per_tenant"][t]["churn"].update(cv_auc=auc(ty, tp), cv_oracle_auc=auc(ty, th))
            ys.append(ty)
            ps.append(tp)
            hs.append(th)
    print(f"churn models: {time.perf_counter() - t0:.0f}s", flush=True)
    y, p, hh, ch = (np.concatenate(a) for a in (ys, ps, hs, chs))
    out.update(
        churn_auc=auc(y, p),
        churn_oracle_auc=auc(y, hh),
        churn_ece=ece(y, p),
        churn_feature_ceiling_auc=auc(y, ch),
        churn_cause_top3=hits / max(n_churners, 1),
        churn_cause_top1_category=hits1 / max(n_churners, 1),
        churn_holdout_churners=n_churners,
        churn_evaluation=f"{churn.HOLDOUT_FOLDS}-fold cross-validated over the customers at the latest snapshot",
        churn_seconds=time.perf_counter() - t0,
    )

    forecast_figures, per_tenant = evaluate_forecast(url, seed)
    for t, f in per_tenant.items():
        out["per_tenant"].setdefault(t, {})["forecast"] = f
    out.update(forecast_figures)
    return out


def evaluate_forecast(url: str, seed: int) -> tuple[dict, dict]:
    """Weekly MAPE over the last 90 days per tenant, of the forecast (the method its own
    backtest picks, from what the CRM showed at the first held-out day) and of the seasonal
    naive baseline on the same weeks; Prophet alone and the hidden expected revenue (the
    oracle, never fed to a model) as diagnostics. Means over tenants, and per tenant."""
    from ml import forecast, store

    t0 = time.perf_counter()
    fm, nm, pm, om = [], [], [], []
    per_tenant: dict = {}
    truth = _truth(url, "revenue_truth", "tenant_id::text, day, expected_revenue::float8 AS e")
    for t in store.tenants(url):
        h = forecast.load_history(url, t)
        if len(h.series) < forecast.MIN_HISTORY_DAYS + forecast.HORIZON:
            continue
        # held out: the last 90 days; everything else (model choice included) sees only what
        # the CRM showed at the first of them
        origin = h.series["ds"].iloc[-forecast.HORIZON]
        past = h.at(origin)
        a = h.series["y"].to_numpy()[-forecast.HORIZON :]
        trained = forecast.train(past, seed)
        method = trained.params["method"] if isinstance(trained, forecast.Trained) else "prophet"
        fc = forecast.predict(past, method, forecast.HORIZON, seed)["yhat"].to_numpy()
        prophet = forecast.predict(past, "prophet", forecast.HORIZON, seed)["yhat"].to_numpy()
        days = {d: e for d, e in truth.filter(pl.col("tenant_id") == t).select("day", "e").iter_rows()}
        oracle = np.array([days.get(d.date(), np.nan) for d in h.series["ds"].iloc[-forecast.HORIZON :]])
        fm.append(forecast.weekly_mape(a, fc))
        nm.append(forecast.weekly_mape(a, forecast.seasonal_naive(past.series, forecast.HORIZON)))
        pm.append(forecast.weekly_mape(a, prophet))
        om.append(forecast.weekly_mape(a, oracle))
        per_tenant[t] = {
            "mape": fm[-1],
            "seasonal_naive_mape": nm[-1],
            "method": method,
            "prophet_only_mape": pm[-1],
            "oracle_mape": om[-1],
            "backtest": trained.metrics if isinstance(trained, forecast.Trained) else trained,
        }
    figures = {
        "forecast_mape": float(np.mean(fm)),
        "seasonal_naive_mape": float(np.mean(nm)),
        "forecast_prophet_only_mape": float(np.mean(pm)),
        "forecast_oracle_mape": float(np.nanmean(om)),
        "forecast_seconds": time.perf_counter() - t0,
    }
    return figures, per_tenant


def verdict(r: dict) -> dict:
    return {
        "lead_auc >= 0.95 x oracle": r["lead_auc"] >= TARGETS["lead_auc_vs_oracle"] * r["lead_oracle_auc"],
        "lead_auc >= nb + 0.05": r["lead_auc"] >= r["nb_baseline_auc"] + TARGETS["lead_auc_over_nb"],
        "lead_ece <= 0.03": r["lead_ece"] <= TARGETS["lead_ece_max"],
        "churn_auc >= 0.95 x oracle": r["churn_auc"]
        >= TARGETS["churn_auc_vs_oracle"] * r["churn_oracle_auc"],
        "churn_cause_top3 >= 0.70": r["churn_cause_top3"] >= TARGETS["churn_cause_top3_min"],
        "forecast_mape <= 0.7 x seasonal_naive": r["forecast_mape"]
        <= (1 - TARGETS["forecast_gain_over_naive"]) * r["seasonal_naive_mape"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="M")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--as-of", default="2026-11-23")
    ap.add_argument("--database-url", help="use this (already seeded + dbt-built) database")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--out", default=str(RESULTS / "ml.json"))
    ap.add_argument("--min-conversions", type=int, default=120, help="lower only for smoke runs at scale S")
    ap.add_argument("--min-churners", type=int, default=50, help="lower only for smoke runs at scale S")
    args = ap.parse_args()
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    as_of_d = date.fromisoformat(args.as_of)
    as_of = datetime(as_of_d.year, as_of_d.month, as_of_d.day, tzinfo=UTC)
    timings: dict[str, float] = {}
    if args.database_url:
        url = args.database_url
        r = evaluate(url, as_of, args.seed, args.min_conversions, args.min_churners)
    else:
        from contextlib import ExitStack

        from crm.schema.testing import scratch_database
        from sim import seed_world
        from warehouse.dbt import run_dbt

        with ExitStack() as stack:
            if args.keep:
                import uuid

                import psycopg

                from crm.schema.testing import server_url, with_database

                name = f"bench_ml_{args.seed}_{uuid.uuid4().hex[:6]}"
                with psycopg.connect(server_url(), autocommit=True) as c:
                    c.execute(f'CREATE DATABASE "{name}"')
                url = with_database(server_url(), name)
                from crm.migrate import upgrade

                upgrade(url)
                print("database kept:", url)
            else:
                url = stack.enter_context(scratch_database("bench_ml"))
            t = time.perf_counter()
            seed_world(args.scale, args.seed, as_of_d, database_url=url, sink="raw", progress=True)
            timings["seed_s"] = time.perf_counter() - t
            t = time.perf_counter()
            run_dbt(
                ["build", "--vars", f"{{as_of: '{args.as_of}'}}", "--exclude", "resource_type:test"],
                url,
                capture=True,
            )
            timings["dbt_s"] = time.perf_counter() - t
            r = evaluate(url, as_of, args.seed, args.min_conversions, args.min_churners)
    r.update(
        seed=args.seed,
        scale=args.scale,
        as_of=args.as_of,
        timings=timings,
        targets=verdict(r),
        note="2 shared cores; timings are noisy, quality figures are deterministic for a seed",
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(r, indent=2, default=float))
    keys = (
        "lead_auc",
        "lead_oracle_auc",
        "nb_baseline_auc",
        "lead_ece",
        "churn_auc",
        "churn_oracle_auc",
        "churn_cause_top3",
        "forecast_mape",
        "seasonal_naive_mape",
        "forecast_prophet_only_mape",
        "forecast_oracle_mape",
        "lead_feature_ceiling_auc",
        "churn_feature_ceiling_auc",
    )
    for k in keys:
        print(f"{k:22s} {r[k]:.4f}")
    for k, ok in r["targets"].items():
        print(f"{'PASS' if ok else 'MISS'}  {k}")


if __name__ == "__main__":
    main()
