"""Lead features from operational frames (crm.leads + crm.lead_activities shaped), in Polars.

The warehouse mart `analytics.ml_features__leads` is the production source; this builds the
same documented columns (`ml.schemas.LEAD_FEATURES`) straight from lead and activity frames,
for the throughput benchmark and for databases without the marts. Activities count only in
the first `WINDOW_DAYS` after creation (and before `as_of`), and proposal/contract activities
never (they follow the outcome).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

WINDOW_DAYS = 30
COUNTS = {
    "email_opens": "EMAIL_OPENED",
    "email_clicks": "EMAIL_CLICKED",
    "website_visits": "WEBSITE_VISIT",
    "form_submissions": "FORM_SUBMITTED",
    "content_downloads": "DOCUMENT_VIEWED",
    "emails_sent": "EMAIL_SENT",
    "calls_made": "CALL_MADE",
    "calls_answered": "CALL_ANSWERED",
    "meetings_scheduled": "MEETING_SCHEDULED",
    "meetings_completed": "MEETING_COMPLETED",
    "notes_added": "NOTE_ADDED",
}
CUSTOM = {
    "job_title": pl.Utf8,
    "industry": pl.Utf8,
    "employee_count": pl.Int64,
    "annual_revenue": pl.Float64,
    "funding_stage": pl.Utf8,
    "country": pl.Utf8,
}


def lead_features(
    leads: pl.DataFrame, activities: pl.DataFrame, as_of: datetime, window_days: int = WINDOW_DAYS
) -> pl.DataFrame:
    """leads: id, tenant_id, created_at, converted_at, source, custom_fields (JSON text);
    activities: lead_id, type, created_at, metadata (JSON text with response_minutes,
    duration_seconds, page_views where the type has them)."""
    asof = pl.lit(as_of).cast(pl.Datetime("us", "UTC"))
    L = leads.select(
        pl.col("tenant_id").cast(pl.Utf8),
        pl.col("id").cast(pl.Utf8).alias("lead_id"),
        pl.col("created_at").cast(pl.Datetime("us", "UTC")),
        pl.col("converted_at").cast(pl.Datetime("us", "UTC")),
        pl.col("source").cast(pl.Utf8),
        pl.col("custom_fields").str.json_decode(pl.Struct(CUSTOM)).alias("cf"),
    ).unnest("cf")
    created = L.select("lead_id", "created_at")
    meta = pl.Struct(
        {"response_minutes": pl.Float64, "duration_seconds": pl.Float64, "page_views": pl.Float64}
    )
    A = (
        activities.select(
            pl.col("lead_id").cast(pl.Utf8),
            pl.col("type").cast(pl.Utf8),
            pl.col("created_at").cast(pl.Datetime("us", "UTC")).alias("t"),
            pl.col("metadata"),
        )
        .join(created, on="lead_id", how="inner")
        .filter((pl.col("t") < pl.col("created_at") + pl.duration(days=window_days)) & (pl.col("t") < asof))
    )
    counts = A.group_by("lead_id").agg(
        [(pl.col("type") == t).sum().cast(pl.Int32).alias(name) for name, t in COUNTS.items()]
    )
    # only three activity types carry numbers in their metadata: decode just those rows
    M = (
        A.filter(pl.col("type").is_in(["EMAIL_OPENED", "CALL_ANSWERED", "WEBSITE_VISIT"]))
        .select("lead_id", "type", pl.col("metadata").str.json_decode(meta).alias("m"))
        .unnest("m")
    )
    nums = M.group_by("lead_id").agg(
        pl.col("response_minutes").filter(pl.col("type") == "EMAIL_OPENED").median().alias("response_time"),
        pl.col("duration_seconds").filter(pl.col("type") == "CALL_ANSWERED").median().alias("call_duration"),
        pl.col("page_views").filter(pl.col("type") == "WEBSITE_VISIT").mean().alias("page_views"),
    )
    out = (
        L.join(counts, on="lead_id", how="left")
        .join(nums, on="lead_id", how="left")
        .with_columns([pl.col(c).fill_null(0) for c in COUNTS])
        .with_columns(
            meeting_acceptance_rate=pl.when(pl.col("meetings_scheduled") > 0)
            .then(pl.min_horizontal(pl.col("meetings_completed") / pl.col("meetings_scheduled"), pl.lit(1.0)))
            .otherwise(None),
            converted_90d=pl.when(
                pl.col("converted_at").is_not_null()
                & (pl.col("converted_at") <= pl.col("created_at") + pl.duration(days=90))
            )
            .then(pl.lit(1, pl.Int8))
            .when(pl.col("created_at") <= asof - pl.duration(days=90))
            .then(pl.lit(0, pl.Int8))
            .otherwise(None),
        )
        .drop("converted_at")
    )
    return out
