"""The segment compiler: valid trees compile to parameterized SQL over whitelisted columns;
anything else is rejected with a path and a message, and user input never reaches SQL text."""

from __future__ import annotations

import pytest

from warehouse.segments import FIELDS, SegmentCriteriaError, compile_criteria, validate_criteria
from warehouse.segments.fields import Kind

TENANT = "11111111-1111-1111-1111-111111111111"


def leaf(field: str, op: str, value=None, **kw) -> dict:
    node = {"field": field, "op": op, **kw}
    if value is not None:
        node["value"] = value
    return node


@pytest.mark.parametrize(
    "criteria",
    [
        leaf("lifecycle_stage", "eq", "ACTIVE"),
        leaf("lifecycle_stage", "ne", "CHURNED"),
        leaf("lifecycle_stage", "neq", "CHURNED"),  # the simulator's spelling
        leaf("mrr", "gt", 100),
        leaf("mrr", "gte", 99.5),
        leaf("company_size", "lt", 200),
        leaf("health_score", "lte", 30),
        leaf("industry", "in", ["Software", "Financial Services"]),
        leaf("mrr", "between", [100, 500]),
        leaf("became_customer_at", "between", ["2025-01-01", "2025-12-31T23:59:59Z"]),
        leaf("company", "contains", "acme"),
        leaf("email_domain", "eq", "acme.example"),
        leaf("email_domain", "in", ["acme.example", "globex.example"]),
        leaf("tags", "contains", "enterprise"),
        leaf("churned_at", "is_null", True),
        leaf("churned_at", "is_null", False),
        leaf("became_customer_at", "within_last_days", 90),
        leaf("became_customer_at", "within_days", 30),
        {
            "all": [
                leaf("mrr", "gte", 500),
                {
                    "any": [
                        leaf("health_risk_level", "eq", "high"),
                        leaf("health_risk_level", "eq", "critical"),
                    ]
                },
            ]
        },
        {"not": leaf("lifecycle_stage", "eq", "CHURNED")},
    ],
)
def test_valid_criteria_compile(criteria: dict) -> None:
    validate_criteria(criteria)
    where, params = compile_criteria(criteria, TENANT)
    assert where.startswith('"tenant_id" = CAST(:tenant_id AS uuid) AND (')
    assert params["tenant_id"] == TENANT
    for name in params:
        assert f":{name}" in where or name == "now"


@pytest.mark.parametrize(
    ("criteria", "path", "fragment"),
    [
        (leaf("password_hash", "eq", "x"), "field", "unknown field 'password_hash'"),
        (leaf("mrr", "regex", "x"), "op", "unknown operator 'regex'"),
        (leaf("mrr", "gt", "100"), "value", "takes a number"),
        (leaf("mrr", "gt", True), "value", "takes a number"),
        (leaf("lifecycle_stage", "eq", "VIP"), "value", "is one of"),
        (leaf("lifecycle_stage", "gt", "ACTIVE"), "op", "needs a number or date field"),
        (leaf("industry", "in", []), "value", "non-empty list"),
        (leaf("mrr", "between", [1]), "value", "[low, high]"),
        (leaf("became_customer_at", "gte", "last tuesday"), "value", "ISO date"),
        (leaf("mrr", "within_last_days", 30), "op", "needs a date field"),
        (leaf("became_customer_at", "within_last_days", -5), "value", "number of days"),
        (leaf("mrr", "contains", "1"), "op", "needs a text field"),
        (leaf("churned_at", "is_null", "yes"), "value", "true or false"),
        (leaf("mrr", "eq"), "value", "needs a value"),
        ({"field": "mrr", "op": "eq", "value": 1, "extra": 1}, "criteria", "unknown keys"),
        ({"all": []}, "all", "non-empty list"),
        ({"all": [leaf("mrr", "gt", 1)], "any": []}, "criteria", "only its"),
        ({"all": [leaf("mrr", "gt", 1), leaf("nope", "eq", 1)]}, "all[1].field", "unknown field"),
        ({"any": [{"not": leaf("mrr", "gt", "x")}]}, "any[0].not.value", "takes a number"),
        ("lifecycle_stage = 'ACTIVE'", "criteria", "must be an object"),
        # what the recalculation itself writes is no input to it (no cycle through the memberships)
        (leaf("segment_count", "gt", 1), "field", "unknown field 'segment_count'"),
        # health risk and churn risk are distinct: the bare name is neither
        (leaf("risk_level", "eq", "high"), "field", "unknown field 'risk_level'"),
        # people's e-mail and names are stored encrypted: a segment saved on them is told why
        (leaf("email", "contains", "@acme"), "field", "'email' is no longer offered"),
        (leaf("email", "contains", "@acme"), "field", "use email_domain"),
        ({"all": [leaf("mrr", "gt", 1), leaf("full_name", "eq", "Ada")]}, "all[1].field", "names are stored"),
    ],
)
def test_invalid_criteria_rejected_with_path(criteria, path: str, fragment: str) -> None:
    with pytest.raises(SegmentCriteriaError) as err:
        validate_criteria(criteria)
    assert err.value.path == path
    assert fragment in err.value.message
    assert isinstance(err.value, ValueError)
    with pytest.raises(SegmentCriteriaError):
        compile_criteria(criteria, TENANT)


