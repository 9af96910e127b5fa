"""Stage definitions stored in `crm.sales_pipelines.stages` (a jsonb array).

The seed keeps a deal's `stage` as free text checked against its pipeline's stages, and the
stage carries the default probability a deal gets when it enters it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict


class StageDefinition(TypedDict):
    name: str
    order: int
    probability: int
    """Default deal probability (0-100) on entering the stage."""
    is_won: bool
    is_lost: bool


def _stage(
    order: int, name: str, probability: int, *, won: bool = False, lost: bool = False
) -> StageDefinition:
    return {"name": name, "order": order, "probability": probability, "is_won": won, "is_lost": lost}


DEFAULT_PIPELINE_STAGES: list[StageDefinition] = [
    _stage(1, "Prospecting", 10),
    _stage(2, "Qualification", 20),
    _stage(3, "Needs Analysis", 40),
    _stage(4, "Proposal", 60),
    _stage(5, "Negotiation", 80),
    _stage(6, "Closed Won", 100, won=True),
    _stage(7, "Closed Lost", 0, lost=True),
]
"""The pipeline a new tenant starts with (name it `DEFAULT_PIPELINE_NAME`, `is_default`)."""

DEFAULT_PIPELINE_NAME = "Sales"


def validate_stages(stages: Sequence[Mapping[str, object]]) -> list[str]:
    """Reasons a stage list is unusable (empty list: fine). Used by the API before writing, on
    stages as a client sent them (any mapping), so each key is looked up, never assumed."""
    errors: list[str] = []
    if not stages:
        return ["a pipeline needs at least one stage"]
    names = [s.get("name") for s in stages]
    if len(set(names)) != len(names):
        errors.append("stage names must be unique")
    orders = [s.get("order") for s in stages]
    if len(set(orders)) != len(orders):
        errors.append("stage orders must be unique")
    for s in stages:
        p = s.get("probability")
        if not isinstance(p, int) or not 0 <= p <= 100:
            errors.append(f"stage {s.get('name')!r}: probability must be an integer 0-100")
        if s.get("is_won") and s.get("is_lost"):
            errors.append(f"stage {s.get('name')!r}: cannot be both won and lost")
    return errors
