"""Leads, their activities and web touchpoints, driven by a hidden propensity.

Model (per tenant): z ~ N(mu_t, SIGMA_Z); p = sigmoid(z); converted ~ Bernoulli(p), within
90 days of creation. z alone ranks conversions with AUC ~0.85 (the oracle). What can be
observed is driven by z through noisy channels: counts of engagement activities (opens,
clicks, visits, forms, meetings, answered calls, documents) with log-rates rising with z and
mild gamma over-dispersion (the noise between propensity and activity is mostly Poisson:
~10 activities a lead); response time falling with z; call length rising with z; company
size moderately tied to z, the other firmographics (industry, seniority, funding, source)
weakly. So the signal is mostly behavioural: a naive Bayes over categorical fields stays well
below a model of counts.
Activity comes in bursts (sessions around a few random centres, decaying after creation),
with quiet periods between them. Proposal/contract activities follow the lead's progress
(and so leak its outcome, as in real CRMs): features must be cut at a scoring time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from crm.enums import LeadActivityType as LAT
from crm.enums import LeadStatus
from sim import text
from sim.frames import NULL, money, money_str, opt, ts
from sim.org import Org, campaign_at
from sim.plan import TenantPlan
from sim.rng import (
    DAY,
    HOUR,
    categorical,
    short_ids,
    sigmoid,
    stream,
    truncated_exp,
    uuids,
    weekend_shift,
)

SIGMA_Z = 1.8
LEAD_LEAD_IN_DAYS = 90
"""Leads start 90 days before the history window so revenue is in steady state from its start."""
CONV_DELAY = (2.5, 13.0)  # gamma(shape, scale days), clipped to [2, 89]
LOST_DELAY = (2.2, 18.0)
ACTIVITY_TAU_DAYS = 5.0
"""Engagement decays after creation: most of a lead's activity falls in its first two weeks."""
SHARED_DISPERSION = 40.0
"""Gamma shape of the per-lead activity multiplier shared by all types (CV ~0.16)."""
TYPE_DISPERSION = 10.0
"""Gamma shape of the per-lead, per-type multiplier (CV ~0.32)."""
RESPONSE_SHAPE = 4.0
"""Gamma shape of response delays around the lead's typical response time (CV 0.5)."""
NO_DEAL_SHARE = 0.12
"""Converted leads that become customers without a won deal (self-serve sign-up)."""
STAGES = (
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.PROPOSAL,
    LeadStatus.NEGOTIATION,
)

# per activity type: (share of the z-driven budget, log-rate slope per unit z, done by a rep?, response-like?)
ACTIVITY_MODEL: dict[LAT, tuple[float, float, bool, bool]] = {
    LAT.EMAIL_SENT: (0.21, 0.33, True, False),
    LAT.EMAIL_OPENED: (0.17, 0.72, False, True),
    LAT.EMAIL_CLICKED: (0.07, 0.98, False, True),
    LAT.CALL_MADE: (0.10, 0.33, True, False),
    LAT.CALL_ANSWERED: (0.05, 0.78, True, True),
    LAT.MEETING_SCHEDULED: (0.03, 1.04, True, True),
    LAT.MEETING_COMPLETED: (0.02, 1.17, True, True),
    LAT.FORM_SUBMITTED: (0.04, 0.78, False, True),
    LAT.WEBSITE_VISIT: (0.18, 0.65, False, True),
    LAT.DOCUMENT_VIEWED: (0.05, 0.91, False, True),
    LAT.NOTE_ADDED: (0.04, 0.26, True, False),
}


@dataclass
class TenantShape:
    """Per-tenant constants of the world (drawn from the tenant's stream)."""

    mu_z: float
    growth: float  # lead volume growth per year
    yearly_amp: float
    yearly_phase: float  # day of year of the peak
    value_mu: float  # log deal value at median company size
    value_sigma: float

    @classmethod
    def draw(cls, seed: int, index: int) -> TenantShape:
        r = stream(seed, "shape", index)
        return cls(
            mu_z=float(r.uniform(-3.0, -2.5)),
            growth=float(r.uniform(0.5, 0.9)),
            yearly_amp=float(r.uniform(0.35, 0.5)),
            yearly_phase=float(r.uniform(0, 365)),
            value_mu=float(np.log(r.uniform(7000, 20000))),
            value_sigma=float(r.uniform(0.6, 0.75)),
        )


