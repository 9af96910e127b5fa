"""Valid events of every data topic, deterministic per seed: for the lander's tests, the
ingest benchmark and smoke checks (the synthetic world in `sim` is the realistic source)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

from crm.events import Event, build_event

_NS = uuid.UUID("6f1d0c5e-4a55-4c1b-9d7e-3c0a1c2b7e11")


def _id(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def sample_payload(topic_index: int, rng: random.Random) -> tuple[str, dict]:
    entity = _id(rng)
    match topic_index:
        case 0:
            return "ticket.created", {
                "ticket_id": entity,
                "customer_id": _id(rng),
                "channel": "EMAIL",
                "subject": "Cannot export the quarterly report",
                "body": "Export fails with a timeout.",
                "sentiment": -0.3,
            }
        case 1:
            return "conversation.message", {
                "conversation_id": entity,
                "customer_id": _id(rng),
                "channel": "CHAT",
                "direction": "inbound",
                "author": "jane@example.com",
                "text": "Hi, can we add ten more seats this month?",
                "sentiment": 0.4,
            }
        case 2:
            return "lead.website_visit", {
                "activity_id": _id(rng),
                "lead_id": entity,
                "type": "WEBSITE_VISIT",
                "url": "https://example.com/pricing",
                "page_views": rng.randint(1, 6),
                "utm_source": "google",
                "utm_medium": "cpc",
                "utm_campaign": "spring-launch",
            }
        case 3:
            return "deal.stage_changed", {
                "activity_id": _id(rng),
                "deal_id": entity,
                "type": "STAGE_CHANGED",
                "from_stage": "QUALIFIED",
                "to_stage": "PROPOSAL",
                "probability": 40,
            }
        case 4:
            return "web.page_view", {
                "visitor_id": f"v-{rng.getrandbits(40):x}",
                "session_id": f"s-{rng.getrandbits(40):x}",
                "url": "https://example.com/features/forecasting",
                "title": "Forecasting",
                "utm_source": "newsletter",
                "utm_medium": "email",
                "utm_campaign": "november",
            }
        case 5:
            return "usage.feature_used", {
                "customer_id": entity,
                "user_ref": f"u-{rng.randint(1, 5000)}",
                "feature": "dashboards",
                "quantity": rng.randint(1, 20),
            }
        case _:
            return "crm.customer.updated", {
                "entity": "customer",
                "entity_id": entity,
                "action": "updated",
                "actor_type": "user",
                "actor_id": _id(rng),
                "before": {"tier": "SMB"},
                "after": {"tier": "MID_MARKET"},
                "changed_fields": ["tier"],
            }


def sample_events(
    n: int,
    tenants: list[UUID],
    *,
    seed: int = 7,
    topics: int = 7,
    start: datetime | None = None,
) -> Iterator[Event]:
    """`n` valid events spread round-robin over the first `topics` data topics."""
    rng = random.Random(seed)
    start = start or datetime.now(UTC) - timedelta(days=30)
    for i in range(n):
        event_type, payload = sample_payload(i % topics, rng)
        yield build_event(
            event_type,
            tenants[i % len(tenants)],
            payload,
            start + timedelta(seconds=i),
            "sample",
            event_id=uuid.uuid5(_NS, f"{seed}:{i}"),
        )
