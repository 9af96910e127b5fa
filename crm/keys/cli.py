"""`crm keys rotate|status`: tenant data keys and the master key (crm.keys)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

console = Console()
keys_app = typer.Typer(help="tenant data keys and the master key (envelope encryption)", no_args_is_help=True)


def _tenants(tenant: str | None) -> list[tuple[UUID, str]]:
    from crm.db import connect

    with connect() as conn:
        rows = conn.execute(
            "SELECT id, slug FROM crm.tenants WHERE %(t)s::text IS NULL OR slug = %(t)s OR id::text = %(t)s"
            " ORDER BY slug",
            {"t": tenant},
        ).fetchall()
    if tenant and not rows:
        raise typer.BadParameter(f"no tenant {tenant!r}", param_hint="--tenant")
    return [(r[0], r[1]) for r in rows]


@keys_app.command("rotate")
def rotate(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="one tenant (slug or id); default every tenant")
    ] = None,
    master: Annotated[
        bool, typer.Option("--master", help="re-wrap every stored key under the master key in use instead")
    ] = False,
    batch: Annotated[int, typer.Option(help="rows re-encrypted per transaction")] = 500,
    settle: Annotated[
        float | None,
        typer.Option(
            help="seconds to keep sweeping for writers that have not seen the new version (default CRM_DATA_KEY_TTL_S)"
        ),
    ] = None,
) -> None:
    """A new data key version for the tenant(s) and every older value re-encrypted online
    (without --tenant, the deployment's data key and the undelivered events' bytes too); or,
    with --master, every tenant and deployment key re-wrapped under CRM_MASTER_KEY (keep the
    replaced one in CRM_MASTER_KEY_PREVIOUS until this has run)."""
    from crm.keys import deployment_rotation
    from crm.keys import rotate as rot
    from crm.keys.keyring import keyring

    ring = keyring()
    if master:
        done = rot.rewrap(ring, batch=batch)
        rewrapped = deployment_rotation.rewrap(ring)
        console.print(
            f"re-wrapped {sum(done.values())} keys of {len(done)} tenants and {rewrapped} of the deployment's"
            f" under {ring.master.current_id()}"
        )
        return
    own = deployment_rotation.begin(ring) if tenant is None else None  # every tenant: the deployment's too
    for r in rot.rotate_data_keys(_tenants(tenant), ring, batch=batch, settle_s=settle):
        moved = sum(r.reencrypted.values())
        console.print(
            f"{r.slug}: data key v{r.from_version} -> v{r.to_version}: {moved} values re-encrypted,"
            f" {r.remaining} left, {r.seconds:.1f} s"
        )
        for column, rows in r.unreadable.items():
            console.print(
                f"  [red]{len(rows)} values of {column} do not open and were left as they are:[/]"
                f" {', '.join(rows[:10])}{' ...' if len(rows) > 10 else ''}"
            )
        behind = r.remaining - sum(len(rows) for rows in r.unreadable.values())
        if behind > 0:
            console.print(f"  [yellow]{behind} values still on an older version: run it again[/]")
    if own is not None:
        d = deployment_rotation.finish(own, ring, batch=batch, settle_s=settle)
        console.print(
            f"deployment: data key v{d.from_version} -> v{d.to_version}: {sum(d.reencrypted.values())}"
            f" undelivered events re-sealed, {d.remaining} left, {d.seconds:.1f} s"
        )
        for table, ids in d.unreadable.items():
            console.print(
                f"  [red]{len(ids)} rows of {table} do not open and were left as they are:[/] {ids[:10]}"
            )


@keys_app.command("status")
def status() -> None:
    """Every tenant's keys, the master key each is wrapped under, and the values on each."""
    from crm.db import connect
    from crm.keys.status import status as key_status

    with connect() as conn:
        rows = key_status(conn)
    table = Table("tenant", "kind", "version", "master key / legacy key", "created", "retired", "values")
    for r in rows:
        table.add_row(
            r["tenant"],
            r["kind"],
            "" if r["version"] is None else str(r["version"]),
            r["master_key_id"],
            "" if r["created_at"] is None else f"{r['created_at']:%Y-%m-%d %H:%M}",
            "" if r["retired_at"] is None else f"{r['retired_at']:%Y-%m-%d %H:%M}",
            "" if r["values"] is None else str(r["values"]),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