def intensity(shape: TenantShape, day_epoch: np.ndarray, start_day: int) -> np.ndarray:
    """Relative lead-creation rate per calendar day: trend x yearly x weekly seasonality."""
    years = (day_epoch - start_day) / 365.25
    doy = day_epoch % 365.25
    yearly = 1.0 + shape.yearly_amp * np.cos(2 * np.pi * (doy - shape.yearly_phase) / 365.25)
    dow = (day_epoch + 3) % 7
    weekly = np.where(dow == 5, 0.35, np.where(dow == 6, 0.3, 1.0))
    return (1.0 + shape.growth * years) * yearly * weekly


@dataclass
class LeadWorld:
    """A tenant's leads: the rows, plus the arrays deals and customers build on."""

    leads: pl.DataFrame
    activities: pl.DataFrame  # crm rows + event columns (see activity_frame)
    web: pl.DataFrame  # web events (one frame, typed columns; built into JSON later)
    truth: pl.DataFrame
    ids: np.ndarray
    created: np.ndarray
    z: np.ndarray
    converted: np.ndarray  # the hidden outcome (may lie after `now` for open leads)
    conv_at: np.ndarray
    resolved_at: np.ndarray
    reach: np.ndarray  # last stage reached (0..4) or 5 for converted
    status: np.ndarray
    owner: np.ndarray
    first: np.ndarray
    last: np.ndarray
    email: np.ndarray
    company: np.ndarray
    phone: np.ndarray
    industry: np.ndarray
    employees: np.ndarray
    country: np.ndarray
    has_deal_if_converted: np.ndarray
    expected_value: np.ndarray
    value_mu: np.ndarray


