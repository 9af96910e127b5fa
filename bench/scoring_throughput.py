"""`make bench-scoring`: 1M leads featurized by the warehouse, scored, explained and written.

    python -m bench.scoring_throughput [--leads 1000000] [--database-url URL] [--out PATH]

The features come from the one place that defines them, the dbt mart
`analytics.ml_features__leads`; scoring runs the production functions (`ml.marts`,
`ml.lead.score_chunks`, `ml.scoring.write`: streamed COPY into ml.lead_scores).

Untimed set-up: operational-shaped rows generated with numpy (leads in crm.leads with their
custom fields, ~6 landed activity events each in raw.lead_activities, as the landers write
them), the mart's upstream models built (staging views and the event facts, which grow
incrementally as events land, so a scoring cycle does not pay for them; `upstream_dbt_s`), and
a lead model trained on a 100k-lead sample of the mart. Timed, each phase separately:
`features_dbt_s` (`dbt run -s ml_features__leads`, the dbt process's wall clock, start-up
included), `read_features_s` (the mart into Polars), `score_explain_write_s` (score,
confidence, factors with contributions, recommendations, next best actions, COPY). `seconds`
is their sum. Writes bench/results/scoring.json (with peak_rss_mb of this process; dbt's and
Postgres' memory are not in it).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import psycopg

from bench.server import server_info

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
REP_TYPES = (
    "EMAIL_SENT",
    "CALL_MADE",
    "CALL_ANSWERED",
    "MEETING_SCHEDULED",
    "MEETING_COMPLETED",
    "NOTE_ADDED",
)
"""Activities a sales rep records (their events carry the rep's user id)."""
REP = "00000000-0000-4000-8000-00000000be01"
FEATURES = "ml_features__leads"
TENANTS = ["00000000-0000-4000-8000-00000000b001", "00000000-0000-4000-8000-00000000b002"]


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random uuids as 32-digit hex text (Postgres reads uuids without dashes)."""
    return np.frombuffer(rng.bytes(16 * n).hex().encode(), dtype="S32").astype(str)


def _ts(epoch_s: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(epoch_s.astype(np.int64)), time_unit="s").dt.replace_time_zone("UTC")


def make_world(
    n: int, tenants: list[str], seed: int = 7, chunk: int = 200_000
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(crm.leads rows, raw.lead_activities rows), `chunk` leads at a time: leads of a latent
    propensity that drives both their engagement and their conversion."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        yield _chunk(rng, min(chunk, n - start), tenants)


def _chunk(rng: np.random.Generator, n: int, tenants: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    ids = _uuids(rng, n)
    z = -2.7 + 1.8 * rng.standard_normal(n)
    created = AS_OF.timestamp() - rng.uniform(0, 730, n) * 86400
    conv = rng.random(n) < 1 / (1 + np.exp(-z))
    conv_at = np.where(conv, created + rng.gamma(2.5, 13, n) * 86400, np.nan)
    conv = conv & (conv_at < AS_OF.timestamp())
    emp = np.round(np.exp(3.6 + 1.5 * rng.standard_normal(n))).astype(int)
    custom = pl.DataFrame(
        {
            "job_title": np.array(["CTO", "VP Sales", "Analyst", "Manager"])[rng.integers(0, 4, n)],
            "industry": np.array(["Software", "Retail", "Healthcare", "Finance", "Logistics", "Education"])[
                rng.integers(0, 6, n)
            ],
            "employee_count": emp,
            "annual_revenue": emp * 150_000.0,
            "funding_stage": np.array(["Seed", "Series A", "Series B", "Public"])[rng.integers(0, 4, n)],
            "country": np.array(["US", "DE", "FR", "GB", "IN"])[rng.integers(0, 5, n)],
        }
    )
    tenant = np.array(tenants)[rng.integers(0, len(tenants), n)]
    leads = pl.DataFrame(
        {
            "id": ids,
            "tenant_id": tenant,
            "email": pl.Series(ids).str.slice(0, 12) + "@bench.example",
            "source": np.array(["website", "referral", "event", "paid"])[rng.integers(0, 4, n)],
            "status": np.where(conv, "CONVERTED", "NEW"),
            "custom_fields": custom.select(pl.struct(pl.all()).struct.json_encode()).to_series(),
            "converted_at": _ts(np.nan_to_num(conv_at)),
            "created_at": _ts(created),
        }
    ).with_columns(converted_at=pl.when(pl.Series(conv)).then(pl.col("converted_at")))
    k = rng.poisson(6 * np.exp(0.5 * (z + 2.7)) / np.exp(0.5**2 * 1.8**2 / 2))
    lead_idx = np.repeat(np.arange(n), k)
    m = lead_idx.size
    typ = TYPES[rng.choice(len(TYPES), m, p=SHARE / SHARE.sum())]
    t = np.minimum(created[lead_idx] + rng.exponential(15, m) * 86400, AS_OF.timestamp() - 1)
    extra = np.full(m, "", dtype=object)
    for kind, field, values in (
        ("EMAIL_OPENED", '"metadata": {"response_minutes": ', lambda s: np.round(rng.exponential(200, s), 1)),
        ("CALL_ANSWERED", '"duration_seconds": ', lambda s: rng.integers(30, 1800, s)),
        ("WEBSITE_VISIT", '"page_views": ', lambda s: rng.integers(1, 8, s)),
    ):
        sel = typ == kind
        close = "}" if kind == "EMAIL_OPENED" else ""
        extra[sel] = np.char.add(np.char.add(", " + field, values(int(sel.sum())).astype(str)), close)
    user = np.where(np.isin(typ, REP_TYPES), f'"{REP}"', "null")
    payload = (
        pl.DataFrame({"typ": typ, "lead": ids[lead_idx], "user": user, "extra": extra.astype(str)})
        .select(
            pl.format('{{"type": "{}", "lead_id": "{}", "user_id": {}{}}}', "typ", "lead", "user", "extra")
        )
        .to_series()
    )
    events = pl.DataFrame(
        {
            "event_id": _uuids(rng, m),
            "tenant_id": tenant[lead_idx],
            "event_type": np.char.add("lead.", np.char.lower(typ)),
            "schema_version": 1,
            "occurred_at": _ts(t),
            "source": "bench",
            "payload": payload,
        }
    )
    return leads, events


def _copy(conn: psycopg.Connection, table: str, df: pl.DataFrame, rows: int = 250_000) -> None:
    cols = ", ".join(df.columns)
    with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv, NULL '\\N')") as cp:
        for part in df.iter_slices(rows):
            buf = io.BytesIO()
            part.write_csv(buf, include_header=False, null_value="\\N", datetime_format="%Y-%m-%dT%H:%M:%S%z")
            cp.write(buf.getvalue())


def land(url: str, world: Iterator[tuple[pl.DataFrame, pl.DataFrame]]) -> tuple[int, int]:
    """The bench tenants' leads and activity events, replaced; (leads, events) landed."""
    n_leads = n_events = 0
    with psycopg.connect(url) as conn:
        for t in TENANTS:
            conn.execute(
                "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (t, f"bench-{t[-4:]}", f"Bench {t[-4:]}"),
            )
        conn.execute("DELETE FROM crm.leads WHERE tenant_id = ANY(%s::uuid[])", (TENANTS,))
        conn.execute("DELETE FROM raw.lead_activities WHERE tenant_id = ANY(%s::uuid[])", (TENANTS,))
        for leads, events in world:
            _copy(conn, "crm.leads", leads)
            _copy(conn, "raw.lead_activities", events)
            n_leads, n_events = n_leads + leads.height, n_events + events.height
        conn.commit()
        conn.execute("ANALYZE crm.leads, raw.lead_activities")
    return n_leads, n_events


def dbt_seconds(url: str, work: Path, *select: str) -> float:
    """Wall clock of `dbt run <select>` (as of the bench's day)."""
    from warehouse.dbt import run_dbt

    t = time.perf_counter()
    done = run_dbt(
        ["run", *select, "--vars", f"{{as_of: '{AS_OF.date()}'}}"],
        url,
        target_path=work / "target",
        log_path=work / "logs",
        capture=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"dbt run {' '.join(select)} failed:\n{done.stdout[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--database-url")
    ap.add_argument("--out", default=str(RESULTS / "scoring.json"))
    args = ap.parse_args()
    from contextlib import ExitStack

    from ml import lead, marts, scoring
    from ml.specs import LEAD

    with ExitStack() as stack:
        if args.database_url:
            url = args.database_url
        else:
            from crm.schema.testing import scratch_database

            url = stack.enter_context(scratch_database("bench_scoring"))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scoring-")))
        t0 = time.perf_counter()
        n_leads, n_events = land(url, make_world(args.leads, TENANTS))
        upstream = dbt_seconds(url, work, "-s", f"+{FEATURES}", "--exclude", FEATURES)
        print(f"landed {n_leads} leads, {n_events} activity events; upstream models {upstream:.1f}s")

        phases: dict[str, float] = {"features_dbt_s": dbt_seconds(url, work, "-s", FEATURES)}
        t = time.perf_counter()
        feats = pl.concat([marts.lead_frame(url, t) for t in TENANTS])
        phases["read_features_s"] = time.perf_counter() - t

        sample = feats.sort("lead_id").head(100_000)
        model = lead.train(sample, AS_OF, seed=1).model
        setup = time.perf_counter() - t0 - sum(phases.values())

        t = time.perf_counter()
        written = 0
        for tenant, frame in feats.partition_by("tenant_id", as_dict=True).items():
            chunks = lead.score_chunks(frame, model, "lead_scoring@bench", AS_OF)
            written += scoring.write(url, LEAD, tenant[0], chunks)
        phases["score_explain_write_s"] = time.perf_counter() - t
        seconds = sum(phases.values())
        with psycopg.connect(url) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM ml.lead_scores WHERE tenant_id = ANY(%s::uuid[])", (TENANTS,)
            ).fetchone()[0]
        server = server_info(url)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "leads": written,
        "stored": stored,
        "activity_events": n_events,
        "seconds": round(seconds, 2),
        "leads_per_s": round(written / seconds),
        "peak_rss_mb": round(peak),
        **{k: round(v, 2) for k, v in phases.items()},
        "timed": "features_dbt_s (dbt run -s ml_features__leads) + read_features_s + score_explain_write_s",
        "upstream_dbt_s": round(upstream, 1),
        "setup_s": round(setup, 1),
        "target": "<= 60 s, <= 4096 MB",
        "meets_target": seconds <= 60 and peak <= 4096,
        "note": "2 cores; seconds move with whatever else runs",
        "server": server,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
