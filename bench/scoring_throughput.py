"""`make bench-scoring`: 1M leads featurized, scored, explained and written to ml.lead_scores.

    python -m bench.scoring_throughput [--leads 1000000] [--database-url URL]

Untimed set-up: operational-shaped frames (leads + ~6 activities each, with the activity
metadata JSON the warehouse reads) generated with numpy, and a lead model trained on a
100k-lead sample of them. Timed: `ml.featurize.lead_features` -> `ml.lead.score` (score,
confidence, factors with contributions, recommendations, next best actions) ->
`ml.store.replace_tenants` (COPY into ml.lead_scores). Writes bench/results/scoring.json
(leads, seconds, leads_per_s, peak_rss_mb, per-phase seconds).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

RESULTS = Path(__file__).resolve().parent / "results"
AS_OF = datetime(2026, 11, 23, tzinfo=UTC)
TYPES = np.array(
    [
        "EMAIL_SENT",
        "EMAIL_OPENED",
        "EMAIL_CLICKED",
        "WEBSITE_VISIT",
        "CALL_MADE",
        "CALL_ANSWERED",
        "MEETING_SCHEDULED",
        "MEETING_COMPLETED",
        "FORM_SUBMITTED",
        "DOCUMENT_VIEWED",
        "NOTE_ADDED",
    ]
)
SHARE = np.array([0.21, 0.17, 0.07, 0.18, 0.10, 0.05, 0.03, 0.02, 0.04, 0.05, 0.08])


def make_world(n: int, tenants: list[str], seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array(
        [str(uuid.UUID(int=int(a) << 64 | int(b), version=4)) for a, b in rng.integers(0, 2**62, size=(n, 2))]
    )
    z = -2.7 + 1.8 * rng.standard_normal(n)
    created = AS_OF.timestamp() - rng.uniform(0, 730, n) * 86400
    conv = rng.random(n) < 1 / (1 + np.exp(-z))
    conv_at = np.where(conv, created + rng.gamma(2.5, 13, n) * 86400, np.nan)
    conv_at = np.where(conv_at < AS_OF.timestamp(), conv_at, np.nan)
    ind = np.array(["Software", "Retail", "Healthcare", "Finance", "Logistics", "Education"])[
        rng.integers(0, 6, n)
    ]
    emp = np.round(np.exp(3.6 + 1.5 * rng.standard_normal(n))).astype(int)
    cf = pl.DataFrame(
        {
            "job_title": np.array(["CTO", "VP Sales", "Analyst", "Manager"])[rng.integers(0, 4, n)],
            "industry": ind,
            "employee_count": emp,
            "annual_revenue": emp * 150_000.0,
            "funding_stage": np.array(["Seed", "Series A", "Series B", "Public"])[rng.integers(0, 4, n)],
            "country": np.array(["US", "DE", "FR", "GB", "IN"])[rng.integers(0, 5, n)],
        }
    )
    leads = pl.DataFrame(
        {
            "id": ids,
            "tenant_id": np.array(tenants)[rng.integers(0, len(tenants), n)],
            "created_at": pl.from_epoch(
                pl.Series(created.astype(np.int64)), time_unit="s"
            ).dt.replace_time_zone("UTC"),
            "converted_at": pl.from_epoch(
                pl.Series(np.nan_to_num(conv_at, nan=0).astype(np.int64)), time_unit="s"
            ).dt.replace_time_zone("UTC"),
            "source": np.array(["website", "referral", "event", "paid"])[rng.integers(0, 4, n)],
            "custom_fields": cf.select(pl.struct(pl.all()).struct.json_encode()).to_series(),
        }
    ).with_columns(
        pl.when(pl.Series(conv)).then(pl.col("converted_at")).otherwise(None).alias("converted_at")
    )
    k = rng.poisson(6 * np.exp(0.5 * (z + 2.7)) / np.exp(0.5**2 * 1.8**2 / 2))
    lead_idx = np.repeat(np.arange(n), k)
    m = lead_idx.size
    typ = TYPES[rng.choice(len(TYPES), m, p=SHARE / SHARE.sum())]
    t = created[lead_idx] + rng.exponential(15, m) * 86400
    meta = np.full(m, "{}", dtype=object)
    sel = typ == "EMAIL_OPENED"
    meta[sel] = np.char.add(
        np.char.add('{"response_minutes":', np.round(rng.exponential(200, sel.sum()), 1).astype(str)), "}"
    )
    sel = typ == "CALL_ANSWERED"
    meta[sel] = np.char.add(
        np.char.add('{"duration_seconds":', rng.integers(30, 1800, sel.sum()).astype(str)), "}"
    )
    sel = typ == "WEBSITE_VISIT"
    meta[sel] = np.char.add(np.char.add('{"page_views":', rng.integers(1, 8, sel.sum()).astype(str)), "}")
    acts = pl.DataFrame(
        {
            "lead_id": ids[lead_idx],
            "type": typ,
            "created_at": pl.from_epoch(
                pl.Series(np.minimum(t, AS_OF.timestamp() - 1).astype(np.int64)), time_unit="s"
            ).dt.replace_time_zone("UTC"),
            "metadata": pl.Series(meta.astype(str)),
        }
    )
    return leads, acts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--database-url")
    ap.add_argument("--out", default=str(RESULTS / "scoring.json"))
    args = ap.parse_args()
    from contextlib import ExitStack

    import psycopg

    from ml import featurize, lead, store

    tenants = ["00000000-0000-4000-8000-00000000b001", "00000000-0000-4000-8000-00000000b002"]
    with ExitStack() as stack:
        if args.database_url:
            url = args.database_url
        else:
            from crm.schema.testing import scratch_database

            url = stack.enter_context(scratch_database("bench_scoring"))
        with psycopg.connect(url) as conn:
            for t in tenants:
                conn.execute(
                    "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (t, t[-4:], t[-4:]),
                )
        t0 = time.perf_counter()
        leads, acts = make_world(args.leads, tenants)
        sample = featurize.lead_features(leads.head(100_000), acts, AS_OF)
        model = lead.train(sample, AS_OF, seed=1).model
        setup = time.perf_counter() - t0
        print(f"set-up {setup:.1f}s: {leads.height} leads, {acts.height} activities")

        phases: dict[str, float] = {}
        start = time.perf_counter()
        feats = featurize.lead_features(leads, acts, AS_OF)
        phases["featurize_s"] = time.perf_counter() - start
        t = time.perf_counter()
        written = store.replace_tenants_stream(
            url,
            "ml.lead_scores",
            tenants,
            lead.COLUMNS,
            lead.score_chunks(feats, model, "lead_scoring@bench", AS_OF),
        )
        phases["score_explain_write_s"] = time.perf_counter() - t
        seconds = time.perf_counter() - start
        with psycopg.connect(url) as conn:
            stored = conn.execute("SELECT count(*) FROM ml.lead_scores").fetchone()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "leads": written,
        "stored": stored,
        "activities": acts.height,
        "seconds": round(seconds, 2),
        "leads_per_s": round(written / seconds),
        "peak_rss_mb": round(peak),
        **{k: round(v, 2) for k, v in phases.items()},
        "setup_s": round(setup, 1),
        "target": "<= 60 s, <= 4096 MB",
        "meets_target": seconds <= 60 and peak <= 4096,
        "note": "2 cores shared with other engineers' jobs: seconds are noisy",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