def generate_leads(
    seed: int, tp: TenantPlan, org: Org, shape: TenantShape, start: int, now: int
) -> LeadWorld:
    rng = stream(seed, "leads", tp.index)
    n = tp.leads
    lead_start = start - LEAD_LEAD_IN_DAYS * DAY
    d0, d1 = lead_start // DAY, now // DAY
    days = np.arange(d0, d1)
    w = intensity(shape, days, d0)
    day = rng.choice(days, size=n, p=w / w.sum())
    tod = np.clip(rng.normal(13.5, 3.2, n), 0.2, 23.8) * HOUR
    created = np.sort(day * DAY + tod.astype(np.int64))

    z = shape.mu_z + SIGMA_Z * rng.standard_normal(n)
    zs = (z - shape.mu_z) / SIGMA_Z
    p = sigmoid(z)
    converted = rng.random(n) < p

    # firmographics: weakly tied to z
    log_emp = 3.6 + 0.8 * zs + 1.5 * rng.standard_normal(n)
    employees = np.clip(np.round(np.exp(log_emp)), 1, 100_000).astype(np.int64)
    ind_coef = stream(seed, "industry-coef", tp.index).normal(0, 0.22, len(text.INDUSTRIES))
    ind_base = stream(seed, "industry-base", tp.index).normal(0, 0.5, len(text.INDUSTRIES))
    industry = np.asarray(text.INDUSTRIES)[categorical(rng, ind_base + np.outer(zs, ind_coef))]
    src_coef = np.array([0.0, 0.35, 0.0, -0.1, -0.15, 0.15, 0.0, -0.2, 0.1, 0.2, -0.4])
    src_base = np.log(np.array([0.22, 0.08, 0.14, 0.14, 0.1, 0.06, 0.07, 0.03, 0.05, 0.04, 0.07]))
    source = np.asarray(text.LEAD_SOURCES)[categorical(rng, src_base + np.outer(zs, src_coef))]
    band = categorical(rng, np.log([0.3, 0.35, 0.22, 0.13]) + np.outer(zs, [-0.25, -0.08, 0.12, 0.25]))
    titles = np.array([t for b in text.JOB_TITLES for t in b])
    offs = np.cumsum([0] + [len(b) for b in text.JOB_TITLES])
    job = titles[offs[band] + (rng.random(n) * np.diff(offs)[band]).astype(int)]
    fund_idx = np.clip(np.floor((log_emp - 1.0) / 1.3 + rng.normal(0, 0.8, n)), 0, 5).astype(int)
    funding = np.asarray(text.FUNDING_STAGES)[fund_idx]
    revenue = np.round(employees * rng.lognormal(np.log(150_000), 0.5, n), -3)
    country = np.asarray(text.COUNTRIES)[rng.integers(0, len(text.COUNTRIES), n)]

    first, last = text.person_names(rng, n)
    company = text.company_names(rng, n)
    email = text.emails(first, last, company, np.arange(n))
    phone = text.phones(rng, n)

    # campaign of campaign-driven sources
    camp_id = np.full(n, None, dtype=object)
    camp_slug = np.full(n, None, dtype=object)
    for src, ctype in text.SOURCE_CAMPAIGN_TYPE.items():
        sel = source == src
        if sel.any():
            ids, slugs = campaign_at(org, ctype, created[sel])
            camp_id[sel], camp_slug[sel] = ids, slugs

    # outcome timing
    conv_delay = np.clip(rng.gamma(CONV_DELAY[0], CONV_DELAY[1], n), 2, 89) * DAY
    conv_at = weekend_shift(rng, created + conv_delay.astype(np.int64), 0.85)
    lost_delay = np.clip(rng.gamma(LOST_DELAY[0], LOST_DELAY[1], n), 2, 150) * DAY
    lost_at = created + lost_delay.astype(np.int64)
    resolved_at = np.where(converted, conv_at, lost_at)
    lost_reach = np.clip(np.floor(5 * sigmoid(0.8 * zs + rng.normal(0, 1, n) - 0.3)), 0, 4).astype(int)
    reach = np.where(converted, 5, lost_reach)
    done = resolved_at <= now
    frac = np.clip((now - created) / np.maximum(resolved_at - created, 1), 0, 1)
    current = np.minimum(np.floor(frac * np.where(converted, 4.999, reach + 0.999)), 4).astype(int)
    stage_names = np.array([s.value for s in STAGES])
    status = np.where(
        done, np.where(converted, LeadStatus.CONVERTED.value, LeadStatus.LOST.value), stage_names[current]
    )
    owner_idx = rng.choice(org.reps.size, n, p=org.rep_weight / org.rep_weight.sum())
    owner = org.reps[owner_idx].astype(object)
    owner[(status == LeadStatus.NEW.value) & (rng.random(n) < 0.5)] = None
    ids = uuids(rng, n)

    value_mu = shape.value_mu + 0.25 * (np.log(employees) - 3.6)
    expected_value = np.exp(value_mu + shape.value_sigma**2 / 2)
    has_deal = rng.random(n) >= NO_DEAL_SHARE

    lw = LeadWorld(
        leads=pl.DataFrame(),
        activities=pl.DataFrame(),
        web=pl.DataFrame(),
        truth=pl.DataFrame(),
        ids=ids,
        created=created,
        z=z,
        converted=converted,
        conv_at=conv_at,
        resolved_at=resolved_at,
        reach=reach,
        status=status,
        owner=owner,
        first=first,
        last=last,
        email=email,
        company=company,
        phone=phone,
        industry=industry,
        employees=employees,
        country=country,
        has_deal_if_converted=has_deal,
        expected_value=expected_value,
        value_mu=value_mu,
    )
    window_end = np.minimum(resolved_at, now)
    acts = _activities(rng, tp, org, lw, zs, window_end, camp_id, camp_slug, source, expected_value, now)
    lw.activities = acts
    lw.web = _web_events(stream(seed, "web", tp.index), tp, org, lw, acts, source, now)

    last_act = acts.group_by("lead_id").agg(
        pl.from_epoch(pl.col("t").max(), time_unit="s").dt.replace_time_zone("UTC").alias("last_activity_at")
    )
    missing = {
        k: rng.random(n) < r
        for k, r in (("phone", 0.15), ("company", 0.08), ("job", 0.12), ("industry", 0.1))
    }
    cf = pl.DataFrame(
        {
            "job_title": opt(np.where(missing["job"], NULL, job)),
            "industry": opt(np.where(missing["industry"], NULL, industry)),
            "employee_count": employees,
            "annual_revenue": revenue,
            "funding_stage": funding,
            "country": country,
            "utm_source": [text.UTM[s][0] for s in source],
            "utm_medium": [text.UTM[s][1] for s in source],
            "utm_campaign": opt(camp_slug),
            "campaign_id": opt(camp_id),
        }
    )
    updated = np.where(done, resolved_at, np.maximum(created, now - rng.integers(1, 30, n) * DAY))
    leads = pl.DataFrame(
        {
            "id": ids,
            "tenant_id": org.tenant_id,
            "customer_id": pl.Series([None] * n, dtype=pl.Utf8),  # filled by customers
            "email": email,
            "first_name": first,
            "last_name": last,
            "company": opt(np.where(missing["company"], NULL, company)),
            "phone": opt(np.where(missing["phone"], NULL, phone)),
            "source": source,
            "status": status,
            "score": 0,
            "assigned_user_id": opt(owner),
            "tags": pl.Series([[]] * n, dtype=pl.List(pl.Utf8)),
            "custom_fields": cf.select(pl.struct(pl.all()).struct.json_encode()).to_series(),
            "converted_at": ts(np.where(done & converted, conv_at, 0)),
            "created_at": ts(created),
            "updated_at": ts(np.maximum(updated, created)),
        }
    ).with_columns(
        pl.when(pl.col("status") == LeadStatus.CONVERTED.value).then(pl.col("converted_at")).otherwise(None)
    )
    leads = leads.join(last_act, left_on="id", right_on="lead_id", how="left", maintain_order="left")
    lw.leads = leads
    lw.truth = pl.DataFrame(
        {
            "lead_id": ids,
            "tenant_id": org.tenant_id,
            "propensity": z,
            "converted": converted,
            "converted_at": ts(conv_at),
        }
    ).with_columns(pl.when(pl.col("converted")).then(pl.col("converted_at")).otherwise(None))
    return lw


