"""Seed scale M with sink=kafka and print seconds and events/s (never fails on timing).

DATABASE_URL=... KAFKA_BOOTSTRAP=... .venv/bin/python bench/seed_m.py [--seed N] [--sink kafka|raw|both]
"""

from __future__ import annotations

import argparse
import json

from sim import seed_world


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--sink", default="kafka")
    ap.add_argument("--scale", default="M")
    a = ap.parse_args()
    s = seed_world(a.scale, a.seed, sink=a.sink, progress=True)
    total = s.total_seconds
    result = {
        "scale": s.scale,
        "seed": s.seed,
        "sink": s.sink,
        "rows": sum(s.tables.values()),
        "events": s.events,
        "seconds": round(total, 1),
        "events_per_s": round(s.events / total),
        "phases": {k: round(v, 1) for k, v in s.seconds.items()},
        "within_3_min": total <= 180,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
