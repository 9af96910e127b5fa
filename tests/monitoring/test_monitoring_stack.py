"""The local monitoring as `crm up` runs it: Prometheus, Alertmanager and the exporters against a
database of the test's own, with the API (`crm api`, two workers) a scrape target. Asserted
through Prometheus's HTTP API: every target up, the API's requests in its RED metrics per route
and tenant class (both workers counted), the outbox backlog, and no alert on the healthy stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from monitoring_stack import MISSING, Running, alerts, monitored, query, scalar, targets, wait_for

from stack import prometheus

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {MISSING} (make monitoring)")


@pytest.fixture(scope="module")
def running(
    create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    with monitored(create_database, tmp_path_factory.mktemp("crm-monitoring-home")) as r:
        yield r


def test_every_target_is_up(running: Running) -> None:
    expected = {"api", *prometheus.NAMES}

    def healthy() -> dict[str, str] | None:
        health = targets(running.prometheus)
        return health if set(health) == expected and set(health.values()) == {"up"} else None

    wait_for(f"targets {sorted(expected)} up", healthy)
    assert scalar(running.prometheus, 'pg_up{job="postgres-exporter"}') == 1.0
    assert scalar(running.prometheus, 'count(node_filesystem_avail_bytes{volume="crm-data"})') == 1.0
    am = httpx.get(f"{running.prometheus}/api/v1/alertmanagers", timeout=10).json()["data"]
    assert [a["url"] for a in am["activeAlertmanagers"]] == [f"{running.alertmanager}/api/v2/alerts"]


def test_api_requests_show_in_the_red_metrics_per_route_and_tenant_class(running: Running) -> None:
    def answered(route: str) -> float:
        """The API's own count of 2xx answers on `route`, all workers (its /metrics, now)."""
        text = httpx.get(f"{running.api}/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("crm_api_requests_total{") and f'route="{route}"' in line and '"2xx"' in line
        )

    before = answered("/health")  # the readiness checks of `crm api` asked it already
    for _ in range(20):  # a connection each: either worker answers
        assert httpx.get(f"{running.api}/health", timeout=10).status_code == 200
    r = httpx.post(
        f"{running.api}/leads",
        json={"email": "ada@lead.test", "source": "web"},
        headers=running.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    lead_id = r.json()["id"]
    assert httpx.get(f"{running.api}/leads/{lead_id}", headers=running.headers, timeout=10).status_code == 200
    assert httpx.get(f"{running.api}/leads", timeout=10).status_code == 401

    # counted once whichever worker answered; a tenant with no customers is small; the path's id
    # is not a label, its template is
    expected = {
        'sum(crm_api_requests_total{route="/health",status_class="2xx",tenant_class="none"})': before + 20,
        'crm_api_requests_total{route="/leads",method="POST",status_class="2xx",tenant_class="small"}': 1,
        'crm_api_requests_total{route="/leads/{lead_id}",method="GET",status_class="2xx",tenant_class="small"}': 1,
        'crm_api_requests_total{route="/leads",method="GET",status_class="4xx",tenant_class="none"}': 1,
        'crm_api_request_duration_seconds_count{route="/leads",method="POST",tenant_class="small"}': 1,
        "crm_outbox_backlog": 1,  # the new lead's change waits: no relay runs here
        "crm_outbox_dead": 0,
    }

    def scraped() -> bool:
        return all(scalar(running.prometheus, q) == v for q, v in expected.items())

    wait_for("the requests in the scraped metrics", scraped)
    assert answered("/health") == before + 20
    labels = [s["metric"] for s in query(running.prometheus, '{__name__=~"crm_api_.+"}')]
    assert labels and not [m for m in labels if lead_id in str(m) or str(running.tenant_id) in str(m)]


def test_no_alert_on_the_healthy_stack(running: Running) -> None:
    wait_for(
        "rules evaluated",
        lambda: all(
            g["lastEvaluation"] > "1970"
            for g in httpx.get(f"{running.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        ),
    )
    groups = httpx.get(f"{running.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {g["file"] for g in groups} == {str(p) for p in sorted(prometheus.RULES_DIR.glob("*.yml"))}
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
    assert alerts(running.prometheus) == []
    assert httpx.get(f"{running.alertmanager}/api/v2/alerts", timeout=10).json() == []
