"""`crm db ...`: schema migrations (Alembic) of the configured database; `crm retention` and
`crm erase` (crm.privacy.cli); `crm keys` (crm.keys.cli)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

console = Console()
db_app = typer.Typer(help="Schema migrations (Alembic)", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate to `revision` (default: the newest)."""
    from crm import migrate

    migrate.upgrade(None, revision)
    console.print(f"at {migrate.current(None)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "base") -> None:
    """Go down to `revision` ("base" drops everything the migrations created)."""
    from crm import migrate

    migrate.downgrade(None, revision)
    console.print(f"at {migrate.current(None)}")


@db_app.command("current")
def db_current() -> None:
    """The database's revision."""
    from crm import migrate

    console.print(str(migrate.current(None)))


def register(app: typer.Typer) -> None:
    from crm.keys import cli as keys_cli
    from crm.privacy import cli as privacy_cli

    app.add_typer(db_app, name="db")
    privacy_cli.register(app)
    keys_cli.register(app)
