"""Generated rows -> wire-ready events: one frame per topic with event_id, tenant_id,
event_type, occurred_at, the message key and the envelope JSON.

The JSON is built column-wise by polars (struct -> JSON per event type, then the envelope by
string concatenation), not through pydantic per event: the shapes here mirror the payload
models field for field, and tests validate samples of every event type with
`crm.events.parse_event`, so the contract still decides what is valid.
"""

from __future__ import annotations

import polars as pl

from crm.events.topics import KEY_FIELDS, Topic
from sim.frames import money_str  # noqa: F401  (re-export for callers building payloads)

SOURCE = {
    Topic.TICKETS: "ticketing",
    Topic.CONVERSATIONS: "ticketing",
    Topic.LEAD_ACTIVITIES: "sim",
    Topic.DEAL_ACTIVITIES: "sim",
    Topic.WEB_EVENTS: "web-tracker",
    Topic.USAGE_EVENTS: "product",
}
"""The producing system named in each envelope's `source`."""

EVENT_COLUMNS = ["event_id", "tenant_id", "event_type", "t", "key", "source", "payload"]


def _switch(event_type: pl.Expr, cases: dict[str, pl.Expr]) -> pl.Expr:
    out = pl.lit(None, dtype=pl.Utf8)
    for et, expr in reversed(list(cases.items())):
        out = pl.when(event_type == et).then(expr.struct.json_encode()).otherwise(out)
    return out


def _finish(df: pl.DataFrame, topic: Topic) -> pl.DataFrame:
    return df.with_columns(key=pl.col(KEY_FIELDS[topic]), source=pl.lit(SOURCE[topic])).select(EVENT_COLUMNS)


def activity_events(acts: pl.DataFrame, topic: Topic, entity: str) -> pl.DataFrame:
    """Lead or deal activities: common row fields plus the typed extras, `metadata` left {}."""
    prefix = "lead." if topic == Topic.LEAD_ACTIVITIES else "deal."
    base = pl.struct(
        pl.col("id").alias("activity_id"), pl.col(entity), "user_id", "type", "description"
    ).struct.json_encode()
    payload = pl.concat_str([base.str.strip_suffix("}"), pl.lit(","), pl.col("extras"), pl.lit("}")])
    return _finish(
        acts.with_columns(
            event_id=pl.col("id"),
            event_type=pl.lit(prefix) + pl.col("type").str.to_lowercase(),
            payload=payload,
        ),
        topic,
    )


def ticket_events(df: pl.DataFrame) -> pl.DataFrame:
    snap = [
        "ticket_id",
        "customer_id",
        "channel",
        "priority",
        "status",
        "category",
        "subject",
        "body",
        "sentiment",
        "assignee",
    ]
    cases = {
        "ticket.created": pl.struct(*snap),
        "ticket.updated": pl.struct(*snap, "first_response_minutes"),
        "ticket.resolved": pl.struct(*snap, "first_response_minutes", "resolution_minutes"),
        "ticket.csat_submitted": pl.struct("ticket_id", "customer_id", "channel", "csat", "comment"),
    }
    return _finish(df.with_columns(payload=_switch(pl.col("event_type"), cases)), Topic.TICKETS)


def conversation_events(df: pl.DataFrame) -> pl.DataFrame:
    b = ["conversation_id", "customer_id", "channel"]
    cases = {
        "conversation.started": pl.struct(*b, "subject"),
        "conversation.message": pl.struct(*b, "message_id", "direction", "author", "text", "sentiment"),
        "conversation.closed": pl.struct(*b, "message_count", "sentiment"),
    }
    return _finish(df.with_columns(payload=_switch(pl.col("event_type"), cases)), Topic.CONVERSATIONS)


def usage_events(df: pl.DataFrame, tenant_of: pl.DataFrame | None = None) -> pl.DataFrame:
    b = ["customer_id", "user_ref", "session_id"]
    cases = {
        "usage.login": pl.struct(*b),
        "usage.feature_used": pl.struct(*b, "feature", "quantity"),
        "usage.session_ended": pl.struct(*b, "duration_seconds"),
    }
    return _finish(df.with_columns(payload=_switch(pl.col("event_type"), cases)), Topic.USAGE_EVENTS)


def web_events(df: pl.DataFrame) -> pl.DataFrame:
    b = [
        "visitor_id",
        "session_id",
        "lead_id",
        "url",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "campaign_id",
    ]
    cases = {
        "web.visit": pl.struct(*b),
        "web.page_view": pl.struct(*b, "title"),
        "web.form_submit": pl.struct(*b, "form_id"),
        "web.download": pl.struct(*b, "asset_id"),
    }
    return _finish(df.with_columns(payload=_switch(pl.col("event_type"), cases)), Topic.WEB_EVENTS)


def envelope(events: pl.DataFrame) -> pl.Expr:
    """The envelope JSON (the wire bytes) of an event frame, as a string expression."""
    occurred = pl.from_epoch(pl.col("t"), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pl.concat_str(
        [
            pl.lit('{"event_id":"'),
            pl.col("event_id"),
            pl.lit('","event_type":"'),
            pl.col("event_type"),
            pl.lit('","schema_version":1,"tenant_id":"'),
            pl.col("tenant_id"),
            pl.lit('","occurred_at":"'),
            occurred,
            pl.lit('","source":"'),
            pl.col("source"),
            pl.lit('","payload":'),
            pl.col("payload"),
            pl.lit("}"),
        ]
    )
