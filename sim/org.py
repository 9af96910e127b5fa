"""The small per-tenant entities: tenant, users, pipelines, products, segments, campaigns.

These are what an admin sets up once; the big generators (leads, deals, customers) refer
to them by id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import polars as pl

from crm.enums import CampaignStatus, CampaignType, UserRole
from crm.schema.pipelines import DEFAULT_PIPELINE_NAME, DEFAULT_PIPELINE_STAGES, StageDefinition
from sim import text
from sim.frames import money, ts
from sim.plan import TenantPlan, WorldPlan
from sim.rng import DAY, stream, uuids

ENTERPRISE_STAGES: list[StageDefinition] = [
    {"name": n, "order": i + 1, "probability": p, "is_won": w, "is_lost": lo}
    for i, (n, p, w, lo) in enumerate(
        [
            ("Prospecting", 10, False, False),
            ("Qualification", 20, False, False),
            ("Needs Analysis", 30, False, False),
            ("Technical Evaluation", 45, False, False),
            ("Proposal", 60, False, False),
            ("Security Review", 70, False, False),
            ("Negotiation", 85, False, False),
            ("Closed Won", 100, True, False),
            ("Closed Lost", 0, False, True),
        ]
    )
]
"""Large deals (1000+ employees) go through a longer pipeline."""

RENEWAL_PIPELINE_NAME = "Renewals"
RENEWAL_STAGES: list[StageDefinition] = [
    {"name": n, "order": i + 1, "probability": p, "is_won": w, "is_lost": lo}
    for i, (n, p, w, lo) in enumerate(
        [
            ("Renewal Due", 70, False, False),
            ("Quote Sent", 80, False, False),
            ("Verbal Commit", 90, False, False),
            ("Closed Won", 100, True, False),
            ("Closed Lost", 0, False, True),
        ]
    )
]
"""Annual contracts come up for renewal in their own pipeline (sim.renewals)."""

SEGMENTS = [
    (
        "Active high-value",
        "Active customers paying at least 500 a month",
        {
            "all": [
                {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"},
                {"field": "mrr", "op": "gte", "value": 500},
            ]
        },
    ),
    (
        "At-risk accounts",
        "Customers flagged at risk by customer success",
        {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "AT_RISK"}]},
    ),
    (
        "Enterprise",
        "Companies with 1000 or more employees, not churned",
        {
            "all": [
                {"field": "company_size", "op": "gte", "value": 1000},
                {"field": "lifecycle_stage", "op": "neq", "value": "CHURNED"},
            ]
        },
    ),
    (
        "New customers",
        "Became customers in the last 90 days",
        {"all": [{"field": "became_customer_at", "op": "within_days", "value": 90}]},
    ),
    (
        "Tech and finance SMB",
        "Software or financial services companies under 200 employees",
        {
            "all": [
                {"field": "industry", "op": "in", "value": ["Software", "Financial Services"]},
                {"field": "company_size", "op": "lt", "value": 200},
                {
                    "any": [
                        {"field": "lifecycle_stage", "op": "eq", "value": "ACTIVE"},
                        {"field": "lifecycle_stage", "op": "eq", "value": "ONBOARDING"},
                    ]
                },
            ]
        },
    ),
]
"""Criteria: a rule tree of {"all": [...]}, {"any": [...]} and leaves {field, op, value};
ops eq, neq, in, gt, gte, lt, lte, within_days. `segment_mask` evaluates it."""


@dataclass
class Org:
    tenant_id: str
    slug: str
    created: int
    reps: np.ndarray  # user ids of sales reps
    rep_weight: np.ndarray
    users: pl.DataFrame
    pipelines: pl.DataFrame
    pipeline_stages: list[list[StageDefinition]]  # per pipeline row
    products: pl.DataFrame
    product_price: np.ndarray
    segments: pl.DataFrame
    campaigns: pl.DataFrame
    campaign_windows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    """type -> (start, end, id, utm slug), sorted by start: for lookups by time."""
    agents: np.ndarray  # support agent names (tickets)


def tenant_row(plan: WorldPlan, tp: TenantPlan, tenant_id: str, created: int) -> dict:
    return {
        "id": tenant_id,
        "slug": tp.slug,
        "name": tp.name,
        "is_active": True,
        "settings": orjson.dumps({"sim": {"seed": plan.seed, "scale": plan.scale}}).decode(),
        "created_at": created,
        "updated_at": created,
    }


def build_org(plan: WorldPlan, tp: TenantPlan, tenant_id: str, start: int, now: int) -> Org:
    rng = stream(plan.seed, "org", tp.index)
    created = start - int(rng.integers(30, 400)) * DAY

    # users
    n_reps = int(np.clip(round(np.sqrt(tp.leads) / 6), 3, 40))
    n_mgr = max(1, n_reps // 8)
    roles = (
        [UserRole.ADMIN] + [UserRole.MANAGER] * n_mgr + [UserRole.SALES_REP] * n_reps + [UserRole.ANALYST] * 2
    )
    n = len(roles)
    first, last = text.person_names(rng, n)
    uid = uuids(rng, n)
    email = np.char.add(
        np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last)),
        np.char.add(np.char.add(".", np.arange(n).astype(str)), f"@{tp.slug}.example"),
    )
    ucreated = created + rng.integers(0, 200, n) * DAY
    users = pl.DataFrame(
        {
            "id": uid,
            "tenant_id": tenant_id,
            "email": email,
            "full_name": np.char.add(np.char.add(first, " "), last),
            "role": [r.value for r in roles],
            "is_active": True,
            "created_at": ts(ucreated),
            "updated_at": ts(ucreated),
        }
    )
    rep_mask = np.array([r == UserRole.SALES_REP for r in roles])
    reps = uid[rep_mask]
    rep_weight = rng.gamma(4.0, 0.25, reps.size)

    # pipelines
    # the renewal pipeline's id comes from its own stream: the org's other draws stay as they were
    stages = [list(DEFAULT_PIPELINE_STAGES), ENTERPRISE_STAGES, RENEWAL_STAGES]
    pipe_ids = np.concatenate([uuids(rng, 2), uuids(stream(plan.seed, "renewal-pipeline", tp.index), 1)])
    pipe_created = np.array([created, created + 30 * DAY, created + 60 * DAY])
    pipelines = pl.DataFrame(
        {
            "id": pipe_ids,
            "tenant_id": tenant_id,
            "name": [DEFAULT_PIPELINE_NAME, "Enterprise", RENEWAL_PIPELINE_NAME],
            "description": [
                "Default sales pipeline",
                "Deals with companies of 1000+ employees",
                "Annual contract renewals of existing customers",
            ],
            "stages": [orjson.dumps(s).decode() for s in stages],
            "is_default": [True, False, False],
            "is_active": True,
            "created_at": ts(pipe_created),
            "updated_at": ts(pipe_created),
        }
    )

    # products (a tenant sells a subset of the catalogue at its own price level)
    k = int(rng.integers(8, len(text.PRODUCTS) + 1))
    chosen = np.sort(rng.choice(len(text.PRODUCTS), k, replace=False))
    level = float(rng.uniform(0.8, 1.5))
    price = money(np.array([text.PRODUCTS[i][2] for i in chosen]) * level)
    products = pl.DataFrame(
        {
            "id": uuids(rng, k),
            "tenant_id": tenant_id,
            "name": [text.PRODUCTS[i][0] for i in chosen],
            "description": [f"{text.PRODUCTS[i][0]} ({text.PRODUCTS[i][1].lower()})" for i in chosen],
            "sku": [f"{tp.slug[:3].upper()}-{i:03d}" for i in chosen],
            "category": [text.PRODUCTS[i][1] for i in chosen],
            "price": price,
            "currency": "USD",
            "is_active": rng.random(k) > 0.08,
            "metadata": "{}",
            "created_at": ts(np.full(k, created)),
            "updated_at": ts(np.full(k, created)),
        }
    )

    # segments
    ns = len(SEGMENTS)
    seg_ids = uuids(rng, ns)
    segments = pl.DataFrame(
        {
            "id": seg_ids,
            "tenant_id": tenant_id,
            "name": [s[0] for s in SEGMENTS],
            "description": [s[1] for s in SEGMENTS],
            "criteria": [orjson.dumps(s[2]).decode() for s in SEGMENTS],
            "is_active": True,
            "is_dynamic": True,
            "customer_count": 0,  # filled after customers exist
            "last_calculated": ts(np.full(ns, now)),
            "created_at": ts(np.full(ns, created + 10 * DAY)),
            "updated_at": ts(np.full(ns, now)),
        }
    )

    # campaigns: per type, consecutive windows tiling the history (+ one scheduled)
    rows: list[dict] = []
    windows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    size_factor = max(1.0, np.sqrt(tp.leads / 1000))
    for ct in CampaignType:
        n_c = int(np.clip(round(rng.uniform(3, 6) * size_factor**0.5), 3, 14))
        edges = np.sort(rng.uniform(start, now, n_c - 1))
        starts = np.concatenate([[start], edges]).astype(np.int64)
        ends = np.concatenate([edges, [now + int(rng.integers(10, 60)) * DAY]]).astype(np.int64)
        ids = uuids(rng, n_c)
        slugs = np.array([f"{ct.value.lower()}-{tp.slug.split('-')[0]}-{j + 1:02d}" for j in range(n_c)])
        windows[ct.value] = (starts, ends, ids, slugs)
        budget = money(rng.lognormal(np.log(8000 if ct != CampaignType.PAID_ADS else 25000), 0.6, n_c))
        for j in range(n_c):
            done = ends[j] <= now
            frac = 1.0 if done else (now - starts[j]) / max(1, ends[j] - starts[j])
            status = CampaignStatus.COMPLETED if done else CampaignStatus.ACTIVE
            if done and rng.random() < 0.08:
                status = CampaignStatus.CANCELLED
            seg = seg_ids[int(rng.integers(0, ns))] if ct in (CampaignType.EMAIL, CampaignType.SMS) else None
            spent = float(money(budget[j] * frac * rng.uniform(0.75, 1.05)))
            rows.append(
                {
                    "id": ids[j],
                    "tenant_id": tenant_id,
                    "name": f"{ct.value.title().replace('_', ' ')} campaign {j + 1} ({slugs[j]})",
                    "description": f"utm_campaign={slugs[j]}",
                    "type": ct.value,
                    "status": status.value,
                    "segment_id": seg,
                    "start_date": int(starts[j]),
                    "end_date": int(ends[j]),
                    "budget": float(budget[j]),
                    "spent": spent,
                    "metrics": orjson.dumps(
                        {"utm_campaign": str(slugs[j]), "impressions": int(budget[j] * rng.uniform(20, 60))}
                    ).decode(),
                    "created_at": int(starts[j] - 14 * DAY),
                    "updated_at": int(min(ends[j], now)),
                }
            )
    # a few that never ran: drafts, scheduled, paused
    for status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED):
        ct = list(CampaignType)[int(rng.integers(0, len(CampaignType)))]
        s0 = now + int(rng.integers(5, 40)) * DAY
        cid = uuids(rng, 1)[0]
        rows.append(
            {
                "id": cid,
                "tenant_id": tenant_id,
                "name": f"{ct.value.title()} campaign ({status.value.lower()})",
                "description": None,
                "type": ct.value,
                "status": status.value,
                "segment_id": seg_ids[0],
                "start_date": s0 if status != CampaignStatus.DRAFT else None,
                "end_date": s0 + 30 * DAY if status != CampaignStatus.DRAFT else None,
                "budget": float(money(rng.uniform(2000, 10000))),
                "spent": 0.0,
                "metrics": "{}",
                "created_at": now - 3 * DAY,
                "updated_at": now - DAY,
            }
        )
    camp = pl.DataFrame(rows, infer_schema_length=None)
    campaigns = camp.with_columns(
        pl.from_epoch("start_date", time_unit="s").dt.replace_time_zone("UTC"),
        pl.from_epoch("end_date", time_unit="s").dt.replace_time_zone("UTC"),
        pl.from_epoch("created_at", time_unit="s").dt.replace_time_zone("UTC"),
        pl.from_epoch("updated_at", time_unit="s").dt.replace_time_zone("UTC"),
    )

    agents = np.char.add("agent.", np.char.lower(text.person_names(rng, 12)[0]))
    return Org(
        tenant_id,
        tp.slug,
        created,
        reps,
        rep_weight,
        users,
        pipelines,
        stages,
        products,
        price,
        segments,
        campaigns,
        windows,
        agents,
    )


def campaign_at(org: Org, ctype: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Campaign id and utm slug of the `ctype` campaign running at each time."""
    starts, _ends, ids, slugs = org.campaign_windows[ctype]
    i = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
    return ids[i], slugs[i]


def segment_mask(criteria: dict, cols: dict[str, np.ndarray], now: int) -> np.ndarray:
    """Evaluate a criteria tree over column arrays (the simulator's reference evaluator)."""
    if "all" in criteria:
        out = np.ones(len(next(iter(cols.values()))), dtype=bool)
        for c in criteria["all"]:
            out &= segment_mask(c, cols, now)
        return out
    if "any" in criteria:
        out = np.zeros(len(next(iter(cols.values()))), dtype=bool)
        for c in criteria["any"]:
            out |= segment_mask(c, cols, now)
        return out
    v = cols[criteria["field"]]
    op, val = criteria["op"], criteria["value"]
    if op == "eq":
        return v == val
    if op == "neq":
        return v != val
    if op == "in":
        return np.isin(v, val)
    if op == "within_days":
        return (v >= now - val * DAY) & (v <= now)
    num = np.where(np.isnan(v.astype(float)), -np.inf, v.astype(float))
    return {
        "gt": num > val,
        "gte": num >= val,
        "lt": (num < val) & np.isfinite(num),
        "lte": (num <= val) & np.isfinite(num),
    }[op]
