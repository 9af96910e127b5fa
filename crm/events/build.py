"""Building events in Python (simulator, API outbox, tests) with the same validation as the wire."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

import crm.events.payloads  # noqa: F401  (fills the registry)
from crm.events.envelope import Event
from crm.events.registry import get_spec


def build_event(
    event_type: str,
    tenant_id: UUID,
    payload: Mapping[str, Any] | BaseModel,
    occurred_at: datetime,
    source: str,
    event_id: UUID | None = None,
    schema_version: int | None = None,
) -> Event:
    """A validated, typed Event (latest schema version of the type unless given).
    Raises KeyError for an unknown type/version, pydantic.ValidationError for bad fields.
    Pass a deterministic `event_id` for reproducible streams (e.g. uuid5 or a seeded RNG)."""
    spec = get_spec(event_type, schema_version)
    if isinstance(payload, BaseModel) and not isinstance(payload, spec.payload_model):
        payload = payload.model_dump()  # e.g. a generic CrmChange for a pinned crm.* subtype
    return spec.event_model.model_validate(
        {
            "event_id": event_id or uuid4(),
            "event_type": event_type,
            "schema_version": spec.schema_version,
            "tenant_id": tenant_id,
            "occurred_at": occurred_at,
            "source": source,
            "payload": payload,
        }
    )
