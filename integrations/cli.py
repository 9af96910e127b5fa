"""`crm import ...`: load other systems' export files (HubSpot, Salesforce, order histories,
any CSV or Parquet through a mapping file) into a tenant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
import_app = typer.Typer(
    help="Import export files into a tenant: hubspot, salesforce, transactions, mapping", no_args_is_help=True
)

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="tenant slug or id")]
CreateTenant = Annotated[
    str | None,
    typer.Option("--create-tenant", help="create the tenant (with this name) if it does not exist"),
]
SkipBad = Annotated[
    bool,
    typer.Option(
        "--skip-bad-rows", help="import the good rows and list the bad ones (default: import nothing)"
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="check every row, write nothing")]
ErrorsFile = Annotated[Path | None, typer.Option("--errors-file", help="write every bad row here (CSV)")]
Clock = Annotated[
    str | None,
    typer.Option(
        "--clock",
        help="set the tenant's clock (historical data): an ISO date, or 'last' for the day after the latest record",
    ),
]


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in (".csv", ".parquet", ".pq", ".txt"))
        elif p.exists():
            out.append(p)
        else:
            console.print(f"[red]no such file: {p}[/]")
            raise typer.Exit(2)
    if not out:
        console.print("[red]no files to import[/]")
        raise typer.Exit(2)
    return out


def _run(
    fmt: str,
    paths: list[Path],
    tenant: str,
    *,
    columns: dict[str, str] | None = None,
    create_tenant: str | None,
    skip_bad_rows: bool,
    dry_run: bool,
    errors_file: Path | None,
    clock: str | None = None,
) -> None:
    from crm.errors import CRMError
    from integrations.imports.run import import_files

    with Progress(
        TextColumn("{task.description:>14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(kind: str, done: int, total: int) -> None:
            if kind not in tasks:
                tasks[kind] = bar.add_task(kind, total=total)
            bar.update(tasks[kind], completed=done)

        try:
            result = import_files(
                fmt,
                paths,
                tenant,
                columns=columns,
                create_tenant=create_tenant,
                skip_bad_rows=skip_bad_rows,
                dry_run=dry_run,
                progress=progress,
                clock=clock,
            )
        except CRMError as exc:
            console.print(f"[red]{exc.code}[/] {exc.message}")
            raise typer.Exit(1) from exc
    for b in result.bad[:50]:
        console.print(f"[yellow]{b.file}:{b.line}[/] {b.reason}")
    if len(result.bad) > 50:
        console.print(f"... and {len(result.bad) - 50} more bad rows")
    for warning in result.warnings[:20]:
        console.print(f"[dim]{warning.file}:{warning.line}[/] {warning.reason}")
    if len(result.warnings) > 20:
        console.print(f"... and {len(result.warnings) - 20} more rows with a reference left empty")
    if errors_file and result.bad:
        import csv

        with errors_file.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["file", "line", "reason"])
            w.writerows([b.file, b.line, b.reason] for b in result.bad)
        console.print(f"every bad row: {errors_file}")
    if result.counts:
        table = Table("records", "created", "updated", "unchanged", title=f"import {result.run_id}")
        for kind, c in result.counts.items():
            table.add_row(kind, str(c["created"]), str(c["updated"]), str(c["unchanged"]))
        console.print(table)
    if result.status == "rejected":
        console.print(
            f"[red]rejected[/]: {len(result.bad)} bad rows, nothing written"
            + ("" if dry_run else " (--skip-bad-rows imports the good rows)")
        )
        raise typer.Exit(1)
    console.print(
        f"{result.status}: {sum(f['rows'] for f in result.files)} rows read from {len(result.files)} files"
    )


@import_app.command("transactions")
def import_transactions(
    paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet files (or folders) of orders")],
    tenant: Tenant,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            "-c",
            help="field=column when the file's names differ: customer, timestamp, amount, product, quantity, id",
        ),
    ] = None,
    create_tenant: CreateTenant = None,
    skip_bad_rows: SkipBad = False,
    dry_run: DryRun = False,
    errors_file: ErrorsFile = None,
    clock: Clock = None,
) -> None:
    """An order history: one row per order (customer, timestamp, amount[, product, quantity, id]).
    Each order becomes a won deal of the `Orders` pipeline, each new customer a customer."""
    pairs = [c.split("=", 1) for c in column or []]
    if any(len(p) != 2 for p in pairs):
        console.print("[red]--column takes field=column[/]")
        raise typer.Exit(2)
    _run(
        "transactions",
        _files(paths),
        tenant,
        columns=dict(pairs),
        create_tenant=create_tenant,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
        errors_file=errors_file,
        clock=clock,
    )


def _vendor(name: str) -> Callable[..., None]:
    def command(
        paths: Annotated[list[Path], typer.Argument(help="export files, or the folder holding them")],
        tenant: Tenant,
        create_tenant: CreateTenant = None,
        skip_bad_rows: SkipBad = False,
        dry_run: DryRun = False,
        errors_file: ErrorsFile = None,
        clock: Clock = None,
    ) -> None:
        _run(
            name,
            _files(paths),
            tenant,
            create_tenant=create_tenant,
            skip_bad_rows=skip_bad_rows,
            dry_run=dry_run,
            errors_file=errors_file,
            clock=clock,
        )

    return command


import_app.command("hubspot", help="HubSpot exports: contacts, companies, deals, engagements, tickets.")(
    _vendor("hubspot")
)
import_app.command(
    "salesforce",
    help="Salesforce exports (API field names): Lead, Account, Contact, Opportunity, OpportunityHistory,"
    " Task, Event, Case, Campaign, CampaignMember.",
)(_vendor("salesforce"))


@import_app.command("mapping")
def import_mapping(
    mapping: Annotated[Path, typer.Argument(help="the mapping file (YAML)")],
    paths: Annotated[
        list[Path] | None, typer.Argument(help="data files replacing the mapping's paths, in order")
    ] = None,
    tenant: Tenant = "",
    create_tenant: CreateTenant = None,
    skip_bad_rows: SkipBad = False,
    dry_run: DryRun = False,
    errors_file: ErrorsFile = None,
    clock: Clock = None,
) -> None:
    """Any CSV or Parquet files, described by a mapping file (see docs/integrators.md)."""
    if not tenant:
        console.print("[red]--tenant is required[/]")
        raise typer.Exit(2)
    _run(
        "mapping",
        [mapping, *_files(paths or [])] if paths else [mapping],
        tenant,
        create_tenant=create_tenant,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
        errors_file=errors_file,
        clock=clock,
    )


@import_app.command("status")
def import_status(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="only this tenant (slug or id)")
    ] = None,
    limit: Annotated[int, typer.Option(help="most recent runs")] = 20,
) -> None:
    """The latest import runs: format, status, records written, bad rows."""
    from crm.db import connect

    with connect() as conn:
        rows = conn.execute(
            "SELECT r.id, t.slug, r.format, r.status, r.counts, r.bad_row_count, r.started_at, r.finished_at, r.error"
            " FROM crm.import_runs r JOIN crm.tenants t ON t.id = r.tenant_id"
            " WHERE %(t)s::text IS NULL OR t.slug = %(t)s OR t.id::text = %(t)s"
            " ORDER BY r.started_at DESC LIMIT %(n)s",
            {"t": tenant, "n": limit},
        ).fetchall()
    table = Table(
        "run", "tenant", "format", "status", "created", "updated", "unchanged", "bad rows", "started", "took"
    )
    for rid, slug, fmt, status, counts, bad, started, finished, error in rows:
        totals = {
            k: sum(c.get(k, 0) for c in (counts or {}).values()) for k in ("created", "updated", "unchanged")
        }
        took = f"{(finished - started).total_seconds():.1f} s" if finished else "-"
        table.add_row(
            str(rid)[:8],
            slug,
            fmt,
            status if not error else f"{status}: {error[:60]}",
            str(totals["created"]),
            str(totals["updated"]),
            str(totals["unchanged"]),
            str(bad),
            started.strftime("%Y-%m-%d %H:%M"),
            took,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    from integrations.conversations import cli as conversations_cli
    from integrations.external_sync import cli as sync_cli
    from integrations.tickets import cli as tickets_cli
    from integrations.webhooks import cli as webhooks_cli

    app.add_typer(import_app, name="import")
    for name, sub in (
        ("webhooks", webhooks_cli.app),
        ("tickets", tickets_cli.app),
        ("conversations", conversations_cli.app),
        ("sync", sync_cli.app),
    ):
        if sub.registered_commands or sub.registered_groups:
            app.add_typer(sub, name=name)
