"""Scoring, the same steps for every model (`ml.specs`) on every path (the CLI's
`ml.jobs.score_all`, the Dagster scoring assets, the one-entity answers of `ml.service`).

Per tenant the active model answers; when there is none, it cannot load, or it raises while
scoring, the model's rules answer instead: every output row says so (`method`,
`model_version`), and so does the run's summary (`fallback_reason`, per tenant).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import polars as pl

from crm.errors import CRMError
from ml import store
from ml.clock import run_clock
from ml.registry import Version
from ml.specs import ModelSpec

log = logging.getLogger(__name__)

T = TypeVar("T")

FORCED = "forced (force_rules)"


def active_model(
    url: str | None, spec: ModelSpec, tenant: str, force_rules: bool = False
) -> tuple[Any | None, Version | None, str | None]:
    """(model, version, None), or (None, None, why there is none to answer)."""
    if force_rules:
        return None, None, FORCED
    try:
        model, v = spec.load(url, tenant, spec.name)
    except CRMError as exc:
        return None, None, exc.message
    return model, v, None


def with_fallback(
    run: Callable[[Any | None, Version | None], T],
    model: Any | None,
    version: Version | None,
    reason: str | None,
) -> tuple[T, str | None]:
    """`run(model, version)`, or `run(None, None)` (the rules) when there is no model or it
    raises; with the reason the rules answered (None when the model did)."""
    if model is not None:
        try:
            return run(model, version), None
        except Exception as exc:  # a broken model must not leave the tenant unscored
            label = version.label if version is not None else "the model"
            log.warning("%s failed, the rules answer instead: %s", label, exc)
            reason = f"{label} failed: {exc}"
    return run(None, None), reason


def answer(
    url: str | None,
    spec: ModelSpec,
    tenant: str,
    run: Callable[[Any | None, Version | None], T],
    force_rules: bool = False,
) -> tuple[T, str | None]:
    """`run` with the tenant's active model, falling back to the rules (`with_fallback`)."""
    return with_fallback(run, *active_model(url, spec, tenant, force_rules))


def write(url: str | None, spec: ModelSpec, tenant: str, chunks: Iterable[pl.DataFrame]) -> int:
    """The tenant's output rows into the spec's table: a streamed full refresh of the tenant
    (`spec.columns`), an upsert on `spec.key`, or appended."""
    if spec.columns:
        return store.replace_tenants_stream(url, spec.output, [tenant], list(spec.columns), iter(chunks))
    frames = [c for c in chunks if c.height]
    if spec.key is not None:
        return store.upsert(url, spec.output, pl.concat(frames), spec.key) if frames else 0
    return sum(store.append(url, spec.output, f) for f in frames)


@dataclass
class ScoreRun:
    """One model's scoring run: rows written per method, and why tenants fell back."""

    fallback_method: str
    rows: int = 0
    tenants: int = 0
    methods: dict[str, int] = field(default_factory=dict)
    fallback: dict[str, str] = field(default_factory=dict)

    def add(self, tenant: str, rows: int, reason: str | None) -> None:
        method = "model" if reason is None else self.fallback_method
        self.rows += rows
        self.tenants += 1 if rows else 0
        self.methods[method] = self.methods.get(method, 0) + rows
        if reason is not None:
            self.fallback[tenant] = reason

    @property
    def method(self) -> str:
        used = {m for m, n in self.methods.items() if n}
        if used == {"model"}:
            return "model"
        return "mixed" if "model" in used else self.fallback_method

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows, "tenants": self.tenants, "methods": self.methods}
        if self.fallback:
            out["fallback_reason"] = "; ".join(f"{t}: {why}" for t, why in sorted(self.fallback.items()))
        out["method"] = self.method
        return out


def score_model(
    url: str | None,
    spec: ModelSpec,
    *,
    as_of: datetime | None = None,
    seed: int = 42,
    force_rules: bool = False,
    tenants: list[str] | None = None,
) -> ScoreRun:
    """Score every tenant (or these) that has something to score and write the rows, each at
    its own now (`ml.clock`)."""
    now_of = run_clock(url, as_of or datetime.now(UTC))
    run = ScoreRun(spec.fallback)
    for tenant in tenants or store.tenants(url):
        frame = spec.scoring_frame(url, tenant)
        if frame is None:
            continue

        def scored(
            model: Any | None,
            v: Version | None,
            frame: Any = frame,
            tenant: str = tenant,
            now: datetime = now_of(tenant),
        ) -> int:
            chunks: Iterator[pl.DataFrame] = spec.predict(frame, model, v, now, seed)
            return write(url, spec, tenant, chunks)

        rows, reason = answer(url, spec, tenant, scored, force_rules)
        run.add(tenant, rows, reason)
    return run


def score_ids(
    url: str | None,
    spec: ModelSpec,
    ids: Mapping[str, Collection[str]],
    *,
    as_of: datetime | None = None,
    seed: int = 42,
    force_rules: bool = False,
) -> ScoreRun:
    """Rescore only these entities (`{tenant: ids}`, the ones new events touched) with the same
    model, fallback and frame as `score_model`, and upsert their rows on the spec's key: the
    event-driven refresh keeps scores fresh without rewriting every tenant's rows. The whole
    tenant frame is predicted, as the batch does (the rules may rank an entity among the
    tenant's others), so a touched entity gets exactly the row a full run would give it; ids
    the frame does not hold (a closed deal, a deleted lead) are skipped."""
    if spec.key is None:
        raise ValueError(f"{spec.name} has no entity key: its runs cannot be limited to ids")
    key = spec.key
    now_of = run_clock(url, as_of or datetime.now(UTC))
    run = ScoreRun(spec.fallback)
    for tenant, wanted in ids.items():
        if not wanted:
            continue
        frame = spec.scoring_frame(url, tenant)
        if frame is None:
            continue
        keep = pl.col(key).is_in(sorted({str(i) for i in wanted}))

        def scored(
            model: Any | None,
            v: Version | None,
            frame: Any = frame,
            keep: pl.Expr = keep,
            now: datetime = now_of(tenant),
        ) -> int:
            chunks = [c.filter(keep) for c in spec.predict(frame, model, v, now, seed)]
            rows = [c for c in chunks if c.height]
            return store.upsert(url, spec.output, pl.concat(rows), key) if rows else 0

        rows, reason = answer(url, spec, tenant, scored, force_rules)
        run.add(tenant, rows, reason)
    return run
