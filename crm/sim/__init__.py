"""The synthetic CRM world: deterministic, scalable, with hidden truth (see DESIGN.md).

    from crm.sim import seed_world, make_plan, generate_world, PRESETS
    seed_world("S", seed=42, sink="both")

Same (scale, seed, as_of) -> byte-identical rows and events; the truth lives in `sim_truth`.
"""

from crm.sim.plan import PRESETS, Preset, WorldPlan, make_plan
from crm.sim.seed import SINKS, WorldSummary, seed_world
from crm.sim.world import World, generate_world

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
