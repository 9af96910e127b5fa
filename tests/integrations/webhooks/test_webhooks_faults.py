"""Faults that must lose nothing: a receiver down for ten minutes, and a deliverer that dies
between sending a batch and recording it.

Time is compressed 1:100 rather than waited for: the retry schedule's base and cap are
settings (WEBHOOK_RETRY_BASE_S 30 s -> 0.3 s, WEBHOOK_RETRY_CAP_S 3600 s -> 36 s), so a
6-second outage here is the production schedule's 10 minutes: attempts at 0, ~0.3, ~0.9,
~2.1, ~4.5 s... fail against a closed port, exactly as 0, 30 s, 1.5, 3.5, 7.5 min would, and
the next attempt after the receiver is back delivers. Eight attempts span ~38 s here (~1 h).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import Received

SCALE = 100
OUTAGE_S = 600 / SCALE


class Endpoint:
    """A loopback receiver that can go down (its port closed) and come back on the same port."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    def up(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                endpoint.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.down()


def _subscribe(api, headers, url: str) -> dict:
    r = api.post(
        "/webhooks/subscriptions", json={"url": url, "event_types": ["crm.lead.created"]}, headers=headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def _leads(api, headers, n: int) -> set[str]:
    ids = set()
    for _ in range(n):
        r = api.post(
            "/leads",
            json={"email": f"f-{uuid.uuid4().hex[:10]}@example.com", "source": "website"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        ids.add(r.json()["id"])
    return ids


def _settled(sql, sub_id: str, n: int, deadline_s: float = 120) -> list[dict[str, Any]]:
    """Poll (bounded, not timed) until the subscription's n deliveries have finished."""
    deadline = time.monotonic() + deadline_s
    while True:
        rows = sql(
            "SELECT id, status, attempts FROM crm.webhook_deliveries WHERE subscription_id = %s", sub_id
        )
        if (len(rows) == n and all(r["status"] != "pending" for r in rows)) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _each_refused_once(sql, sub_id: str, n: int, deadline_s: float = 30) -> None:
    """Poll (bounded) until each of the subscription's n deliveries has had an attempt: on a
    busy machine the first attempts can come later than the outage's nominal length."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        tried = sql(
            "SELECT count(*) AS n FROM crm.webhook_deliveries WHERE subscription_id = %s AND attempts >= 1",
            sub_id,
        )[0]["n"]
        if tried == n:
            return
        time.sleep(0.1)


def test_receiver_down_for_ten_minutes_loses_nothing(api, as_, endpoint: Endpoint, pg_url: str, sql) -> None:
    from integrations.webhooks.config import WebhookSettings
    from integrations.webhooks.worker import run_async

    sub = _subscribe(api, as_("a"), endpoint.url)
    s = WebhookSettings(
        WEBHOOK_RETRY_BASE_S=30 / SCALE,
        WEBHOOK_RETRY_CAP_S=3600 / SCALE,
        WEBHOOK_MAX_ATTEMPTS=8,
        WEBHOOK_TIMEOUT_S=5,
    )
    loop = asyncio.new_event_loop()
    task = loop.create_task(run_async(0.05, pg_url, s))

    def work() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        loop.close()

    worker = threading.Thread(target=work, daemon=True)
    endpoint.down()
    worker.start()
    try:
        leads = _leads(api, as_("a"), 20)
        time.sleep(OUTAGE_S)  # the outage: every attempt meanwhile is refused
        _each_refused_once(sql, sub["id"], len(leads))
        endpoint.up()
        rows = _settled(sql, sub["id"], len(leads))
    finally:
        loop.call_soon_threadsafe(task.cancel)
        worker.join(30)

    assert {r["status"] for r in rows} == {"delivered"}, rows
    assert all(r["attempts"] >= 2 for r in rows), rows  # each was refused at least once, then arrived
    mine = [r for r in endpoint.requests if r.verifies_with(sub["secret"])]
    by_id: dict[str, list[Received]] = {}
    for r in mine:
        by_id.setdefault(r.headers["webhook-id"], []).append(r)
    assert len(by_id) == len(leads), (len(by_id), len(mine), len(endpoint.requests))
    assert all(len(v) == 1 for v in by_id.values())  # exactly once by id
    assert {v[0].json["payload"]["entity_id"] for v in by_id.values()} == leads
    refused = sql(
        "SELECT count(*) AS n FROM crm.webhook_delivery_attempts a JOIN crm.webhook_deliveries d ON d.id = a.delivery_id"
        " WHERE d.subscription_id = %s AND a.status_code IS NULL AND a.error ILIKE '%%cannot connect%%'",
        sub["id"],
    )[0]["n"]
    assert refused >= len(leads)


def test_deliverer_dying_mid_batch_resends_under_the_same_id(
    api, as_, endpoint: Endpoint, pg_url: str, sql, deliver
) -> None:
    """A deliverer that sent a batch and died before recording it: the batch's lease runs out,
    another pass sends it again with the same webhook-ids, and each delivery is recorded once;
    a receiver dropping repeats by webhook-id sees every event exactly once."""
    from integrations.webhooks import outbound
    from integrations.webhooks.config import WebhookSettings
    from integrations.webhooks.deliver import claim, http_client, send_all

    sub = _subscribe(api, as_("a"), endpoint.url)
    leads = _leads(api, as_("a"), 10)
    s = WebhookSettings(WEBHOOK_LEASE_S=0.5, WEBHOOK_RETRY_BASE_S=0)
    outbound.plan(pg_url)

    async def send_then_die() -> None:
        async with http_client(s) as client:
            await send_all(client, claim(pg_url, s), s, pg_url)  # ... and never records the outcomes

    asyncio.run(send_then_die())
    first = {r.headers["webhook-id"] for r in endpoint.requests if r.verifies_with(sub["secret"])}
    assert len(first) == len(leads)
    assert {
        r["status"]
        for r in sql("SELECT status FROM crm.webhook_deliveries WHERE subscription_id = %s", sub["id"])
    } == {"pending"}

    time.sleep(s.lease_s)  # the dead worker's lease runs out
    deliver()
    rows = _settled(sql, sub["id"], len(leads))
    assert {r["status"] for r in rows} == {"delivered"}
    mine = [r for r in endpoint.requests if r.verifies_with(sub["secret"])]
    ids = [r.headers["webhook-id"] for r in mine]
    assert set(ids) == first  # the resends carry the same ids: nothing new, nothing lost
    assert all(ids.count(i) == 2 for i in first)
    assert {r.json["payload"]["entity_id"] for r in mine} == leads
