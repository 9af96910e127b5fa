"""Scale presets and the per-tenant plan derived from them.

The plan is computed before anything is generated, so tests can check the M and L volumes
without generating them, and so every generator draws exact totals (multinomial allocation)
instead of hoping Poisson rates add up to the preset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

EVENTS_PER_TICKET = 2.9
"""created + ~0.55 updated + ~0.95 resolved + ~0.4 csat (measured on generated worlds)."""
EVENTS_PER_CONVERSATION = 4.6
"""started + ~2.6 messages + closed."""
EVENTS_PER_DEAL = 12.3
"""created, assigned, stage changes, probability changes, touches, won/lost (measured)."""


@dataclass(frozen=True)
class Preset:
    """Volumes of one scale. `lead_activities`, `tickets`, `customers`, `leads`,
    `usage_events` and `web_events` are exact; `deals` (new business) is exact unless
    conversions exceed it. Renewal deals (sim.renewals) come on top: about a quarter more."""

    name: str
    tenants: int
    leads: int
    lead_activities: int
    deals: int
    customers: int
    tickets: int
    conversations: int
    usage_events: int
    web_events: int
    history_days: int = 730
    weights: tuple[float, ...] | None = None
    """Each tenant's share of every volume (default: `TENANT_WEIGHTS` for the tenant count)."""

    @property
    def expected_events(self) -> int:
        """All events produced (every topic but crm-changes), as planned."""
        return int(
            self.lead_activities
            + self.deals * EVENTS_PER_DEAL
            + self.tickets * EVENTS_PER_TICKET
            + self.conversations * EVENTS_PER_CONVERSATION
            + self.usage_events
            + self.web_events
        )


PRESETS: dict[str, Preset] = {
    "S": Preset("S", 3, 2_000, 20_000, 400, 1_000, 3_500, 1_200, 7_000, 6_500),
    "D": Preset("D", 3, 5_000, 50_000, 1_000, 2_500, 8_750, 3_000, 17_500, 16_250, weights=(2.0, 0.3, 0.2)),
    "M": Preset("M", 5, 100_000, 1_000_000, 20_000, 50_000, 300_000, 120_000, 1_200_000, 330_000),
    "L": Preset("L", 5, 1_000_000, 4_000_000, 150_000, 300_000, 700_000, 250_000, 1_200_000, 1_300_000),
}
"""S: tests (~50k events). D: the demo (~135k events), S with its first tenant four times as
large: Borealis and Cobalt are S's small tenants, whose lead, deal and churn scores come from the
rules, and Acme a mid-market one (4,000 leads, 800 new-business deals and 2,000 customers over
two years) with the history every model's minimum asks for (120 conversions, 200 won and 200
lost deals, 50 churners at a snapshot), as a vendor's scoring does (Salesforce Einstein: 120
conversions; 200 won and 200 lost opportunities). M: benchmarks and ML quality (~4.2M events,
<= 3 min). L: volume tests (~10M events)."""

TENANT_WEIGHTS: dict[int, tuple[float, ...]] = {
    3: (0.5, 0.3, 0.2),
    5: (0.34, 0.24, 0.18, 0.13, 0.11),
}
"""Tenants differ in size on purpose: per-tenant models and dashboards must cope with both."""

TENANT_NAMES = (
    ("Acme Analytics", "acme"),
    ("Borealis Health", "borealis"),
    ("Cobalt Logistics", "cobalt"),
    ("Driftwood Retail", "driftwood"),
    ("Evergreen Finance", "evergreen"),
)


def apportion(total: int, weights: tuple[float, ...] | np.ndarray) -> list[int]:
    """Largest-remainder split of `total` by `weights` (sums exactly to `total`)."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum()
    base = np.floor(raw).astype(int)
    rest = total - int(base.sum())
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return [int(x) for x in base]


@dataclass(frozen=True)
class TenantPlan:
    index: int
    name: str
    slug: str
    leads: int
    lead_activities: int
    deals: int
    customers: int
    tickets: int
    conversations: int
    usage_events: int
    web_events: int


@dataclass(frozen=True)
class WorldPlan:
    scale: str
    seed: int
    as_of: date
    preset: Preset
    tenants: list[TenantPlan] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        """The world's "now": midnight UTC at the start of `as_of`. Nothing happens after it."""
        return datetime(self.as_of.year, self.as_of.month, self.as_of.day, tzinfo=UTC)

    @property
    def history_start(self) -> datetime:
        return self.now - timedelta(days=self.preset.history_days)

    def totals(self) -> dict[str, int]:
        keys = (
            "leads",
            "lead_activities",
            "deals",
            "customers",
            "tickets",
            "conversations",
            "usage_events",
            "web_events",
        )
        return {k: sum(getattr(t, k) for t in self.tenants) for k in keys}

    def params(self) -> dict:
        return {"preset": asdict(self.preset), "tenants": [asdict(t) for t in self.tenants]}


def default_as_of() -> date:
    """Today's UTC date: the only wall-clock input of the simulator."""
    return datetime.now(UTC).date()


def make_plan(scale: str = "S", seed: int = 42, as_of: date | None = None) -> WorldPlan:
    """The per-tenant volumes of a world. Pure: no randomness, no I/O."""
    key = scale.upper()
    if key not in PRESETS:
        raise ValueError(f"unknown scale {scale!r}: choose one of {', '.join(PRESETS)}")
    preset = PRESETS[key]
    weights = preset.weights or TENANT_WEIGHTS[preset.tenants]
    split = {
        k: apportion(getattr(preset, k), weights)
        for k in (
            "leads",
            "lead_activities",
            "deals",
            "customers",
            "tickets",
            "conversations",
            "usage_events",
            "web_events",
        )
    }
    tenants = [
        TenantPlan(
            index=i,
            name=TENANT_NAMES[i][0],
            slug=f"{TENANT_NAMES[i][1]}-{seed}",
            **{k: v[i] for k, v in split.items()},
        )
        for i in range(preset.tenants)
    ]
    return WorldPlan(key, seed, as_of or default_as_of(), preset, tenants)
