"""`crm sync connect/run -p salesforce` and `sync_with_external_crm("salesforce", ...)` reach
the Salesforce stand-in (its certificate trusted through REQUESTS_CA_BUNDLE, as an operator
would trust a private CA)."""

from __future__ import annotations

import pytest
from standins.salesforce import SESSION, Running
from standins.salesforce_account import salesforce
from test_salesforce_sync import new_tenant, q
from typer.testing import CliRunner

from integrations.external_sync.cli import app
from integrations.external_sync.engine import SyncConfig, sync_with_external_crm

__all__ = ["salesforce"]


@pytest.fixture(autouse=True)
def _cli_database(pg_url: str, monkeypatch: pytest.MonkeyPatch):
    """The command line reads its database from the settings: make them this test's (an
    earlier test of the session may have cached others)."""
    from crm.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", pg_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_cli_connects_and_runs_salesforce(
    pg_url: str, salesforce: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", salesforce.ca)
    tenant = new_tenant(pg_url)
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["connect", "-t", str(tenant), "-p", "salesforce", "--token", SESSION, "--base-url", salesforce.url],
    )
    assert made.exit_code == 0, made.output
    ran = runner.invoke(app, ["run", "-t", str(tenant), "-p", "salesforce"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    assert ": completed" in ran.output and "Opportunity" not in ran.output.split("failed:")[-1]
    assert q(pg_url, "SELECT count(*) FROM crm.deals WHERE tenant_id = %s", tenant) == [(2,)]
    again = sync_with_external_crm("salesforce", SyncConfig(tenant=str(tenant), url=pg_url))
    assert again.status == "completed" and again.totals()["created"] == 0


def test_an_unknown_provider_is_refused(pg_url: str) -> None:
    tenant = new_tenant(pg_url)
    refused = CliRunner().invoke(app, ["connect", "-t", str(tenant), "-p", "pipedrive", "--token", "x"])
    assert refused.exit_code != 0
    assert "provider: one of hubspot, salesforce" in str(refused.exception)
