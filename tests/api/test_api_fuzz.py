"""Schemathesis against the live OpenAPI schema of the API over a seeded, dbt-built and scored
world: no generated request may cause a 5xx, and every answer must conform to the document
(its status is documented for the operation, its content type and body match the declared
schema, its declared headers are there): a client generated from the document can rely on it.

Every operation gets CRM_FUZZ_EXAMPLES generated cases (default 8: a few hundred calls in
`make test`); `make fuzz-api` raises it so the run makes at least 5,000 calls
(CRM_FUZZ_MIN_CALLS enforces the floor) and prints the count per status."""

from __future__ import annotations

import os
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "8"))
MIN_CALLS = int(os.environ.get("CRM_FUZZ_MIN_CALLS", "200"))


def test_no_server_errors_and_every_answer_conforms(world, world_url, world_as):
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
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as exc:  # every check that failed
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {str(exc)[:600]}"
                    f" (body={case.body!r:.200}; answer={response.text[:200]})"
                )

        run()

    total = sum(statuses.values())
    print(
        f"\nschemathesis: {total} calls over {len(operations)} operations; statuses {dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n".join(failures[:20])
    assert total >= MIN_CALLS
