"""Faust's per-event hand-off cost, stock vs the lander's batch transport (no database).

Produces N events to one 4-partition topic, then runs `bench/ingest_handoff_app.py` once per
mode and reports events/s and CPU microseconds per event from the first batch to the last.
Same machine, same minute: the ratio means more than the absolute figures (shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import make_event, produce  # noqa: E402

from crm.events import ensure_topics  # noqa: E402
from crm.settings import get_settings  # noqa: E402
from stack.procs import free_port  # noqa: E402


def run(mode: str, bootstrap: str, topic: str, n: int, log: Path) -> dict:
    env = dict(
        os.environ,
        HANDOFF_MODE=mode,
        HANDOFF_EVENTS=str(n),
        HANDOFF_TOPIC=topic,
        KAFKA_BOOTSTRAP=bootstrap,
        PYTHONPATH=f"{ROOT}:{ROOT / 'bench'}",
        HANDOFF_DATADIR=f"/tmp/handoff-{mode}-{topic}",
    )
    argv = [
        str(Path(sys.executable).with_name("faust")),
        "-A",
        "ingest_handoff_app",
        "worker",
        "-l",
        "warn",
        "--web-port",
        str(free_port()),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT / "bench")
        try:
            deadline = time.monotonic() + max(300, n / 2000)
            while time.monotonic() < deadline:
                m = re.search(
                    rb"HANDOFF-DONE mode=\w+ events=(\d+) seconds=([\d.]+) cpu=([\d.]+)", log.read_bytes()
                )
                if m:
                    events, secs, cpu = int(m[1]), float(m[2]), float(m[3])
                    return {
                        "events": events,
                        "events_per_s": round(events / secs),
                        "cpu_us_per_event": round(cpu / events * 1e6, 1),
                    }
                if proc.poll() is not None:
                    raise RuntimeError(log.read_text(errors="replace")[-2000:])
                time.sleep(0.2)
            raise TimeoutError(f"{mode}: not done, see {log}")
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest_handoff.json")
    args = ap.parse_args()
    import stack

    settings = get_settings()
    bootstrap = stack.up(settings.home).kafka_bootstrap
    topic = f"handoff-{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(bootstrap, partitions=4, topics=[topic]))
    rng, tenants = random.Random(1), [uuid.uuid4()]
    msgs = (
        (topic, k, v)
        for _, k, v, _ in (make_event(i, rng, tenants, datetime.now(UTC)) for i in range(args.events))
    )
    asyncio.run(produce(bootstrap, "", msgs))
    result = {"events": args.events, "loadavg": [round(x, 2) for x in os.getloadavg()]}
    for mode in ("stock", "batch"):
        result[mode] = run(
            mode, bootstrap, topic, args.events, settings.home / "logs" / f"handoff-{mode}.log"
        )
        print(mode, result[mode], flush=True)
    result["speedup"] = round(result["batch"]["events_per_s"] / result["stock"]["events_per_s"], 2)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
