"""What the API refuses before it stores anything, over HTTP: bodies past the size limit (413),
JSON that is not strict JSON (NaN, Infinity, 1e309, lone surrogates in values or keys: 422),
timestamps outside 1900-2200 (422); each as `{code, message, context}`, never a 500, and the
connection stays usable. And an old row holding a date outside Python's range does not make
the tenant's list unreadable."""

from __future__ import annotations

import uuid

import httpx
import pytest

JSON = {"content-type": "application/json"}


def _error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message", "context"} and body["code"] == code, body
    assert r.headers.get("connection") != "close"
    return body


def _lead_body(extra: str = "") -> bytes:
    return f'{{"email": "{uuid.uuid4().hex[:8]}@limits.test", "source": "web"{extra}}}'.encode()


def test_a_body_past_the_limit_is_413_and_nothing_is_stored(client, as_, owner_sql):
    before = owner_sql("SELECT count(*) AS n FROM crm.leads")[0]["n"]
    big = '"' + "x" * (300 * 1024) + '"'
    r = client.post(
        "/leads", content=_lead_body(f', "custom_fields": {{"blob": {big}}}'), headers=as_() | JSON
    )
    body = _error(r, 413, "PAYLOAD_TOO_LARGE")
    assert body["context"]["max_bytes"] == 256 * 1024

    def chunks():  # no Content-Length: cut off while reading
        yield _lead_body()[:-1] + b', "custom_fields": {"blob": "'
        for _ in range(40):
            yield b"y" * 10_000
        yield b'"}}'

    r = client.post("/leads", content=chunks(), headers=as_() | JSON)
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert owner_sql("SELECT count(*) AS n FROM crm.leads")[0]["n"] == before
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    "custom_fields",
    [
        '{"n": NaN}',
        '{"n": Infinity}',
        '{"n": -Infinity}',
        '{"n": 1e309}',
        '{"n": [1, {"deep": -1e400}]}',
        '{"s": "\\ud800"}',
        '{"\\udfff": 1}',
        '{"n": 18446744073709551616}',
    ],
)
def test_non_finite_numbers_and_lone_surrogates_are_422(client, as_, owner_sql, custom_fields):
    before = owner_sql("SELECT count(*) AS n FROM crm.leads")[0]["n"]
    r = client.post("/leads", content=_lead_body(f', "custom_fields": {custom_fields}'), headers=as_() | JSON)
    body = _error(r, 422, "VALIDATION_ERROR")
    assert body["context"]["field"] in ("body", "custom_fields")  # the parser, or the 64-bit rule
    assert owner_sql("SELECT count(*) AS n FROM crm.leads")[0]["n"] == before


@pytest.mark.parametrize(
    "path, body",
    [
        ("/products", '{"name": "P \\ud800", "price": "1.00"}'),
        ("/products", '{"name": "P", "price": "1.00", "metadata": {"k": "\\udbff"}}'),
        ("/segments", '{"name": "S", "criteria": {"\\ud800": {"op": "eq"}}}'),
        ("/leads", '{"email": "x@y.z", "source": "web", "first_name": "\\ud800"}'),
        ("/campaigns", '{"name": "C", "type": "EMAIL", "budget": NaN}'),
    ],
)
def test_every_route_refuses_the_same_input(client, as_, path, body):
    for idem in (None, uuid.uuid4().hex):  # an idempotent create takes the same check first
        headers = as_() | JSON | ({"Idempotency-Key": idem} if idem else {})
        _error(client.post(path, content=body.encode(), headers=headers), 422, "VALIDATION_ERROR")


def test_activity_metadata_keys_with_lone_surrogates_are_422(client, as_):
    lead = client.post("/leads", content=_lead_body(), headers=as_() | JSON).json()
    r = client.post(
        f"/leads/{lead['id']}/activities",
        content=b'{"type": "EMAIL_SENT", "description": "d", "metadata": {"\\ud83d": 1}}',
        headers=as_() | JSON,
    )
    _error(r, 422, "VALIDATION_ERROR")
    no_type = as_()  # no content type: parsed as JSON all the same
    r = client.post(f"/leads/{lead['id']}/activities", content=b'{"type": "\\ud800"}', headers=no_type)
    _error(r, 422, "VALIDATION_ERROR")
    ok = client.post(
        f"/leads/{lead['id']}/activities",
        content=b'{"type": "EMAIL_SENT", "description": "d", "metadata": {"\\ud83d\\ude00": 1}}',
        headers=as_() | JSON,
    )
    assert ok.status_code == 201 and ok.json()["metadata"] == {"\U0001f600": 1}


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",
        "1899-12-31T23:59:59Z",
        "1900-01-01T00:00:00+01:00",
        "2201-01-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
    ],
)
def test_timestamps_outside_1900_to_2200_are_422(client, as_, value):
    r = client.post("/campaigns", json={"name": "C", "type": "EMAIL", "start_date": value}, headers=as_())
    assert _error(r, 422, "VALIDATION_ERROR")["context"]["field"] == "start_date"
    r = client.post(
        "/deals", json={"name": "D", "value": "1.00", "expected_close_date": value}, headers=as_()
    )
    assert _error(r, 422, "VALIDATION_ERROR")["context"]["field"] == "expected_close_date"


def test_timestamps_at_the_ends_of_the_range_are_kept(client, as_):
    for value, stored in (
        ("1900-01-01T00:00:00Z", "1900-01-01T00:00:00Z"),
        ("2200-12-31T23:59:59-00:00", "2200-12-31T23:59:59Z"),
    ):
        r = client.post("/campaigns", json={"name": "C", "type": "EMAIL", "start_date": value}, headers=as_())
        assert r.status_code == 201, r.text
        assert r.json()["start_date"] == stored


def test_an_old_row_out_of_range_reads_as_null_not_an_error(client, as_, owner_sql, tenants):
    bad = uuid.uuid4()
    owner_sql(
        "INSERT INTO crm.marketing_campaigns (id, tenant_id, name, type, start_date, end_date)"
        " VALUES (%s, %s, 'old', 'EMAIL', '0001-01-01T00:00:00+14:00', 'infinity')",
        bad,
        tenants["b"].id,
    )
    r = client.get("/campaigns", params={"limit": 500}, headers=as_("b"))
    assert r.status_code == 200, r.text
    row = next(c for c in r.json()["items"] if c["id"] == str(bad))
    assert (row["start_date"], row["end_date"]) == (None, None)
    one = client.get(f"/campaigns/{bad}", headers=as_("b"))
    assert one.status_code == 200 and one.json()["start_date"] is None
