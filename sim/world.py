"""Assemble a whole world in memory: per-table frames for `crm.*` and `sim_truth.*`, and one
event frame per topic. Pure function of (scale, seed, as_of)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import polars as pl

from crm.events.topics import Topic
from sim import events as ev
from sim.customers import generate_customers
from sim.deals import generate_deals
from sim.frames import ts
from sim.leads import TenantShape, generate_leads
from sim.org import build_org, tenant_row
from sim.plan import WorldPlan
from sim.renewals import generate_renewals
from sim.revenue import expected_revenue
from sim.rng import stream, uuids

TABLE_ORDER = (
    "crm.tenants",
    "crm.users",
    "crm.sales_pipelines",
    "crm.products",
    "crm.customer_segments",
    "crm.marketing_campaigns",
    "crm.customers",
    "crm.leads",
    "crm.lead_activities",
    "crm.deals",
    "crm.deal_activities",
    "crm.deal_products",
    "crm.customer_segment_memberships",
    "sim_truth.lead_truth",
    "sim_truth.customer_truth",
    "sim_truth.revenue_truth",
)
"""Insert order (parents first); deletes run in reverse."""

EVENT_TOPICS = (
    Topic.LEAD_ACTIVITIES,
    Topic.DEAL_ACTIVITIES,
    Topic.TICKETS,
    Topic.CONVERSATIONS,
    Topic.USAGE_EVENTS,
    Topic.WEB_EVENTS,
)


@dataclass
class World:
    plan: WorldPlan
    tenant_ids: list[str]
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    events: dict[str, pl.DataFrame] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            **{k: v.height for k, v in self.tables.items()},
            **{f"topic:{k}": v.height for k, v in self.events.items()},
        }


def tenant_ids(seed: int, n: int) -> list[str]:
    """Tenant ids depend on the seed only: re-seeding a seed at another scale replaces it."""
    return [str(x) for x in uuids(stream(seed, "tenants"), n)]


def generate_world(
    plan: WorldPlan,
    on_tenant: Callable[[int, int], None] | None = None,
    only: Collection[int] | None = None,
) -> World:
    """The whole world, or with `only` the tenants of those plan indexes: each tenant's rows
    depend on (seed, tenant index) alone, so generating tenants one at a time gives the same
    rows as generating them together, in a fraction of the memory (scale L)."""
    now = int(plan.now.timestamp())
    start = int(plan.history_start.timestamp())
    tids = tenant_ids(plan.seed, len(plan.tenants))
    parts: dict[str, list[pl.DataFrame]] = {k: [] for k in TABLE_ORDER}
    evparts: dict[str, list[pl.DataFrame]] = {t.value: [] for t in EVENT_TOPICS}
    tenants = []
    chosen = [
        (tp, tid) for tp, tid in zip(plan.tenants, tids, strict=True) if only is None or tp.index in only
    ]
    for tp, tid in chosen:
        org = build_org(plan, tp, tid, start, now)
        tenants.append(tenant_row(plan, tp, tid, org.created))
        shape = TenantShape.draw(plan.seed, tp.index)
        lw = generate_leads(plan.seed, tp, org, shape, start, now)
        dw = generate_deals(plan.seed, tp, org, lw, shape, now)
        cw = generate_customers(plan.seed, tp, org, lw, dw, start, now)
        churn_at = cw.customers["churned_at"].dt.epoch("s").fill_null(0).to_numpy()
        rw = generate_renewals(
            plan.seed, tp, org, dw, cw.customers["id"].to_numpy(), churn_at, cw.deal_customer, now
        )

        leads = lw.leads.with_columns(customer_id=pl.Series(cw.lead_customer.tolist(), dtype=pl.Utf8))
        deals = dw.deals.with_columns(customer_id=pl.Series(cw.deal_customer.tolist(), dtype=pl.Utf8))
        deals = pl.concat([deals, rw.deals], how="vertical_relaxed")
        deal_acts = pl.concat([dw.activities, rw.activities], how="vertical_relaxed")
        parts["crm.users"].append(org.users)
        parts["crm.sales_pipelines"].append(org.pipelines)
        parts["crm.products"].append(org.products)
        parts["crm.customer_segments"].append(org.segments)
        parts["crm.marketing_campaigns"].append(org.campaigns)
        parts["crm.customers"].append(cw.customers)
        parts["crm.leads"].append(leads)
        parts["crm.lead_activities"].append(_activity_rows(lw.activities, "lead_id"))
        parts["crm.deals"].append(deals)
        parts["crm.deal_activities"].append(_activity_rows(deal_acts, "deal_id"))
        parts["crm.deal_products"].append(pl.concat([dw.products, rw.products], how="vertical_relaxed"))
        parts["crm.customer_segment_memberships"].append(cw.memberships)
        parts["sim_truth.lead_truth"].append(lw.truth)
        parts["sim_truth.customer_truth"].append(cw.truth)
        parts["sim_truth.revenue_truth"].append(
            expected_revenue(plan.seed, tid, tp.leads, shape, lw, start, now, rw)
        )

        evparts[Topic.LEAD_ACTIVITIES].append(
            ev.activity_events(lw.activities, Topic.LEAD_ACTIVITIES, "lead_id")
        )
        evparts[Topic.DEAL_ACTIVITIES].append(ev.activity_events(deal_acts, Topic.DEAL_ACTIVITIES, "deal_id"))
        evparts[Topic.TICKETS].append(ev.ticket_events(cw.tickets))
        evparts[Topic.CONVERSATIONS].append(ev.conversation_events(cw.conversations))
        evparts[Topic.USAGE_EVENTS].append(ev.usage_events(cw.usage.with_columns(tenant_id=pl.lit(tid))))
        evparts[Topic.WEB_EVENTS].append(ev.web_events(lw.web))
        if on_tenant:
            on_tenant(tp.index + 1, len(plan.tenants))

    t = pl.DataFrame(tenants).with_columns(
        pl.col("created_at").map_batches(ts), pl.col("updated_at").map_batches(ts)
    )
    world = World(plan, [tid for _, tid in chosen])
    world.tables["crm.tenants"] = t
    for k in TABLE_ORDER[1:]:
        world.tables[k] = pl.concat(parts[k], how="vertical_relaxed")
    for k, v in evparts.items():
        # one stream per topic in time order: replaying it is replaying history
        world.events[k] = pl.concat(v).sort("t", "event_id")
    return world


def _activity_rows(acts: pl.DataFrame, entity: str) -> pl.DataFrame:
    return acts.select(
        "id",
        "tenant_id",
        entity,
        "user_id",
        "type",
        "description",
        "metadata",
        pl.from_epoch("t", time_unit="s").dt.replace_time_zone("UTC").alias("created_at"),
    )
