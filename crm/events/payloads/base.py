"""Base of every payload model: unknown fields are errors (a typo must not silently drop data)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
