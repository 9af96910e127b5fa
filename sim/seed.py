"""`seed_world`: generate a world and write it (database, Kafka and/or raw landing tables)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import date

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crm.db import libpq_url
from sim.plan import make_plan
from sim.world import World, generate_world

SINKS = ("kafka", "raw", "both")


@dataclass
class WorldSummary:
    scale: str
    seed: int
    as_of: date
    sink: str
    tenant_ids: list[str]
    tables: dict[str, int] = field(default_factory=dict)
    topics: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.topics.values())

    @property
    def total_seconds(self) -> float:
        return self.seconds.get("total", 0.0)

    def __rich__(self):
        from rich.table import Table

        table = Table(
            "rows / events",
            "count",
            title=(
                f"world scale {self.scale}, seed {self.seed}, as of {self.as_of}, sink {self.sink}: "
                f"{self.events:,} events in {self.total_seconds:.1f}s"
            ),
        )
        for name, n in {**self.tables, **{f"topic {k}": v for k, v in self.topics.items()}}.items():
            table.add_row(name, f"{n:,}")
        return table


def seed_world(
    scale: str = "S",
    seed: int = 42,
    as_of: date | None = None,
    database_url: str | None = None,
    bootstrap: str | None = None,
    sink: str = "kafka",
    progress: bool = True,
    by_tenant: bool | None = None,
) -> WorldSummary:
    """Generate the world of (scale, seed, as_of) and write it: operational rows and hidden truth
    into Postgres always; events to Kafka (`sink="kafka"`), into `raw.*` directly (`"raw"`), or
    both. Re-seeding replaces the seed's tenants (see `sim.writers`). The database write
    runs in a thread while events are produced, so the two overlap.

    `by_tenant` (default: scale L) generates and writes one tenant at a time, one transaction
    each: the same rows, but only the largest tenant is ever in memory (a whole L world is
    about 11M events)."""
    if sink not in SINKS:
        raise ValueError(f"sink must be one of {SINKS}, not {sink!r}")
    url = libpq_url(database_url)
    plan = make_plan(scale, seed, as_of)
    if by_tenant is None:
        by_tenant = plan.scale == "L"
    summary = WorldSummary(plan.scale, seed, plan.as_of, sink, [])
    t0 = time.perf_counter()
    groups: list[list[int] | None] = [[tp.index] for tp in plan.tenants] if by_tenant else [None]
    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not progress,
        transient=False,
    ) as bar:
        g = bar.add_task(f"generate {plan.scale} world", total=len(plan.tenants))
        d = bar.add_task("write database", total=None)
        k = bar.add_task("send events to Kafka", total=None, visible=sink != "raw")
        for only in groups:
            t = time.perf_counter()
            world = generate_world(plan, on_tenant=lambda i, n: bar.advance(g, 1), only=only)
            _add(summary.seconds, "generate", time.perf_counter() - t)
            summary.tenant_ids += world.tenant_ids
            for name, frame in world.tables.items():
                summary.tables[name] = summary.tables.get(name, 0) + frame.height
            for name, frame in world.events.items():
                summary.topics[name] = summary.topics.get(name, 0) + frame.height
            rows = sum(v.height for v in world.tables.values())
            events = sum(v.height for v in world.events.values())
            bar.update(d, total=(bar.tasks[d].total or 0) + rows + (events if sink in ("raw", "both") else 0))
            if sink != "raw":
                bar.update(k, total=(bar.tasks[k].total or 0) + events)
            _write(
                world,
                url,
                bootstrap,
                sink,
                summary,
                lambda n: bar.advance(d, n),
                lambda n: bar.advance(k, n),
                replace_seed=only is None or only[0] == plan.tenants[0].index,
            )
            del world
    summary.seconds["total"] = time.perf_counter() - t0
    return summary


def _add(seconds: dict[str, float], key: str, value: float) -> None:
    seconds[key] = seconds.get(key, 0.0) + value


def _write(
    world: World,
    url: str,
    bootstrap: str | None,
    sink: str,
    summary: WorldSummary,
    db_step,
    kafka_step,
    replace_seed: bool = True,
) -> None:
    from sim.writers import clear_raw_events, send_events, write_database

    errors: list[BaseException] = []
    to_kafka = sink in ("kafka", "both")
    if to_kafka:
        # committed before the first event is sent: a lander lands them meanwhile (see writers)
        clear_raw_events(url, world.tenant_ids)

    def db() -> None:
        t = time.perf_counter()
        try:
            write_database(
                url, world, db_step, raw=sink in ("raw", "both"), landing=to_kafka, replace_seed=replace_seed
            )
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
        _add(summary.seconds, "database", time.perf_counter() - t)

    # Overlapped on purpose: a landing that checks tenants may see an event before the
    # database commit; it dead-letters nothing for that (unknown tenants are only checked
    # where `known_tenant` is passed), and the commit lands within seconds.
    th = threading.Thread(target=db, name="crm-sim-db")
    th.start()
    if to_kafka:
        t = time.perf_counter()
        try:
            asyncio.run(send_events(bootstrap, world, kafka_step))
        finally:
            _add(summary.seconds, "kafka", time.perf_counter() - t)
            th.join()
    else:
        th.join()
    if errors:
        raise errors[0]
