"""Shared core of the CRM analytics stack: settings, database access, migrations, event
contracts, the synthetic CRM world, the local stack and the `crm` CLI."""

__version__ = "0.1.0"
