"""Deals: created when a lead qualifies, moved through its pipeline's stages with uneven
days-in-stage, won (the lead converts) or lost (with a reason), heavy-tailed values split
over products, and the deal activity trail (every stage change, probability change, touch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import polars as pl

from crm.enums import DealActivityType as DAT
from sim import text
from sim.frames import NULL, iso_date, money, money_str, opt, ts
from sim.leads import LeadWorld, TenantShape
from sim.org import Org
from sim.plan import TenantPlan
from sim.rng import DAY, HOUR, stream, uuids


@dataclass
class DealWorld:
    deals: pl.DataFrame
    products: pl.DataFrame
    activities: pl.DataFrame  # crm rows + typed payload extras
    lead_idx: np.ndarray  # lead of each deal
    won: np.ndarray
    close_at: np.ndarray
    value: np.ndarray
    ids: np.ndarray


def generate_deals(
    seed: int, tp: TenantPlan, org: Org, lw: LeadWorld, shape: TenantShape, now: int
) -> DealWorld:
    rng = stream(seed, "deals", tp.index)
    created = lw.created + (0.3 * (lw.resolved_at - lw.created)).astype(np.int64) + HOUR
    qualified = created < now
    conv_deal = lw.converted & lw.has_deal_if_converted & qualified
    others = (~lw.converted) & (lw.reach >= 2) & qualified
    want_others = max(0, tp.deals - int(conv_deal.sum()))
    cand = np.flatnonzero(others)
    if cand.size > want_others:
        cand = np.sort(rng.choice(cand, want_others, replace=False))
    sel = np.sort(np.concatenate([np.flatnonzero(conv_deal), cand]))
    n = sel.size
    lead_idx = sel
    c_at = created[sel]
    end = lw.resolved_at[sel]
    closed = end <= now
    won = lw.converted[sel] & closed
    lost = ~lw.converted[sel] & closed
    enterprise = lw.employees[sel] >= 1000
    pipe_id = org.pipelines["id"].to_numpy()[enterprise.astype(int)]
    stage_lists = org.pipeline_stages
    n_open = np.where(enterprise, len(stage_lists[1]) - 2, len(stage_lists[0]) - 2)

    # how far each deal gets: won -> all open stages; lost -> up to where the lead got
    lead_reach = lw.reach[sel]
    frac_reach = np.clip((lead_reach - 1) / 3.0 + rng.normal(0, 0.15, n), 0.0, 1.0)
    last_open = np.where(lw.converted[sel], n_open - 1, np.floor(frac_reach * (n_open - 1)).astype(int))
    # stage entry times: gamma-weighted split of [created, end)
    max_k = 7
    g = rng.gamma(1.3, 1.0, (n, max_k + 1))
    g[np.arange(max_k + 1)[None, :] > last_open[:, None]] = 0.0
    share = np.cumsum(g, axis=1) / np.maximum(g.sum(axis=1, keepdims=True), 1e-9)
    entry = (
        c_at[:, None]
        + np.concatenate([np.zeros((n, 1)), share[:, :-1]], axis=1) * 0.92 * (end - c_at)[:, None]
    )
    entry = entry.astype(np.int64)
    passed = (np.arange(max_k)[None, :] <= last_open[:, None]) & (entry[:, :max_k] < now)
    current = passed.sum(axis=1) - 1

    probs = [np.array([s["probability"] for s in sl]) for sl in stage_lists]
    names = [np.array([s["name"] for s in sl]) for sl in stage_lists]
    stage_name = np.where(
        enterprise,
        names[1][np.minimum(current, len(names[1]) - 1)],
        names[0][np.minimum(current, len(names[0]) - 1)],
    )
    stage_prob = np.where(
        enterprise,
        probs[1][np.minimum(current, len(probs[1]) - 1)],
        probs[0][np.minimum(current, len(probs[0]) - 1)],
    )
    stage_name = np.where(won, "Closed Won", np.where(lost, "Closed Lost", stage_name))
    stage_prob = np.where(won, 100, np.where(lost, 0, stage_prob))

    # values: log-normal (heavy right tail), split over 1-3 distinct products
    value_target = np.exp(lw.value_mu[sel] + shape.value_sigma * rng.standard_normal(n))
    n_prod = np.minimum(1 + rng.binomial(2, 0.35, n), org.product_price.size)
    prod_deal = np.repeat(np.arange(n), n_prod)
    keys = rng.random((n, org.product_price.size))
    order = np.argsort(keys, axis=1)
    slot = np.concatenate([np.arange(k) for k in n_prod]) if n else np.zeros(0, int)
    prod_i = order[prod_deal, slot]
    split = rng.dirichlet(np.ones(3), n)[prod_deal, slot]
    split = split / np.bincount(prod_deal, weights=split, minlength=n)[prod_deal]
    unit = org.product_price[prod_i]
    disc_rate = np.where(
        rng.random(prod_deal.size) < 0.45, rng.choice([0.05, 0.1, 0.15, 0.2], prod_deal.size), 0.0
    )
    qty = np.maximum(1, np.round(value_target[prod_deal] * split / (unit * (1 - disc_rate)))).astype(np.int64)
    discount = money(qty * unit * disc_rate)
    total = money(qty * unit - discount)
    value = money(np.bincount(prod_deal, weights=total, minlength=n))
    ids = uuids(rng, n)
    products = pl.DataFrame(
        {
            "id": uuids(rng, prod_deal.size),
            "tenant_id": org.tenant_id,
            "deal_id": ids[prod_deal],
            "product_id": org.products["id"].to_numpy()[prod_i],
            "quantity": qty,
            "unit_price": unit,
            "discount": discount,
            "total_price": total,
        }
    )

    expected_close = (
        c_at + ((end - c_at) * rng.lognormal(0, 0.3, n)).astype(np.int64) + rng.integers(-5, 15, n) * DAY
    )
    expected_close = np.maximum(expected_close, c_at + DAY)
    expected_close = (expected_close // DAY) * DAY
    lost_reason = np.asarray(text.LOST_REASONS)[rng.integers(0, len(text.LOST_REASONS), n)]
    owner = lw.owner[sel]
    owner = np.where(np.equal(owner, NULL), org.reps[rng.integers(0, org.reps.size, n)], owner)
    first_prod = org.products["name"].to_numpy()[order[:, 0]]
    company = lw.company[sel]
    deals = pl.DataFrame(
        {
            "id": ids,
            "tenant_id": org.tenant_id,
            "lead_id": lw.ids[sel],
            "customer_id": pl.Series([None] * n, dtype=pl.Utf8),  # set for won deals by customers
            "name": np.char.add(np.char.add(company, " - "), first_prod.astype(str)),
            "description": pl.Series([None] * n, dtype=pl.Utf8),
            "value": value,
            "currency": "USD",
            "probability": stage_prob,
            "stage": stage_name,
            "pipeline_id": pipe_id,
            "assigned_user_id": owner.astype(str),
            "expected_close_date": ts(expected_close),
            "actual_close_date": ts(np.where(closed, end, 0)),
            "lost_reason": opt(np.where(lost, lost_reason, NULL)),
            "tags": pl.Series([["enterprise"] if e else [] for e in enterprise], dtype=pl.List(pl.Utf8)),
            "custom_fields": [orjson.dumps({"source": "sim"}).decode()] * n,
            "created_at": ts(c_at),
            "updated_at": ts(np.where(closed, end, np.minimum(entry.max(axis=1), now - 1))),
        }
    ).with_columns(
        pl.when(pl.Series(closed))
        .then(pl.col("actual_close_date"))
        .otherwise(None)
        .alias("actual_close_date")
    )

    acts = _activities(
        rng,
        org,
        ids,
        owner,
        c_at,
        end,
        closed,
        won,
        lost,
        entry,
        passed,
        last_open,
        enterprise,
        names,
        probs,
        value,
        value_target,
        lost_reason,
        pipe_id,
        stage_name,
        lw,
        sel,
        expected_close,
        now,
    )
    return DealWorld(deals, products, acts, lead_idx, won, end, value, ids)


def _activities(
    rng,
    org: Org,
    ids,
    owner,
    c_at,
    end,
    closed,
    won,
    lost,
    entry,
    passed,
    last_open,
    enterprise,
    names,
    probs,
    value,
    value_target,
    lost_reason,
    pipe_id,
    stage_name,
    lw,
    sel,
    expected_close,
    now,
):
    n = ids.size
    rows: list[dict[str, np.ndarray]] = []

    def add(idx: np.ndarray, typ: DAT, t: np.ndarray, **cols: np.ndarray) -> None:
        rows.append({"d": idx, "type": np.full(idx.size, typ.value), "t": np.minimum(t, now - 1), **cols})

    all_idx = np.arange(n)
    first_stage = np.where(enterprise, names[1][0], names[0][0])
    add(all_idx, DAT.CREATED, c_at, to_stage=first_stage, prob=np.where(enterprise, probs[1][0], probs[0][0]))
    add(all_idx, DAT.ASSIGNED, c_at + 120)
    for k in range(1, entry.shape[1] - 1):
        m = passed[:, k]
        idx = np.flatnonzero(m)
        if not idx.size:
            continue
        ent = enterprise[idx]
        to = np.where(
            ent, names[1][np.minimum(k, len(names[1]) - 1)], names[0][np.minimum(k, len(names[0]) - 1)]
        )
        frm = np.where(ent, names[1][k - 1], names[0][k - 1])
        p_new = np.where(
            ent, probs[1][np.minimum(k, len(probs[1]) - 1)], probs[0][np.minimum(k, len(probs[0]) - 1)]
        )
        p_old = np.where(ent, probs[1][k - 1], probs[0][k - 1])
        add(idx, DAT.STAGE_CHANGED, entry[idx, k], from_stage=frm, to_stage=to, prob=p_new)
        pc = idx[rng.random(idx.size) < 0.6]
        if pc.size:
            sub = np.isin(idx, pc)
            add(pc, DAT.PROBABILITY_CHANGED, entry[pc, k] + 300, old_p=p_old[sub], prob=p_new[sub])
        if np.any(to == "Proposal"):
            pi = idx[to == "Proposal"]
            add(pi, DAT.PROPOSAL_SENT, entry[pi, k] + 3 * HOUR, amount=value_target[pi])
        if np.any(to == "Negotiation"):
            ni = idx[to == "Negotiation"]
            add(ni, DAT.CONTRACT_SENT, entry[ni, k] + 5 * HOUR, amount=value[ni])
            vu = ni[rng.random(ni.size) < 0.3]
            add(vu, DAT.VALUE_UPDATED, entry[vu, k] + DAY, old_v=value_target[vu], new_v=value[vu])
        if np.any(to == "Needs Analysis"):
            ai = idx[to == "Needs Analysis"]
            add(
                ai,
                DAT.MEETING_SCHEDULED,
                entry[ai, k] + HOUR,
                sched=entry[ai, k] + 3 * DAY,
                demo=np.ones(ai.size, bool),
            )
    # touches over the deal's life
    life_end = np.where(closed, end, now)
    k_touch = rng.poisson(1.6, n)
    ti = np.repeat(all_idx, k_touch)
    tt = c_at[ti] + (rng.random(ti.size) * (life_end[ti] - c_at[ti])).astype(np.int64)
    kind = rng.integers(0, 3, ti.size)
    for j, typ in enumerate((DAT.EMAIL_SENT, DAT.CALL_MADE, DAT.NOTE_ADDED)):
        add(ti[kind == j], typ, tt[kind == j])
    # close
    wi, li = np.flatnonzero(won), np.flatnonzero(lost)
    for idx, typ, stage in ((wi, DAT.WON, "Closed Won"), (li, DAT.LOST, "Closed Lost")):
        last = (
            np.array([entry[i, last_open[i]] for i in idx], dtype=np.int64)
            if idx.size
            else np.zeros(0, np.int64)
        )
        frm = stage_name_of(idx, last_open, enterprise, names)
        add(
            idx,
            DAT.STAGE_CHANGED,
            np.maximum(end[idx], last + 60),
            from_stage=frm,
            to_stage=np.full(idx.size, stage),
            prob=np.full(idx.size, 100 if typ == DAT.WON else 0),
        )
        add(idx, typ, np.maximum(end[idx], last + 60) + 60)

    cols = ("from_stage", "to_stage", "prob", "old_p", "amount", "old_v", "new_v", "sched", "demo")
    merged: dict[str, list] = {"d": [], "type": [], "t": [], **{c: [] for c in cols}}
    for r in rows:
        size = r["d"].size
        for c in ("d", "type", "t"):
            merged[c].append(r[c])
        for c in cols:
            merged[c].append(r[c] if c in r else np.full(size, None, dtype=object))
    data = {c: np.concatenate(v) if v else np.zeros(0) for c, v in merged.items()}
    d = data["d"].astype(np.int64)
    m = d.size
    df = pl.DataFrame(
        {
            "id": uuids(rng, m),
            "tenant_id": org.tenant_id,
            "deal_id": ids[d],
            "user_id": owner[d].astype(str),
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
            "name": np.char.add(np.char.add(lw.company[sel][d], " - "), "deal"),
            "pipeline_id": pipe_id[d],
            "lead_id": lw.ids[sel][d],
            "expected_close": expected_close[d],
            "close_t": end[d],
            "lost_reason": lost_reason[d],
            "note": np.asarray(text.NOTES)[rng.integers(0, len(text.NOTES), m)],
            "duration": rng.integers(30, 1800, m),
            "email_n": rng.integers(0, 1 << 30, m),
        }
    ).sort("t", "id")
    return deal_activity_frame(df)


def stage_name_of(idx, last_open, enterprise, names):
    return (
        np.where(
            enterprise[idx],
            names[1][np.minimum(last_open[idx], len(names[1]) - 1)],
            names[0][np.minimum(last_open[idx], len(names[0]) - 1)],
        )
        if idx.size
        else np.zeros(0, str)
    )


DESCRIPTIONS = {
    DAT.CREATED: "Deal created",
    DAT.STAGE_CHANGED: "Stage changed",
    DAT.VALUE_UPDATED: "Deal value updated",
    DAT.PROBABILITY_CHANGED: "Probability updated",
    DAT.ASSIGNED: "Deal assigned",
    DAT.NOTE_ADDED: "Note added",
    DAT.EMAIL_SENT: "E-mail sent",
    DAT.CALL_MADE: "Call made",
    DAT.MEETING_SCHEDULED: "Demo scheduled",
    DAT.PROPOSAL_SENT: "Proposal sent",
    DAT.CONTRACT_SENT: "Contract sent",
    DAT.WON: "Deal won",
    DAT.LOST: "Deal lost",
}


def deal_activity_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Typed extras of each deal activity type (payload fields) and the crm row's metadata."""
    T = DAT
    e = pl.col("type")
    iso_t = pl.from_epoch("sched", time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    close_d = pl.from_epoch("close_t", time_unit="s").dt.strftime("%Y-%m-%d")
    exp_d = pl.from_epoch("expected_close", time_unit="s").dt.strftime("%Y-%m-%d")
    parts = [
        (
            T.CREATED,
            pl.struct(
                name="name",
                value=money_str("value"),
                currency=pl.lit("USD"),
                pipeline_id="pipeline_id",
                stage="to_stage",
                probability="prob",
                lead_id="lead_id",
                expected_close_date=exp_d,
            ),
            pl.struct(stage="to_stage", value=money_str("value")),
        ),
        (
            T.STAGE_CHANGED,
            pl.struct(from_stage="from_stage", to_stage="to_stage", probability="prob"),
            pl.struct(from_stage="from_stage", to_stage="to_stage", probability="prob"),
        ),
        (
            T.VALUE_UPDATED,
            pl.struct(old_value=money_str("old_v"), new_value=money_str("new_v"), currency=pl.lit("USD")),
            pl.struct(old_value=money_str("old_v"), new_value=money_str("new_v")),
        ),
        (
            T.PROBABILITY_CHANGED,
            pl.struct(old_probability="old_p", new_probability="prob"),
            pl.struct(old_probability="old_p", new_probability="prob"),
        ),
        (T.ASSIGNED, pl.struct(to_user_id="user_id"), pl.struct(to_user_id="user_id")),
        (T.NOTE_ADDED, pl.struct(note="note"), pl.struct(note="note")),
        (
            T.EMAIL_SENT,
            pl.struct(email_id=pl.format("dem_{}", "email_n"), subject=pl.lit("Next steps")),
            pl.struct(subject=pl.lit("Next steps")),
        ),
        (T.CALL_MADE, pl.struct(duration_seconds="duration"), pl.struct(duration_seconds="duration")),
        (
            T.MEETING_SCHEDULED,
            pl.struct(scheduled_for=iso_t, is_demo="demo"),
            pl.struct(scheduled_for=iso_t, is_demo="demo"),
        ),
        (
            T.PROPOSAL_SENT,
            pl.struct(amount=money_str("amount"), currency=pl.lit("USD")),
            pl.struct(amount=money_str("amount")),
        ),
        (
            T.CONTRACT_SENT,
            pl.struct(amount=money_str("amount"), currency=pl.lit("USD")),
            pl.struct(amount=money_str("amount")),
        ),
        (
            T.WON,
            pl.struct(value=money_str("value"), currency=pl.lit("USD"), close_date=close_d),
            pl.struct(value=money_str("value"), close_date=close_d),
        ),
        (
            T.LOST,
            pl.struct(lost_reason="lost_reason", close_date=close_d),
            pl.struct(lost_reason="lost_reason", close_date=close_d),
        ),
    ]
    extras = pl.lit(None, dtype=pl.Utf8)
    meta = pl.lit(None, dtype=pl.Utf8)
    for typ, ex, md in reversed(parts):
        extras = pl.when(e == typ.value).then(ex.struct.json_encode()).otherwise(extras)
        meta = pl.when(e == typ.value).then(md.struct.json_encode()).otherwise(meta)
    desc = e.replace_strict({k.value: v for k, v in DESCRIPTIONS.items()})
    note = e == T.NOTE_ADDED.value  # its text is the description, as for leads' notes
    return df.with_columns(
        extras=extras.str.slice(1).str.strip_suffix("}"),
        metadata=pl.when(note).then(pl.lit("{}")).otherwise(meta),
        description=pl.when(note).then(pl.col("note")).otherwise(desc),
    )


_ = iso_date  # re-exported helper used by callers formatting close dates
