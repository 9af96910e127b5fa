"""`crm replica up | down | status`: the local read replica (`stack.replica`)."""

from __future__ import annotations

import typer
from rich.console import Console

from crm.settings import get_settings

replica = typer.Typer(help="a streaming read replica of the embedded Postgres", no_args_is_help=True)
console = Console()


@replica.command("up")
def up() -> None:
    """Clone the running embedded Postgres into a hot standby, start it, and send the mart reads
    (dashboards, the API's analytics) there from the next start of each service."""
    import stack
    from stack import procs
    from stack.postgres import EmbeddedPostgres
    from stack.replica import EmbeddedReplica

    home = get_settings().home
    primary = procs.read_record(home, EmbeddedPostgres.name)
    if primary is None or not procs.record_alive(primary) or primary.port is None:
        raise typer.BadParameter("the embedded Postgres is not running here (crm up first)")
    rec = EmbeddedReplica(home).start_from(primary.port)
    assert rec.url is not None
    stack.write_env_file(home / "env", {"DATABASE_REPLICA_URL": rec.url})
    get_settings.cache_clear()
    console.print(f"[green]running[/] replica at {rec.url} (DATABASE_REPLICA_URL in {home / 'env'})")
    console.print("restart the api and app services for their reads to go there (crm down; crm up ...)")


@replica.command("down")
def down() -> None:
    """Stop and delete the replica; the mart reads go back to the primary."""
    import stack
    from stack.replica import EmbeddedReplica

    home = get_settings().home
    EmbeddedReplica(home).destroy()
    env = stack.read_env_file(home / "env")
    env.pop("DATABASE_REPLICA_URL", None)
    path = home / "env"
    if path.exists():
        path.unlink()
    stack.write_env_file(path, env)
    console.print("replica stopped and removed")


@replica.command("status")
def status() -> None:
    """Whether the replica runs, and how far its replay is behind what it received."""
    from stack.replica import lag_bytes

    url = get_settings().database_replica_url
    if not url:
        console.print("no replica configured (DATABASE_REPLICA_URL unset)")
        raise typer.Exit(1)
    console.print(f"replica {url}: {lag_bytes(url)} bytes of WAL received and not yet replayed")
