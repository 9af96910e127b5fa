"""`python -m stack ...` is the `crm` command."""

from stack.cli import app

app()
