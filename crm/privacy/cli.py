"""`crm retention show|set|run` and `crm erase --person`: the same code as the Dagster job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
retention_app = typer.Typer(
    help="per-tenant retention policies (crm.retention_policies)", no_args_is_help=True
)
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="tenant slug (or id)")]


@retention_app.command("show")
def show(tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="one tenant")] = None) -> None:
    """Days kept per tenant and entity kind (default: the built-in default; forever: never deleted)."""
    import os

    from crm.db import connect
    from crm.privacy import policies

    with connect() as conn:
        rows = conn.execute("SELECT id::text, slug FROM crm.tenants ORDER BY slug").fetchall()
        table = Table("tenant", *policies.DEFAULTS)
        for tid, slug in rows:
            if tenant not in (None, slug, tid):
                continue
            keep, own = policies.effective(conn, tid), policies.overridden(conn, tid)
            cells = [
                f"{'forever' if keep[e] is None else keep[e]}{'' if e in own else ' (default)'}" for e in keep
            ]
            table.add_row(slug, *cells)
    console.print(table)
    months = os.environ.get("RAW_RETENTION_MONTHS")
    console.print(
        f"raw months for every tenant (RAW_RETENTION_MONTHS): {months or 'unset, every month kept'}"
    )


@retention_app.command("set")
def set_(
    tenant: TenantOpt,
    entity: Annotated[
        str,
        typer.Argument(help="raw_events, conversations, tickets, deleted_records, outbox, webhook_attempts"),
    ],
    days: Annotated[str, typer.Argument(help="days to keep, 'forever', or 'default'")],
) -> None:
    """Set how long a tenant keeps one entity kind."""
    from crm.db import connect
    from crm.privacy import policies

    with connect() as conn, conn.transaction():
        tid = policies.tenant_id(conn, tenant)
        if days == "default":
            policies.reset_policy(conn, tid, entity)
        else:
            policies.set_policy(conn, tid, entity, None if days == "forever" else int(days))
    console.print(f"{tenant}: {entity} -> {days}")


@retention_app.command("run")
def run(
    apply: Annotated[bool, typer.Option("--apply", help="delete (default: only count)")] = False,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="one tenant")] = None,
) -> None:
    """Apply every tenant's policy now (a dry run unless --apply); one audit row per tenant."""
    from crm.privacy import retention

    verb = "deleted" if apply else "would delete"
    for r in retention.run(dry_run=not apply, tenant=tenant):
        for entity, tables in r.counts.items():
            for name, n in tables.items():
                if n:
                    console.print(f"{r.slug}: {entity}: {verb} {n} rows of {name}")
        console.print(f"{r.slug}: {verb} {r.total} rows")


def erase(
    person: Annotated[str, typer.Option("--person", help="the person's e-mail")],
    tenant: TenantOpt,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the report here")] = None,
) -> None:
    """Erase one person's personal data in one tenant (crm.*, raw.*, analytics.*, ml.*, the audit
    log through crm.erase_audit_pii): records kept pseudonymised, caches and keys deleted."""
    from crm.privacy import erasure

    report = erasure.erase_person(person, tenant)
    table = Table("table", "action", "rows")
    for row in report.rows:
        table.add_row(row.table, row.action, str(row.rows))
    console.print(table)
    console.print(report.summary())
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_json(), indent=2) + "\n")


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")
    app.command("erase")(erase)
