"""Customers and their latent health: tickets, CSAT, conversations, product usage, churn.

Health h follows a mean-reverting random walk per week. Weekly churn hazard rises as h
falls; the oracle AUC of h (at the start of a 90-day window) for churn within it is ~0.85.
Each customer has a weak point (the churn cause if it churns): low_usage, poor_support,
disengagement or financial. Signals of the cause's category follow h closely; those of the
other categories half as closely, the rest being a typical customer's (OTHER_WEIGHT), so a
struggling customer's weak point stands out. Activity is spread over customers by size only
mildly (seats^0.25), so most customers leave a few traces in any 90 days, and each trace
carries its category's health with moderate noise (session length and depth, ticket
sentiment, CSAT, reply rate and tone). In the 60 days before a churn the cause's signals degrade
further, so its category dominates a churner's recent factors:
  low_usage     -> fewer sessions, fewer feature uses, shorter sessions (usage-events)
  poor_support  -> more, higher-priority, slower-resolved tickets, low CSAT (tickets)
  disengagement -> fewer conversations, unanswered outreach, negative replies (conversations)
  financial     -> billing tickets (failed payments, downgrades) and an MRR cut (customers.mrr)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import polars as pl

from crm.enums import CustomerStage
from sim import text
from sim.deals import DealWorld
from sim.frames import NULL, money, opt, ts
from sim.leads import LeadWorld
from sim.org import Org, segment_mask
from sim.plan import TenantPlan
from sim.rng import DAY, HOUR, WEEK, categorical, short_ids, sigmoid, stream, uuids

CAUSES = ("low_usage", "poor_support", "disengagement", "financial")
CAUSE_P = (0.3, 0.25, 0.25, 0.2)
CAUSE_CATEGORY = {
    "low_usage": "usage",
    "poor_support": "support",
    "disengagement": "engagement",
    "financial": "financial",
}
"""Churn cause -> the HealthFactor category (seed design) its traces show up in."""
RHO, STEP = 0.99, 0.06
"""Weekly AR(1) of health around the customer's own mean (stationary sd ~0.43): health drifts
over months, so the 90 days before a snapshot say something about the health at it."""
HAZARD_A, HAZARD_B = -5.5, 2.2
"""Weekly churn hazard = sigmoid(A - B*h)."""
MU_MEAN = 0.25
"""Mean of the customers' own health levels (each customer's mu ~ N(MU_MEAN, 0.75))."""
OTHER_WEIGHT = 0.5
"""Signals outside the weak point carry this share of the customer's health, the rest being a
typical customer's (MU_MEAN): a struggling customer's weak point stands out from its other
signals, which look only half as bad."""
PRE_CHURN_WEEKS = 9
SESSION_EVENTS = 2.65
"""Events per session: a login, 0-2 feature uses (0.75 on average), an end (90%). Short
sessions leave more of them in a usage budget: a customer's usage shows in more sessions."""


@dataclass
class CustomerWorld:
    customers: pl.DataFrame
    truth: pl.DataFrame
    memberships: pl.DataFrame
    tickets: pl.DataFrame  # one row per ticket event, typed columns
    conversations: pl.DataFrame
    usage: pl.DataFrame
    lead_customer: np.ndarray  # customer id per lead (None if not converted yet)
    deal_customer: np.ndarray


