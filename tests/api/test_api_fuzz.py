"""Schemathesis against the live OpenAPI schema of the API over a seeded, dbt-built and scored
world: no generated request may cause a 5xx.

Every operation gets CRM_FUZZ_EXAMPLES generated cases (default 8: a few hundred calls in
`make test`); `make fuzz-api` raises it so the run makes well over 1,000 calls
(CRM_FUZZ_MIN_CALLS enforces the floor) and prints the count per status."""

from __future__ import annotations

import os
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "8"))
MIN_CALLS = int(os.environ.get("CRM_FUZZ_MIN_CALLS", "200"))


def test_no_server_errors(world, world_url, world_as):
    """Against the scored world's API: every read has its real marts and scores to answer from
    (the smallest tenant takes the writes)."""
    schema = schemathesis.openapi.from_url(f"{world_url}/openapi.json")
    auth = world_as(world.tenant_ids[-1])
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
