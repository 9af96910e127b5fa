"""The contract event of a stored CRM activity (a `crm.lead_activities` or `crm.deal_activities`
row), so that a write made through the CRM is an event like any other.

The row's id is the event's `event_id` and its `activity_id`: a re-sent event lands once (the
landing's key), and another system reporting the same activity under the same `activity_id` is
counted once by the warehouse (it keeps the first report of each activity). The payload is the
type's own model: its typed fields come from the writer (`typed`), else from the row's metadata
under the field's own name, else from what the CRM knows of the activity (`DEFAULTS`); a typed
field with none of these (a website visit without its url) is an error naming
`metadata.<field>`. With `seal`, the description and the fields defaulted from it carry it sealed
(`crm.keys.notes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from crm.events.build import build_event
from crm.events.envelope import Event
from crm.events.registry import get_spec
from crm.keys.notes import COPIES, Sealer, title_of

Parent = Literal["lead", "deal"]

BASE_FIELDS = frozenset({"activity_id", "lead_id", "deal_id", "user_id", "type", "description", "metadata"})
"""Fields every activity payload takes from the row itself."""

DEFAULTS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "email_id": lambda row: str(row["id"]),
    "meeting_id": lambda row: str(row["id"]),
    "form_id": lambda row: str(row["id"]),
    "document_id": lambda row: str(row["id"]),
    "duration_seconds": lambda row: 0,
    "scheduled_for": lambda row: row["created_at"],
    "title": lambda row: title_of(str(row["description"]), None),
    "note": lambda row: row["description"],
}
"""What the CRM knows of a logged activity when the writer gives no value for a required
typed field: its own id as the e-mail/meeting/form/document id, no duration, the time it was
logged, its description as title and note."""


class ActivityFieldError(ValueError):
    """A typed field of an activity is missing or invalid; `field` is its path in the request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def event_type_of(parent: Parent, activity_type: str) -> str:
    """`("lead", "EMAIL_SENT")` -> `lead.email_sent`."""
    return f"{parent}.{activity_type.lower()}"


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def activity_event(
    parent: Parent,
    row: Mapping[str, Any],
    source: str,
    typed: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    seal: Sealer | None = None,
) -> Event:
    """The event of one activity row (id, tenant_id, lead_id or deal_id, user_id, type,
    description, metadata, created_at), its description readable; `seal` seals it and its
    copies in the payload. Raises ActivityFieldError for a typed field the contract refuses or
    that has no value."""
    activity_type = str(_value(row["type"]))
    event_type = event_type_of(parent, activity_type)
    model: type[BaseModel] = get_spec(event_type).payload_model
    metadata = dict(row.get("metadata") or {})
    given = dict(typed or {})
    description = row.get("description") or ""
    sealed = seal(description) if seal is not None else description
    payload: dict[str, Any] = {
        "activity_id": row["id"],
        f"{parent}_id": row[f"{parent}_id"],
        "user_id": row.get("user_id"),
        "description": sealed,
        "metadata": metadata,
    }
    for name, info in model.model_fields.items():
        if name in BASE_FIELDS:
            continue
        if name in given:
            payload[name] = given[name]
        elif metadata.get(name) is not None:
            payload[name] = metadata[name]
        elif seal is not None and name in COPIES and row.get("description") is not None:
            payload[name] = sealed if name == "note" else title_of(description, seal, sealed)
        elif name in DEFAULTS:
            payload[name] = DEFAULTS[name](row)
        elif info.is_required():
            raise ActivityFieldError(f"metadata.{name}", f"required for a {activity_type} activity")
    try:
        return build_event(
            event_type,
            row["tenant_id"],
            payload,
            occurred_at=occurred_at or row["created_at"],
            source=source,
            event_id=row["id"],
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        name = loc[loc.index("payload") + 1] if "payload" in loc and loc[-1] != "payload" else loc[-1]
        where = name if name in given or name in BASE_FIELDS else f"metadata.{name}"
        raise ActivityFieldError(where, err["msg"]) from None
