"""The synthetic CRM world: deterministic, scalable, with hidden truth.

    from sim import seed_world, make_plan, generate_world, PRESETS
    seed_world("S", seed=42, sink="both")

Same (scale, seed, as_of) -> byte-identical rows and events; the truth lives in `sim_truth`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.plan import PRESETS, Preset, WorldPlan, make_plan
    from sim.seed import SINKS, WorldSummary, seed_world
    from sim.world import World, generate_world

_EXPORTS = {
    "PRESETS": "sim.plan",
    "Preset": "sim.plan",
    "WorldPlan": "sim.plan",
    "make_plan": "sim.plan",
    "SINKS": "sim.seed",
    "WorldSummary": "sim.seed",
    "seed_world": "sim.seed",
    "World": "sim.world",
    "generate_world": "sim.world",
}


def __getattr__(name: str) -> Any:
    """Exports load on first use: `crm --help` (which imports `sim.cli`) stays fast."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "SINKS",
    "Preset",
    "World",
    "WorldPlan",
    "WorldSummary",
    "generate_world",
    "make_plan",
    "seed_world",
]
