"""`crm sync ...` commands: run a sync now, show the runs and the retry queue, connect an
account, make a credentials key."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="Two-way sync with HubSpot and Salesforce through their SDKs", no_args_is_help=True)
Tenant = Annotated[str, typer.Option("--tenant", "-t", help="tenant slug or id")]
Provider = Annotated[str, typer.Option("--provider", "-p", help="hubspot | salesforce")]
Name = Annotated[str | None, typer.Option("--name", help="the connection's name (when several)")]


@app.command("new-key")
def new_key() -> None:
    """Print a fresh CRM_SYNC_CREDENTIALS_KEY (keep it in the environment or a secret store)."""
    from integrations.external_sync.secrets import new_key as make

    typer.echo(make())


@app.command("connect")
def connect_account(
    tenant: Tenant,
    provider: Provider,
    token: Annotated[str, typer.Option("--token", envvar="CRM_SYNC_TOKEN", help="access token / session id")],
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="API root (default: the vendor's)")
    ] = None,
    name: Annotated[str, typer.Option("--name")] = "main",
    every: Annotated[int, typer.Option("--every", help="minutes between scheduled runs")] = 15,
) -> None:
    """Store a connection (its credentials encrypted)."""
    from crm.db import connect
    from integrations.external_sync import store
    from integrations.imports.run import resolve_tenant

    with connect(autocommit=True) as conn:
        cid = store.create_connection(
            conn,
            resolve_tenant(conn, tenant),
            provider,
            name,
            {"access_token": token},
            base_url=base_url,
            interval_minutes=every,
        )
    typer.echo(f"connection {cid}")


@app.command("run")
def run(tenant: Tenant, provider: Provider, name: Name = None, direction: str = "both") -> None:
    """Run one sync now and print its counts (exit 1 when it fails)."""
    from crm.errors import CRMError
    from integrations.external_sync.engine import SyncConfig, sync_with_external_crm

    try:
        result = sync_with_external_crm(provider, SyncConfig(tenant=tenant, name=name, direction=direction))
    except CRMError as exc:
        typer.echo(json.dumps(exc.to_dict(), default=str), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"run {result.run_id}: {result.status}")
    for d, by_obj in result.counts.items():
        for obj, c in by_obj.items():
            typer.echo(f"{d:9} {obj:14} " + " ".join(f"{k} {v}" for k, v in c.items()))
    for f in result.failures:
        typer.echo(f"failed: {f['message']} (attempt {f['context'].get('attempt')})")


@app.command("status")
def status(tenant: Annotated[str | None, typer.Option("--tenant", "-t")] = None, limit: int = 10) -> None:
    """The latest runs and the pending retries."""
    from crm.db import connect

    with connect() as conn:
        where, args = (
            ("", ())
            if tenant is None
            else (
                "WHERE r.tenant_id = (SELECT id FROM crm.tenants WHERE slug = %s OR id::text = %s)",
                (tenant, tenant),
            )
        )
        runs = conn.execute(
            "SELECT r.id, r.provider, r.direction, r.status, r.started_at, r.finished_at, r.counts, r.error"
            f" FROM crm.sync_runs r {where} ORDER BY r.requested_at DESC LIMIT %s",
            (*args, limit),
        ).fetchall()
        retries = conn.execute(
            "SELECT direction, object, record_id, attempts, next_attempt_at, status, last_error"
            " FROM crm.sync_retry_queue WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 50"
        ).fetchall()
    for rid, prov, d, st, started, finished, counts, error in runs:
        totals: dict[str, int] = {}
        for by_obj in counts.values():
            for c in by_obj.values():
                for k, v in c.items():
                    totals[k] = totals.get(k, 0) + v
        typer.echo(f"{rid} {prov} {d} {st} {started} -> {finished} {totals} {error or ''}")
    for row in retries:
        typer.echo("retry " + " ".join(str(v) for v in row))


@app.command("due")
def due() -> None:
    """Run every queued or scheduled sync that is due (what the Dagster sensor does)."""
    from integrations.external_sync.engine import run_due

    for run_id, status_ in run_due():
        typer.echo(f"{run_id} {status_}")