INJECTIONS = [
    "'; drop table crm.customers; --",
    "x' or '1'='1",
    'a" or 1=1 --',
    "$$; select pg_sleep(10); $$",
    "\\'; delete from crm.customer_segments; --",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_field_or_operator_is_rejected(payload: str) -> None:
    with pytest.raises(SegmentCriteriaError, match="unknown field"):
        validate_criteria(leaf(payload, "eq", "x"))
    with pytest.raises(SegmentCriteriaError, match="unknown operator"):
        validate_criteria(leaf("company", payload, "x"))
    with pytest.raises(SegmentCriteriaError):
        validate_criteria({payload: [leaf("company", "eq", "x")]})


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_values_stays_a_parameter(payload: str) -> None:
    criteria = {
        "any": [
            leaf("company", "eq", payload),
            leaf("company", "contains", payload),
            leaf("industry", "in", [payload, "Software"]),
            leaf("tags", "contains", payload),
        ]
    }
    where, params = compile_criteria(criteria, TENANT)
    assert payload not in where
    assert "drop" not in where.lower() and "delete" not in where.lower()
    assert payload in params.values() or any(payload in str(v) for v in params.values())


def test_like_wildcards_are_escaped() -> None:
    _, params = compile_criteria(leaf("company", "contains", "100%_real"), TENANT)
    assert "%100\\%\\_real%" in params.values()


def test_only_whitelisted_identifiers_reach_sql() -> None:
    criteria = {"all": [leaf(name, "is_null", True) for name in FIELDS]}
    where, _ = compile_criteria(criteria, TENANT)
    quoted = {part.split('"')[1] for part in where.split(" ") if part.count('"') == 2}
    assert quoted <= set(FIELDS) | {"tenant_id"}


def test_no_field_names_a_person() -> None:
    """The mart is pseudonymous: a segment filters on the e-mail's domain, never on an address,
    a name or a phone (stored encrypted, they cannot be compared as text)."""
    assert {"email", "full_name", "first_name", "last_name", "phone"}.isdisjoint(FIELDS)
    assert FIELDS["email_domain"].kind == Kind.TEXT


def test_fields_are_columns_of_the_mart_contract() -> None:
    """Each whitelisted field is a column dbt's enforced contract of dim_customers declares, of a
    type its kind compiles for; so a renamed or dropped mart column cannot leave a field behind."""
    import yaml

    from crm.settings import PROJECT_ROOT

    spec = yaml.safe_load((PROJECT_ROOT / "dbt/models/marts/customers/dim_customers.yml").read_text())
    (model,) = spec["models"]
    types = {c["name"]: c["data_type"] for c in model["columns"]}
    expected = {
        Kind.TEXT: {"text"},
        Kind.ENUM: {"text"},
        Kind.NUMBER: {"integer", "bigint", "numeric", "double precision"},
        Kind.TIMESTAMP: {"timestamp with time zone"},
        Kind.TEXT_ARRAY: {"text[]"},
    }
    for name, f in FIELDS.items():
        assert name in types, f"{name} is not a dim_customers column"
        assert types[name].split("(")[0] in expected[f.kind], (name, types[name], f.kind)


def test_depth_and_size_limits() -> None:
    node: dict = leaf("mrr", "gt", 1)
    for _ in range(20):
        node = {"not": node}
    with pytest.raises(SegmentCriteriaError, match="nested too deeply"):
        validate_criteria(node)
    with pytest.raises(SegmentCriteriaError, match="too many conditions"):
        validate_criteria({"any": [leaf("mrr", "gt", i) for i in range(400)]})
    with pytest.raises(SegmentCriteriaError, match="at most 1000"):
        validate_criteria(leaf("industry", "in", [str(i) for i in range(1001)]))


def test_within_last_days_uses_the_given_now() -> None:
    from datetime import date

    where, params = compile_criteria(
        leaf("became_customer_at", "within_last_days", 90), TENANT, now=date(2026, 1, 31)
    )
    assert "CAST(:now AS timestamptz)" in where
    assert params["now"].isoformat() == "2026-01-31T00:00:00+00:00"
    where, params = compile_criteria(leaf("became_customer_at", "within_last_days", 90), TENANT)
    assert "now()" in where and "now" not in params


def test_prefixed_parameters_let_clauses_share_a_statement() -> None:
    criteria = {"all": [leaf("mrr", "gte", 5), leaf("became_customer_at", "within_last_days", 9)]}
    where, params = compile_criteria(criteria, TENANT, prefix="s3_")
    assert set(params) == {"s3_p0", "s3_p1", "s3_tenant_id"}
    assert ":p0" not in where and ":s3_p0" in where and ":s3_tenant_id" in where
    with pytest.raises(ValueError):
        compile_criteria(criteria, TENANT, prefix="x; drop")