def _activities(
    rng,
    tp: TenantPlan,
    org: Org,
    lw: LeadWorld,
    zs: np.ndarray,
    window_end: np.ndarray,
    camp_id,
    camp_slug,
    source,
    expected_value,
    now: int,
) -> pl.DataFrame:
    n = lw.ids.size
    created = lw.created
    span = np.maximum(window_end - created, HOUR).astype(float)
    tau = ACTIVITY_TAU_DAYS * DAY

    # outcome-linked: proposal when the lead reached PROPOSAL, contract at NEGOTIATION
    prop_t = created + (0.7 * (lw.resolved_at - created)).astype(np.int64)
    cont_t = created + (0.88 * (lw.resolved_at - created)).astype(np.int64)
    has_prop = (lw.reach >= 3) & (prop_t < now)
    has_cont = (lw.reach >= 4) & (cont_t < now)
    budget = max(0, tp.lead_activities - int(has_prop.sum()) - int(has_cont.sum()))

    exposure = 1.0 - np.exp(-span / tau)
    shared = rng.gamma(SHARED_DISPERSION, 1 / SHARED_DISPERSION, n)
    types = list(ACTIVITY_MODEL)
    shares = np.array([ACTIVITY_MODEL[t][0] for t in types])
    totals = np.floor(budget * shares / shares.sum()).astype(int)
    totals[0] += budget - totals.sum()
    counts = np.zeros((n, len(types)), dtype=np.int64)
    for k, typ in enumerate(types):
        b = ACTIVITY_MODEL[typ][1] * SIGMA_Z
        wk = np.exp(b * zs) * shared * rng.gamma(TYPE_DISPERSION, 1 / TYPE_DISPERSION, n) * exposure
        counts[:, k] = rng.multinomial(totals[k], wk / wk.sum())

    per_lead = counts.sum(axis=1)
    lead_idx = np.repeat(np.repeat(np.arange(n), len(types)), counts.ravel())
    type_idx = np.repeat(np.tile(np.arange(len(types)), n), counts.ravel())
    m = lead_idx.size

    # bursts: a few session centres per lead, activity clustered around them
    n_bursts = 1 + rng.poisson(0.5 * per_lead**0.6)
    burst_lead = np.repeat(np.arange(n), n_bursts)
    centres = truncated_exp(rng, tau, span[burst_lead])
    first_burst = np.concatenate([[0], np.cumsum(n_bursts)[:-1]])
    burst = first_burst[lead_idx] + (rng.random(m) * n_bursts[lead_idx]).astype(np.int64)
    resp_mean = 240.0 * np.exp(-0.35 * SIGMA_Z * zs)  # minutes; engaged leads answer faster
    is_resp = np.array([ACTIVITY_MODEL[t][3] for t in types])[type_idx]
    resp_delay = rng.gamma(RESPONSE_SHAPE, resp_mean[lead_idx] * 60.0 / RESPONSE_SHAPE)
    jitter = np.where(is_resp, resp_delay, -rng.random(m) * HOUR)
    t = created[lead_idx] + centres[burst].astype(np.int64) + jitter.astype(np.int64)
    t = np.clip(t, created[lead_idx] + 60, np.maximum(window_end[lead_idx] - 60, created[lead_idx] + 60))
    t = np.minimum(t, now - 1)

    # outcome-linked rows appended
    p_idx = np.flatnonzero(has_prop)
    c_idx = np.flatnonzero(has_cont)
    lead_idx = np.concatenate([lead_idx, p_idx, c_idx])
    t = np.concatenate([t, prop_t[p_idx], cont_t[c_idx]])
    all_types = [*types, LAT.PROPOSAL_SENT, LAT.CONTRACT_SENT]
    type_idx = np.concatenate(
        [type_idx, np.full(p_idx.size, len(types)), np.full(c_idx.size, len(types) + 1)]
    )
    burst = np.concatenate([burst, -1 - p_idx, -1 - c_idx - n])
    m = lead_idx.size
    type_name = np.array([x.value for x in all_types])[type_idx]
    is_rep = np.array([ACTIVITY_MODEL[x][2] if x in ACTIVITY_MODEL else True for x in all_types])[type_idx]
    owner = lw.owner[lead_idx]
    rep_fallback = org.reps[rng.integers(0, org.reps.size, m)]
    user = np.where(is_rep, np.where(np.equal(owner, NULL), rep_fallback, owner), NULL)

    ids = uuids(rng, m)
    burst_key = np.char.add("b", burst.astype(str))
    minutes = np.round(rng.gamma(RESPONSE_SHAPE, resp_mean[lead_idx] / RESPONSE_SHAPE), 1)
    duration = np.round(rng.lognormal(np.log(240) + 0.4 * SIGMA_Z * zs[lead_idx], 0.6)).astype(np.int64)
    page_views = 1 + rng.geometric(0.55, m) - 1 + (rng.random(m) < sigmoid(zs[lead_idx])).astype(int)
    visit_campaign = rng.random(m) < 0.5
    retarget_type = np.array(["PAID_ADS", "SOCIAL", "EMAIL", "CONTENT"])[rng.integers(0, 4, m)]
    src = source[lead_idx]
    first_touch = np.zeros(m, dtype=bool)
    order = np.lexsort((t, lead_idx))
    first_of_lead = np.ones(m, dtype=bool)
    first_of_lead[1:] = lead_idx[order][1:] != lead_idx[order][:-1]
    first_touch[order] = first_of_lead
    c_id = np.full(m, None, dtype=object)
    c_slug = np.full(m, None, dtype=object)
    for ctype in ("PAID_ADS", "SOCIAL", "EMAIL", "CONTENT"):
        sel = visit_campaign & (retarget_type == ctype)
        if sel.any():
            c_id[sel], c_slug[sel] = campaign_at(org, ctype, t[sel])
    own = camp_id[lead_idx]
    use_own = np.not_equal(own, NULL) & (first_touch | (rng.random(m) < 0.3))
    c_id = np.where(use_own, own, c_id)
    c_slug = np.where(use_own, camp_slug[lead_idx], c_slug)
    smap = {s: i for i, s in enumerate(text.LEAD_SOURCES)}
    sidx = np.vectorize(smap.__getitem__, otypes=[int])(src) if m else np.zeros(0, int)
    utm_src = np.array([text.UTM[s][0] for s in text.LEAD_SOURCES])[sidx]
    utm_med = np.array([text.UTM[s][1] for s in text.LEAD_SOURCES])[sidx]
    retarget_utm = {
        "PAID_ADS": ("google", "cpc"),
        "SOCIAL": ("linkedin", "social"),
        "EMAIL": ("newsletter", "email"),
        "CONTENT": ("blog", "content"),
    }
    rt_src = np.array([retarget_utm[x][0] for x in retarget_type])
    rt_med = np.array([retarget_utm[x][1] for x in retarget_type])
    utm_src = np.where(
        use_own, utm_src, np.where(np.not_equal(c_id, NULL), rt_src, np.where(first_touch, utm_src, "direct"))
    )
    utm_med = np.where(
        use_own, utm_med, np.where(np.not_equal(c_id, NULL), rt_med, np.where(first_touch, utm_med, "none"))
    )

    page = np.asarray(text.PAGES)[rng.integers(0, len(text.PAGES), m)]
    doc_i = rng.integers(0, len(text.DOCUMENTS), m)
    form = np.asarray(text.FORMS)[rng.integers(0, len(text.FORMS), m)]
    note = np.asarray(text.NOTES)[rng.integers(0, len(text.NOTES), m)]
    subj = text.fill(
        text.EMAIL_SUBJECTS, rng.integers(0, len(text.EMAIL_SUBJECTS), m), i=lw.industry[lead_idx]
    )
    amount = money(expected_value[lead_idx] * rng.lognormal(-0.3, 0.5, m))

    df = pl.DataFrame(
        {
            "id": ids,
            "tenant_id": org.tenant_id,
            "lead_id": lw.ids[lead_idx],
            "user_id": opt(user),
            "type": type_name,
            "description": np.asarray([text.ACTIVITY_TEXT[x.value] for x in all_types])[type_idx],
            "t": t,
            "burst": burst_key,
            "campaign_id": opt(c_id),
            "utm_campaign": opt(c_slug),
            "utm_source": utm_src,
            "utm_medium": utm_med,
            "minutes": minutes,
            "duration": duration,
            "page_views": page_views,
            "page": page,
            "doc_i": doc_i,
            "form": form,
            "note": note,
            "subject": subj,
            "amount": amount,
            "demo": rng.random(m) < 0.4,
        }
    ).sort("t", "id")
    return activity_frame(df)