def generate_customers(
    seed: int, tp: TenantPlan, org: Org, lw: LeadWorld, dw: DealWorld, start: int, now: int
) -> CustomerWorld:
    rng = stream(seed, "customers", tp.index)
    conv = np.flatnonzero(lw.converted & (lw.conv_at <= now))
    n_conv = conv.size
    n_base = max(0, tp.customers - n_conv)
    n = n_conv + n_base
    ids = uuids(rng, n)

    # who they are
    bf, bl = text.person_names(rng, n_base)
    bcomp = text.company_names(rng, n_base)
    first = np.concatenate([lw.first[conv], bf])
    last = np.concatenate([lw.last[conv], bl])
    company = np.concatenate([lw.company[conv], bcomp])
    email = np.concatenate([lw.email[conv], text.emails(bf, bl, bcomp, np.arange(n_base) + 10_000_000)])
    phone = np.concatenate([lw.phone[conv], text.phones(rng, n_base)])
    industry = np.concatenate([lw.industry[conv], np.asarray(text.INDUSTRIES)[rng.integers(0, 12, n_base)]])
    employees = np.concatenate(
        [lw.employees[conv], np.clip(np.round(rng.lognormal(3.8, 1.5, n_base)), 1, 100_000)]
    ).astype(np.int64)
    country = np.concatenate(
        [lw.country[conv], np.asarray(text.COUNTRIES)[rng.integers(0, len(text.COUNTRIES), n_base)]]
    )
    pre = rng.random(n_base) < 0.6
    base_since = np.where(
        pre,
        start - (rng.random(n_base) * 3 * 365 * DAY).astype(np.int64),
        start + (np.sqrt(rng.random(n_base)) * (now - start - 7 * DAY)).astype(np.int64),
    )
    became = np.concatenate([lw.conv_at[conv], base_since])

    # MRR: won deal value / 12 for converted leads with a deal, else log-normal by size
    deal_of_lead = np.full(lw.ids.size, -1)
    deal_of_lead[dw.lead_idx[dw.won]] = np.flatnonzero(dw.won)
    d_idx = deal_of_lead[conv]
    size_mrr = rng.lognormal(np.log(120) + 0.35 * np.log(employees), 0.7)
    mrr0 = np.where(
        np.concatenate([d_idx, np.full(n_base, -1)]) >= 0,
        np.concatenate([dw.value[np.maximum(d_idx, 0)], np.zeros(n_base)]) / 12.0,
        size_mrr,
    )
    seats = np.maximum(1, np.round(np.sqrt(employees) * rng.lognormal(0, 0.4, n))).astype(np.int64)

    # latent health on a weekly grid
    w0 = (start - 90 * DAY) // WEEK
    w1 = now // WEEK + 1
    nw = int(w1 - w0)
    mu = rng.normal(MU_MEAN, 0.75, n)
    h = np.empty((n, nw), dtype=np.float64)
    sd = STEP / np.sqrt(1 - RHO**2)
    h[:, 0] = mu + sd * rng.standard_normal(n)
    eps = rng.standard_normal((n, nw))
    for w in range(1, nw):
        h[:, w] = mu + RHO * (h[:, w - 1] - mu) + STEP * eps[:, w]
    week_start = (np.arange(nw) + w0) * WEEK
    first_w = np.clip((became // WEEK) - w0, 0, nw - 1)
    # churn: first week after onboarding (4 weeks) whose hazard fires
    hazard = sigmoid(HAZARD_A - HAZARD_B * h)
    fire = rng.random((n, nw)) < hazard
    # churn can happen from 4 weeks after onboarding, and only inside the history window
    start_w = start // WEEK - w0 + 1
    eligible = (np.arange(nw)[None, :] >= np.maximum(first_w + 4, start_w)[:, None]) & (
        week_start[None, :] < now - DAY
    )
    fire &= eligible
    has = fire.any(axis=1)
    churn_w = np.where(has, fire.argmax(axis=1), nw)
    churn_at = np.where(
        has, week_start[np.minimum(churn_w, nw - 1)] + (rng.random(n) * WEEK).astype(np.int64), 0
    )
    churned = has & (churn_at < now)
    churn_at = np.where(churned, np.minimum(churn_at, now - HOUR), 0)
    churn_w = np.where(churned, churn_w, nw)
    cause_i = rng.choice(len(CAUSES), n, p=CAUSE_P)
    cause = np.asarray(CAUSES)[cause_i]

    # effective health per signal category
    wk = np.arange(nw)[None, :]
    to_churn = churn_w[:, None] - wk
    ramp = np.where(
        churned[:, None] & (to_churn > 0) & (to_churn <= PRE_CHURN_WEEKS),
        (PRE_CHURN_WEEKS + 1 - to_churn) / PRE_CHURN_WEEKS,
        0.0,
    )
    active = (wk >= first_w[:, None]) & (wk < churn_w[:, None]) & (week_start[None, :] < now)
    active &= week_start[None, :] + WEEK > start

    def eff(ci: int) -> np.ndarray:
        mine = cause_i[:, None] == ci
        e = np.where(mine, h, OTHER_WEIGHT * h + (1 - OTHER_WEIGHT) * MU_MEAN)
        return e - np.where(mine, 1.6 * ramp, 0.0)

    e_use, e_sup, e_eng, e_fin = (eff(i) for i in range(4))
    size_w = (seats / seats.mean())[:, None] ** 0.25

    cust_info = {"ids": ids, "seats": seats, "first": first, "company": company}
    tickets = _tickets(
        stream(seed, "tickets", tp.index),
        tp.tickets,
        org,
        cust_info,
        active,
        e_sup,
        e_fin,
        size_w,
        week_start,
        start,
        now,
    )
    convs = _conversations(
        stream(seed, "conversations", tp.index),
        tp.conversations,
        org,
        cust_info,
        active,
        e_eng,
        size_w,
        week_start,
        start,
        now,
    )
    usage = _usage(
        stream(seed, "usage", tp.index),
        tp.usage_events,
        cust_info,
        active,
        e_use,
        size_w,
        week_start,
        start,
        now,
    )

    # current state
    h_now = h[np.arange(n), np.minimum(churn_w, nw) - 1]
    fin_cut = churned & (cause == "financial")
    mrr = money(np.where(fin_cut, mrr0 * rng.uniform(0.4, 0.7, n), mrr0))
    flagged = (h_now + rng.normal(0, 0.7, n)) < -1.1
    stage = np.where(
        churned,
        CustomerStage.CHURNED.value,
        np.where(
            became > now - 30 * DAY,
            CustomerStage.ONBOARDING.value,
            np.where(flagged, CustomerStage.AT_RISK.value, CustomerStage.ACTIVE.value),
        ),
    )
    missing_phone = rng.random(n) < 0.12
    plan_name = np.where(mrr0 > 1500, "Enterprise", np.where(mrr0 > 300, "Professional", "Starter"))
    cf = pl.DataFrame({"plan": plan_name, "seats": seats, "initial_mrr": money(mrr0).astype(str)})
    customers = pl.DataFrame(
        {
            "id": ids,
            "tenant_id": org.tenant_id,
            "email": email,
            "first_name": first,
            "last_name": last,
            "company": company,
            "phone": opt(np.where(missing_phone, NULL, phone)),
            "industry": industry,
            "company_size": employees,
            "country": country,
            "lifecycle_stage": stage,
            "became_customer_at": ts(became),
            "churned_at": ts(churn_at),
            "mrr": mrr,
            "custom_fields": cf.select(pl.struct(pl.all()).struct.json_encode()).to_series(),
            "tags": pl.Series([[]] * n, dtype=pl.List(pl.Utf8)),
            "created_at": ts(np.minimum(became, np.concatenate([lw.created[conv], base_since]))),
            "updated_at": ts(np.where(churned, churn_at, np.maximum(became, now - 7 * DAY))),
        }
    ).with_columns(pl.when(pl.Series(churned)).then(pl.col("churned_at")).otherwise(None).alias("churned_at"))

    # truth: health at the start of the last 90-day label window (see module doc of world)
    ref_t = np.where(churned & (churn_at <= now - 90 * DAY), churn_at - 90 * DAY, now - 90 * DAY)
    ref_w = np.clip(ref_t // WEEK - w0, first_w, nw - 1)
    truth = pl.DataFrame(
        {
            "customer_id": ids,
            "tenant_id": org.tenant_id,
            "latent_health": h[np.arange(n), ref_w],
            "churn_cause": cause,
            "churned": churned,
            "churned_at": ts(churn_at),
        }
    ).with_columns(pl.when(pl.col("churned")).then(pl.col("churned_at")).otherwise(None).alias("churned_at"))

    # segment memberships at `now`
    cols = {
        "lifecycle_stage": stage,
        "mrr": mrr,
        "company_size": employees,
        "industry": industry,
        "became_customer_at": became,
    }
    mem_c, mem_s = [], []
    counts = []
    for seg_id, crit in zip(org.segments["id"], org.segments["criteria"], strict=True):
        mask = segment_mask(orjson.loads(crit), cols, now)
        mem_c.append(ids[mask])
        mem_s.append(np.full(mask.sum(), seg_id))
        counts.append(int(mask.sum()))
    org.segments = org.segments.with_columns(customer_count=pl.Series(counts, dtype=pl.Int64))
    mc = np.concatenate(mem_c)
    memberships = pl.DataFrame(
        {
            "tenant_id": org.tenant_id,
            "segment_id": np.concatenate(mem_s),
            "customer_id": mc,
            "added_at": ts(np.full(mc.size, now - DAY)),
        }
    )

    lead_customer = np.full(lw.ids.size, None, dtype=object)
    lead_customer[conv] = ids[:n_conv]
    deal_customer = lead_customer[dw.lead_idx]
    deal_customer = np.where(dw.won, deal_customer, NULL)
    return CustomerWorld(customers, truth, memberships, tickets, convs, usage, lead_customer, deal_customer)


def _cells(rng, total: int, weight: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact `total` events over active customer-weeks by weight: (customer, week) per event."""
    w = np.where(active, weight, 0.0).ravel()
    if total <= 0 or w.sum() <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    k = rng.multinomial(total, w / w.sum())
    flat = np.repeat(np.arange(w.size), k)
    return flat // active.shape[1], flat % active.shape[1]


def _in_week(rng, week_start: np.ndarray, wk: np.ndarray, start: int, now: int) -> np.ndarray:
    """A working-hours time inside each week (weekdays favoured), clipped to [start, now)."""
    day = np.where(rng.random(wk.size) < 0.88, rng.integers(0, 5, wk.size), rng.integers(5, 7, wk.size))
    # epoch weeks start on Thursday: shift so day 0 is Monday
    t = (
        week_start[wk]
        + ((day + 4) % 7) * DAY
        + (np.clip(rng.normal(13, 3, wk.size), 0, 23.9) * HOUR).astype(np.int64)
    )
    return np.clip(t, start, now - 2 * HOUR)


def _tickets(rng, total, org: Org, ci, active, e_sup, e_fin, size_w, week_start, start, now) -> pl.DataFrame:
    weight = size_w * (np.exp(-1.5 * e_sup) + 0.35 * np.exp(-2.0 * e_fin))
    c, wk = _cells(rng, total, weight, active)
    m = c.size
    es, ef = e_sup[c, wk], e_fin[c, wk]
    t0 = _in_week(rng, week_start, wk, start, now)
    billing = rng.random(m) < 0.35 * np.exp(-2.0 * ef) / (np.exp(-1.5 * es) + 0.35 * np.exp(-2.0 * ef))
    cat_other = np.asarray([x for x in text.TICKET_CATEGORIES if x != "billing"])[rng.integers(0, 6, m)]
    category = np.where(billing, "billing", cat_other)
    pri = categorical(
        rng, np.stack([np.full(m, 0.3), np.full(m, 1.4), -0.2 - 0.8 * es, -1.6 - 1.0 * es], axis=1)
    )
    priority = np.array(["LOW", "NORMAL", "HIGH", "URGENT"])[pri]
    sentiment = np.round(np.tanh(1.0 * es - 0.15 * pri + rng.normal(0, 0.25, m)), 3)
    tone = np.where(sentiment > 0.25, "pos", np.where(sentiment < -0.25, "neg", "neu"))
    feat = np.asarray(text.FEATURES)[rng.integers(0, len(text.FEATURES), m)]
    prod = org.products["name"].to_numpy()[rng.integers(0, org.products.height, m)]
    subject = np.empty(m, dtype=object)
    for cat, temps in text.TICKET_SUBJECTS.items():
        sel = category == cat
        if sel.any():
            subject[sel] = text.fill(temps, rng.integers(0, len(temps), sel.sum()), f=feat[sel], p=prod[sel])
    subject = subject.astype(str)
    body = np.empty(m, dtype=object)
    for tn, temps in text.TICKET_BODY.items():
        sel = tone == tn
        if sel.any():
            low = np.char.lower(subject[sel])
            body[sel] = text.fill(temps, rng.integers(0, len(temps), sel.sum()), s_lower=low, p=prod[sel])
    channel = np.array(["EMAIL", "CHAT", "PHONE", "WEB", "SOCIAL", "SMS", "WHATSAPP"])[
        rng.choice(7, m, p=[0.4, 0.3, 0.12, 0.1, 0.03, 0.02, 0.03])
    ]
    first_resp = np.round(rng.lognormal(np.log(45) - 0.5 * es + 0.2 * (pri < 2), 0.7), 1)
    resolution = np.round(first_resp + rng.lognormal(np.log(500) - 0.75 * es - 0.3 * (pri >= 2), 0.8), 1)
    csat = np.clip(
        np.round(3.7 + 1.5 * es - 0.0005 * np.minimum(resolution, 5000) + rng.normal(0, 0.5, m)), 1, 5
    ).astype(int)
    ids = uuids(rng, m)
    agent = org.agents[rng.integers(0, org.agents.size, m)]
    base = {
        "ticket_id": ids,
        "customer_id": ci["ids"][c],
        "channel": channel,
        "priority": priority,
        "category": category,
        "subject": subject,
        "body": body.astype(str),
        "sentiment": sentiment,
        "assignee": agent,
    }
    t_upd = t0 + (first_resp * 60).astype(np.int64)
    t_res = t0 + (resolution * 60).astype(np.int64)
    has_upd = (rng.random(m) < 0.55) & (t_upd < now)
    has_res = (rng.random(m) < 0.96) & (t_res < now)
    t_csat = t_res + rng.exponential(4 * HOUR, m).astype(np.int64)
    has_csat = has_res & (rng.random(m) < 0.42) & (t_csat < now)
    comment_idx = rng.integers(0, 3, m)
    comment = np.array(
        [
            text.CSAT_COMMENTS[s][i % len(text.CSAT_COMMENTS[s])]
            for s, i in zip(csat, comment_idx, strict=True)
        ],
        dtype=object,
    )

    frames = []
    for etype, mask, t, status in (
        ("ticket.created", np.ones(m, bool), t0, "OPEN"),
        ("ticket.updated", has_upd, t_upd, "PENDING"),
        ("ticket.resolved", has_res, t_res, "RESOLVED"),
        ("ticket.csat_submitted", has_csat, t_csat, None),
    ):
        sel = np.flatnonzero(mask)
        f = pl.DataFrame({k: v[sel] for k, v in base.items()}).with_columns(
            event_type=pl.lit(etype),
            t=pl.Series(t[sel]),
            status=pl.lit(status),
            first_response_minutes=pl.Series(
                np.where(etype in ("ticket.updated", "ticket.resolved"), first_resp[sel], np.nan)
            ),
            resolution_minutes=pl.Series(np.where(etype == "ticket.resolved", resolution[sel], np.nan)),
            csat=pl.Series(csat[sel]),
            comment=opt(comment[sel]),
        )
        frames.append(f)
    out = pl.concat(frames).with_columns(
        pl.col("first_response_minutes", "resolution_minutes").fill_nan(None)
    )
    return out.with_columns(event_id=pl.Series(uuids(rng, out.height)), tenant_id=pl.lit(org.tenant_id)).sort(
        "t", "event_id"
    )


def _conversations(rng, total, org: Org, ci, active, e_eng, size_w, week_start, start, now) -> pl.DataFrame:
    weight = size_w * np.exp(0.9 * e_eng)
    c, wk = _cells(rng, total, weight, active)
    m = c.size
    ee = e_eng[c, wk]
    t0 = _in_week(rng, week_start, wk, start, now)
    ids = uuids(rng, m)
    channel = np.array(["EMAIL", "CHAT", "PHONE", "WHATSAPP"])[rng.choice(4, m, p=[0.5, 0.3, 0.15, 0.05])]
    subject = np.asarray(text.CONVERSATION_SUBJECTS)[rng.integers(0, len(text.CONVERSATION_SUBJECTS), m)]
    n_msg = 1 + rng.poisson(1.6, m)
    mc = np.repeat(np.arange(m), n_msg)
    pos = np.concatenate([np.arange(k) for k in n_msg]) if m else np.zeros(0, int)
    inbound = (pos % 2 == 1) & (rng.random(mc.size) < sigmoid(0.4 + 2.5 * ee[mc]))
    sent = np.where(inbound, np.round(np.tanh(1.5 * ee[mc] + rng.normal(0, 0.25, mc.size)), 3), np.nan)
    tone = np.where(sent > 0.25, "pos", np.where(sent < -0.25, "neg", "neu"))
    feat = np.asarray(text.FEATURES)[rng.integers(0, len(text.FEATURES), mc.size)]
    prod = org.products["name"].to_numpy()[rng.integers(0, org.products.height, mc.size)]
    msg = text.fill(
        text.MESSAGES_OUT,
        rng.integers(0, len(text.MESSAGES_OUT), mc.size),
        n=ci["first"][c[mc]],
        p=prod,
        f=feat,
    )
    for tn, temps in text.MESSAGES_IN.items():
        sel = inbound & (tone == tn)
        if sel.any():
            msg[sel] = text.fill(temps, rng.integers(0, len(temps), sel.sum()), p=prod[sel], f=feat[sel])
    gaps = rng.exponential(6 * HOUR, mc.size).astype(np.int64) + 300
    tm = (
        t0[mc]
        + np.cumsum(gaps)
        - np.repeat(
            np.cumsum(np.bincount(mc, weights=gaps, minlength=m))
            - np.bincount(mc, weights=gaps, minlength=m),
            n_msg,
        ).astype(np.int64)
    )
    keep = tm < now
    overall = np.array([np.nan] * m)
    s_sum = np.bincount(mc[inbound], weights=sent[inbound], minlength=m)
    s_n = np.bincount(mc[inbound], minlength=m)
    overall = np.where(s_n > 0, np.round(s_sum / np.maximum(s_n, 1), 3), np.nan)
    t_close = np.bincount(mc, weights=tm, minlength=m)  # placeholder, replaced below
    last_t = np.zeros(m, dtype=np.int64)
    np.maximum.at(last_t, mc, tm)
    t_close = last_t + 2 * HOUR
    cust = ci["ids"][c]
    started = pl.DataFrame(
        {
            "conversation_id": ids,
            "customer_id": cust,
            "channel": channel,
            "t": t0,
            "subject": subject,
            "event_type": "conversation.started",
        }
    )
    messages = pl.DataFrame(
        {
            "conversation_id": ids[mc],
            "customer_id": cust[mc],
            "channel": channel[mc],
            "t": tm,
            "message_id": np.char.add("msg_", np.arange(mc.size).astype(str)),
            "direction": np.where(inbound, "inbound", "outbound"),
            "author": np.where(inbound, ci["first"][c[mc]], "csm"),
            "text": msg,
            "sentiment": sent,
            "event_type": "conversation.message",
        }
    ).filter(pl.Series(keep))
    closed = pl.DataFrame(
        {
            "conversation_id": ids,
            "customer_id": cust,
            "channel": channel,
            "t": t_close,
            "message_count": n_msg,
            "sentiment": overall,
            "event_type": "conversation.closed",
        }
    ).filter(pl.col("t") < now)
    out = pl.concat([started, messages, closed], how="diagonal_relaxed").with_columns(
        pl.col("sentiment").fill_nan(None)
    )
    return out.with_columns(event_id=pl.Series(uuids(rng, out.height)), tenant_id=pl.lit(org.tenant_id)).sort(
        "t", "event_id"
    )


def _usage(rng, total, ci, active, e_use, size_w, week_start, start, now) -> pl.DataFrame:
    sessions = int(total / SESSION_EVENTS)
    weight = size_w * 2 * np.exp(1.0 * e_use)
    c, wk = _cells(rng, sessions, weight, active)
    m = c.size
    eu = e_use[c, wk]
    t0 = _in_week(rng, week_start, wk, start, now)
    sess = short_ids(rng, m, "ses_", 16)
    user = np.char.add(
        np.char.add(
            np.char.add("usr_", np.char.replace(ci["ids"][c].astype("<U36"), "-", "")[:,][:].astype("<U8")),
            "_",
        ),
        (rng.integers(0, 1 << 20, m) % ci["seats"][c]).astype(str),
    )
    n_feat = (rng.random(m) < 0.6).astype(int) + (rng.random(m) < 0.3 * sigmoid(eu)).astype(int)
    fi = np.repeat(np.arange(m), n_feat)
    feature = np.asarray(text.FEATURES[:-1])[rng.integers(0, len(text.FEATURES) - 1, fi.size)]
    qty = 1 + rng.poisson(3.0 * np.exp(1.0 * eu[fi]))
    dur = np.round(rng.lognormal(np.log(900) + 1.0 * eu, 0.35), 1)
    has_end = rng.random(m) < 0.9
    base = {"customer_id": ci["ids"][c], "user_ref": user, "session_id": sess}
    login = pl.DataFrame({**base, "t": t0, "event_type": "usage.login"})
    feats = pl.DataFrame({k: v[fi] for k, v in base.items()}).with_columns(
        t=pl.Series(t0[fi] + 60 + rng.integers(0, 1200, fi.size)),
        feature=pl.Series(feature),
        quantity=pl.Series(qty),
        event_type=pl.lit("usage.feature_used"),
    )
    ends = pl.DataFrame({k: v[has_end] for k, v in base.items()}).with_columns(
        t=pl.Series(t0[has_end] + dur[has_end].astype(np.int64) + 1300),
        duration_seconds=pl.Series(dur[has_end]),
        event_type=pl.lit("usage.session_ended"),
    )
    out = pl.concat([login, feats, ends], how="diagonal_relaxed").filter(pl.col("t") < now)
    return out.with_columns(event_id=pl.Series(uuids(rng, out.height))).sort("t", "event_id")
