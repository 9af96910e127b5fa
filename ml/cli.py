"""`crm ml ...` (train, score, explain) and `crm models ...` (the registry)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
models_app = typer.Typer(help="ML model registry (ml.model_versions)", no_args_is_help=True)
ml_app = typer.Typer(help="ML jobs: train, score, explain", no_args_is_help=True)


def _tenant_ids(tenant: str | None) -> list[str] | None:
    return [tenant] if tenant else None


def _fail(exc: Exception) -> None:
    code = getattr(exc, "code", None)
    console.print(f"[red]{code}[/] {getattr(exc, 'message', exc)}" if code else f"[red]{exc}[/]")
    raise typer.Exit(1) from exc


@models_app.command("list")
def models_list(
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
    name: Annotated[str | None, typer.Option(help="only this model name")] = None,
) -> None:
    """Every registered model version with its status, family (or forecast method) and
    holdout metrics."""
    from ml import registry

    table = Table(
        "tenant", "model", "version", "status", "trained", "family", "auc / mape", "baseline", "reason"
    )
    for v in registry.list_versions(None, tenant, name):
        m = v.metrics
        score = m.get("auc", m.get("backtest_mape"))
        base = m.get("baseline_auc", m.get("seasonal_naive_mape"))
        table.add_row(
            v.tenant_id[:8],
            v.name,
            str(v.version),
            v.status,
            f"{v.trained_at:%Y-%m-%d %H:%M}",
            str(v.params.get("family", v.params.get("method", "-"))),
            f"{score:.3f}" if isinstance(score, float) else "-",
            f"{base:.3f}" if isinstance(base, float) else "-",
            (v.reason or "")[:60],
        )
    console.print(table)


@models_app.command("promote")
def models_promote(
    tenant: Annotated[str, typer.Option(help="tenant id")],
    name: Annotated[str, typer.Argument(help="model name, e.g. lead_scoring")],
    version: Annotated[int, typer.Argument(help="version to make active")],
) -> None:
    """Make a version active (operator override: the automatic gate runs at training)."""
    from crm.errors import CRMError
    from ml import registry

    try:
        v = registry.promote(None, tenant, name, version, "promoted by operator")
    except CRMError as exc:
        _fail(exc)
    console.print(f"[green]active[/] {v.label} for tenant {tenant}")


@models_app.command("rollback")
def models_rollback(
    tenant: Annotated[str, typer.Option(help="tenant id")],
    name: Annotated[str, typer.Argument(help="model name")],
) -> None:
    """Retire the active version and restore the one active before it (or none: rules answer)."""
    from crm.errors import CRMError
    from ml import registry

    try:
        v = registry.rollback(None, tenant, name)
    except CRMError as exc:
        _fail(exc)
    console.print(
        f"[green]active[/] {v.label}" if v else "no earlier version: the rule-based fallback answers now"
    )


@ml_app.command("train")
def ml_train(
    seed: Annotated[int, typer.Option(help="random seed")] = 42,
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
) -> None:
    """Train every model per tenant on the warehouse marts; register, gate and promote."""
    from ml import jobs

    report = jobs.train_all(None, seed=seed, tenants=_tenant_ids(tenant))
    table = Table("tenant", "model", "outcome", "detail")
    for r in report.rows:
        table.add_row(r["tenant_id"][:8], r["model"], r["outcome"], r["detail"][:90])
    console.print(table)


@ml_app.command("score")
def ml_score(
    seed: Annotated[int, typer.Option(help="random seed (forecast intervals)")] = 42,
    tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
    force_rules: Annotated[
        bool, typer.Option(help="the rules answer even where an active model exists (incident switch)")
    ] = False,
) -> None:
    """Score leads, open deals and customers, forecast revenue; write ml.*. Per tenant the
    active model answers, else (none, or it fails) the rules, and the output says so."""
    from ml import jobs

    runs = jobs.score_all(None, seed=seed, tenants=_tenant_ids(tenant), force_rules=force_rules)
    table = Table("output", "rows", "method", "by method", "fallback")
    for output, run in runs.items():
        table.add_row(
            output,
            str(run["rows"]),
            run["method"],
            ", ".join(f"{m} {n}" for m, n in run["methods"].items()),
            run.get("fallback_reason", "")[:120],
        )
    console.print(table)


@ml_app.command("explain")
def ml_explain(lead_id: Annotated[str, typer.Argument(help="lead id")]) -> None:
    """explainLeadScore: score, factors with signed contributions, advice, for one lead."""
    import orjson

    from crm.errors import CRMError
    from ml import service

    try:
        out = service.explain_lead_score(None, lead_id)
    except CRMError as exc:
        _fail(exc)
    console.print_json(orjson.dumps(out, default=str).decode())


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.add_typer(ml_app, name="ml")
