"""Schemathesis against the live OpenAPI schema: no generated request may cause a 5xx.

Every operation gets CRM_FUZZ_EXAMPLES generated cases (default 8: a few hundred calls in
`make test`); `make fuzz-api` raises it so the run makes well over 1,000 calls
(CRM_FUZZ_MIN_CALLS enforces the floor) and prints the count per status."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "8"))
MIN_CALLS = int(os.environ.get("CRM_FUZZ_MIN_CALLS", "200"))


STUBS = {
    "metrics_crm_daily": "owner_id uuid, is_tenant_total boolean, day date, leads_created int",
    "fct_revenue_attribution": "won_day date, attribution_model text, channel text, campaign_id uuid, credit numeric",
}


@pytest.fixture
def marts(owner_sql):
    """The two marts the analytics reads need, as stubs when dbt has not built them here."""
    made = []
    for table, cols in STUBS.items():
        if owner_sql("SELECT to_regclass(%s) IS NULL AS missing", f"analytics.{table}")[0]["missing"]:
            owner_sql(
                f"CREATE TABLE analytics.{table} (tenant_id uuid NOT NULL, {cols});"
                f" ALTER TABLE analytics.{table} ENABLE ROW LEVEL SECURITY;"
                f" CREATE POLICY t ON analytics.{table} TO crm_api USING"
                " (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);"
                f" GRANT SELECT ON analytics.{table} TO crm_api"
            )
            made.append(table)
    yield
    for table in made:
        owner_sql(f"DROP TABLE analytics.{table}")


def test_no_server_errors(api_url, token, tenants, marts):
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    auth = {"Authorization": f"Bearer {token(tenants['a'], 'admin')}"}
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
            derandomize=True,
            database=None,
        )
        def run(case):
            headers = dict(case.headers or {}) | auth
            response = case.call(headers=headers, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]} (body={case.body!r:.300})"
                )

        run()

    total = sum(statuses.values())
    print(
        f"\nschemathesis: {total} calls over {len(operations)} operations; statuses {dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n".join(failures[:20])
    assert total >= MIN_CALLS
