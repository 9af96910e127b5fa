"""A database going away answers 503 DATABASE_UNAVAILABLE with Retry-After, not a 500: the
server ending the API's sessions (what a restart or a failover does to them) makes the next
request on a dead connection fail with it, the client is told to retry, and the retry lands.
Nothing is written by the failed request."""

from __future__ import annotations

import uuid

import httpx
import psycopg


def _end_api_sessions(pg_url: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as admin:
        row = admin.execute(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity"
            " where application_name = 'crm-api' and pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_database_gone_away_is_a_503_to_retry(client: httpx.Client, as_, owner_sql, pg_url: str) -> None:
    assert client.get("/leads", headers=as_(), params={"limit": 1}).status_code == 200
    assert _end_api_sessions(pg_url) > 0

    email = f"retry-{uuid.uuid4().hex[:8]}@example.test"
    source = email.partition("@")[0]  # found again by it: the e-mail is stored sealed
    answers = []
    for _ in range(8):  # each worker meets its dead connections once, then reconnects
        r = client.post("/leads", json={"email": email, "source": source}, headers=as_())
        answers.append(r)
        if r.status_code == 201:
            break
    failed = [r for r in answers if r.status_code != 201]
    assert answers[-1].status_code == 201, [(r.status_code, r.text) for r in answers]
    assert failed, "no request met a dead connection"
    for r in failed:
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["code"] == "DATABASE_UNAVAILABLE"
        assert set(body) == {"code", "message", "context"}
        assert int(r.headers["Retry-After"]) > 0
    assert owner_sql("select count(*) as n from crm.leads where source = %s", source)[0]["n"] == 1
