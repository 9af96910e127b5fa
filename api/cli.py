"""`crm api`, `crm api-token`, `crm api-keys ...`, `crm outbox-relay`: the write API from the
command line (serving it, dev tokens, integration keys, the outbox relay)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crm.errors import CRMError

console = Console()
keys_app = typer.Typer(help="API keys for integrations (stored hashed; shown once)", no_args_is_help=True)


def _fail(exc: Exception) -> None:
    console.print(f"[red]{exc}[/]")
    raise typer.Exit(1)


def uvicorn_argv(host: str, port: int, workers: int) -> list[str]:
    """The documented way to run the API: uvloop + httptools, no access log, N workers."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "5",
    ]


def api(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes (one per core)")] = 2,
) -> None:
    """Run the write API in the foreground (uvicorn, uvloop, httptools); OpenAPI page at /docs."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir(port))
    os.execv(sys.executable, uvicorn_argv(host, port, workers))


def metrics_dir(port: int) -> Path:
    """Where the workers keep their metrics (api.core.metrics): PROMETHEUS_MULTIPROC_DIR, else
    `.crm/metrics/api-<port>`; emptied first, since counts of an earlier run must not add up."""
    from crm.settings import get_settings

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(given) if given else get_settings().home / "metrics" / f"api-{port}"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    return path


def api_token(
    email: Annotated[str | None, typer.Option(help="the user's e-mail")] = None,
    tenant: Annotated[str | None, typer.Option(help="tenant slug")] = None,
    role: Annotated[str | None, typer.Option(help="pick the first user with this role")] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
) -> None:
    """Mint a JWT for a user (dev and scripts): prints the token alone on stdout."""
    from api.admin import token_for

    try:
        tok, user = token_for(email, tenant, role, ttl)
    except (CRMError, RuntimeError) as exc:
        _fail(exc)
    Console(stderr=True).print(f"token for {user['email']} ({user['role']}) of tenant {user['slug']}, {ttl}s")
    print(tok)


@keys_app.command("create")
def api_keys_create(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    name: Annotated[str, typer.Option()],
    scope: Annotated[list[str], typer.Option(help="permission, repeatable (e.g. leads:write)")],
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="default: until revoked")
    ] = None,
) -> None:
    """Create a key; the key itself is printed once and stored only as a hash."""
    from api.admin import create_api_key

    try:
        row = create_api_key(tenant, name, scope, expires_in_days)
    except CRMError as exc:
        _fail(exc)
    until = f", expires {row['expires_at']}" if row["expires_at"] else ""
    Console(stderr=True).print(
        f"key {row['id']} ({row['name']}, scopes {', '.join(row['scopes'])}{until}): store it now"
    )
    print(row["key"])


@keys_app.command("rotate")
def api_keys_rotate(
    key_id: Annotated[str, typer.Argument()],
    overlap: Annotated[
        int, typer.Option(min=0, max=30 * 86400, help="seconds the old key keeps working")
    ] = 3600,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="default: the old key's lifetime, if any")
    ] = None,
) -> None:
    """Make the key's successor (printed once); the old key stops after the overlap."""
    from uuid import UUID

    from api.admin import rotate_api_key

    try:
        row = rotate_api_key(UUID(key_id), overlap, expires_in_days)
    except (CRMError, ValueError) as exc:
        _fail(exc)
    Console(stderr=True).print(
        f"key {row['id']} replaces {row['replaces']}, which stops at {row['old_expires_at']}: store it now"
    )
    print(row["key"])


@keys_app.command("revoke")
def api_keys_revoke(key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key (it stops working in every API process when this commits)."""
    from uuid import UUID

    from api.admin import revoke_api_key

    try:
        row = revoke_api_key(UUID(key_id))
    except (CRMError, ValueError) as exc:
        _fail(exc)
    console.print(f"revoked {row['id']} ({row['name']}) at {row['revoked_at']}")


@keys_app.command("list")
def api_keys_list(tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Every key (never the key itself): prefix, scopes, last use, revocation."""
    from api.admin import list_api_keys

    table = Table(
        "id", "tenant", "name", "prefix", "scopes", "last used", "revoked", "expires", "replaced by"
    )
    for k in list_api_keys(tenant):
        table.add_row(
            str(k["id"]),
            k["tenant"],
            k["name"],
            k["key_prefix"],
            ",".join(k["scopes"]),
            str(k["last_used_at"] or ""),
            str(k["revoked_at"] or ""),
            str(k["expires_at"] or ""),
            str(k["replaced_by"] or ""),
        )
    console.print(table)


def outbox_relay(
    database_url: Annotated[str | None, typer.Option(help="default: DATABASE_URL")] = None,
    bootstrap: Annotated[str | None, typer.Option(help="default: KAFKA_BOOTSTRAP")] = None,
) -> None:
    """Publish crm.outbox rows to `crm-changes` until stopped (SIGTERM/Ctrl-C)."""
    import asyncio

    from api.outbox import serve
    from crm.logs import setup_logging

    setup_logging("outbox-relay")
    asyncio.run(serve(database_url, bootstrap))


def register(app: typer.Typer) -> None:
    app.command("api")(api)
    app.command("api-token")(api_token)
    app.add_typer(keys_app, name="api-keys")
    app.command("outbox-relay")(outbox_relay)
