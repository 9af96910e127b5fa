"""The rows of one audited change, shared by every writer of the operational store (the write
API, file imports, external CRM sync): the audit_log row (actor, action, before, after) and the
outbox row (a full contract envelope built with `crm.events.build_event`) that the outbox relay
publishes after commit, and an activity row with the outbox row of its contract event
(`lead-activities` / `deal-activities`, the activity's description sealed under the tenant's
key). Functions of plain values: each writer queues the rows in its own transaction, so a change,
its audit and its event commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol
from uuid import UUID

from crm.errors import CRMError, CRMErrorCode
from crm.events import Event, build_event, key_for
from crm.events.activities import ActivityFieldError, Parent, activity_event
from crm.keys import notes
from crm.keys.keyring import Keyring
from crm.logs import current_traceparent

API_SOURCE = "crm-api"
"""The envelope `source` of changes made through the write API."""


class Actor(Protocol):
    """Who makes a change: a user or API key of a tenant, or the system (an import, a sync)."""

    @property
    def tenant_id(self) -> UUID: ...
    @property
    def actor_id(self) -> UUID | None: ...
    @property
    def actor_type(self) -> str: ...


def now() -> datetime:
    return datetime.now(UTC)


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_AS_IS = frozenset({str, int, float, bool, type(None)})
_CONVERT: dict[type, Callable[[Any], str]] = {
    UUID: str,
    datetime: _utc_text,
    Decimal: lambda v: format(v, "f"),
}


def jsonable(value: Any) -> Any:
    """A row value as JSON (uuid/datetime as text, money as a decimal string, enums by value).

    Dispatches on the exact type first (rows are plain dicts of a handful of types, and this
    runs on every value of every write); anything else takes `_jsonable_any`."""
    t = type(value)
    if t in _AS_IS:
        return value
    if t is dict:
        return {k: v if type(v) in _AS_IS else jsonable(v) for k, v in value.items()}
    conv = _CONVERT.get(t)
    if conv is not None:
        return conv(value)
    if t is list:
        return [v if type(v) in _AS_IS else jsonable(v) for v in value]
    return _jsonable_any(value)


def _jsonable_any(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (UUID,)):
        return str(value)
    if isinstance(value, datetime):
        return _utc_text(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    if not before or not after:
        return []
    skip = {"updated_at", "version"}
    return [k for k, v in after.items() if k not in skip and before.get(k) != v]


def change_rows(
    p: Actor,
    *,
    table: str,
    entity: str,
    action: str,
    entity_id: UUID,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    request_id: str | None = None,
    at: datetime | None = None,
    source: str = API_SOURCE,
) -> list[tuple[str, dict[str, Any]]]:
    """The audit_log and outbox rows of one change, as (table, row) pairs of plain values
    (JSON columns hold dicts; `insert_row` and the batcher encode them)."""
    at = at or now()
    b, a = jsonable(before), jsonable(after)
    event = build_event(
        f"crm.{entity}.{action}",
        p.tenant_id,
        {
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "actor_id": p.actor_id,
            "actor_type": p.actor_type,
            "before": b,
            "after": a,
            "changed_fields": changed_fields(b, a),
        },
        occurred_at=at,
        source=source,
    )
    audit = {
        "tenant_id": p.tenant_id,
        "actor_id": p.actor_id,
        "actor_type": p.actor_type,
        "action": action,
        "entity": table,
        "entity_id": entity_id,
        "before": b,
        "after": a,
        "request_id": request_id,
        "occurred_at": at,
    }
    return [("audit_log", audit), ("outbox", outbox_row(event, at))]


def outbox_row(event: Event, at: datetime) -> dict[str, Any]:
    """The crm.outbox row publishing `event` on its topic, keyed by the topic's key rule, with
    the trace of the request or job that wrote it (the relay sends it as a Kafka header)."""
    return {
        "event_id": event.event_id,
        "tenant_id": event.tenant_id,
        "topic": event.topic,
        "key": key_for(event).decode(),
        "event_type": event.event_type,
        "payload": event.model_dump(mode="json"),
        "created_at": at,
        "traceparent": current_traceparent(),
    }


def activity_rows(
    parent: Parent,
    act: dict[str, Any],
    typed: dict[str, Any] | None = None,
    source: str = API_SOURCE,
    ring: Keyring | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """A lead or deal activity row, its description sealed (`crm.keys.notes`; the first pair
    is the row as stored), and the outbox row of its contract event carrying it sealed (422
    naming the field when a typed field of the activity's type is missing or invalid). `act`
    holds the description readable; `typed`: the payload fields the writer knows (a stage
    change's from/to stages...); `ring`: the keys of the database written to."""
    seal = notes.sealer(act["tenant_id"], ring)
    text = act.get(notes.COLUMN)
    stored = act | {notes.COLUMN: seal(text) if text else text}
    readable = act | {"metadata": jsonable(act["metadata"])}
    try:  # the event carries the row's own sealed text
        event = activity_event(
            parent, readable, source, typed, seal=lambda t: stored[notes.COLUMN] if t == text else seal(t)
        )
    except ActivityFieldError as exc:
        raise CRMError(CRMErrorCode.VALIDATION_ERROR, str(exc), {"field": exc.field}) from None
    return [(f"{parent}_activities", stored), ("outbox", outbox_row(event, act["created_at"]))]