def activity_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Typed extras per activity type -> `extras` (JSON object text without braces, the
    typed payload fields) and `metadata` (JSON object for the crm row)."""
    T = LAT
    e = pl.col("type")
    url = pl.format("https://www.example.com{}", pl.col("page"))
    email_id = pl.format("em_{}", pl.col("burst"))
    meeting_id = pl.format("mt_{}", pl.col("burst"))
    sched = pl.from_epoch(pl.col("t"), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    sched_later = pl.from_epoch(pl.col("t") + 2 * DAY, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc_title = pl.col("doc_i").replace_strict(list(range(len(text.DOCUMENTS))), list(text.DOCUMENTS))
    parts: list[tuple[LAT, pl.Expr, pl.Expr]] = [
        (
            T.EMAIL_SENT,
            pl.struct(email_id=email_id, campaign_id="campaign_id", subject="subject"),
            pl.struct(subject="subject", campaign_id="campaign_id"),
        ),
        (
            T.EMAIL_OPENED,
            pl.struct(email_id=email_id, campaign_id="campaign_id"),
            pl.struct(response_minutes="minutes", campaign_id="campaign_id"),
        ),
        (
            T.EMAIL_CLICKED,
            pl.struct(email_id=email_id, campaign_id="campaign_id", url=url),
            pl.struct(url=url, campaign_id="campaign_id"),
        ),
        (
            T.CALL_MADE,
            pl.struct(duration_seconds=(pl.col("duration") % 40)),
            pl.struct(outcome=pl.lit("no answer")),
        ),
        (T.CALL_ANSWERED, pl.struct(duration_seconds="duration"), pl.struct(duration_seconds="duration")),
        (
            T.MEETING_SCHEDULED,
            pl.struct(meeting_id=meeting_id, scheduled_for=sched_later, is_demo="demo"),
            pl.struct(scheduled_for=sched_later, is_demo="demo"),
        ),
        (
            T.MEETING_COMPLETED,
            pl.struct(meeting_id=meeting_id, scheduled_for=sched, is_demo="demo"),
            pl.struct(is_demo="demo", duration_minutes=(pl.col("duration") // 8)),
        ),
        (
            T.FORM_SUBMITTED,
            pl.struct(form_id="form", campaign_id="campaign_id", utm_campaign="utm_campaign"),
            pl.struct(form_id="form", utm_campaign="utm_campaign"),
        ),
        (
            T.WEBSITE_VISIT,
            pl.struct(
                url=url,
                page_views="page_views",
                utm_source="utm_source",
                utm_medium="utm_medium",
                utm_campaign="utm_campaign",
                campaign_id="campaign_id",
            ),
            pl.struct(url=url, page_views="page_views", utm_source="utm_source", utm_campaign="utm_campaign"),
        ),
        (
            T.DOCUMENT_VIEWED,
            pl.struct(document_id=pl.format("doc-{}", pl.col("doc_i")), title=doc_title),
            pl.struct(title=doc_title),
        ),
        (
            T.PROPOSAL_SENT,
            pl.struct(amount=money_str("amount"), currency=pl.lit("USD")),
            pl.struct(amount=money_str("amount"), currency=pl.lit("USD")),
        ),
        (
            T.CONTRACT_SENT,
            pl.struct(amount=money_str("amount"), currency=pl.lit("USD")),
            pl.struct(amount=money_str("amount"), currency=pl.lit("USD")),
        ),
        (T.NOTE_ADDED, pl.struct(note="note"), pl.struct(note="note")),
    ]
    extras = pl.lit(None, dtype=pl.Utf8)
    meta = pl.lit(None, dtype=pl.Utf8)
    for typ, ex, md in reversed(parts):
        extras = pl.when(e == typ.value).then(ex.struct.json_encode()).otherwise(extras)
        meta = pl.when(e == typ.value).then(md.struct.json_encode()).otherwise(meta)
    return df.with_columns(
        extras=extras.str.slice(1).str.strip_suffix("}"),
        # a note's text is its row's description, as the write API stores it (and seals it),
        # never a copy in the row's metadata; its event carries it as `note` too
        metadata=pl.when(e == T.NOTE_ADDED.value).then(pl.lit("{}")).otherwise(meta),
        description=pl.when(e == T.NOTE_ADDED.value).then(pl.col("note")).otherwise(pl.col("description")),
    )


def _web_events(
    rng, tp: TenantPlan, org: Org, lw: LeadWorld, acts: pl.DataFrame, source, now: int
) -> pl.DataFrame:
    """Web tracker events mirroring the leads' visits, forms and downloads, plus page views,
    with UTM and campaign: the touchpoints of attribution."""
    n = lw.ids.size
    visitor = short_ids(rng, n, "v_", 16)
    lead_pos = pl.DataFrame({"lead_id": lw.ids, "li": np.arange(n)})
    base = acts.filter(
        pl.col("type").is_in([LAT.WEBSITE_VISIT.value, LAT.FORM_SUBMITTED.value, LAT.DOCUMENT_VIEWED.value])
    )
    base = base.join(lead_pos, on="lead_id", how="left", maintain_order="left")
    nb = base.height
    etype = base["type"].replace_strict(
        {
            LAT.WEBSITE_VISIT.value: "web.visit",
            LAT.FORM_SUBMITTED.value: "web.form_submit",
            LAT.DOCUMENT_VIEWED.value: "web.download",
        }
    )
    session = short_ids(rng, nb, "s_", 16)
    base = base.with_columns(
        event_type=etype, session_id=pl.Series(session), visitor_id=pl.Series(visitor[base["li"].to_numpy()])
    )
    visits = base.filter(pl.col("event_type") == "web.visit")
    n_pv = max(tp.web_events - nb, visits.height // 5)  # page views always exist
    if visits.height and n_pv:
        w = visits["page_views"].to_numpy().astype(float)
        k = rng.multinomial(n_pv, w / w.sum())
        rep = visits.select(pl.all().repeat_by(pl.Series(k)).explode()).drop_nulls("id")
        off = (rng.exponential(90.0, rep.height) + 10).astype(np.int64)
        pages = np.asarray(text.PAGES)[rng.integers(0, len(text.PAGES), rep.height)]
        rep = rep.with_columns(
            event_type=pl.lit("web.page_view"),
            t=pl.min_horizontal(pl.col("t") + pl.Series(np.cumsum(off) % 1800 + off), pl.lit(now - 1)),
            page=pl.Series(pages),
        )
        base = pl.concat([base, rep.select(base.columns)])
    m = base.height
    return (
        base.with_columns(
            event_id=pl.Series(uuids(rng, m)),
            title=pl.col("page").str.strip_prefix("/").str.replace_all("[-/]", " ").str.to_titlecase(),
            form_id=pl.col("form"),
            asset_id=pl.format("doc-{}", pl.col("doc_i")),
            url=pl.format("https://www.example.com{}", pl.col("page")),
        )
        .select(
            "event_id",
            "tenant_id",
            "event_type",
            "t",
            "visitor_id",
            "session_id",
            "lead_id",
            "url",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "campaign_id",
            "title",
            "form_id",
            "asset_id",
        )
        .sort("t", "event_id")
    )
