"""Renewals: customers won through the pipeline sign annual contracts, and each contract comes
up for renewal a year after the deal closed, as a deal in the tenant's "Renewals" pipeline.

Real CRMs carry this recurring revenue next to new business, and it is the part of next
quarter's revenue a CRM knows best: the renewal deal is opened 75-120 days before the contract
ends, its expected close date is the contract's end and its value the current contract's
(log change N(+0.03, 0.12): price increases, seats added or removed, so values stay as heavy
tailed as the deals they renew). Whether it renews is not known in advance: a customer who
churns (sim.customers decides when, from its hidden health) before the renewal deal is
opened gets none, and one who churns while it is open loses it ("Did not renew"); the others
sign around the end date (N(-3, 5) days, weekend closes mostly moved to a working day). A renewed
contract comes up again a year later. Customers that became customers without a deal
(self-serve) or before the history (the base) bill monthly: no renewal deals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import polars as pl

from crm.enums import DealActivityType as DAT
from sim import text
from sim.deals import DealWorld, deal_activity_frame
from sim.frames import NULL, money, opt, ts
from sim.org import RENEWAL_STAGES, Org
from sim.plan import TenantPlan
from sim.rng import DAY, HOUR, stream, uuids, weekend_shift

TERM_DAYS = 365
OPEN_BEFORE_DAYS = (75, 120)
UPLIFT = (0.03, 0.12)
CLOSE_OFFSET_DAYS = (-3.0, 5.0)
LOST_REASON = "Did not renew"
STAGE = {s["name"]: s for s in RENEWAL_STAGES}
TRUTH_AHEAD_DAYS = 120
"""Renewal slots are listed (for the hidden expected revenue) up to this far past `now`."""
RENEWAL_PIPELINE_INDEX = 2
"""Row of the Renewals pipeline in `Org.pipelines`."""


@dataclass
class RenewalWorld:
    deals: pl.DataFrame
    products: pl.DataFrame
    activities: pl.DataFrame
    due_day: np.ndarray  # contract end day (epoch days) of every renewal slot, to TRUTH_AHEAD_DAYS
    due_value: np.ndarray  # value of the contract up for renewal (before the uplift)
    renewed: np.ndarray  # 1 renewed, 0 not (churned before or while open), nan not decided yet


def generate_renewals(
    seed: int,
    tp: TenantPlan,
    org: Org,
    dw: DealWorld,
    customer_ids: np.ndarray,
    churn_at: np.ndarray,
    deal_customer: np.ndarray,
    now: int,
) -> RenewalWorld:
    """`customer_ids`/`churn_at` (epoch seconds, 0 if not churned) describe the customers;
    `deal_customer` is the customer of each won deal (None otherwise)."""
    rng = stream(seed, "renewals", tp.index)
    churn_of = dict(
        zip(customer_ids.tolist(), np.where(churn_at > 0, churn_at, np.iinfo(np.int64).max), strict=True)
    )
    orig = np.flatnonzero(dw.won & ~np.equal(deal_customer, NULL))
    churn = np.array([churn_of.get(c, np.iinfo(np.int64).max) for c in deal_customer[orig]], dtype=np.int64)
    anchor = dw.close_at[orig] // DAY
    value = dw.value[orig].astype(float)
    ratio = np.ones(orig.size)
    owner = dw.deals["assigned_user_id"].to_numpy()[orig]
    company = np.array([n.split(" - ")[0] for n in dw.deals["name"].to_numpy()[orig]], dtype=object)
    cust = deal_customer[orig]

    parts: list[dict[str, np.ndarray]] = []
    slots: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    alive = np.ones(orig.size, bool)
    term = 1
    while alive.any():
        due = (anchor + term * TERM_DAYS) * DAY
        opened = due - (rng.uniform(*OPEN_BEFORE_DAYS, orig.size) * DAY).astype(np.int64)
        opened = (opened // DAY) * DAY + (np.clip(rng.normal(11, 2, orig.size), 8, 18) * HOUR).astype(
            np.int64
        )
        counted = alive & (due < now + TRUTH_AHEAD_DAYS * DAY)
        if not counted.any():
            break
        comes_up = alive & (opened < now)
        exists = comes_up & (churn > opened)
        step = np.exp(rng.normal(UPLIFT[0], UPLIFT[1], orig.size))
        off = np.round(rng.normal(*CLOSE_OFFSET_DAYS, orig.size)).astype(np.int64)
        planned = weekend_shift(
            rng,
            due + off * DAY + (np.clip(rng.normal(14, 2.5, orig.size), 8, 20) * HOUR).astype(np.int64),
            0.85,
        )
        planned = np.maximum(planned, opened + 7 * DAY)
        lost = churn < planned
        close = np.where(lost, np.maximum(churn, opened + DAY) + 2 * HOUR, planned)
        quote = due - (rng.uniform(20, 45, orig.size) * DAY).astype(np.int64)
        verbal = due - (rng.uniform(3, 12, orig.size) * DAY).astype(np.int64)
        renewed = np.where(exists & (close < now), (~lost).astype(float), np.nan)
        renewed = np.where(comes_up & ~exists, 0.0, renewed)
        slots.append((due[counted] // DAY, value[counted], renewed[counted]))
        idx = np.flatnonzero(exists)
        parts.append(
            {
                "orig": orig[idx],
                "cust": cust[idx],
                "owner": owner[idx],
                "company": company[idx],
                "ratio": (ratio * step)[idx],
                "prev": value[idx],
                "opened": opened[idx],
                "due": due[idx],
                "close": close[idx],
                "lost": lost[idx],
                "quote": quote[idx],
                "verbal": verbal[idx],
            }
        )
        won_now = exists & ~lost
        ratio = ratio * step
        value = value * step
        alive = won_now
        term += 1

    empty = not parts
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if not empty else {}
    due_day = np.concatenate([s[0] for s in slots]) if slots else np.zeros(0, np.int64)
    due_value = np.concatenate([s[1] for s in slots]) if slots else np.zeros(0)
    renewed = np.concatenate([s[2] for s in slots]) if slots else np.zeros(0)
    if empty:
        return RenewalWorld(
            dw.deals.clear(), dw.products.clear(), dw.activities.clear(), due_day, due_value, renewed
        )
    return _rows(rng, org, dw, cols, now, due_day, due_value, renewed)


def _rows(rng, org: Org, dw: DealWorld, c: dict[str, np.ndarray], now: int, due_day, due_value, renewed):
    n = c["orig"].size
    ids = uuids(rng, n)
    # product lines: the renewed contract's lines at the new price level
    lines = (
        dw.products.join(
            pl.DataFrame({"deal_id": dw.ids[c["orig"]], "renewal_id": ids, "ratio": c["ratio"]}),
            on="deal_id",
        )
        .with_columns(
            unit_price=(pl.col("unit_price") * pl.col("ratio")).round(2),
            discount=(pl.col("discount") * pl.col("ratio")).round(2),
        )
        .with_columns(total_price=(pl.col("quantity") * pl.col("unit_price") - pl.col("discount")).round(2))
        .drop("deal_id", "ratio")
        .rename({"renewal_id": "deal_id"})
        .sort("deal_id", "product_id")
    )
    products = lines.with_columns(id=pl.Series(uuids(rng, lines.height))).select(dw.products.columns)
    value_of = dict(products.group_by("deal_id").agg(pl.col("total_price").sum()).iter_rows())
    value = money(np.array([value_of.get(i, 0.0) for i in ids]))

    closed = c["close"] < now
    won = closed & ~c["lost"]
    lost = closed & c["lost"]
    stop = np.minimum(c["close"], now)
    at_quote = (c["quote"] > c["opened"]) & (c["quote"] < stop)
    at_verbal = at_quote & ~c["lost"] & (c["verbal"] > c["quote"]) & (c["verbal"] < stop)
    current = np.where(at_verbal, "Verbal Commit", np.where(at_quote, "Quote Sent", "Renewal Due"))
    stage = np.where(won, "Closed Won", np.where(lost, "Closed Lost", current))
    prob = np.array([STAGE[s]["probability"] for s in stage])
    pipe_id = org.pipelines["id"].to_numpy()[RENEWAL_PIPELINE_INDEX]
    name = np.char.add(c["company"].astype(str), " - Renewal")
    deals = pl.DataFrame(
        {
            "id": ids,
            "tenant_id": org.tenant_id,
            "lead_id": pl.Series([None] * n, dtype=pl.Utf8),
            "customer_id": pl.Series(c["cust"].tolist(), dtype=pl.Utf8),
            "name": name,
            "description": pl.Series([None] * n, dtype=pl.Utf8),
            "value": value,
            "currency": "USD",
            "probability": prob,
            "stage": stage,
            "pipeline_id": pipe_id,
            "assigned_user_id": c["owner"].astype(str),
            "expected_close_date": ts((c["due"] // DAY) * DAY),
            "actual_close_date": ts(np.where(closed, c["close"], 0)),
            "lost_reason": opt(np.where(lost, LOST_REASON, NULL)),
            "tags": pl.Series([["renewal"]] * n, dtype=pl.List(pl.Utf8)),
            "custom_fields": [
                orjson.dumps({"source": "sim", "renews_deal_id": d}).decode()
                for d in dw.ids[c["orig"]].tolist()
            ],
            "created_at": ts(c["opened"]),
            "updated_at": ts(
                np.where(
                    closed,
                    c["close"],
                    np.where(at_verbal, c["verbal"], np.where(at_quote, c["quote"], c["opened"])),
                )
            ),
        }
    ).with_columns(
        pl.when(pl.Series(closed))
        .then(pl.col("actual_close_date"))
        .otherwise(None)
        .alias("actual_close_date")
    )

    acts: list[dict[str, np.ndarray]] = []

    def add(idx: np.ndarray, typ: DAT, t: np.ndarray, **cols: np.ndarray) -> None:
        acts.append({"d": idx, "type": np.full(idx.size, typ.value), "t": np.minimum(t, now - 1), **cols})

    everyone = np.arange(n)
    p = {k: v["probability"] for k, v in STAGE.items()}
    add(
        everyone,
        DAT.CREATED,
        c["opened"],
        to_stage=np.full(n, "Renewal Due"),
        prob=np.full(n, p["Renewal Due"]),
    )
    add(everyone, DAT.ASSIGNED, c["opened"] + 120)
    q = np.flatnonzero(at_quote)
    add(
        q,
        DAT.STAGE_CHANGED,
        c["quote"][q],
        from_stage=np.full(q.size, "Renewal Due"),
        to_stage=np.full(q.size, "Quote Sent"),
        prob=np.full(q.size, p["Quote Sent"]),
    )
    add(q, DAT.PROPOSAL_SENT, c["quote"][q] + 2 * HOUR, amount=value[q])
    v = np.flatnonzero(at_verbal)
    add(
        v,
        DAT.STAGE_CHANGED,
        c["verbal"][v],
        from_stage=np.full(v.size, "Quote Sent"),
        to_stage=np.full(v.size, "Verbal Commit"),
        prob=np.full(v.size, p["Verbal Commit"]),
    )
    k_touch = rng.poisson(1.2, n)
    ti = np.repeat(everyone, k_touch)
    tt = c["opened"][ti] + (rng.random(ti.size) * (stop[ti] - c["opened"][ti])).astype(np.int64)
    kind = rng.integers(0, 3, ti.size)
    for j, typ in enumerate((DAT.EMAIL_SENT, DAT.CALL_MADE, DAT.NOTE_ADDED)):
        add(ti[kind == j], typ, tt[kind == j])
    for idx, typ, to in (
        (np.flatnonzero(won), DAT.WON, "Closed Won"),
        (np.flatnonzero(lost), DAT.LOST, "Closed Lost"),
    ):
        add(
            idx,
            DAT.STAGE_CHANGED,
            c["close"][idx],
            from_stage=current[idx],
            to_stage=np.full(idx.size, to),
            prob=np.full(idx.size, 100 if typ == DAT.WON else 0),
        )
        add(idx, typ, c["close"][idx] + 60)

    keys = ("from_stage", "to_stage", "prob", "old_p", "amount", "old_v", "new_v", "sched", "demo")
    merged: dict[str, list[np.ndarray]] = {k: [] for k in ("d", "type", "t", *keys)}
    for r in acts:
        for k in merged:
            merged[k].append(r[k] if k in r else np.full(r["d"].size, None, dtype=object))
    data = {k: np.concatenate(v) for k, v in merged.items()}
    d = data["d"].astype(np.int64)
    m = d.size
    df = pl.DataFrame(
        {
            "id": uuids(rng, m),
            "tenant_id": org.tenant_id,
            "deal_id": ids[d],
            "user_id": c["owner"][d].astype(str),
            "type": data["type"].astype(str),
            "t": data["t"].astype(np.int64),
            "from_stage": opt(data["from_stage"]),
            "to_stage": opt(data["to_stage"]),
            "prob": pl.Series(data["prob"].tolist(), dtype=pl.Int64),
            "old_p": pl.Series(data["old_p"].tolist(), dtype=pl.Int64),
            "amount": pl.Series(data["amount"].tolist(), dtype=pl.Float64),
            "old_v": pl.Series(data["old_v"].tolist(), dtype=pl.Float64),
            "new_v": pl.Series(data["new_v"].tolist(), dtype=pl.Float64),
            "sched": pl.Series(data["sched"].tolist(), dtype=pl.Int64),
            "demo": pl.Series(data["demo"].tolist(), dtype=pl.Boolean),
            "value": value[d],
            "name": name[d],
            "pipeline_id": pipe_id,
            "lead_id": pl.Series([None] * m, dtype=pl.Utf8),
            "expected_close": (c["due"][d] // DAY) * DAY,
            "close_t": c["close"][d],
            "lost_reason": np.full(m, LOST_REASON),
            "note": np.asarray(text.NOTES)[rng.integers(0, len(text.NOTES), m)],
            "duration": rng.integers(30, 1800, m),
            "email_n": rng.integers(0, 1 << 30, m),
        }
    ).sort("t", "id")
    activities = deal_activity_frame(df).select(dw.activities.columns)
    return RenewalWorld(deals, products, activities, due_day, due_value, renewed)
