"""`crm-changes`: the write API's outbox, one generic change record for every entity.

Event types are `crm.<entity>.<action>`, generated from ENTITIES x ACTIONS plus SPECIFIC rather
than written by hand. Each type gets a subclass of `CrmChange` pinning `entity` and `action` to
the type's (they default to it, and must equal it if sent).
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field, create_model

from crm.events.payloads.base import Payload
from crm.events.registry import literal, register
from crm.events.topics import Topic

ENTITIES: tuple[str, ...] = (
    "lead",
    "lead_activity",
    "deal",
    "deal_activity",
    "deal_product",
    "pipeline",
    "product",
    "customer",
    "segment",
    "segment_membership",
    "campaign",
    "user",
)
ACTIONS: tuple[str, ...] = ("created", "updated", "deleted")
SPECIFIC: tuple[tuple[str, str], ...] = (
    ("lead", "converted"),
    ("deal", "stage_changed"),
    ("deal", "won"),
    ("deal", "lost"),
    ("segment", "recalculated"),
    ("campaign", "triggered"),
)
ALL_ACTIONS: tuple[str, ...] = ACTIONS + tuple(dict.fromkeys(a for _, a in SPECIFIC))

Entity = Literal[ENTITIES]  # type: ignore[valid-type]  # pydantic expands the runtime tuple
Action = Literal[ALL_ACTIONS]  # type: ignore[valid-type]  # pydantic expands the runtime tuple


class CrmChange(Payload):
    entity: Entity
    entity_id: UUID
    action: Action
    actor_id: UUID | None = None
    actor_type: Literal["user", "api_key", "system"]
    before: dict[str, Any] | None = Field(None, description="Row before the change (None on create).")
    after: dict[str, Any] | None = Field(None, description="Row after the change (None on delete).")
    changed_fields: list[str] = Field(default_factory=list)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def event_type_for(entity: str, action: str) -> str:
    return f"crm.{entity}.{action}"


MODELS: dict[str, type[CrmChange]] = {}
for _entity, _action in [(e, a) for e in ENTITIES for a in ACTIONS] + list(SPECIFIC):
    _model = create_model(
        f"Crm{_camel(_entity)}{_camel(_action)}",
        __base__=CrmChange,
        __module__=__name__,
        entity=(literal(_entity), _entity),
        action=(literal(_action), _action),
    )
    MODELS[event_type_for(_entity, _action)] = _model
    register(Topic.CRM_CHANGES, event_type_for(_entity, _action), _model)
