"""Write dbt/models/unit/_unit_tests.yml: dbt unit tests whose expected rows are computed here,
independently of the SQL (attribution weights, health score, stage transitions, metrics).
Run: .venv/bin/python dbt/scripts/unit_tests.py"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent.parent / "models" / "unit" / "_unit_tests.yml"
T = "11111111-1111-1111-1111-111111111111"
WON = datetime(2026, 6, 30, 12, tzinfo=UTC)
HALF_LIFE = 7.0


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S+00")


def cents(x: float | Decimal) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def weights(n: int, opp: int, ages: list[float]) -> dict[str, list[float]]:
    """Reference implementation of the six models (positions 1..n)."""

    def keyed(keys: set[int], key_w: float) -> list[float]:
        k = len(keys)
        if n == k:
            return [1.0 / k if p in keys else 0.0 for p in range(1, n + 1)]
        rest = (1.0 - key_w * k) / (n - k)
        return [key_w if p in keys else rest for p in range(1, n + 1)]

    decay = [0.5 ** (a / HALF_LIFE) for a in ages]
    return {
        "first_touch": [1.0 if p == 1 else 0.0 for p in range(1, n + 1)],
        "last_touch": [1.0 if p == n else 0.0 for p in range(1, n + 1)],
        "linear": [1.0 / n] * n,
        "time_decay": [d / sum(decay) for d in decay],
        "u_shaped": keyed({1, n}, 0.4),
        "w_shaped": keyed({1, opp, n}, 0.3),
    }


def credits(value: Decimal, w: list[float]) -> list[Decimal]:
    c = [cents(float(value) * x) for x in w]
    top = max(range(len(w)), key=lambda i: (w[i], i))  # largest weight, later position on ties
    c[top] += value - sum(c)
    return c


def attribution_test() -> dict:
    deals = [
        # deal, value, touch ages in days before the win, deal created (days before win)
        ("aaaaaaaa-0000-0000-0000-000000000001", Decimal("100.00"), [21, 14, 7, 0], 10),
        ("aaaaaaaa-0000-0000-0000-000000000002", Decimal("100.00"), [30, 20, 10], 40),
        ("aaaaaaaa-0000-0000-0000-000000000003", Decimal("999.99"), [5], 1),
    ]
    rows, expect = [], []
    for deal, value, ages, created_days in deals:
        created = WON - timedelta(days=created_days)
        touched = [WON - timedelta(days=a) for a in ages]
        opp = max([i + 1 for i, t in enumerate(touched) if t <= created], default=1)
        for i, t in enumerate(touched):
            rows.append(
                {
                    "deal_id": deal,
                    "tenant_id": T,
                    "deal_value": str(value),
                    "deal_created_at": iso(created),
                    "won_at": iso(WON),
                    "touchpoint_id": f"{deal[:-1]}{i}".replace("aaaaaaaa", "bbbbbbbb"),
                    "touchpoint_source": "web_event",
                    "touchpoint_type": "web",
                    "channel": "cpc",
                    "touched_at": iso(t),
                }
            )
        for model, w in weights(len(ages), opp, [float(a) for a in ages]).items():
            for i, c in enumerate(credits(value, w)):
                expect.append(
                    {"deal_id": deal, "attribution_model": model, "touch_position": i + 1, "credit": str(c)}
                )
    return {
        "name": "attribution_weights_and_credits",
        "description": "Six models on three deals (4 touches with the deal created after the 2nd, 3 touches all before "
        "creation, 1 touch); credits rounded to the cent with the remainder on the largest credit.",
        "model": "fct_revenue_attribution",
        "overrides": {"vars": {"attribution_half_life_days": HALF_LIFE}, "macros": {"is_incremental": False}},
        "given": [
            {"input": "ref('int_attributable_touches')", "rows": rows},
            # read only by the incremental path (overridden off here): empty
            {"input": "ref('int_deals_enriched')", "rows": []},
            {"input": "ref('int_touchpoints')", "rows": []},
        ],
        "expect": {"rows": expect},
    }


def health_test() -> dict:
    w = {"usage": 0.35, "support": 0.25, "engagement": 0.20, "financial": 0.20}
    cases = [
        # customer, current factors, previous factors (None: no trend row)
        ("c0000000-0000-0000-0000-000000000001", (1, 1, 1, 1), (0.5, 0.5, 0.5, 0.5)),
        ("c0000000-0000-0000-0000-000000000002", (0.2, 0.2, 0.2, 0.2), (0.21, 0.2, 0.2, 0.2)),
        ("c0000000-0000-0000-0000-000000000003", (0.5, 0.5, 0.5, 0.5), None),
        ("c0000000-0000-0000-0000-000000000004", (1, 0, 0, 0), (1, 1, 1, 1)),
        ("c0000000-0000-0000-0000-000000000005", (0.7, 0.7, 0.7, 0.7), (0.7, 0.7, 0.7, 0.7)),
    ]

    def score(f: tuple) -> Decimal:
        s = 100 * sum(wi * fi for wi, fi in zip(w.values(), f, strict=True)) / sum(w.values())
        return Decimal(str(s)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def row(cid: str, kind: str, f: tuple) -> dict:
        return {
            "tenant_id": T,
            "customer_id": cid,
            "snapshot_kind": kind,
            "snapshot_at": iso(WON),
            "is_active_at_snapshot": True,
            "usage_factor": f[0],
            "support_factor": f[1],
            "engagement_factor": f[2],
            "financial_factor": f[3],
        }

    rows, expect = [], []
    for cid, cur, prev in cases:
        rows.append(row(cid, "current", cur))
        if prev is not None:
            rows.append(row(cid, "trend", prev))
        s = score(cur)
        delta = None if prev is None else s - score(prev)
        trend = "stable" if delta is None or abs(delta) <= 5 else ("improving" if delta > 0 else "declining")
        risk = "low" if s >= 70 else "medium" if s >= 50 else "high" if s >= 30 else "critical"
        expect.append({"customer_id": cid, "health_score": str(s), "trend": trend, "risk_level": risk})
    return {
        "name": "health_score_trend_and_risk",
        "description": "Weighted score (default weights), trend beyond +-5 points, risk thresholds 70/50/30.",
        "model": "fct_customer_health",
        "given": [{"input": "ref('int_customer_health_factors')", "rows": rows}],
        "expect": {"rows": expect},
    }


def transitions_test() -> dict:
    deal, pipe = "dddddddd-0000-0000-0000-000000000001", "eeeeeeee-0000-0000-0000-000000000001"
    t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    steps = [
        ("CREATED", None, "Prospecting", 0),
        ("STAGE_CHANGED", "Prospecting", "Qualification", 2),
        ("STAGE_CHANGED", "Qualification", "Proposal", 5.5),
        ("STAGE_CHANGED", "Proposal", "Closed Won", 9),
    ]
    rows = []
    for i, (typ, frm, to, d) in enumerate(steps):
        rows.append(
            {
                "event_id": f"ffffffff-0000-0000-0000-00000000000{i}",
                "tenant_id": T,
                "deal_id": deal,
                "activity_type": typ,
                "from_stage": frm,
                "to_stage": to,
                "occurred_at": iso(t0 + timedelta(days=d)),
                "received_at": iso(t0 + timedelta(days=d)),
            }
        )
    # a note on the same deal is not a transition
    rows.append(
        {
            "event_id": "ffffffff-0000-0000-0000-000000000009",
            "tenant_id": T,
            "deal_id": deal,
            "activity_type": "NOTE_ADDED",
            "occurred_at": iso(t0 + timedelta(days=3)),
            "received_at": iso(t0),
        }
    )
    stages = [
        {
            "tenant_id": T,
            "pipeline_id": pipe,
            "pipeline_name": "Sales",
            "stage_name": n,
            "stage_order": o,
            "stage_probability": p,
            "is_won": n == "Closed Won",
            "is_lost": False,
        }
        for n, o, p in [
            ("Prospecting", 1, 10),
            ("Qualification", 2, 20),
            ("Proposal", 4, 60),
            ("Closed Won", 6, 100),
        ]
    ]
    expect = []
    for i, (_typ, _frm, to, d) in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        expect.append(
            {
                "stage_sequence": i + 1,
                "stage_name": to,
                "from_stage": steps[i - 1][2] if i else None,
                "entered_at": iso(t0 + timedelta(days=d)),
                "exited_at": iso(t0 + timedelta(days=nxt[3])) if nxt else None,
                "days_in_stage": (nxt[3] - d) if nxt else None,
                "is_current": nxt is None,
                "is_won_stage": to == "Closed Won",
            }
        )
    return {
        "name": "stage_transitions_entered_exited",
        "description": "Created + three stage changes: each stage's entry, exit (the next entry) and days in stage.",
        "model": "fct_deal_stage_transitions",
        "overrides": {"macros": {"is_incremental": False}},
        "given": [
            {"input": "ref('stg_raw__deal_activities')", "rows": rows},
            {"input": "ref('stg_crm__deals')", "rows": [{"deal_id": deal, "pipeline_id": pipe}]},
            {"input": "ref('stg_crm__pipeline_stages')", "rows": stages},
        ],
        "expect": {"rows": expect},
    }


def metrics_test() -> dict:
    owner = "99999999-0000-0000-0000-000000000001"
    days = [
        # leads_created, converted, responded, response_hours, deals_won, lost, won_revenue, cycle_days, open, open_value
        (10, 2, 5, 10.0, 1, 1, 100, 10.0, 4, 1000),
        (10, 3, 0, 0.0, 1, 0, 300, 30.0, 4, 800),
        (0, 0, 0, 0.0, 0, 0, 0, 0.0, 0, 0),
    ]
    rows, expect = [], []
    acc = [0.0] * 8
    for i, d in enumerate(days):
        day = f"2026-05-0{i + 1}"
        rows.append(
            {
                "tenant_id": T,
                "owner_id": owner,
                "is_tenant_total": False,
                "day": day,
                "leads_created": d[0],
                "leads_converted": d[1],
                "leads_responded": d[2],
                "response_hours_sum": d[3],
                "deals_created": 0,
                "deals_won": d[4],
                "deals_lost": d[5],
                "won_revenue": d[6],
                "won_cycle_days_sum": d[7],
                "open_deals": d[8],
                "open_pipeline_value": d[9],
            }
        )
        acc = [a + x for a, x in zip(acc, d[:8], strict=True)]
        created, conv, resp, hours, won, lost, rev, cyc = acc
        win_rate = won / (won + lost) if won + lost else None
        avg = rev / won if won else None
        cycle = cyc / won if won else None
        expect.append(
            {
                "day": day,
                "lead_conversion_rate": round(conv / created, 4) if created else None,
                "win_rate": round(win_rate, 4) if win_rate is not None else None,
                "avg_deal_size": str(cents(avg)) if avg is not None else None,
                "sales_cycle_days": round(cycle, 2) if cycle is not None else None,
                "deal_velocity": str(cents(d[8] * win_rate * avg / cycle)) if won and cyc else None,
                "pipeline_coverage": round(d[9] / rev, 4) if rev else None,
                "lead_response_time_hours": round(hours / resp, 2) if resp else None,
            }
        )
    return {
        "name": "metrics_trailing_window_rates",
        "description": "Three dense days of counts: conversion, win rate, deal size, cycle, velocity, coverage, response time.",
        "model": "metrics_crm_daily",
        "given": [{"input": "ref('int_metrics_daily_counts')", "rows": rows}],
        "expect": {"rows": expect},
    }


def main() -> None:
    tests = [attribution_test(), health_test(), transitions_test(), metrics_test()]
    OUT.write_text(
        "# generated by dbt/scripts/unit_tests.py (expected rows computed in Python)\n"
        + yaml.safe_dump({"unit_tests": tests}, sort_keys=False, width=120)
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
